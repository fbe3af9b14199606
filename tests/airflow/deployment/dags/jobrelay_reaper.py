"""The reaper as a user adds it, for the real-deployment tests: triggered by the tests
(no schedule) and with no grace period, so one run cancels every orphan it finds."""

from __future__ import annotations

from airflow_jobrelay.reaper import orphan_sweep_dag

dag = orphan_sweep_dag("jobrelay_reaper", schedule=None, grace_period=0)
