"""What every proxyvault DAG shares: retries, tags, start date, the asset of landed files.

Imported by the files in ``dags/`` at parse time, so it imports nothing heavy and does
no I/O: the config is read inside tasks, never here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import Asset

#: Every run of ``proxy_rotate`` that lands files emits an event of this asset; its
#: ``extra`` carries the day and the receipt keys (asset-triggered runs have no logical date).
LANDED = Asset(name="proxyvault_landed", uri="proxyvault://landing")

#: Retries with exponential backoff: store and network errors are transient more often than not.
DEFAULT_ARGS: dict[str, Any] = {
    "owner": "proxyvault",
    "retries": 3,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=30),
}
START_DATE = datetime(2026, 1, 1)  # naive: Airflow reads it in UTC (its default zone)
TAG = "proxyvault"


def task_logger(name: str) -> Any:
    """The logger a task writes its progress lines to (they appear in the task's log)."""
    import logging

    return logging.getLogger(f"proxyvault.{name}").info


def mapped_results(results: Any) -> list[Any]:
    """The results of a mapped task as a list, read by index: iterating the lazy sequence
    asks for one item past the end, which Airflow logs as an error."""
    return [results[i] for i in range(len(results))]
