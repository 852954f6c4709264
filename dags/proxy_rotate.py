"""proxy_rotate: every 15 minutes, take each configured source's log files into custody.

For each source with a ``rotation`` method in ``proxyvault.toml`` (one mapped task each):
rename the active log and signal Squid (``squid``), rename only (``rename``), or pick up
files others rotated (``spool``); wait until the writer let go; store the bytes under
``landing/``, a receipt (SHA-256, size, lines, first and last event time, source, host)
under ``receipts/`` and the day's ledger entry. When files landed, ``announce`` emits the
``proxyvault_landed`` asset with the day and the receipt keys, which triggers ``proxy_archive``.

The ``take`` tasks must run where the logs are: in a distributed deployment, route them to
a queue served on each proxy host (docs/operations.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import CronDataIntervalTimetable, dag, task

from proxyvault.dag_defaults import DEFAULT_ARGS, LANDED, START_DATE, TAG, mapped_results, task_logger


@dag(
    dag_id="proxy_rotate",
    schedule=CronDataIntervalTimetable("*/15 * * * *", timezone="UTC"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=[TAG, "rotate"],
    doc_md=__doc__,
)
def proxy_rotate() -> None:
    @task
    def sources() -> list[str]:
        from infra.config import load_config
        from proxyvault.rotate import rotated_sources

        return rotated_sources(load_config())

    @task(map_index_template="{{ source }}")
    def take(source: str, data_interval_start: datetime | None = None, data_interval_end: datetime | None = None) -> dict[str, Any]:
        from dataclasses import asdict

        from proxyvault.pipeline import Pipeline
        from proxyvault.rotate import Interval, RotationError, take_source

        assert data_interval_end is not None
        pipeline = Pipeline.from_config()
        interval = Interval(data_interval_start, data_interval_end)
        try:
            result = take_source(pipeline.config, pipeline.config.source(source), pipeline.store, interval, progress=task_logger("rotate"))
        except RotationError as exc:
            # the source's renamed file (if any) stays for the next run; the others go on
            return {"source": source, "landed": [], "already_taken": [], "left": [], "empty": 0, "error": str(exc)}
        return asdict(result)

    @task(outlets=[LANDED], trigger_rule="all_done")
    def announce(results: list[dict[str, Any]], outlet_events: Any = None, data_interval_start: datetime | None = None) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowSkipException

        from proxyvault.rotate import announcement

        extra = announcement(mapped_results(results), data_interval_start)
        if not extra["receipts"]:
            raise AirflowSkipException("nothing landed")
        outlet_events[LANDED].extra = extra
        return extra

    @task
    def check(results: list[dict[str, Any]]) -> dict[str, int]:
        from proxyvault.rotate import check_take_results

        return check_take_results(mapped_results(results))

    taken = take.expand(source=sources())
    announce(taken)
    check(taken)


proxy_rotate()
