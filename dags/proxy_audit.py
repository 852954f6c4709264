"""proxy_audit: every week, verify the week that ended: digest chain, manifests, every object.

Runs ``proxyvault verify`` over the week before the run (Monday 00:00 to Monday 00:00
UTC): each digest's signature and link, each manifest against its digest,
each object's SHA-256, gaps and unreferenced objects. The task fails, naming the
problems, when anything is not valid; the counts are its return value. The full
auditor's report (retention, coverage calendar) lands with its own issue.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import CronTriggerTimetable, dag, task

from proxyvault.dag_defaults import DEFAULT_ARGS, START_DATE, TAG


@dag(
    dag_id="proxy_audit",
    schedule=CronTriggerTimetable("0 4 * * 1", timezone="UTC"),  # Monday 04:00: last week is sealed by then
    start_date=START_DATE,
    catchup=False,
    default_args=DEFAULT_ARGS,
    tags=[TAG, "audit"],
    doc_md=__doc__,
)
def proxy_audit() -> None:
    @task
    def verify_week(logical_date: datetime | None = None) -> dict[str, Any]:
        from proxyvault.pipeline import Pipeline, closed_week, verify_interval

        assert logical_date is not None
        return verify_interval(Pipeline.from_config(), *closed_week(logical_date))

    verify_week()


proxy_audit()
