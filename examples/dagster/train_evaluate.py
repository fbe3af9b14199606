"""Train, then evaluate the model that training produced, as two Dagster assets.

``model`` runs the train job; the job records its ``model`` output
(``jobrelay.runtime.log_output``) and the asset's value is that artifact, which the
``artifacts`` IO manager keeps in its store (URI, digest and producing job in the
materialization's metadata). ``evaluation`` receives it as an ``ArtifactRef`` and hands
it to the evaluate job as its ``model`` input; the job reads it with
``runtime.input_path("model")``. The job scripts (``jobs/``) know nothing of Dagster and
run unchanged on every platform.

Each asset's metadata is the job's run record; the jobs' lines are in the run's logs.
Terminating the run (UI, GraphQL) cancels the running job. The platform is
``$JOBRELAY_PLATFORM`` (default ``local://``), the artifact store ``$JOBRELAY_ARTIFACTS``
(default ``local://``, the local platform's store).

    dagster dev -f examples/dagster/train_evaluate.py
    dagster asset materialize -f examples/dagster/train_evaluate.py --select '*'
"""

import os
import sys
from pathlib import Path

import dagster as dg
from dagster_jobrelay import JobRelayIOManager, JobRelayResource
from jobrelay import ArtifactRef, WaitLimits

JOBS = Path(__file__).resolve().parent / "jobs"
EPOCHS = 3


@dg.asset(io_manager_key="artifacts", group_name="ml")
def model(context: dg.AssetExecutionContext, jobrelay: JobRelayResource) -> dg.MaterializeResult:
    """The trained model: the train job's ``model`` output."""
    return jobrelay.run(
        context,
        {
            "entrypoint": [sys.executable, "train.py", str(EPOCHS)],
            "working_dir": str(JOBS),
            "name": "train",
        },
        output="model",
        wait=WaitLimits(run_timeout=600),
    )


@dg.asset(group_name="ml")
def evaluation(
    context: dg.AssetExecutionContext, jobrelay: JobRelayResource, model: ArtifactRef
) -> dg.MaterializeResult:
    """The model's score: the evaluate job, reading the model the train job made."""
    return jobrelay.run(
        context,
        {
            "entrypoint": [sys.executable, "evaluate.py"],
            "working_dir": str(JOBS),
            "name": "evaluate",
        },
        inputs={"model": model},
        wait=WaitLimits(run_timeout=600),
    )


defs = dg.Definitions(
    assets=[model, evaluation],
    resources={
        "jobrelay": JobRelayResource(),
        "artifacts": JobRelayIOManager(store=os.environ.get("JOBRELAY_ARTIFACTS", "local://")),
    },
)
