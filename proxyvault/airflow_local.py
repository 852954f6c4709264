"""Run the DAGs for real on one machine: a local ``AIRFLOW_HOME`` with SQLite, ``dag.test()``.

What the demo and the integration tests use. :func:`prepare_airflow_home` must run
before anything imports Airflow, which reads its settings once, at import::

    env = prepare_airflow_home(home / "airflow")
    migrate(env)
    dags = load_dags()
    run = run_dag(dags["proxy_rotate"], logical_date=datetime(2026, 11, 9, 23, 45, tzinfo=UTC))

The same home opens in the real UI: ``AIRFLOW_HOME=... airflow standalone`` (README).
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

#: The repository's ``dags/`` folder (next to this package in a clone or an editable install).
DAGS_FOLDER = Path(__file__).resolve().parents[1] / "dags"


_DEFAULT_PARAMS: dict[str, dict[str, Any]] = {}


class AirflowRunError(RuntimeError):
    """A DAG run did not succeed; the message names the DAG, the failed tasks and their errors."""


def airflow_env(home: Path, dags_folder: Path = DAGS_FOLDER) -> dict[str, str]:
    """The environment that points Airflow at ``home``: SQLite metadata, our DAGs, no examples."""
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        # a DAG run in dag.test() imports the dags folder; keep it from timing out on a slow first import
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
    }


def prepare_airflow_home(home: Path, dags_folder: Path = DAGS_FOLDER) -> dict[str, str]:
    """Create ``home`` and point this process's environment at it (before Airflow is imported)."""
    if "airflow" in sys.modules and os.environ.get("AIRFLOW_HOME") != str(home):
        raise AirflowRunError(f"Airflow was imported before its home was set to {home}; call prepare_airflow_home first")
    home.mkdir(parents=True, exist_ok=True)
    env = airflow_env(home, dags_folder)
    os.environ.update(env)
    return env


def migrate(env: dict[str, str]) -> None:
    """``airflow db migrate``: create or upgrade the SQLite metadata (idempotent; ~15 s the first time)."""
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-5:])
        raise AirflowRunError(f"airflow db migrate failed in {env['AIRFLOW_HOME']}:\n{tail}")


def load_dags(dags_folder: Path = DAGS_FOLDER) -> dict[str, Any]:
    """Parse ``dags_folder`` like the scheduler does; raises on any import error."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(dags_folder))
    if bag.import_errors:
        path, error = next(iter(bag.import_errors.items()))
        raise AirflowRunError(f"{path}: the DAG does not import: {error.strip().splitlines()[-1]}")
    return dict(bag.dags)


def run_dag(dag: Any, *, logical_date: datetime | None = None, run_conf: dict[str, Any] | None = None, retries: int = 0) -> Any:
    """Run ``dag`` once with ``dag.test()`` (tasks in this process); raise if the run failed.

    ``retries``: dag.test() does not wait for retries, so the default is none; a failed
    run is re-run by calling this again, as a scheduler retry would.
    """
    for task in dag.tasks:
        task.retries = retries
    # tasks run in this process and update the DAG's params with a run's conf: start every run from the defaults
    defaults = _DEFAULT_PARAMS.setdefault(dag.dag_id, copy.deepcopy(dict(dag.params.dump())))
    run = dag.test(logical_date=logical_date, run_conf={**copy.deepcopy(defaults), **(run_conf or {})})
    if str(run.state) not in ("success", "DagRunState.SUCCESS"):
        raise AirflowRunError(f"{dag.dag_id}: run {run.run_id} ended {run.state}: {failed_tasks(run)}")
    return run


def failed_tasks(run: Any) -> str:
    """The failed task instances of ``run``, for messages."""
    from airflow.utils.session import create_session

    with create_session() as session:
        instances = run.get_task_instances(session=session)
        failed = [
            f"{ti.task_id}[{ti.map_index}]" if ti.map_index >= 0 else ti.task_id
            for ti in instances
            if str(ti.state) in ("failed", "upstream_failed")
        ]
    return ", ".join(failed) or "no task failed"


def asset_extras(run: Any) -> list[dict[str, Any]]:
    """The ``extra`` of every asset event ``run`` emitted, as the scheduler hands them to triggered DAGs."""
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        events = session.scalars(
            select(AssetEvent).where(AssetEvent.source_dag_id == run.dag_id, AssetEvent.source_run_id == run.run_id).order_by(AssetEvent.id)
        ).all()
        return [dict(event.extra or {}) for event in events]


def task_result(run: Any, task_id: str) -> Any:
    """The return value (XCom) of ``task_id`` in ``run``."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.scalars(
            select(XComModel).where(
                XComModel.dag_id == run.dag_id,
                XComModel.run_id == run.run_id,
                XComModel.task_id == task_id,
                XComModel.key == "return_value",
            )
        ).first()
        return None if row is None else XComModel.deserialize_value(row)
