"""proxy_restore: restore a time range for an investigation (manual, with params).

Trigger it from the UI with the range (in any time zone), the sources and the case id.
Today it plans the restore: it lists what the archive holds for the range (objects and
bytes per table) and checks the range is sealed. The restore itself (verified download,
filters by client, user and host, chain of custody) is wired here when it lands with its
own issue.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param, dag, task

from proxyvault.dag_defaults import DEFAULT_ARGS, START_DATE, TAG


@dag(
    dag_id="proxy_restore",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    default_args=DEFAULT_ARGS,
    tags=[TAG, "restore"],
    params={
        "start": Param("2026-11-20T09:00:00", type="string", description="start of the range (ISO 8601; without an offset: in tz)"),
        "end": Param("2026-11-20T18:00:00", type="string", description="end of the range, exclusive"),
        "tz": Param("UTC", type="string", description="IANA zone of start and end when they have no offset"),
        "sources": Param([], type="array", description="source names; empty: all"),
        "client_ip": Param(None, type=["null", "string"]),
        "user": Param(None, type=["null", "string"]),
        "host": Param(None, type=["null", "string"]),
        "case_id": Param("case-0000", type="string", description="the investigation this restore is for"),
        "output": Param("restores/", type="string", description="where the restore is written"),
    },
    doc_md=__doc__,
)
def proxy_restore() -> None:
    @task
    def plan(params: dict[str, Any] | None = None) -> dict[str, Any]:
        from proxyvault.pipeline import Pipeline, plan_restore

        assert params is not None
        return plan_restore(Pipeline.from_config(), params)

    plan()


proxy_restore()
