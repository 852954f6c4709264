"""proxy_archive: archive every landed file, then seal the closed hours into the digest chain.

Triggered by ``proxy_rotate``'s ``proxyvault_landed`` asset (the receipts are in the
event's ``extra``), and hourly by time so that hours without traffic are sealed too.
Triggered by hand, its params pick the receipts: ``day`` (and ``end_day``) archive every
file the ledger says was taken on those UTC days (a backfill), ``receipts`` names them.

One mapped ``archive`` task per file runs normalize → validate → archive → commit as one
transaction: the data objects go up first and the manifest, the commit point, last. A
retry after a crash finds what is there and completes the batch; a file already archived
is a no-op, so a re-run or a backfill leaves the archive exactly as it was. ``seal`` then
signs a digest for every closed hour (``[pipeline] seal_grace`` after its end) and a
backfill digest for sealed hours that received late batches. ``max_active_runs=1``: one
sealer per store.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, Param, dag, task

from proxyvault.dag_defaults import DEFAULT_ARGS, LANDED, START_DATE, TAG, mapped_results, task_logger


@dag(
    dag_id="proxy_archive",
    schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable("7 * * * *", timezone="UTC"), assets=[LANDED]),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=[TAG, "archive"],
    params={
        "day": Param(None, type=["null", "string"], format="date", description="archive every file taken on this UTC day"),
        "end_day": Param(None, type=["null", "string"], format="date", description="with day: through this UTC day (a backfill)"),
        "receipts": Param([], type="array", description="receipt keys to archive (receipts/source=S/<sha256>.json)"),
    },
    doc_md=__doc__,
)
def proxy_archive() -> None:
    @task
    def plan(
        triggering_asset_events: Any = None, params: dict[str, Any] | None = None, logical_date: datetime | None = None
    ) -> dict[str, Any]:
        from proxyvault.pipeline import Pipeline, plan_archive_run

        extras = [event.extra for events in (triggering_asset_events or {}).values() for event in events]
        return plan_archive_run(Pipeline.from_config(), extras, params or {}, logical_date)

    @task
    def receipts(run_plan: dict[str, Any]) -> list[str]:
        return list(run_plan["receipts"])

    @task(map_index_template="{{ receipt_key.split('/')[1] }}", max_active_tis_per_dagrun=2)
    def archive(receipt_key: str) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from proxyvault.pipeline import Pipeline, archive_receipt
        from proxyvault.validate import ValidationFailed

        try:
            return archive_receipt(Pipeline.from_config(), receipt_key, alert=task_logger("alert"), progress=None)
        except ValidationFailed as exc:
            raise AirflowFailException(str(exc)) from None  # the source's policy says fail: retrying will not help

    @task(trigger_rule="none_failed")  # also when no file landed: hours without traffic are sealed too
    def seal(run_plan: dict[str, Any], results: list[dict[str, Any]]) -> dict[str, Any]:
        from proxyvault.pipeline import Pipeline, seal_after_run

        return seal_after_run(Pipeline.from_config(), run_plan, mapped_results(results))

    run_plan = plan()
    seal(run_plan, archive.expand(receipt_key=receipts(run_plan)))


proxy_archive()
