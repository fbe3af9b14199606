"""Write-side GraphQL resolvers: the ``Mutation`` type of the emulator.

Each method takes the mutation's ``input`` object as the schema names it and answers with the
payload fields the reference documents. A refused request raises ``EmulatorError``; its text
is the ``message`` of the response's ``errors`` entry.
"""

from __future__ import annotations

import json
from typing import Any

from jobrelay_emulators.wandb import artifact_ops
from jobrelay_emulators.wandb.resolvers import (
    ArtifactView,
    Context,
    Info,
    ProjectView,
    connection,
)
from jobrelay_emulators.wandb.run_views import RunView
from jobrelay_emulators.wandb.state import EmulatorError, ResourceConfig, gql_id

__all__ = ["MutationRoot"]

OK: dict[str, Any] = {"success": True, "clientMutationId": None}


class MutationRoot:
    """The ``Mutation`` type."""

    def __init__(self, context: Context) -> None:
        self._c = context
        self._world = context.world

    # -- run queues ----------------------------------------------------------------------

    def pushToRunQueueByName(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        queue = self._world.queue_by_name(
            input["entityName"], input["projectName"], input["queueName"]
        )
        if queue is None:
            raise EmulatorError(
                f"run queue {input['queueName']!r} not found in "
                f"{input['entityName']}/{input['projectName']}"
            )
        item = self._world.push(
            queue,
            input["runSpec"],
            priority=input.get("priority"),
            template_variable_values=input.get("templateVariableValues"),
        )
        return {"runQueueItemId": item.id, "runSpec": item.run_spec}

    def pushToRunQueue(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        queue = self._world.queues.get(input["queueID"])
        if queue is None:
            raise EmulatorError(f"run queue {input['queueID']} not found")
        item = self._world.push(
            queue,
            input["runSpec"],
            priority=input.get("priority"),
            template_variable_values=input.get("templateVariableValues"),
        )
        return {"runQueueItemId": item.id}

    def popFromRunQueue(self, info: Info, input: dict[str, Any]) -> dict[str, Any] | None:
        queue = self._world.queue_by_name(
            input["entityName"], input["projectName"], input["queueName"]
        )
        if queue is None:
            raise EmulatorError(f"run queue {input['queueName']!r} not found")
        item = self._world.pop(queue)
        return {"runQueueItemId": item.id, "runSpec": item.run_spec} if item else None

    def ackRunQueueItem(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        self._world.ack(input["runQueueItemId"], input["runName"])
        return OK

    def failRunQueueItem(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        self._world.fail_item(input["runQueueItemId"], input["message"], input["stage"])
        return OK

    def deleteFromRunQueue(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        self._world.delete_item(input["queueID"], input["runQueueItemId"])
        return OK

    def deleteRunQueues(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        with self._world.lock:
            for queue_id in input.get("queueIDs") or []:
                self._world.queues.pop(queue_id, None)
        return OK

    def upsertModel(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        entity = input.get("entityName") or self._world.viewer_entity
        name = input.get("name") or ""
        if not name:
            raise EmulatorError("project name is required")
        inserted = self._world.project(entity, name) is None
        record = self._world.project(entity, name, create=True)
        assert record is not None
        view = ProjectView(self._c, record)
        return {"project": view, "model": view, "inserted": inserted}

    def _new_config(
        self, entity: str, resource: str, config: str, variables: dict[str, Any]
    ) -> ResourceConfig:
        return ResourceConfig(
            id=gql_id("DefaultResourceConfig", self._world.next_number()),
            entity=entity,
            resource=resource,
            config=config,
            template_variables=variables,
        )

    def createDefaultResourceConfig(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        _, variables = _config_inputs(input, "config")
        config = self._new_config(
            input["entityName"], input["resource"], input["config"], variables
        )
        with self._world.lock:
            self._world.resource_configs[config.id] = config
        return {"defaultResourceConfigID": config.id, "success": True}

    def createRunQueue(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        config_id = input.get("defaultResourceConfigID")
        if config_id is not None and config_id not in self._world.resource_configs:
            raise EmulatorError(f"default resource config {config_id} not found")
        queue = self._world.create_queue(
            input["entityName"],
            input["projectName"],
            input["queueName"],
            access=input["access"],
            prioritization_mode=input.get("prioritizationMode"),
            default_resource_config_id=config_id,
        )
        return {"success": True, "queueID": queue.id}

    def upsertRunQueue(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        entity, project, name = input["entityName"], input["projectName"], input["queueName"]
        parsed, variables = _config_inputs(input, "resourceConfig")
        resource = input["resourceType"]
        wrapped = json.dumps({"resource_args": {resource: parsed}})
        config = self._new_config(entity, resource, wrapped, variables)
        with self._world.lock:
            self._world.resource_configs[config.id] = config
            queue = self._world.queue_by_name(entity, project, name)
            if queue is None:
                queue = self._world.create_queue(
                    entity, project, name, prioritization_mode=input.get("prioritizationMode")
                )
            elif input.get("prioritizationMode"):
                queue.prioritization_mode = input["prioritizationMode"]
            queue.default_resource_config_id = config.id
            if input.get("externalLinks") is not None:
                queue.external_links = input["externalLinks"]
        return {"success": True, "configSchemaValidationErrors": None}

    # -- runs ----------------------------------------------------------------------------

    def stopRun(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        run = self._world.run_by_id(input["id"])
        if run is None:
            raise EmulatorError(f"run {input['id']} not found")
        with self._world.lock:
            run.stopped = True
        return OK

    def updateRunState(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        run = self._world.run_by_id(input["id"])
        if run is None:
            raise EmulatorError(f"run {input['id']} not found")
        allowed = {
            "pending": {"running", "failed", "crashed", "preempted"},
            "failed": {"pending", "running"},
        }
        if run.state not in allowed.get(input["state"], set()):
            raise EmulatorError(f"cannot change run state from {run.state} to {input['state']}")
        self._world.finish_run(run, input["state"])
        return OK

    def upsertBucket(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        if input.get("id"):
            run = self._world.run_by_id(input["id"])
            if run is None:
                raise EmulatorError(f"run {input['id']} not found")
            entity, project, name = run.entity, run.project, run.name
        else:
            entity = input.get("entityName") or self._world.viewer_entity
            project = input.get("modelName") or "uncategorized"
            name = input.get("name") or ""
            if not name:
                raise EmulatorError("run name is required")
        fields: dict[str, Any] = {
            "display_name": input.get("displayName"),
            "job_type": input.get("jobType"),
            "notes": input.get("notes"),
            "tags": input.get("tags"),
            "state": input.get("state"),
        }
        if input.get("config"):
            raw = json.loads(input["config"])
            fields["config"] = {
                k: v.get("value") if isinstance(v, dict) else v for k, v in raw.items()
            }
        if input.get("summaryMetrics"):
            fields["summary"] = json.loads(input["summaryMetrics"])
        run, inserted = self._world.upsert_run(entity, project, name, **fields)
        return {"bucket": RunView(self._c, run), "inserted": inserted}

    def createRunFiles(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        """Upload URLs for run files (``run.save``, ``wandb-summary.json``, ``config.yaml``)."""
        run = self._world.run(input["entityName"], input["projectName"], input["runName"])
        if run is None:
            raise EmulatorError(
                f"run {input['entityName']}/{input['projectName']}/{input['runName']} not found"
            )
        files = []
        for name in input["files"]:
            if not name or name.startswith("/") or ".." in name.split("/"):
                raise EmulatorError(f"invalid run file name {name!r}")
            record = self._world.run_file(run, name)
            files.append(
                {"name": name, "uploadUrl": self._c.storage.upload_url(record.storage_path)}
            )
        return {"runID": run.id, "uploadHeaders": [], "files": files}

    # -- artifacts -----------------------------------------------------------------------

    def createArtifact(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        artifact = artifact_ops.create_artifact(self._world, input)
        return {"artifact": ArtifactView(self._c, artifact)}

    def createArtifactManifest(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        artifact, path = artifact_ops.create_manifest(
            self._world, input, self._c.storage.expected_md5
        )
        return {"artifactManifest": self._manifest(artifact.manifest_id or "", path)}

    def updateArtifactManifest(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        artifact, path = artifact_ops.update_manifest(
            self._world, input, self._c.storage.expected_md5
        )
        return {"artifactManifest": self._manifest(artifact.manifest_id or "", path)}

    def _manifest(self, manifest_id: str, path: str) -> dict[str, Any]:
        return {
            "id": manifest_id,
            "file": {
                "id": gql_id("File", path),
                "uploadUrl": self._c.storage.upload_url(path),
                "uploadHeaders": ["Content-Type: application/json"],
            },
        }

    def createArtifactFiles(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        if input["storageLayout"] != "V2":
            raise EmulatorError("only storageLayout V2 is supported")
        for spec in input["artifactFiles"]:
            if spec.get("uploadPartsInput"):
                raise EmulatorError("multipart uploads are not supported by the emulator")
        created = artifact_ops.create_artifact_files(self._world, input["artifactFiles"])
        nodes: list[dict[str, Any]] = []
        for (artifact, _name, path, needs_upload), spec in zip(
            created, input["artifactFiles"], strict=True
        ):
            if needs_upload:
                self._c.storage.expected_md5[path] = spec["md5"]
            nodes.append(
                {
                    "storagePath": path,
                    "uploadUrl": self._c.storage.upload_url(path) if needs_upload else None,
                    "uploadHeaders": [],
                    "uploadMultipartUrls": None,
                    "artifact": ArtifactView(self._c, artifact),
                }
            )
        return {"files": connection(nodes)}

    def commitArtifact(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        artifact = artifact_ops.commit_artifact(self._world, input["artifactID"])
        return {"artifact": ArtifactView(self._c, artifact)}

    def useArtifact(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        run = self._world.run(input["entityName"], input["projectName"], input["runName"])
        artifact = self._world.artifacts.get(input["artifactID"])
        if run is None or artifact is None:
            raise EmulatorError("run or artifact not found")
        with self._world.lock:
            if artifact.id not in run.input_artifacts:
                run.input_artifacts.append(artifact.id)
        return {"artifact": ArtifactView(self._c, artifact)}

    def addAliases(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        artifact_ops.add_aliases(self._world, input["artifactID"], input["aliases"])
        return OK

    def deleteAliases(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        artifact_ops.delete_aliases(self._world, input["artifactID"], input["aliases"])
        return OK


def _config_inputs(input: dict[str, Any], field: str) -> tuple[Any, dict[str, Any]]:
    """A resource config input's ``field`` and ``templateVariables``, parsed; either not JSON
    is refused naming both."""
    try:
        return json.loads(input[field]), json.loads(input.get("templateVariables") or "{}")
    except ValueError:
        raise EmulatorError(f"{field} and templateVariables must be JSON") from None
