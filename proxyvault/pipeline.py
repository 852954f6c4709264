"""Use cases the DAGs call, one per task: archive a landed file, list a day's receipts, seal.

Every function takes and returns store keys and small JSON-ready values, never local
paths, so a task can run on any worker that reaches the store (Celery, Kubernetes).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import zstandard

from infra.config import Config, load_config
from infra.integrity import Signer, load_signer
from infra.layout import batch_id, floor_hour, ledger_day_prefix, manifest_key, parse_utc, utc_text
from infra.rawfile import sha256_file
from infra.store import ObjectStore, StoreError, open_store
from proxyvault.archive import archive_file
from proxyvault.normalize import Provenance, ValidationRun
from proxyvault.seal import SealResult, read_head, seal
from proxyvault.sources import source_parser

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Pipeline:
    """The config and the store every task of a run works on."""

    config: Config
    store: ObjectStore

    @classmethod
    def from_config(cls, path: Path | None = None) -> Pipeline:
        """From ``path``, else ``$PROXYVAULT_CONFIG``, else the built-in defaults (plus ``PROXYVAULT__*`` overrides)."""
        config = load_config(path)
        return cls(config, open_store(config.store, config.retention.mode))

    def signer(self) -> Signer:
        return load_signer(self.config.keys.private)


class LandingMismatchError(StoreError):
    """A landed object does not hold the bytes its receipt names."""


def fetch_landed(store: ObjectStore, receipt: dict[str, Any], target: Path) -> Path:
    """Write the taken file named by ``receipt`` to ``target`` (its original name), checked against the receipt's SHA-256."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with store.open(receipt["landing_key"]) as stream, target.open("wb") as out:
        zstandard.ZstdDecompressor().copy_stream(stream, out)
    sha = sha256_file(target)
    if sha != receipt["sha256"]:
        raise LandingMismatchError(
            f"{store.location}/{receipt['landing_key']}: decompresses to SHA-256 {sha}, its receipt says {receipt['sha256']}; "
            "the landed copy is damaged: take the file again from the proxy host if it is still there"
        )
    return target


def archive_receipt(pipeline: Pipeline, key: str, *, alert: Progress | None = None, progress: Progress | None = None) -> dict[str, Any]:
    """Archive the file a receipt names: normalize, validate, archive, commit (:func:`~proxyvault.archive.archive_file`).

    A file already archived (its manifest exists) is not fetched again. Returns a small
    summary: the batch, its manifest key, status, rows, rejects, hours and validation status.
    """
    store, config = pipeline.store, pipeline.config
    receipt = json.loads(store.get_bytes(key))
    source = config.source(receipt["source"])
    mkey = manifest_key(source.name, batch_id(receipt["sha256"]))
    existing = store.get_if_exists(mkey)
    if existing is not None:
        manifest = json.loads(existing)
        return _summary(key, manifest, "already_archived")
    with tempfile.TemporaryDirectory(prefix="proxyvault-landed-", dir=config.pipeline.work_dir) as tmp:
        path = fetch_landed(store, receipt, Path(tmp) / "in" / receipt["name"])
        format_name, parser = source_parser(source, path)
        validation = ValidationRun(
            settings=source.validation,
            engine=config.engine,
            received_at=parse_utc(receipt["taken_at"]),
            alert=alert,
        )
        custody = {k: receipt[k] for k in ("taken_at", "host", "method", "path", "interval_end")}
        result = archive_file(
            path,
            parser,
            Provenance(source.name, format_name, source.proxy_host),
            store,
            config.retention,
            validation,
            workdir=Path(tmp),
            progress=progress,
            partial_last_line=source.partial_last_line,
            custody={"receipt_key": key, **custody},
        )
        shutil.rmtree(path.parent, ignore_errors=True)
    manifest = json.loads(store.get_bytes(result.manifest_key))
    return _summary(key, manifest, result.status)


def _summary(receipt: str, manifest: dict[str, Any], status: str) -> dict[str, Any]:
    return {
        "receipt": receipt,
        "source": manifest["source"],
        "batch": manifest["batch"],
        "status": status,
        "manifest_key": manifest_key(manifest["source"], manifest["batch"]),
        "rows": manifest["counts"]["rows_out"],
        "rejects": manifest["counts"]["rejects_out"],
        "lines_in": manifest["counts"]["lines_in"],
        "hours": manifest["hours"],
        "validation_status": manifest["validation"]["status"],
    }


def receipts_of_days(store: ObjectStore, first: date, last: date, sources: Iterable[str] = ()) -> list[str]:
    """Receipt keys of every file taken on the UTC days ``first`` to ``last`` (inclusive), from the ledger."""
    wanted = set(sources)
    keys: list[str] = []
    day = first
    while day <= last:
        for entry_key in store.list_keys(ledger_day_prefix(day)):
            source = entry_key.split("/source=", 1)[1].split("/", 1)[0]
            if wanted and source not in wanted:
                continue
            keys.append(json.loads(store.get_bytes(entry_key))["receipt_key"])
        day += timedelta(days=1)
    return sorted(set(keys))


def receipts_from_events(extras: Iterable[dict[str, Any]]) -> list[str]:
    """Receipt keys announced by ``proxy_rotate``'s asset events (their ``extra``)."""
    return sorted({key for extra in extras for key in extra.get("receipts", [])})


def seal_closed(pipeline: Pipeline, until: datetime | None, late_hours: Iterable[str], *, start: datetime | None = None) -> dict[str, Any]:
    """Seal every hour before ``until`` (closed hours), and add backfill digests to sealed
    ``late_hours`` that received batches. ``start``: where a new chain begins (default: the
    earliest hour with data)."""
    recheck = sorted({parse_utc(h) for h in late_hours})
    head = read_head(pipeline.store)
    if until is None:
        until = head.sealed_through + timedelta(hours=1) if head and head.sealed_through else None
    if until is None:
        return {"sealed": 0, "sealed_through": None, "backfill": 0}
    result: SealResult = seal(pipeline.store, pipeline.signer(), until, pipeline.config.retention, recheck=recheck, start=start)
    out = asdict(result)
    return {
        "sealed": result.hourly,
        "empty": result.empty,
        "backfill": result.backfill,
        "uncommitted": result.uncommitted,
        "sealed_through": out["sealed_through"],
    }


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, datetime.min.time(), UTC)
    return start, start + timedelta(days=1)


#: Airflow's default ``[core] max_map_length``: a mapped task expands to at most this many instances.
MAX_MAPPED_FILES = 1024


def plan_archive_run(
    pipeline: Pipeline, extras: list[dict[str, Any]], params: dict[str, Any], logical_date: datetime | None
) -> dict[str, Any]:
    """What one ``proxy_archive`` run archives and how far it seals.

    Receipts come from the triggering asset events' ``extra``, the ``receipts`` param, and
    the ledger of the ``day``..``end_day`` params. Closed hours end ``seal_grace`` before
    the newest rotation among those receipts; a run triggered by time alone seals up to
    its own time minus the grace.
    """
    from proxyvault.rotate import seal_until

    keys = set(receipts_from_events(extras)) | set(params.get("receipts") or [])
    if params.get("day"):
        first = date.fromisoformat(params["day"])
        last = date.fromisoformat(params.get("end_day") or params["day"])
        if last < first:
            raise ValueError(f"params: end_day {last} is before day {first}; swap them")
        keys |= set(receipts_of_days(pipeline.store, first, last))
    receipts = sorted(keys)
    if len(receipts) > MAX_MAPPED_FILES:
        raise ValueError(
            f"{len(receipts)} files to archive exceed Airflow's max_map_length ({MAX_MAPPED_FILES}); "
            "backfill fewer days per run (day/end_day)"
        )
    grace = pipeline.config.pipeline.seal_grace
    documents = [json.loads(pipeline.store.get_bytes(key)) for key in receipts]
    until = seal_until(documents, grace)
    mode = "event" if extras else ("manual" if receipts or params.get("day") else "time")
    if until is None and mode == "time" and logical_date is not None:
        until = floor_hour(logical_date - grace)
    return {"mode": mode, "receipts": receipts, "until": utc_text(until)}


def seal_after_run(pipeline: Pipeline, run_plan: dict[str, Any], results: list[dict[str, Any]]) -> dict[str, Any]:
    """Seal the run's closed hours; the hours of batches archived now are rechecked for late data."""
    late = sorted({hour for r in results if r["status"] == "archived" for hour in r["hours"]})
    until = parse_utc(run_plan["until"]) if run_plan.get("until") else None
    sealed = seal_closed(pipeline, until, late)
    return {
        **sealed,
        "files": len(results),
        "archived": sum(r["status"] == "archived" for r in results),
        "rows": sum(r["rows"] for r in results),
        "rejects": sum(r["rejects"] for r in results),
    }


def day_summary(pipeline: Pipeline, day: date) -> dict[str, Any]:
    """Per source, what the ledger says was taken on ``day`` and what the archive holds of it."""
    store = pipeline.store
    per_source: dict[str, dict[str, int]] = {}
    unarchived: list[str] = []
    for key in receipts_of_days(store, day, day):
        receipt = json.loads(store.get_bytes(key))
        totals = per_source.setdefault(receipt["source"], {"files": 0, "archived": 0, "lines_in": 0, "rows": 0, "rejects": 0})
        totals["files"] += 1
        data = store.get_if_exists(manifest_key(receipt["source"], batch_id(receipt["sha256"])))
        if data is None:
            unarchived.append(key)
            continue
        counts = json.loads(data)["counts"]
        totals["archived"] += 1
        totals["lines_in"] += counts["lines_in"]
        totals["rows"] += counts["rows_out"]
        totals["rejects"] += counts["rejects_out"]
    if unarchived:
        raise StoreError(f"{day}: {len(unarchived)} taken file(s) not archived yet, e.g. {unarchived[0]}; run proxy_archive with day={day}")
    return {"day": day.isoformat(), "sources": dict(sorted(per_source.items()))}


def verify_interval(pipeline: Pipeline, start: datetime, end: datetime) -> dict[str, Any]:
    """``proxyvault verify --start --end`` with the configured keys; raises when anything is not valid."""
    from infra.integrity import load_public_keys
    from proxyvault.verify import verify_store

    keys_config = pipeline.config.keys
    paths = [p for p in (keys_config.public, *keys_config.trusted) if p.exists()]
    if not paths:
        raise StoreError(f"no public key to verify with: {keys_config.public} does not exist; set [keys] public in the config")
    report = verify_store(pipeline.store, load_public_keys(paths), start=start, end=end, trust=f"trusting {', '.join(map(str, paths))}")
    if not report.ok:
        raise StoreError(report.render())
    return {"start": utc_text(start), "end": utc_text(end), "counts": dict(report.counts)}


def plan_restore(pipeline: Pipeline, params: dict[str, Any]) -> dict[str, Any]:
    """What a restore of ``params``' range would read: objects and bytes per table, and whether the range is sealed."""
    from zoneinfo import ZoneInfo

    from infra.layout import parse_key
    from proxyvault.legal_hold import keys_in_range

    zone = ZoneInfo(params.get("tz") or "UTC")

    def instant(text: str) -> datetime:
        value = datetime.fromisoformat(text)
        return (value if value.tzinfo else value.replace(tzinfo=zone)).astimezone(UTC)

    start, end = instant(params["start"]), instant(params["end"])
    if end <= start:
        raise ValueError(f"params: end {params['end']} is not after start {params['start']}")
    tables: dict[str, dict[str, int]] = {}
    for key in keys_in_range(pipeline.store, start, end, params.get("sources") or ()):
        parts = parse_key(key)
        table = parts.table if parts else "other"
        info = pipeline.store.head(key)
        totals = tables.setdefault(table, {"objects": 0, "bytes": 0})
        totals["objects"] += 1
        totals["bytes"] += info.size if info else 0
    head = read_head(pipeline.store)
    sealed = bool(head and head.sealed_through and head.sealed_through + timedelta(hours=1) >= end)
    return {
        "case_id": params.get("case_id"),
        "start": utc_text(start),
        "end": utc_text(end),
        "sealed": sealed,
        "tables": dict(sorted(tables.items())),
        "restore": "planned only: the verified restore lands with the restore issue",
    }


def closed_day(run_time: datetime) -> date:
    """The UTC day a daily run at ``run_time`` reports on: the day before the run's day.

    >>> closed_day(datetime(2026, 11, 10, 1, 30, tzinfo=UTC))
    datetime.date(2026, 11, 9)
    """
    return run_time.astimezone(UTC).date() - timedelta(days=1)


def closed_week(run_time: datetime) -> tuple[datetime, datetime]:
    """The UTC week (Monday 00:00 to Monday 00:00) that ended before ``run_time``'s week began.

    >>> [utc_text(t) for t in closed_week(datetime(2026, 11, 16, 4, 0, tzinfo=UTC))]
    ['2026-11-09T00:00:00Z', '2026-11-16T00:00:00Z']
    """
    day = run_time.astimezone(UTC).date()
    end = datetime.combine(day - timedelta(days=day.weekday()), datetime.min.time(), UTC)
    return end - timedelta(days=7), end
