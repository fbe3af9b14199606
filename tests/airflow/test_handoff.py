"""Artifacts handed between tasks: upstream ``outputs`` -> downstream ``JobSpec.inputs``."""

from __future__ import annotations

import json
import sqlite3
import sys

import pytest

from .conftest import EXAMPLES, PLATFORM_HOME
from .dags.jobrelay_hello import handoff_dag
from .support import jobs_for, task_states, xcoms

pytestmark = pytest.mark.slow


def _spec_of(job_id: str) -> dict[str, object]:
    with sqlite3.connect(PLATFORM_HOME / "jobrelay.db") as db:
        (spec,) = db.execute("SELECT spec FROM jobs WHERE id=?", (job_id,)).fetchone()
    return dict(json.loads(spec))


def test_downstream_inputs_take_upstream_outputs_by_xcomarg_or_template(
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = handoff_dag(str(PLATFORM_HOME)).test()
    log = capsys.readouterr().out

    assert set(task_states("jobrelay_handoff", run.run_id).values()) == {"success"}, log[-3000:]
    published = xcoms("jobrelay_handoff", run.run_id, "publish")["outputs"]["data"]
    for task_id in ("by_xcomarg", "by_template"):
        (job,) = jobs_for("jobrelay_handoff", task_id, run.run_id)
        assert _spec_of(job.ref.id)["inputs"] == {"data": published}


@pytest.mark.parametrize("deferrable", [False, True], ids=["worker", "deferred"])
def test_example_dag_trains_then_evaluates_the_trained_model(
    deferrable: bool, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOBRELAY_EXAMPLE_DEFERRABLE", "1" if deferrable else "0")
    monkeypatch.syspath_prepend(str(EXAMPLES))
    sys.modules.pop("train_evaluate", None)
    import train_evaluate  # the example DAG file, read with this test's settings

    run = train_evaluate.dag.test()
    log = capsys.readouterr().out

    assert run.state == "success", log[-3000:]
    train = xcoms("jobrelay_train_evaluate", run.run_id, "train")
    evaluate = xcoms("jobrelay_train_evaluate", run.run_id, "evaluate")
    model = train["return_value"]["outputs"]["model"]
    assert train["outputs"] == {"model": model}
    assert (model["name"], model["type"], model["metadata"]) == ("model", "model", {"epochs": 3})
    # Identical content is one version in the store: its producer is a train job of this DAG
    # (the first run's, when another test run trained the same model before).
    producer = model["producer"]["idempotency_key"]
    assert producer.startswith("airflow:jobrelay_train_evaluate:train:")
    assert evaluate["return_value"]["state"] == "SUCCEEDED"
    for line in ("epoch 1/3 loss=1.000", "saved model", "score=0.50"):
        assert log.count(line) == 1, line
