"""Use case: normalize raw proxy log files into canonical Parquet plus rejects.

Every input line is accounted for: ``lines_in == rows_out + rejects_out + skipped + directives``
(skipped: blank lines; directives: header lines such as ELFF ``#Fields:``).

A file whose last line has no newline was taken while its writer was mid-line (or the
writer crashed mid-write). :data:`PartialLastLine` says what happens to that line.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from infra.config import ValidationSettings
from infra.layout import batch_id, floor_hour, parse_utc, part_key, utc_text, validation_key
from infra.rawfile import CHUNK_BYTES, compression_of, iter_line_chunks, open_raw, sha256_file
from proxyvault.validate import Batch, ValidationFailed, validate_batch, write_report
from transforms.normalize import TimeZoneError
from transforms.parsers import FormatError, LineParser, ParseResult, ParserOptions, build_parser
from transforms.parsers.base import empty_rejects
from transforms.parsers.detect import SAMPLE_LINES, detect_format
from transforms.schema import (
    CANONICAL_ARROW_SCHEMA,
    REJECT_COLUMNS,
    REJECTS_ARROW_SCHEMA,
    SCHEMA_VERSION,
    conform,
    to_arrow,
)

Progress = Callable[[str], None]
#: ``flat``: ``OUT/events/source=S/part-<hash>.parquet``, one file per input (``proxyvault normalize``).
#: ``archive``: the archive's keys (:mod:`infra.layout`): events split by UTC hour and sorted
#: by event time, rejects and the validation report at the batch hour; ready to upload.
Layout = Literal["flat", "archive"]
#: What to do with a non-blank last line that has no newline (the writer was cut off mid-line):
#: ``parse``: parse it like any other line (it may well be truncated yet parse);
#: ``reject``: never give it to the parser; it goes to rejects whole, with :data:`PARTIAL_LAST_LINE_REASON`.
PartialLastLine = Literal["reject", "parse"]
PARTIAL_LAST_LINE_CHOICES: tuple[PartialLastLine, ...] = ("reject", "parse")
PARTIAL_LAST_LINE_REASON = "unterminated last line (no newline at end of file): the writer was cut off mid-line; kept unparsed"


@dataclass(frozen=True)
class ValidationRun:
    """Validate each file's batch after normalizing it (see :mod:`proxyvault.validate`)."""

    settings: ValidationSettings = field(default_factory=ValidationSettings)
    engine: str = "polars"
    #: When the file was received; default: its modification time (when its writer closed it).
    received_at: datetime | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    #: Receives one line per failed batch under ``archive_and_alert``.
    alert: Progress | None = None


class ReconciliationError(RuntimeError):
    """Lines were lost or double counted: a bug, never a data problem."""


@dataclass(frozen=True)
class Provenance:
    source: str
    source_format: str
    proxy_host: str | None


@dataclass
class FileSummary:
    input: str
    source_file_sha256: str
    compression: str
    bytes: int
    lines_in: int = 0
    rows_out: int = 0
    rejects_out: int = 0
    skipped: int = 0
    directives: int = 0
    reencoded_lines: int = 0
    first_event_time: str | None = None
    last_event_time: str | None = None
    events_path: str = ""
    rejects_path: str = ""
    #: ``archive`` layout: the events Parquet of each UTC hour ("2026-11-22T10:00:00Z" -> path).
    event_parts: dict[str, str] = field(default_factory=dict)
    #: ``archive`` layout: the hour rejects, raw and validation objects are filed under.
    batch_hour: str | None = None
    reject_reasons: dict[str, int] = field(default_factory=dict)
    last_line_unterminated: bool = False
    format: str = ""
    detected: str | None = None  # why --format auto chose ``format``
    carried_columns: list[str] = field(default_factory=list)
    validation: dict[str, Any] | None = None

    @property
    def reconciled(self) -> bool:
        return self.lines_in == self.rows_out + self.rejects_out + self.skipped + self.directives


def reason_class(reason: str) -> str:
    """``bad epoch 'abc'`` -> ``bad epoch '…'``: reasons grouped without their values."""
    return re.sub(r"'[^']*'", "'…'", reason)


def _time_text(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _output_path(out_dir: Path, table: str, source: str, sha256: str) -> Path:
    return out_dir / table / f"source={source}" / f"part-{sha256[:16]}.parquet"


def _writer(path: Path, schema: pa.Schema) -> pq.ParquetWriter:
    path.parent.mkdir(parents=True, exist_ok=True)
    return pq.ParquetWriter(path, schema, compression="zstd", write_statistics=True)


class _HourlyEvents:
    """Writes a batch's rows as one Parquet per UTC event hour, each sorted by (event_time, source_line).

    Proxy logs are close to time order, so rows are appended chunk by chunk (a chunk is
    sorted first only when it is out of order) and an hour is re-sorted at the end only
    if a later chunk went back in time within it. One pass over the data for ordered logs.
    """

    def __init__(self, out_dir: Path, source: str, batch: str) -> None:
        self.out_dir = out_dir
        self.source = source
        self.batch = batch
        self.writers: dict[datetime, pq.ParquetWriter] = {}
        self.tmp_paths: dict[datetime, Path] = {}
        self.last: dict[datetime, tuple[datetime, int]] = {}
        self.unsorted: set[datetime] = set()

    def write(self, rows: pl.DataFrame) -> None:
        if rows["event_time"].null_count():
            raise ReconciliationError(f"{self.source}: a parser emitted rows without event_time; they cannot be filed by hour")
        if not rows["event_time"].is_sorted():
            rows = rows.sort("event_time", "source_line")
        hours = rows["event_time"].dt.truncate("1h")
        distinct = hours.unique(maintain_order=True)
        starts = hours.search_sorted(distinct, side="left").to_list()
        for hour, start, end in zip(distinct.to_list(), starts, [*starts[1:], rows.height], strict=True):
            part = rows.slice(start, end - start)
            first = (part["event_time"][0], part["source_line"][0])
            if hour in self.last and first < self.last[hour]:
                self.unsorted.add(hour)
            self.last[hour] = (part["event_time"][-1], part["source_line"][-1])
            if hour not in self.writers:
                path = self.out_dir / (part_key("events", self.source, hour, self.batch) + ".tmp")
                self.tmp_paths[hour] = path
                self.writers[hour] = _writer(path, CANONICAL_ARROW_SCHEMA)
            self.writers[hour].write_table(to_arrow(part, CANONICAL_ARROW_SCHEMA))

    def abort(self) -> None:
        for writer in self.writers.values():
            writer.close()
        for path in self.tmp_paths.values():
            path.unlink(missing_ok=True)

    def close(self) -> dict[str, str]:
        """Finish every hour's file; returns hour -> path, in hour order."""
        parts: dict[str, str] = {}
        for hour in sorted(self.writers):
            self.writers[hour].close()
            tmp = self.tmp_paths[hour]
            if hour in self.unsorted:
                rows = pl.read_parquet(tmp).sort("event_time", "source_line")
                with _writer(tmp, CANONICAL_ARROW_SCHEMA) as writer:
                    writer.write_table(to_arrow(rows, CANONICAL_ARROW_SCHEMA))
            final = tmp.with_suffix("")
            tmp.replace(final)
            parts[utc_text(hour) or ""] = str(final)
        return parts


def normalize_file(
    path: Path,
    parser: LineParser,
    provenance: Provenance,
    out_dir: Path,
    chunk_bytes: int = CHUNK_BYTES,
    progress: Progress | None = None,
    validation: ValidationRun | None = None,
    layout: Layout = "flat",
    sha256: str | None = None,
    *,
    partial_last_line: PartialLastLine = "parse",
) -> FileSummary:
    """Normalize one raw file to ``out_dir/events/`` and ``out_dir/rejects/``.

    Output files are named by the input's SHA-256, so re-running writes the same bytes
    to the same paths. Memory is bounded by ``chunk_bytes`` whatever the file size.
    With ``validation``, the batch is then validated and its policy applied
    (:func:`validate_file`). ``layout`` is described at :data:`Layout`; ``sha256`` is the
    file's hash when the caller has it already; ``partial_last_line`` at :data:`PartialLastLine`.
    """
    if partial_last_line not in PARTIAL_LAST_LINE_CHOICES:
        raise ValueError(f"partial_last_line must be one of {', '.join(PARTIAL_LAST_LINE_CHOICES)}, not {partial_last_line!r}")
    with open_raw(path) as stream:  # fails first, with a clear message, on a missing file
        sha = sha256 or sha256_file(path)
        summary = FileSummary(input=str(path), source_file_sha256=sha, compression=compression_of(path), bytes=path.stat().st_size)
        events_path = _output_path(out_dir, "events", provenance.source, sha)
        rejects_path = _output_path(out_dir, "rejects", provenance.source, sha)
        reasons: Counter[str] = Counter()
        constants = {
            "source": provenance.source,
            "source_format": provenance.source_format,
            "proxy_host": provenance.proxy_host,
            "source_file_sha256": sha,
        }
        first: datetime | None = None
        last: datetime | None = None
        hourly = _HourlyEvents(out_dir, provenance.source, batch_id(sha)) if layout == "archive" else None
        if hourly:
            events_path = out_dir / "staging" / f"events-{batch_id(sha)}.parquet"  # never written
            rejects_path = out_dir / "staging" / f"rejects-{batch_id(sha)}.parquet"
        events_tmp = events_path.with_suffix(".parquet.tmp")
        rejects_tmp = rejects_path.with_suffix(".parquet.tmp")
        parser.start_file()
        with (
            _writer(events_tmp, CANONICAL_ARROW_SCHEMA) if not hourly else nullcontext() as events,
            _writer(rejects_tmp, REJECTS_ARROW_SCHEMA) as rejects,
        ):
            for chunk in iter_line_chunks(stream, chunk_bytes):
                lines, partial = chunk.lines, None
                if partial_last_line == "reject" and chunk.last_line_unterminated:
                    lines, partial = split_partial_last_line(lines, summary.lines_in + chunk.lines_in)
                # a chunk of blank lines (or only the partial line) has nothing to parse
                result = parser.parse(lines) if lines.height else _NOTHING_PARSED
                found = result.rejects if partial is None else pl.concat([result.rejects, partial], how="vertical_relaxed")
                rows = conform(result.rows.with_columns(**{k: pl.lit(v) for k, v in constants.items()}))
                bad = conform(found.with_columns(source=pl.lit(provenance.source), source_file_sha256=pl.lit(sha)), REJECT_COLUMNS)
                if rows.height:
                    if events is not None:
                        events.write_table(to_arrow(rows, CANONICAL_ARROW_SCHEMA))
                    elif hourly:
                        try:
                            hourly.write(rows)
                        except BaseException:
                            hourly.abort()
                            raise
                    lo, hi = rows["event_time"].min(), rows["event_time"].max()
                    if isinstance(lo, datetime) and isinstance(hi, datetime):
                        first = lo if first is None else min(first, lo)
                        last = hi if last is None else max(last, hi)
                if bad.height:
                    rejects.write_table(to_arrow(bad, REJECTS_ARROW_SCHEMA))
                    reasons.update(reason_class(r) for r in bad["reason"].to_list())
                summary.lines_in += chunk.lines_in
                summary.skipped += chunk.skipped
                summary.directives += result.directives
                summary.rows_out += rows.height
                summary.rejects_out += bad.height
                summary.reencoded_lines += chunk.reencoded
                summary.last_line_unterminated = chunk.last_line_unterminated
                if progress:
                    progress(f"{path.name}: {summary.lines_in:,} lines, {summary.rows_out:,} rows, {summary.rejects_out:,} rejects")
        if hourly:
            summary.event_parts = hourly.close()
            hour = floor_hour(first) if first else floor_hour(received_at(path, validation))
            summary.batch_hour = utc_text(hour)
            rejects_path = out_dir / part_key("rejects", provenance.source, hour, batch_id(sha))
            if summary.rejects_out:
                rejects_path.parent.mkdir(parents=True, exist_ok=True)
                rejects_tmp.replace(rejects_path)
            else:
                rejects_tmp.unlink()
                rejects_path = Path()
        else:
            events_tmp.replace(events_path)
            rejects_tmp.replace(rejects_path)
    summary.format = provenance.source_format
    summary.carried_columns = sorted(parser.carried_columns)
    summary.events_path = "" if hourly else str(events_path)
    summary.rejects_path = str(rejects_path) if rejects_path != Path() else ""
    summary.first_event_time = _time_text(first)
    summary.last_event_time = _time_text(last)
    summary.reject_reasons = dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))
    if not summary.reconciled:
        raise ReconciliationError(
            f"{path}: lines_in {summary.lines_in} != rows {summary.rows_out} + rejects {summary.rejects_out}"
            f" + skipped {summary.skipped} + directives {summary.directives}"
        )
    if validation is not None:
        validate_file(path, summary, provenance, out_dir, validation)
    return summary


_NOTHING_PARSED = ParseResult(rows=pl.DataFrame(schema={"source_line": pl.Int64()}), rejects=empty_rejects())


def split_partial_last_line(lines: pl.DataFrame, last_line: int) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """Take the file's unterminated last line (number ``last_line``) out of the last chunk's ``lines``.

    Returns the lines left to parse and the line as a reject (``source_line``, ``raw_line``,
    ``reason``); ``None`` when that line was blank (it was skipped like any blank line).

    >>> lines = pl.DataFrame({"source_line": [1, 3], "line": ["a b c", "a b"]})
    >>> rest, partial = split_partial_last_line(lines, 3)
    >>> rest["source_line"].to_list(), partial.select("source_line", "raw_line").rows()
    ([1], [(3, 'a b')])
    >>> split_partial_last_line(lines, 4)[1] is None  # line 4 was blank
    True
    """
    if not lines.height or lines["source_line"][-1] != last_line:
        return lines, None
    partial = lines.tail(1).select("source_line", pl.col("line").alias("raw_line"), pl.lit(PARTIAL_LAST_LINE_REASON).alias("reason"))
    return lines.head(lines.height - 1), partial


def received_at(path: Path, run: ValidationRun | None) -> datetime:
    """When the file was received: as given, else its modification time (when its writer closed it)."""
    if run is not None and run.received_at is not None:
        return run.received_at
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


def validate_file(path: Path, summary: FileSummary, provenance: Provenance, out_dir: Path, run: ValidationRun) -> None:
    """Validate the batch ``summary`` describes, write its report, apply the policy.

    The report goes to ``out_dir/validation/source=S/part-<hash>.json``. A failed batch
    under ``quarantine`` moves to ``out_dir/quarantine/``; under ``fail`` it raises
    :class:`~proxyvault.validate.ValidationFailed` after the report is written.
    """
    batch_hash = batch_id(summary.source_file_sha256)
    if summary.batch_hour is None:
        events = {"": Path(summary.events_path)}
        quarantine = {"": _output_path(out_dir, "quarantine", provenance.source, summary.source_file_sha256)}
        report_path = _output_path(out_dir, "validation", provenance.source, summary.source_file_sha256).with_suffix(".json")
    else:
        events = {hour: Path(p) for hour, p in summary.event_parts.items()}
        quarantine = {hour: out_dir / part_key("quarantine", provenance.source, parse_utc(hour), batch_hash) for hour in events}
        report_path = out_dir / validation_key(provenance.source, parse_utc(summary.batch_hour), batch_hash)
    received = received_at(path, run)
    # in the archive layout the staging folder is temporary: name the report by its store key
    shown = report_path if summary.batch_hour is None else report_path.relative_to(out_dir)
    scan = pl.scan_parquet(list(events.values())) if events else pl.DataFrame(CANONICAL_ARROW_SCHEMA.empty_table()).lazy()
    batch = Batch(
        events=scan,
        source=provenance.source,
        source_format=provenance.source_format,
        source_file_sha256=summary.source_file_sha256,
        carried_columns=summary.carried_columns,
        received_at=received,
        window_start=run.window_start,
        window_end=run.window_end,
    )
    report = validate_batch(batch, run.settings, run.engine)
    report_sha = write_report(report, report_path)
    failed = report["status"] == "failed"
    action = "archive" if not failed else run.settings.policy
    summary.validation = {
        "status": report["status"],
        "policy": run.settings.policy,
        "action": action,
        "failures": report["failures"],
        "notices": report["notices"],
        "not_logged_by_this_source": report["not_logged_by_this_source"],
        "never_filled": report["never_filled"],
        "advice": report["advice"],
        "completeness": report["completeness"],
        "clock_flags": report["clock"]["flags"],
        "report_path": str(report_path),
        "report_sha256": report_sha,
    }
    if action != "quarantine":
        # a re-run judges the batch afresh; an earlier run's quarantined copy (the same
        # bytes, written from the same input) must not leave the rows in two places
        for quarantined in quarantine.values():
            quarantined.unlink(missing_ok=True)
    if not failed:
        return
    first = f"{report['failures'][0]}" + (f" (+{len(report['failures']) - 1} more)" if len(report["failures"]) > 1 else "")
    if action == "quarantine":
        for hour, events_path in events.items():
            quarantine[hour].parent.mkdir(parents=True, exist_ok=True)
            events_path.replace(quarantine[hour])
        if summary.batch_hour is None:
            summary.events_path = str(quarantine[""])
        else:
            summary.event_parts = {hour: str(path) for hour, path in quarantine.items()}
    elif action == "fail":
        raise ValidationFailed(f"{path}: source '{provenance.source}' failed validation (policy fail): {first}; report: {shown}")
    elif run.alert:
        run.alert(f"ALERT {path}: source '{provenance.source}' failed validation, archived and marked failed: {first}; report: {shown}")


def normalize_files(
    paths: Sequence[Path],
    parser: LineParser,
    provenance: Provenance,
    out_dir: Path,
    chunk_bytes: int = CHUNK_BYTES,
    progress: Progress | None = None,
    validation: ValidationRun | None = None,
    *,
    partial_last_line: PartialLastLine = "parse",
) -> dict[str, object]:
    """Normalize every file with one parser and return the JSON-ready summary with totals."""
    files = [
        normalize_file(p, parser, provenance, out_dir, chunk_bytes, progress, validation, partial_last_line=partial_last_line)
        for p in paths
    ]
    return _run_summary(files, provenance.source, provenance.source_format, provenance.proxy_host, sorted(parser.carried_columns))


def sample_lines(path: Path, count: int = SAMPLE_LINES) -> list[str]:
    """The first ``count`` non-blank lines of ``path`` (decompressed), for format detection."""
    lines: list[str] = []
    with open_raw(path) as stream:
        for chunk in iter_line_chunks(stream, 1 << 20):
            lines += chunk.lines["line"].head(count - len(lines)).to_list()
            if len(lines) >= count:
                break
    return lines


def normalize_detected(
    paths: Sequence[Path],
    options: ParserOptions,
    source: str | None,
    proxy_host: str | None,
    out_dir: Path,
    chunk_bytes: int = CHUNK_BYTES,
    progress: Progress | None = None,
    announce: Progress | None = None,
    validation: ValidationRun | None = None,
    *,
    partial_last_line: PartialLastLine = "parse",
) -> dict[str, object]:
    """``--format auto``: detect each file's format from its first lines, then normalize it.

    ``announce`` receives one line per file naming the format chosen and why. The source
    defaults to the detected format's name.
    """
    files: list[FileSummary] = []
    for path in paths:
        detection = detect_format(sample_lines(path), options, where=str(path))
        try:
            parser = build_parser(detection.format_name, detection.options)
        except (FormatError, TimeZoneError) as exc:
            raise FormatError(f"{path}: detected format {detection.format_name} ({detection.reason}), but {exc}") from None
        if announce:
            announce(f"{path}: format {detection.format_name} ({detection.reason})")
        provenance = Provenance(source or detection.format_name, detection.format_name, proxy_host)
        summary = normalize_file(path, parser, provenance, out_dir, chunk_bytes, progress, validation, partial_last_line=partial_last_line)
        summary.detected = detection.reason
        files.append(summary)
    formats = sorted({f.format for f in files})
    sources = sorted({source or f.format for f in files})
    carried = sorted(set.intersection(*(set(f.carried_columns) for f in files))) if files else []
    return _run_summary(files, ",".join(sources), ",".join(formats), proxy_host, carried)


def _run_summary(
    files: list[FileSummary], source: str, source_format: str, proxy_host: str | None, carried: list[str]
) -> dict[str, object]:
    totals: dict[str, object] = {
        key: sum(getattr(f, key) for f in files)
        for key in ("lines_in", "rows_out", "rejects_out", "skipped", "directives", "reencoded_lines")
    }
    validated = [f.validation for f in files if f.validation is not None]
    if validated:
        totals["validation_failed"] = sum(v["status"] == "failed" for v in validated)
    return {
        "schema_version": SCHEMA_VERSION,
        "source": source,
        "source_format": source_format,
        "proxy_host": proxy_host,
        "carried_columns": carried,
        "files": [{**asdict(f), "reconciled": f.reconciled} for f in files],
        "totals": {**totals, "files": len(files), "reconciled": all(f.reconciled for f in files)},
    }


def stderr_progress(message: str) -> None:
    """Progress on an interactive terminal only; pipes and CI logs stay clean."""
    if sys.stderr.isatty():
        print(f"\r{message}", end="", file=sys.stderr, flush=True)
