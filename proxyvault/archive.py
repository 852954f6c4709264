"""Use case: archive one received proxy log file as a batch: data first, manifest last.

A batch is one file of one source. Archiving it:

1. normalizes and validates it into a staging folder laid out like the store
   (:mod:`infra.layout`): events Parquet per UTC hour sorted by event time, rejects,
   the validation report, and the received bytes compressed with zstd;
2. uploads every data object (each write is checked: size and SHA-256 read back);
3. writes the manifest, which lists every object with its size, SHA-256, rows and
   time range, the file's receipt, parser and schema versions and the validation
   outcome with its report's hash. Given the file's custody record (how it was taken),
   the receipt carries it as ``receipt.custody``; archived with ``partial_last_line="reject"``,
   the manifest says so (a cut-off last line is then in the rejects object, unparsed).
   Neither key is written otherwise: a default archive's manifest bytes do not change.

The batch exists once its manifest does. A crash before that leaves objects no
manifest names (``proxyvault verify`` reports them as unreferenced); running the
archive again writes the same bytes under the same keys, skips what is there and
commits. A file whose manifest exists already is not read again (same content under
any name). Sealing the batch's hours into the digest chain is :mod:`proxyvault.seal`.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import zstandard

from infra.config import RetentionSettings
from infra.integrity import canonical_json, sha256_hex
from infra.layout import batch_id, manifest_key, parse_utc, raw_key, utc_text
from infra.rawfile import sha256_file
from infra.retention import latest_retain_until, retain_until
from infra.store import ObjectConflictError, ObjectStore, sha256_path
from proxyvault import __version__
from proxyvault.normalize import FileSummary, PartialLastLine, Provenance, ValidationRun, normalize_file, received_at
from transforms.parsers import LineParser
from transforms.schema import SCHEMA_VERSION

MANIFEST_FORMAT = "proxyvault.manifest/1"
#: zstd level for raw files: level 3 with worker threads compresses ~450 MB/s here; any
#: worker count ≥ 1 gives the same bytes, so the archive stays deterministic.
RAW_ZSTD_LEVEL = 3
RAW_ZSTD_THREADS = 2

Progress = Callable[[str], None]


@dataclass
class ArchiveResult:
    """What archiving one file did; JSON-ready via :func:`dataclasses.asdict`."""

    input: str
    source: str
    batch: str
    #: ``archived``: committed now; ``already_archived``: its manifest existed, nothing read or written.
    status: str
    manifest_key: str
    manifest_sha256: str
    rows: int = 0
    rejects: int = 0
    hours: list[str] = field(default_factory=list)
    validation_status: str | None = None
    #: Objects that were already in the store (a re-run after a crash, or an identical re-run).
    objects_present: int = 0
    objects_written: int = 0
    bytes_written: int = 0


def compress_raw(path: Path, target: Path) -> None:
    """zstd-compress the received bytes as they are (a .gz stays gzip inside): byte-exact restore."""
    target.parent.mkdir(parents=True, exist_ok=True)
    compressor = zstandard.ZstdCompressor(level=RAW_ZSTD_LEVEL, threads=RAW_ZSTD_THREADS, write_content_size=True)
    with path.open("rb") as src, target.open("wb") as dst:
        compressor.copy_stream(src, dst, size=path.stat().st_size)


def _event_dates(summary: FileSummary, batch_hour: datetime) -> list[date]:
    dates = [parse_utc(t).date() for t in (summary.first_event_time, summary.last_event_time) if t]
    return dates or [batch_hour.date()]


def _part_info(path: Path) -> dict[str, Any]:
    stats = pl.scan_parquet(path).select(rows=pl.len(), first=pl.col("event_time").min(), last=pl.col("event_time").max()).collect()
    row = stats.row(0, named=True)
    return {"rows": row["rows"], "first_event_time": utc_text(row["first"]), "last_event_time": utc_text(row["last"])}


def _conflict_hint(store: ObjectStore, path: Path, key: str, kind: str) -> str:
    """Why an unfinished earlier archive of the same file wrote other bytes, and how to finish it."""
    where = f"{path}: an earlier archive of this file stopped before its manifest and wrote other bytes to {store.location}/{key}"
    if kind == "validation":
        earlier = json.loads(store.get_bytes(key)).get("clock", {}).get("window", {}).get("received_at")
        return f"{where}: its receipt time was {earlier}; archive it again with --received-at {earlier} to complete that batch"
    return (
        f"{where}: the parser, its options (partial_last_line) or the proxyvault version changed since;"
        " archive it with the version and options that started it"
    )


def archive_file(
    path: Path,
    parser: LineParser,
    provenance: Provenance,
    store: ObjectStore,
    retention: RetentionSettings,
    validation: ValidationRun,
    *,
    workdir: Path | None = None,
    progress: Progress | None = None,
    partial_last_line: PartialLastLine = "parse",
    custody: Mapping[str, Any] | None = None,
) -> ArchiveResult:
    """Archive ``path`` as one batch of ``provenance.source`` (see the module docstring).

    ``partial_last_line`` goes to :func:`~proxyvault.normalize.normalize_file`; ``custody``
    is a small JSON-ready record of how the file was taken (its ledger receipt key, when
    and where), stored as the manifest's ``receipt.custody``. Neither applies to a file
    archived already: its manifest is returned as it is.

    Raises :class:`~proxyvault.validate.ValidationFailed` under the ``fail`` policy
    before anything is stored.
    """
    if custody is not None:
        try:  # before anything is stored: a custody record the manifest cannot hold would strand the batch's objects
            canonical_json(dict(custody))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: the custody record is not JSON-ready ({exc}); give strings, numbers, lists and dicts") from None
    sha = sha256_file(path)
    batch = batch_id(sha)
    mkey = manifest_key(provenance.source, batch)
    data = store.get_if_exists(mkey)
    if data is not None:
        manifest = json.loads(data)
        return ArchiveResult(
            input=str(path),
            source=provenance.source,
            batch=batch,
            status="already_archived",
            manifest_key=mkey,
            manifest_sha256=sha256_hex(data),
            rows=manifest["counts"]["rows_out"],
            rejects=manifest["counts"]["rejects_out"],
            hours=manifest["hours"],
            validation_status=manifest["validation"]["status"],
        )
    with tempfile.TemporaryDirectory(prefix="proxyvault-archive-", dir=workdir) as tmp:
        stage = Path(tmp)
        compressed = stage / "raw.zst.tmp"
        # zstd releases the GIL: compressing beside the parse hides most of its cost
        with ThreadPoolExecutor(1) as pool:
            compressing = pool.submit(compress_raw, path, compressed)
            summary = normalize_file(
                path,
                parser,
                provenance,
                stage,
                progress=progress,
                validation=validation,
                layout="archive",
                sha256=sha,
                partial_last_line=partial_last_line,
            )
            compressing.result()
        assert summary.batch_hour is not None and summary.validation is not None
        batch_hour = parse_utc(summary.batch_hour)
        raw_path = stage / raw_key(provenance.source, batch_hour, sha)
        raw_path.parent.mkdir(parents=True, exist_ok=True)
        compressed.replace(raw_path)
        batch_until = latest_retain_until(_event_dates(summary, batch_hour), retention.years)

        objects: list[dict[str, Any]] = []
        kind = "quarantine" if summary.validation["action"] == "quarantine" else "events"
        for hour, part in summary.event_parts.items():
            objects.append({"kind": kind, "hour": hour, "path": Path(part), **_part_info(Path(part))})
        if summary.rejects_path:
            objects.append({"kind": "rejects", "hour": summary.batch_hour, "path": Path(summary.rejects_path), "rows": summary.rejects_out})
        objects.append(
            {"kind": "raw", "hour": summary.batch_hour, "path": raw_path, "uncompressed_sha256": sha, "uncompressed_size": summary.bytes}
        )
        objects.append({"kind": "validation", "hour": summary.batch_hour, "path": Path(summary.validation["report_path"])})

        result = ArchiveResult(
            input=str(path),
            source=provenance.source,
            batch=batch,
            status="archived",
            manifest_key=mkey,
            manifest_sha256="",
            rows=summary.rows_out,
            rejects=summary.rejects_out,
            validation_status=summary.validation["status"],
        )
        listed: list[dict[str, Any]] = []
        for obj in objects:
            local: Path = obj.pop("path")
            key = local.relative_to(stage).as_posix()
            object_sha = sha256_path(local)
            until = retain_until(parse_utc(obj["hour"]).date(), retention.years) if obj["kind"] in ("events", "quarantine") else batch_until
            present = store.head(key)
            if present is not None and present.sha256 == object_sha and present.size == local.stat().st_size:
                info = present
                result.objects_present += 1
            else:
                try:
                    info = store.put_file(key, local, sha256=object_sha, retain_until=until)
                except ObjectConflictError as exc:
                    raise ObjectConflictError(_conflict_hint(store, path, key, obj["kind"])) from exc
                result.objects_written += 1
                result.bytes_written += info.size
            listed.append(
                {**obj, "key": key, "sha256": object_sha, "size": info.size, "multipart": info.multipart, "retain_until": utc_text(until)}
            )
        listed.sort(key=lambda o: o["key"])
        report_key = next(o["key"] for o in listed if o["kind"] == "validation")
        hours = sorted(summary.event_parts) or [summary.batch_hour]
        receipt: dict[str, Any] = {
            "name": path.name,
            "sha256": sha,
            "size": summary.bytes,
            "compression": summary.compression,
            "lines": summary.lines_in,
            "received_at": utc_text(received_at(path, validation)),
            "first_event_time": summary.first_event_time,
            "last_event_time": summary.last_event_time,
            "source": provenance.source,
            "host": provenance.proxy_host,
        }
        if custody is not None:  # absent, not null, without one: earlier manifests' bytes stay the same
            receipt["custody"] = dict(custody)
        manifest = {
            "format": MANIFEST_FORMAT,
            "batch": batch,
            "source": provenance.source,
            "source_format": provenance.source_format,
            "proxy_host": provenance.proxy_host,
            "parser_version": f"proxyvault {__version__} {provenance.source_format}",
            "schema_version": SCHEMA_VERSION,
            "receipt": receipt,
            "counts": {
                "lines_in": summary.lines_in,
                "rows_out": summary.rows_out,
                "rejects_out": summary.rejects_out,
                "skipped": summary.skipped,
                "directives": summary.directives,
                "reencoded_lines": summary.reencoded_lines,
                "last_line_unterminated": summary.last_line_unterminated,
                "reconciled": summary.reconciled,
            },
            "time_range": {"first": summary.first_event_time, "last": summary.last_event_time},
            "batch_hour": summary.batch_hour,
            "hours": hours,
            "objects": listed,
            "validation": {
                "status": summary.validation["status"],
                "policy": summary.validation["policy"],
                "action": summary.validation["action"],
                "failures": summary.validation["failures"],
                "report_key": report_key,
                "report_sha256": summary.validation["report_sha256"],
            },
            "retention": {"mode": store.lock_mode, "years": retention.years, "retain_until": utc_text(batch_until)},
        }
        if partial_last_line != "parse":  # only when not the default, for the same reason
            manifest["partial_last_line"] = partial_last_line
        data = canonical_json(manifest)
        store.put_bytes(mkey, data, retain_until=batch_until)  # the commit point
        result.manifest_sha256 = sha256_hex(data)
        result.hours = hours
        return result
