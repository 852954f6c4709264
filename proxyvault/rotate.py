"""Use case: take proxy log files out of the proxy's hands into custody, never losing a line.

Taking a file is the first step of custody (``proxy_rotate`` runs it every 15 minutes):

1. **Take.** Method ``squid``: rename the active log to a unique name in its directory
   (``access.log.pv-20261122T101500123456Z``), then ``squid -k rotate -f CONF``; with
   ``logfile_rotate 0`` Squid only reopens its log, creating a new one. Method ``rename``:
   the rename alone, for writers that reopen on their own. Method ``spool``: files that
   others rotated (``*.1``, ``*.gz``, ``*.zst``), matched by a glob.
2. **Wait until the writer let go.** A taken file is handed off only once no process
   holds it open (read from ``/proc``) and its size has not changed for ``settle``. A
   file still held after ``reopen_timeout`` stays, renamed, for the next run: its last
   line may be half-written. One that is closed but ends without a newline is handed off,
   and archiving rejects that last line with a reason (``partial_last_line``).
3. **Hand off**, each write checked by size and SHA-256 read back: the bytes, zstd, to
   ``landing/`` (the same bytes the archive will keep under ``raw/``); the **receipt**
   (SHA-256, size, lines, first and last event time, source, host, when) to
   ``receipts/``, named by the SHA-256 of the *content*, so the same lines taken again
   under another name or compression are a no-op; then the day's **ledger** entry,
   which lists what a day took. Only then is the renamed file removed.

A crash at any point loses nothing: a renamed file not handed off is picked up by the
next run (files named ``*.pv-*``), and every write is idempotent.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from infra.config import Config, SourceConfig
from infra.integrity import canonical_json
from infra.layout import floor_hour, landing_key, ledger_key, receipt_key, utc_text
from infra.rawfile import compression_of, open_raw, sha256_file
from infra.retention import retain_until
from infra.squid import find_squid
from infra.store import ObjectStore
from proxyvault.archive import compress_raw
from proxyvault.sources import source_parser
from transforms.parsers import FormatError, LineParser

RECEIPT_FORMAT = "proxyvault.receipt/1"
#: ``access.log`` is taken as ``access.log.pv-<UTC time>``; ``.taken`` is appended when it is kept.
ROTATED_INFIX = ".pv-"
KEPT_SUFFIX = ".taken"
#: How much of a file's start and end is parsed for its first and last event time.
EDGE_BYTES = 256 * 1024
POLL_SECONDS = 0.05

Progress = Callable[[str], None]


class RotationError(RuntimeError):
    """A file could not be taken; the message names the file, what failed and the fix."""


@dataclass
class TakeResult:
    """What one run took from one source; small and JSON-ready (it travels through XCom)."""

    source: str
    #: Receipt keys of files handed off now.
    landed: list[str] = field(default_factory=list)
    #: Receipt keys of files whose content was taken before (under any name): nothing stored.
    already_taken: list[str] = field(default_factory=list)
    #: Files left for the next run, with the reason.
    left: list[str] = field(default_factory=list)
    #: Files with nothing in them: not rotated (active logs) or skipped (spool).
    empty: int = 0


@dataclass(frozen=True)
class Interval:
    """The rotation's data interval (from the DAG run), or the wall-clock time of a manual run."""

    start: datetime | None
    end: datetime

    @property
    def day(self) -> date:
        """The UTC day the run belongs to: its interval's start (a 23:45-00:00 run belongs to the day ending)."""
        return (self.start or self.end).astimezone(UTC).date()


def holders(path: Path) -> list[int] | None:
    """PIDs of the processes that have ``path`` open, read from ``/proc``.

    None when that cannot be told: no ``/proc``, or some processes' descriptors are not
    readable by us (another user's, without root) and none of the readable ones holds it.
    """
    try:
        st = path.stat()
        entries = list(os.scandir("/proc"))
    except OSError:
        return None
    target = (st.st_dev, st.st_ino)
    found: list[int] = []
    blind = False
    for entry in entries:
        if not entry.name.isdigit():
            continue
        try:
            fds = list(os.scandir(f"/proc/{entry.name}/fd"))
        except PermissionError:
            blind = True
            continue
        except OSError:
            continue  # the process ended
        for fd in fds:
            try:
                fst = os.stat(fd.path)
            except OSError:
                continue
            if (fst.st_dev, fst.st_ino) == target:
                found.append(int(entry.name))
                break
    return None if blind and not found else found


def wait_until_released(path: Path, settle: timedelta, timeout: timedelta) -> str | None:
    """Wait until no process holds ``path`` and its size and mtime have not changed for
    ``settle``. Returns None when released, else why not (after ``timeout``)."""
    deadline = time.monotonic() + timeout.total_seconds()
    last: tuple[int, int] | None = None
    stable_since = time.monotonic()
    while True:
        st = path.stat()
        now = time.monotonic()
        if (st.st_size, st.st_mtime_ns) != last:
            last, stable_since = (st.st_size, st.st_mtime_ns), now
        held = holders(path)
        if not held and now - stable_since >= settle.total_seconds():
            return None
        if now >= deadline:
            if held:
                return f"still held open by pid {', '.join(map(str, held))} after {timeout.total_seconds():g} s"
            return f"still growing after {timeout.total_seconds():g} s"
        time.sleep(POLL_SECONDS)


@dataclass
class _Content:
    sha256: str
    content_sha256: str
    size: int
    content_size: int
    lines: int
    last_line_unterminated: bool
    head: bytes
    tail: bytes


def _read_content(path: Path) -> _Content:
    """One pass over the decompressed content: its hash, size, line count, first and last bytes."""
    digest = hashlib.sha256()
    size = newlines = 0
    head = b""
    tail = b""
    last_byte = b""
    with open_raw(path) as stream:
        while block := stream.read(4 * 1024 * 1024):
            digest.update(block)
            size += len(block)
            newlines += block.count(b"\n")
            if len(head) < EDGE_BYTES:
                head += block[: EDGE_BYTES - len(head)]
            tail = (tail + block)[-EDGE_BYTES:]
            last_byte = block[-1:]
    unterminated = bool(size) and last_byte != b"\n"
    return _Content(
        sha256=sha256_file(path),
        content_sha256=digest.hexdigest(),
        size=path.stat().st_size,
        content_size=size,
        lines=newlines + unterminated,
        last_line_unterminated=unterminated,
        head=head,
        tail=tail,
    )


def _edge_lines(data: bytes, *, cut_start: bool) -> list[str]:
    """The whole lines of a block from a file's start or end. What follows the block's last
    newline is dropped: a line cut by the block, or a half-written last line."""
    lines = data.split(b"\n")[:-1]
    if cut_start:
        lines = lines[1:]  # the block begins inside a line
    return [line.decode("utf-8", errors="replace").rstrip("\r") for line in lines if line.strip()]


def event_times(parser: LineParser, content: _Content) -> tuple[datetime | None, datetime | None]:
    """Event time of the first and last line that parse, in file order (not min and max)."""
    parser.start_file()
    first = _times(parser, _edge_lines(content.head, cut_start=False))
    # the head went through first, so a format's header directives (ELFF #Fields) apply to the tail
    last = _times(parser, _edge_lines(content.tail, cut_start=True)) if content.content_size > EDGE_BYTES else first
    return (first[0] if first else None), (last[-1] if last else None)


def _times(parser: LineParser, lines: list[str]) -> list[datetime]:
    if not lines:
        return []
    frame = pl.DataFrame({"source_line": range(1, len(lines) + 1), "line": lines}, schema={"source_line": pl.Int64, "line": pl.String})
    rows = parser.parse(frame).rows
    if "event_time" not in rows.columns:
        return []
    return [t for t in rows["event_time"].to_list() if isinstance(t, datetime)]


def _taken_name(path: Path, now: datetime) -> Path:
    return path.with_name(f"{path.name}{ROTATED_INFIX}{now.astimezone(UTC):%Y%m%dT%H%M%S%fZ}")


def leftovers(path: Path) -> list[Path]:
    """Files an earlier run renamed but did not hand off, oldest first."""
    return sorted(p for p in path.parent.glob(f"{glob.escape(path.name)}{ROTATED_INFIX}*") if not p.name.endswith(KEPT_SUFFIX))


def _signal_squid(source: SourceConfig) -> None:
    rotation = source.rotation
    binary = rotation.squid_binary or find_squid()
    if binary is None:
        raise RotationError(f"source '{source.name}': squid is not installed (not on PATH); set squid_binary or install squid")
    command = [str(binary), "-k", "rotate", "-f", str(rotation.squid_conf)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    if result.returncode != 0:
        why = (result.stderr or result.stdout).strip().splitlines()
        raise RotationError(
            f"source '{source.name}': `{' '.join(command)}` failed ({why[-1] if why else result.returncode}); the renamed log "
            "stays and is taken once Squid lets go of it: check that Squid runs with this squid.conf"
        )


def _wait_for_reopen(path: Path, timeout: timedelta) -> None:
    deadline = time.monotonic() + timeout.total_seconds()
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)


def _spool_files(source: SourceConfig) -> list[Path]:
    pattern = source.rotation.spool or ""
    return sorted(Path(p) for p in glob.glob(pattern) if Path(p).is_file() and not p.endswith((".tmp", ".part")))


def _spool_marker(store: ObjectStore, source: str, host: str, path: Path) -> str:
    """The ledger's key for a spool file's stat (host, path, size, mtime, inode): re-hashing a
    file that lingers in the spool (logrotate keeps a week) is skipped while it is unchanged."""
    st = path.stat()
    stamp = f"{host}\0{path.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}".encode()
    return f"ledger/seen/source={source}/{hashlib.sha256(stamp).hexdigest()}.json"


class _Taker:
    def __init__(
        self, config: Config, source: SourceConfig, store: ObjectStore, interval: Interval, host: str, progress: Progress | None
    ) -> None:
        self.config = config
        self.source = source
        self.store = store
        self.interval = interval
        self.host = host
        self.progress = progress
        self.result = TakeResult(source.name)

    def say(self, message: str) -> None:
        if self.progress:
            self.progress(f"{self.source.name}: {message}")

    def hand_off(self, path: Path, *, taken_at: datetime, ours: bool, original: Path) -> None:
        """Store ``path`` as landed, with its receipt and ledger entry; then drop it if ``ours``."""
        if path.stat().st_size == 0:
            self.result.empty += 1
            if ours:
                path.unlink()
            return
        content = _read_content(path)
        rkey = receipt_key(self.source.name, content.content_sha256)
        existing = self.store.get_if_exists(rkey)
        if existing is not None:
            receipt = json.loads(existing)
            self._ledger(rkey, receipt)
            self.result.already_taken.append(rkey)
            self.say(f"{path.name}: taken before (receipt {rkey}, as {receipt['name']}); nothing stored")
        else:
            receipt = self._receipt(path, content, taken_at, original)
            with tempfile.TemporaryDirectory(prefix="proxyvault-take-", dir=self.config.pipeline.work_dir) as tmp:
                landed = Path(tmp) / "landed.zst"
                compress_raw(path, landed)
                landing_until = datetime.combine(
                    taken_at.date() + timedelta(days=self.config.pipeline.landing_days + 1), datetime.min.time(), UTC
                )
                self.store.put_file(receipt["landing_key"], landed, retain_until=landing_until)
            custody_until = retain_until(taken_at.date(), self.config.retention.years)
            self.store.put_bytes(rkey, canonical_json(receipt), retain_until=custody_until)
            self._ledger(rkey, receipt)
            self.result.landed.append(rkey)
            self.say(f"{path.name}: landed {content.size:,} bytes, {content.lines:,} lines as {receipt['landing_key']}")
        if ours:
            if self.source.rotation.keep_rotated:
                path.rename(path.with_name(path.name + KEPT_SUFFIX))
            else:
                path.unlink()

    def _receipt(self, path: Path, content: _Content, taken_at: datetime, original: Path) -> dict[str, Any]:
        try:
            format_name, parser = source_parser(self.source, path)
            first, last = event_times(parser, content)
        except FormatError as exc:
            # the receipt still records the file; archiving reports the format problem per line
            format_name, first, last = self.source.format or "unknown", None, None
            self.say(f"{path.name}: no event times read ({exc})")
        return {
            "format": RECEIPT_FORMAT,
            "source": self.source.name,
            "source_format": format_name,
            "proxy_host": self.source.proxy_host,
            "host": self.host,
            "method": self.source.rotation.method,
            "path": os.path.abspath(original),
            "name": path.name,
            "sha256": content.sha256,
            "content_sha256": content.content_sha256,
            "size": content.size,
            "content_size": content.content_size,
            "compression": compression_of(path),
            "lines": content.lines,
            "last_line_unterminated": content.last_line_unterminated,
            "first_event_time": utc_text(first),
            "last_event_time": utc_text(last),
            "taken_at": utc_text(taken_at),
            "interval_start": utc_text(self.interval.start),
            "interval_end": utc_text(self.interval.end),
            "ledger_day": self.interval.day.isoformat(),
            "landing_key": landing_key(self.source.name, content.sha256),
        }

    def _ledger(self, rkey: str, receipt: dict[str, Any]) -> None:
        """The ledger entry of the receipt's day; derived from the receipt alone, so writing it again is a no-op."""
        day = date.fromisoformat(receipt["ledger_day"])
        entry = {"receipt_key": rkey, "sha256": receipt["sha256"], "taken_at": receipt["taken_at"], "name": receipt["name"]}
        self.store.put_bytes(
            ledger_key(day, self.source.name, receipt["content_sha256"]),
            canonical_json(entry),
            retain_until=retain_until(day, self.config.retention.years),
        )

    def take_rotated(self, path: Path, taken_at: datetime, original: Path) -> None:
        """Hand off a file this module renamed, once its writer let go of it."""
        rotation = self.source.rotation
        why = wait_until_released(path, rotation.settle, rotation.reopen_timeout)
        if why:
            self.result.left.append(f"{path}: {why}; left for the next run")
            self.say(f"{path.name}: {why}; left for the next run")
            return
        self.hand_off(path, taken_at=taken_at, ours=True, original=original)

    def run_rename(self, signal_squid: bool) -> None:
        rotation = self.source.rotation
        assert rotation.path is not None
        active = rotation.path
        for pending in leftovers(active):
            self.say(f"{pending.name}: taken by an earlier run, not handed off yet")
            self.take_rotated(pending, datetime.now(UTC), active)
        if not active.exists():
            self.say(f"{active}: no active log (the proxy has not written since the last rotation)")
            return
        if active.stat().st_size == 0:
            self.result.empty += 1
            return
        taken_at = datetime.now(UTC)
        taken = _taken_name(active, taken_at)
        os.rename(active, taken)  # atomic, same directory: the writer keeps writing to the same inode
        if signal_squid:
            _signal_squid(self.source)
            _wait_for_reopen(active, rotation.reopen_timeout)
        self.take_rotated(taken, taken_at, active)

    def run_spool(self) -> None:
        rotation = self.source.rotation
        for path in _spool_files(self.source):
            marker = _spool_marker(self.store, self.source.name, self.host, path)
            if self.store.head(marker) is not None:
                continue  # unchanged since it was taken
            if holders(path) or time.time() - path.stat().st_mtime < rotation.settle.total_seconds():
                self.result.left.append(f"{path}: still being written; left for the next run")
                continue
            before = len(self.result.landed) + len(self.result.already_taken)
            self.hand_off(path, taken_at=datetime.now(UTC), ours=False, original=path)
            if len(self.result.landed) + len(self.result.already_taken) > before:
                rkey = (self.result.landed + self.result.already_taken)[-1]
                self.store.put_bytes(marker, canonical_json({"receipt_key": rkey}))


def take_source(
    config: Config,
    source: SourceConfig,
    store: ObjectStore,
    interval: Interval,
    *,
    host: str | None = None,
    progress: Progress | None = None,
) -> TakeResult:
    """Take ``source``'s files by its rotation method and hand them off to ``store``."""
    method = source.rotation.method
    if method is None:
        raise RotationError(f'source \'{source.name}\' has no rotation method; add rotation = "squid", "rename" or "spool"')
    taker = _Taker(config, source, store, interval, host or socket.gethostname(), progress)
    if method == "spool":
        taker.run_spool()
    else:
        taker.run_rename(signal_squid=method == "squid")
    return taker.result


def rotated_sources(config: Config) -> list[str]:
    """The configured sources proxyvault takes files from, in config order."""
    return [name for name, source in config.sources.items() if source.rotation.method is not None]


def seal_until(receipts: list[dict[str, Any]], grace: timedelta) -> datetime | None:
    """The hour before which everything is closed, given what was taken: the latest
    interval end among ``receipts`` minus ``grace``, floored to the hour."""
    ends = [datetime.fromisoformat(r["interval_end"].replace("Z", "+00:00")) for r in receipts if r.get("interval_end")]
    return floor_hour(max(ends) - grace) if ends else None


def announcement(results: list[dict[str, Any]], interval_start: datetime | None) -> dict[str, Any]:
    """The ``extra`` of the asset event a rotation run emits: its day and the receipts that landed."""
    landed = sorted(key for r in results for key in r.get("landed", []))
    day = (interval_start or datetime.now(UTC)).astimezone(UTC).date()
    return {"day": day.isoformat(), "receipts": landed}


def check_take_results(results: list[dict[str, Any]]) -> dict[str, int]:
    """Totals of a rotation run; raises :class:`RotationError` naming every source that could not be taken."""
    errors = [f"{r['source']}: {r['error']}" for r in results if r.get("error")]
    if errors:
        raise RotationError(" | ".join(errors))
    return {
        "landed": sum(len(r["landed"]) for r in results),
        "already_taken": sum(len(r["already_taken"]) for r in results),
        "left": sum(len(r["left"]) for r in results),
        "empty": sum(r["empty"] for r in results),
    }
