"""The GraphQL documents jobrelay sends to W&B, as constants (reference §3-§8).

Names of types, fields, arguments and enums are exactly the reference's. The one built
document is the batched status query: one request answers for every waited item and run.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "ADD_ALIASES",
    "ARTIFACT_FIELDS",
    "ARTIFACT_MEMBERSHIP_BY_NAME",
    "COLLECTION_VERSIONS",
    "COMMIT_ARTIFACT",
    "CREATE_ARTIFACT",
    "CREATE_ARTIFACT_FILES",
    "CREATE_ARTIFACT_MANIFEST",
    "CREATE_DEFAULT_RESOURCE_CONFIG",
    "CREATE_PROJECT",
    "CREATE_RUN_QUEUE",
    "DELETE_FROM_RUN_QUEUE",
    "FETCH_ARTIFACT_MANIFEST",
    "FETCH_RUN_QUEUE_ID",
    "GET_ARTIFACT_MEMBERSHIP_FILE_URLS",
    "GET_RUN_QUEUE_ITEMS",
    "PROJECT_ARTIFACT_COLLECTIONS",
    "PROJECT_RUN_QUEUES",
    "PUSH_TO_RUN_QUEUE_BY_NAME",
    "RUN_LOG_FILE",
    "STOP_RUN",
    "UPSERT_BUCKET",
    "UPSERT_RUN_QUEUE",
    "VIEWER",
    "status_document",
]

VIEWER = """
query GetDefaultEntity {
  viewer { id entity }
}
"""

# -- launch: push, find, status, cancel --------------------------------------------------

PUSH_TO_RUN_QUEUE_BY_NAME = """
mutation pushToRunQueueByName(
  $entityName: String!, $projectName: String!, $queueName: String!, $runSpec: JSONString!,
  $priority: Int, $templateVariableValues: JSONString
) {
  pushToRunQueueByName(input: {
    entityName: $entityName, projectName: $projectName, queueName: $queueName,
    runSpec: $runSpec, priority: $priority, templateVariableValues: $templateVariableValues
  }) {
    runQueueItemId
    runSpec
  }
}
"""

GET_RUN_QUEUE_ITEMS = """
query GetRunQueueItems($projectName: String!, $entityName: String!, $runQueue: String!) {
  project(name: $projectName, entityName: $entityName) {
    runQueue(name: $runQueue) {
      id
      runQueueItems(first: 100) {
        edges { node { id state associatedRunId runSpec createdAt } }
      }
    }
  }
}
"""

FETCH_RUN_QUEUE_ID = """
query fetchRunQueuesFromProject(
  $entityName: String!, $projectName: String!, $runQueueName: String!
) {
  project(name: $projectName, entityName: $entityName) {
    runQueue(name: $runQueueName) { id }
  }
}
"""

DELETE_FROM_RUN_QUEUE = """
mutation DeleteFromRunQueue($queueID: ID!, $runQueueItemId: ID!) {
  deleteFromRunQueue(input: {queueID: $queueID, runQueueItemId: $runQueueItemId}) {
    success
    clientMutationId
  }
}
"""

STOP_RUN = """
mutation StopRun($id: ID!) {
  stopRun(input: {id: $id}) { success }
}
"""

ARTIFACT_FIELDS = """
fragment ArtifactFields on Artifact {
  id
  versionIndex
  digest
  size
  state
  createdAt
  metadata
  description
  artifactType { name }
  artifactSequence { name project { name entity { name } } }
  aliases { alias }
}
"""

_ITEM_FIELDS = """
fragment ItemFields on RunQueueItem {
  id
  state
  associatedRunId
  createdAt
  error { message stage }
}
"""

_RUN_FIELDS = """
fragment RunFields on Run {
  id
  name
  state
  exitcode
  createdAt
  heartbeatAt
  summaryMetrics
  outputArtifacts(first: 100) { edges { node { ...ArtifactFields } } }
}
"""


def status_document(queues: Sequence[Sequence[int]], runs: int) -> str:
    """One query for many jobs: per queue ``q{i}`` its pending order and items ``i{n}``, then
    runs ``r{n}``. ``queues[i]`` lists the item numbers asked of queue ``i``.

    Variables: ``$qe`` (queue entity), ``$qp`` (queue project), ``$q{i}`` (queue name),
    ``$i{n}`` (item id), ``$e``/``$p`` (run entity/project), ``$r{n}`` (run name).
    """
    params = ["$qe: String!", "$qp: String!"] if queues else []
    if runs:
        params += ["$e: String!", "$p: String!"]
    parts = []
    for qi, items in enumerate(queues):
        params.append(f"$q{qi}: String!")
        selects = []
        for n in items:
            params.append(f"$i{n}: ID!")
            selects.append(f"i{n}: runQueueItem(id: $i{n}) {{ ...ItemFields }}")
        parts.append(
            f"q{qi}: project(name: $qp, entityName: $qe) {{ runQueue(name: $q{qi}) {{ id "
            "runQueueItems(first: 100) { edges { node { id state } } } "
            + " ".join(selects)
            + " } }"
        )
    run_selects = []
    for n in range(runs):
        params.append(f"$r{n}: String!")
        run_selects.append(f"r{n}: run(name: $r{n}) {{ ...RunFields }}")
    if run_selects:
        parts.append(f"runs: project(name: $p, entityName: $e) {{ {' '.join(run_selects)} }}")
    fragments = _ITEM_FIELDS if any(queues) else ""
    if runs:
        fragments += _RUN_FIELDS + ARTIFACT_FIELDS
    return (
        f"query JobStatuses({', '.join(params)}) {{\n  " + "\n  ".join(parts) + "\n}\n" + fragments
    )


RUN_LOG_FILE = """
query RunLogFile($project: String!, $entity: String!, $name: String!) {
  project(name: $project, entityName: $entity) {
    run(name: $name) {
      state
      files(names: ["output.log"], first: 1) {
        edges { node { name directUrl sizeBytes } }
      }
    }
  }
}
"""

# -- queues ----------------------------------------------------------------------------

CREATE_PROJECT = """
mutation CreateProject($name: String!, $entityName: String!) {
  upsertModel(input: {name: $name, entityName: $entityName}) {
    project { id name entityName }
    inserted
  }
}
"""

CREATE_DEFAULT_RESOURCE_CONFIG = """
mutation CreateDefaultResourceConfig(
  $entityName: String!, $resource: String!, $config: JSONString!, $templateVariables: JSONString
) {
  createDefaultResourceConfig(input: {
    entityName: $entityName, resource: $resource, config: $config,
    templateVariables: $templateVariables
  }) {
    defaultResourceConfigID
    success
  }
}
"""

CREATE_RUN_QUEUE = """
mutation CreateRunQueue(
  $entity: String!, $project: String!, $queueName: String!, $access: RunQueueAccessType!,
  $prioritizationMode: RunQueuePrioritizationMode, $defaultResourceConfigID: ID
) {
  createRunQueue(input: {
    entityName: $entity, projectName: $project, queueName: $queueName, access: $access,
    prioritizationMode: $prioritizationMode, defaultResourceConfigID: $defaultResourceConfigID
  }) {
    success
    queueID
  }
}
"""

UPSERT_RUN_QUEUE = """
mutation UpsertRunQueue(
  $entityName: String!, $projectName: String!, $queueName: String!, $resourceType: String!,
  $resourceConfig: JSONString!, $templateVariables: JSONString,
  $prioritizationMode: RunQueuePrioritizationMode, $externalLinks: JSONString
) {
  upsertRunQueue(input: {
    entityName: $entityName, projectName: $projectName, queueName: $queueName,
    resourceType: $resourceType, resourceConfig: $resourceConfig,
    templateVariables: $templateVariables, prioritizationMode: $prioritizationMode,
    externalLinks: $externalLinks
  }) {
    success
    configSchemaValidationErrors
  }
}
"""

PROJECT_RUN_QUEUES = """
query ProjectRunQueues($entity: String!, $projectName: String!) {
  project(entityName: $entity, name: $projectName) {
    runQueues {
      id
      name
      createdBy
      access
      prioritizationMode
      runQueueItems(first: 100) {
        edges { node { id state associatedRunId runSpec createdAt } }
      }
    }
  }
}
"""

# -- artifacts -------------------------------------------------------------------------

ARTIFACT_MEMBERSHIP_BY_NAME = (
    """
query ArtifactMembershipByName($entity: String!, $project: String!, $name: String!) {
  project(name: $project, entityName: $entity) {
    artifactCollectionMembership(name: $name) {
      id
      versionIndex
      artifact { ...ArtifactFields }
    }
  }
}
"""
    + ARTIFACT_FIELDS
)

COLLECTION_VERSIONS = (
    """
query CollectionVersions($entity: String!, $project: String!, $collection: String!,
                         $cursor: String, $perPage: Int) {
  project(name: $project, entityName: $entity) {
    artifactCollection(name: $collection) {
      __typename
      artifacts(after: $cursor, first: $perPage) {
        pageInfo { endCursor hasNextPage }
        edges { node { ...ArtifactFields } }
      }
    }
  }
}
"""
    + ARTIFACT_FIELDS
)

PROJECT_ARTIFACT_COLLECTIONS = """
query ProjectArtifactCollections($entity: String!, $project: String!, $cursor: String,
                                 $perPage: Int) {
  project(entityName: $entity, name: $project) {
    artifactCollections(after: $cursor, first: $perPage) {
      pageInfo { endCursor hasNextPage }
      edges { node { __typename name } }
    }
  }
}
"""

FETCH_ARTIFACT_MANIFEST = """
query FetchArtifactManifest($id: ID!) {
  artifact(id: $id) {
    currentManifest { file { directUrl } }
  }
}
"""

GET_ARTIFACT_MEMBERSHIP_FILE_URLS = """
query GetArtifactMembershipFileUrls($entity: String!, $project: String!, $collection: String!,
                                    $alias: String!, $cursor: String, $perPage: Int) {
  project(name: $project, entityName: $entity) {
    artifactCollection(name: $collection) {
      __typename
      artifactMembership(aliasName: $alias) {
        files(after: $cursor, first: $perPage) {
          pageInfo { endCursor hasNextPage }
          edges { node { name directUrl } }
        }
      }
    }
  }
}
"""

UPSERT_BUCKET = """
mutation UpsertBucket($name: String, $project: String, $entity: String, $jobType: String,
                      $state: String) {
  upsertBucket(input: {name: $name, modelName: $project, entityName: $entity,
                       jobType: $jobType, state: $state}) {
    bucket { id name }
    inserted
  }
}
"""

CREATE_ARTIFACT = """
mutation CreateArtifact($input: CreateArtifactInput!) {
  createArtifact(input: $input) {
    artifact {
      id
      state
      versionIndex
      artifactSequence { latestArtifact { id } }
    }
  }
}
"""

CREATE_ARTIFACT_MANIFEST = """
mutation CreateArtifactManifest(
  $artifactID: ID!, $baseArtifactID: ID, $name: String!, $digest: String!,
  $entityName: String!, $projectName: String!, $runName: String!,
  $manifestType: ArtifactManifestType!, $includeUpload: Boolean!
) {
  createArtifactManifest(input: {
    artifactID: $artifactID, baseArtifactID: $baseArtifactID, name: $name, digest: $digest,
    entityName: $entityName, projectName: $projectName, runName: $runName, type: $manifestType
  }) {
    artifactManifest {
      id
      file {
        id
        uploadUrl @include(if: $includeUpload)
        uploadHeaders @include(if: $includeUpload)
      }
    }
  }
}
"""

CREATE_ARTIFACT_FILES = """
mutation CreateArtifactFiles($input: CreateArtifactFilesInput!) {
  createArtifactFiles(input: $input) {
    files {
      edges {
        node {
          storagePath
          uploadUrl
          uploadHeaders
          artifact { id }
        }
      }
    }
  }
}
"""

COMMIT_ARTIFACT = """
mutation CommitArtifact($artifactID: ID!) {
  commitArtifact(input: {artifactID: $artifactID}) {
    artifact { id digest }
  }
}
"""

ADD_ALIASES = """
mutation AddAliases($artifactID: ID!, $aliases: [ArtifactCollectionAliasInput!]!) {
  addAliases(input: {artifactID: $artifactID, aliases: $aliases}) { success }
}
"""
