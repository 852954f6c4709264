"""Use case: validate a batch of canonical rows before it is archived.

A batch (one raw file's rows) is judged by two suites (:mod:`expectations.suites`) and a
clock check (:mod:`expectations.clock`). The outcome is a JSON report kept beside the
batch (``validation/source=S/part-<hash>.json``), deterministic for the same batch and
settings so that re-archiving gives the same bytes. Failing validation never drops data:
the source's policy says what happens to a failed batch.

``archive_and_alert`` (default)
    the batch goes on to the archive, marked failed, and an alert line is printed.
``quarantine``
    its rows move to ``quarantine/`` instead of ``events/``; nothing is deleted.
``fail``
    :class:`ValidationFailed` is raised, so the command exits non-zero (3) and an Airflow
    task fails, to be retried or alerted on; the outputs stay for inspection.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

import polars as pl

from expectations.advice import advice
from expectations.clock import clock_flags
from expectations.engine import ENGINES, SuiteResult
from expectations.suites import EventWindow, completeness_suite, proxy_events_suite
from infra.config import ValidationSettings
from transforms.parsers import PARSERS
from transforms.schema import REQUIRED_FIELDS

REPORT_SCHEMA = "proxyvault.validation/1"


class ValidationFailed(RuntimeError):  # noqa: N818 (a verdict, not a bug)
    """A batch failed validation and its source's policy is ``fail``."""


@dataclass(frozen=True)
class Batch:
    """One batch to validate: the rows of one raw file, and what is known about it."""

    events: pl.LazyFrame
    source: str
    source_format: str
    source_file_sha256: str
    carried_columns: Sequence[str]
    received_at: datetime | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None


def validate_batch(batch: Batch, settings: ValidationSettings, engine: str = "polars") -> dict[str, Any]:
    """Run both suites and the clock check on ``batch``; return the report (JSON-ready)."""
    entry = PARSERS.get(batch.source_format)
    window = EventWindow(
        start=batch.window_start,
        end=batch.window_end,
        received_at=batch.received_at,
        skew=settings.clock_skew,
        start_allowance=settings.start_time_allowance if entry is None or entry.logs_start_time else timedelta(0),
    )
    run = ENGINES[engine]
    structural = run(proxy_events_suite(window), batch.events)
    completeness = run(completeness_suite(batch.carried_columns, settings.mostly, batch.source, batch.source_format), batch.events)
    clock = clock_flags(batch.events, window)
    table = completeness_table(completeness)
    not_logged = [row["field"] for row in table if not row["carried"]]
    # carried, expected (a threshold above 0), yet in no row: the feed or logformat leaves them out
    never_filled = [row["field"] for row in table if row["carried"] and row["rows"] and not row["present"] and row["threshold"]]
    failures = [*_unsuccessful(structural, critical=True), *_completeness_failures(table), *(f"clock: {flag.detail}" for flag in clock)]
    rows = completeness["results"][0]["result"]["element_count"] if completeness["results"] else _count(batch.events)
    return {
        "report": REPORT_SCHEMA,
        "batch": {
            "source": batch.source,
            "source_format": batch.source_format,
            "source_file_sha256": batch.source_file_sha256,
            "rows": rows,
        },
        "status": "failed" if failures else "passed",
        "policy": settings.policy,
        "failures": failures,
        "notices": _unsuccessful(structural, critical=False),
        "completeness": table,
        "not_logged_by_this_source": not_logged,
        "never_filled": never_filled,
        "advice": advice(batch.source_format, not_logged, never_filled),
        "clock": {"window": structural["meta"]["window"], "flags": [flag.to_json() for flag in clock]},
        "suites": {"proxy_events": structural, "completeness": completeness},
        "engine": {"name": engine, "great_expectations": version("great_expectations")},
    }


def completeness_table(result: SuiteResult) -> list[dict[str, Any]]:
    """Per required field: carried by the format? (it has an expectation), present rows,
    rate, threshold, status."""
    by_column = {r["expectation_config"]["kwargs"]["column"]: r for r in result["results"]}
    table = []
    for name in REQUIRED_FIELDS:
        r = by_column.get(name)
        if r is None:
            table.append(
                {"field": name, "carried": False, "present": None, "rows": None, "rate": None, "threshold": None, "status": "not logged"}
            )
            continue
        rows, missing = r["result"]["element_count"], r["result"]["unexpected_count"]
        threshold = r["expectation_config"]["kwargs"]["mostly"]
        rate = (rows - missing) / rows if rows else None
        status = "ok" if r["success"] else "below threshold"
        if r["success"] and rows and missing == rows:
            status = "never present"  # allowed by a threshold of 0, but worth a look
        table.append(
            {
                "field": name,
                "carried": True,
                "present": rows - missing,
                "rows": rows,
                "rate": rate,
                "threshold": threshold,
                "status": status,
            }
        )
    return table


def _unsuccessful(result: SuiteResult, critical: bool) -> list[str]:
    """One line per failed expectation: the critical ones fail the batch, the others are notices."""
    return [
        f"{result['suite_name']}: {_describe(r['expectation_config'], r['result'])}"
        for r in result["results"]
        if not r["success"] and (r["expectation_config"]["severity"] == "critical") == critical
    ]


def _describe(config: dict[str, Any], result: dict[str, Any]) -> str:
    kwargs = config["kwargs"]
    what = config["meta"].get("check") or config["type"].removeprefix("expect_")
    where = kwargs.get("column") or "+".join(kwargs.get("column_list", []))
    values = result.get("partial_unexpected_list") or []
    examples = ", ".join(list(dict.fromkeys(json.dumps(v, sort_keys=True, ensure_ascii=False) for v in values))[:5])
    considered = result["element_count"] - result.get("missing_count", 0)
    return f"{where}: {result['unexpected_count']:,} of {considered:,} values are not {what}" + (f"; e.g. {examples}" if examples else "")


def _completeness_failures(table: list[dict[str, Any]]) -> list[str]:
    return [
        f"completeness: {row['field']} present in {row['rate']:.1%} of rows, below the threshold {row['threshold']:.0%}"
        for row in table
        if row["status"] == "below threshold"
    ]


def _count(frame: pl.LazyFrame) -> int:
    return int(frame.select(pl.len()).collect().item())


def report_bytes(report: dict[str, Any]) -> bytes:
    """The report's canonical bytes: sorted keys, so the same report hashes the same."""
    return (json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def write_report(report: dict[str, Any], path: Path) -> str:
    """Write ``report`` to ``path`` (atomically) and return its SHA-256."""
    data = report_bytes(report)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return hashlib.sha256(data).hexdigest()


def render_completeness(report: dict[str, Any]) -> str:
    """The completeness table and advice as text, for people.

    One row per required field: whether the format carries it, how often it is present,
    the source's threshold and the status.
    """
    batch = report["batch"]
    lines = [f"{batch['source']} ({batch['source_format']}, {batch['rows']:,} rows): {report['status'].upper()}"]
    lines.append(f"  {'field':16} {'carried':8} {'present':>9} {'threshold':>10}  status")
    for row in report["completeness"]:
        carried = "yes" if row["carried"] else "no"
        rate = "-" if row["rate"] is None else f"{row['rate']:.1%}"
        threshold = "-" if row["threshold"] is None else f"{row['threshold']:.0%}"
        lines.append(f"  {row['field']:16} {carried:8} {rate:>9} {threshold:>10}  {row['status']}")
    lines += [f"  failed: {f}" for f in report["failures"]]
    lines += [f"  notice: {n}" for n in report["notices"]]
    if report["advice"]:
        lines.append(f"  advice: {report['advice']}")
    return "\n".join(lines)
