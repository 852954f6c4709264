"""proxy_daily_stats: once a day, for the UTC day that ended, what each source delivered.

A placeholder for the nightly user-agent, method and content-type statistics and their
baselines, which land with their own issue. Today it reads the day's ledger and the
manifests of its files and reports per source: files taken, files archived, lines,
rows and rejects. It fails when a file taken that day has no manifest yet, so a day that
is not fully archived is visible.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import CronTriggerTimetable, dag, task

from proxyvault.dag_defaults import DEFAULT_ARGS, START_DATE, TAG


@dag(
    dag_id="proxy_daily_stats",
    schedule=CronTriggerTimetable("30 1 * * *", timezone="UTC"),  # 01:30: the day before is sealed by then
    start_date=START_DATE,
    catchup=False,
    default_args=DEFAULT_ARGS,
    tags=[TAG, "stats"],
    doc_md=__doc__,
)
def proxy_daily_stats() -> None:
    @task
    def day_summary(logical_date: datetime | None = None) -> dict[str, Any]:
        from proxyvault.pipeline import Pipeline, closed_day, day_summary

        assert logical_date is not None
        return day_summary(Pipeline.from_config(), closed_day(logical_date))

    day_summary()


proxy_daily_stats()
