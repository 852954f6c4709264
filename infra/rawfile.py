"""Reading raw proxy log files: hashing, decompression, and line chunks in bounded memory."""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import polars as pl
import pyarrow as pa
import zstandard

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
#: Bytes of input read per chunk; bounds memory whatever the file size.
CHUNK_BYTES = 32 * 1024 * 1024


class InputError(OSError):
    """A raw input cannot be read; the message names the file and the fix."""


@dataclass(frozen=True)
class LineChunk:
    """Consecutive lines of one file: non-blank ``lines`` plus counts for reconciliation."""

    lines: pl.DataFrame  # source_line Int64 (1-based), line String
    lines_in: int
    skipped: int
    reencoded: int
    last_line_unterminated: bool
    bytes_read: int


def sha256_file(path: Path) -> str:
    """SHA-256 of the file's exact bytes (compressed bytes for a compressed file)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(4 * 1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def compression_of(path: Path) -> str:
    """``gzip``, ``zstd`` or ``none``, from the file's magic bytes (names can lie)."""
    with path.open("rb") as f:
        head = f.read(4)
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "none"


def open_raw(path: Path) -> IO[bytes]:
    """Open ``path`` for reading decompressed bytes."""
    if not path.exists():
        raise InputError(f"{path}: no such file; check the path (inputs may be plain, .gz or .zst)")
    if path.is_dir():
        raise InputError(f"{path}: is a directory; pass log files, e.g. {path}/access.log")
    kind = compression_of(path)
    if kind == "gzip":
        return gzip.GzipFile(path, "rb")  # type: ignore[return-value]
    if kind == "zstd":
        return zstandard.ZstdDecompressor().stream_reader(path.open("rb"), read_across_frames=True, closefd=True)
    return path.open("rb")


def _read_full(stream: IO[bytes], size: int) -> bytes:
    parts: list[bytes] = []
    remaining = size
    while remaining > 0:
        block = stream.read(remaining)
        if not block:
            break
        parts.append(block)
        remaining -= len(block)
    return b"".join(parts)


def _lines_array(data: bytes) -> tuple[pa.Array, int]:
    """Split ``data`` (ending in a newline, or the file's last bytes) into an Arrow string array.

    The split is zero-copy: offsets point into ``data``. Lines that are not valid UTF-8
    are decoded with ``\\xNN`` escapes for the bad bytes (the raw archive keeps the bytes).
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(buf == 10) + 1
    if len(data) and data[-1] != 10:
        ends = np.append(ends, len(data))
    offsets = np.concatenate([np.zeros(1, dtype=np.int64), ends.astype(np.int64)])
    binary = pa.LargeBinaryArray.from_buffers(pa.large_binary(), len(ends), [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    try:
        return binary.cast(pa.large_string()), 0
    except pa.ArrowInvalid:
        # Rare: some line is not UTF-8. Only then pay for a per-line decode.
        decoded: list[str] = []
        reencoded = 0
        for raw in binary.to_pylist():
            try:
                decoded.append(raw.decode("utf-8"))
            except UnicodeDecodeError:
                decoded.append(raw.decode("utf-8", errors="backslashreplace"))
                reencoded += 1
        return pa.array(decoded, pa.large_string()), reencoded


def iter_line_chunks(stream: IO[bytes], chunk_bytes: int = CHUNK_BYTES) -> Iterator[LineChunk]:
    """Yield the stream's lines in chunks of about ``chunk_bytes``, numbered from 1.

    Line endings (LF or CRLF) are removed; blank lines are counted as skipped and not
    yielded. A final line without a newline is yielded and flagged.
    """
    carry = b""
    next_line = 1
    while True:
        block = _read_full(stream, chunk_bytes)
        data = carry + block
        at_end = len(block) < chunk_bytes
        if not at_end:
            cut = data.rfind(b"\n")
            if cut < 0:  # one line longer than a chunk: keep reading
                carry = data
                continue
            data, carry = data[: cut + 1], data[cut + 1 :]
        if not data:
            return
        array, reencoded = _lines_array(data)
        lines = pl.Series("line", array).cast(pl.String).str.strip_suffix("\n").str.strip_suffix("\r")
        count = len(lines)
        numbers = pl.int_range(next_line, next_line + count, dtype=pl.Int64, eager=True)
        blank = lines.str.strip_chars().str.len_bytes() == 0
        frame = pl.DataFrame({"source_line": numbers, "line": lines}).filter(~blank)
        yield LineChunk(
            lines=frame,
            lines_in=count,
            skipped=int(blank.sum()),
            reencoded=reencoded,
            last_line_unterminated=at_end and data[-1:] != b"\n",
            bytes_read=len(data),
        )
        next_line += count
        if at_end:
            return
