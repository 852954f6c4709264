"""Benchmark proxyvault's normalize path against a hand-written Python ``re`` loop and DuckDB.

Run from the repository root::

    .venv/bin/python benchmarks/normalize.py                  # 2,000,000 lines per kind
    .venv/bin/python benchmarks/normalize.py --lines 300000 --skip-baselines
    .venv/bin/python benchmarks/normalize.py --kinds squid,clf,combined,elff,umbrella-csv,zscaler-nss --skip-baselines
    .venv/bin/python benchmarks/normalize.py --rss-input-gb 1  # also: peak RSS on a ~1 GB input

Every engine runs in its own child process (this script re-invoked with ``--worker``).
Its peak RSS is the child's own high-water mark, ``VmHWM`` from ``/proc/self/status``
read by the child as it ends: on Linux the ``ru_maxrss`` that :func:`os.wait4` returns
starts from the parent's RSS at fork (the kernel carries the forked copy's high-water mark
across ``exec``), so it overstates a small child of a big parent. ``ru_maxrss`` is the
fallback where ``/proc`` is missing. The time reported
is the work only (measured inside the child, after imports); the child's whole wall
time, interpreter start and imports included, is shown next to it.

All three engines write the same Parquet schema (``CANONICAL_ARROW_SCHEMA``, zstd) with
the same provenance constants, and their outputs are compared (row count and a few
column aggregates) after the runs.

The baselines exist for the two Squid kinds only (:data:`BASELINE_KINDS`). The other
formats (NCSA common/combined, ProxySG ELFF, Umbrella CSV, Zscaler NSS) are timed with
proxyvault alone and compared with the Squid native parser in the same run: each should
reach at least half its lines/s (:data:`VS_SQUID_TARGET`).
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import io
import json
import os
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KINDS = ("squid", "squid-recommended", "clf", "combined", "elff", "umbrella-csv", "zscaler-nss")  # proxyvault.sample kinds
BASELINE_KINDS = ("squid", "squid-recommended")  # the kinds python-re and duckdb are written for
ENGINES = ("proxyvault", "python-re", "duckdb")
TARGETS = {"python-re": 8.0, "duckdb": 3.0}  # proxyvault must be at least this many times faster
VS_SQUID_TARGET = 0.5  # every other format's parser: at least this share of the Squid native lines/s
RSS_TARGET_MB = 1000.0  # on a 5 GB input
MB = 1_000_000
SOURCE = "bench"
PROXY_HOST = "bench-proxy"


def parser_args(kind: str) -> tuple[str, str | None, str | None]:
    """proxyvault format name, logformat spec and time zone (``--tz``) for a sample kind."""
    from proxyvault.sample import FORMATS

    return FORMATS[kind]


# --------------------------------------------------------------------------------------
# Engine (a): proxyvault, the product path.
# --------------------------------------------------------------------------------------


def run_proxyvault(kind: str, path: Path, out: Path) -> dict[str, int]:
    from proxyvault.normalize import Provenance, normalize_files
    from transforms.parsers import ParserOptions, build_parser

    name, spec, tz = parser_args(kind)
    parser = build_parser(name, ParserOptions(logformat=spec, tz=tz))
    summary = normalize_files([path], parser, Provenance(SOURCE, name, PROXY_HOST), out)
    totals = summary["totals"]
    assert isinstance(totals, dict)
    return {"rows": int(totals["rows_out"]), "rejects": int(totals["rejects_out"])}


# --------------------------------------------------------------------------------------
# Engine (b): what users write by hand: one compiled regex per format, a Python loop,
# column lists in batches, pyarrow for the Parquet file.
# --------------------------------------------------------------------------------------

# Captures: sec, frac, duration, client, action, status, size, method, url, user, hier, peer, type
NATIVE_RE = re.compile(r"^\s*(\d+)\.(\d+)\s+(\d+)\s+(\S+)\s+(\S+)/(\d+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)/(\S+)\s+(\S+)\s*$")
# Captures: sec, frac, duration, client, client port, action, status, size, request size, method,
# url, version, user, hier, peer, server port, type, referer, user agent
RECOMMENDED_RE = re.compile(
    r"^\s*(\d+)\.(\d+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)/(\d+)\s+(\d+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)/(\S+)\s+(\S+)\s+(\S+)"
    r'\s+"((?:[^"\\]|\\.)*)"\s+"((?:[^"\\]|\\.)*)"\s*$'
)
ABSOLUTE_URL_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://(\[[^\]]*\]|[^/?#:]*)(?::(\d*))?([^?#]*)(?:\?([^#]*))?")
AUTHORITY_RE = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[^/?#:\[\]\s]+):(\d+)$")
DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21, "ws": 80, "wss": 443}
BATCH_LINES = 100_000

UrlParts = tuple[str | None, str | None, str | None, str | None, int | None]


def split_url(url: str | None) -> UrlParts:
    """(scheme, host, path, query, port) of an absolute URL, a CONNECT authority or a path."""
    if url is None:
        return None, None, None, None, None
    m = ABSOLUTE_URL_RE.match(url)
    if m:
        scheme, host, port, path, query = m.groups()
        scheme = scheme.lower()
        return scheme, host.strip("[]") or None, path or None, query or None, int(port) if port else DEFAULT_PORTS.get(scheme)
    m = AUTHORITY_RE.match(url)
    if m:
        return None, m.group(1).strip("[]"), None, None, int(m.group(2))
    if url.startswith("/"):
        path, _, query = url.partition("?")
        return None, None, path, query or None, None
    return None, None, None, None, None


def _dash(value: str) -> str | None:
    return None if value in ("-", "") else value


def _micros(sec: str, frac: str) -> int:
    return int(sec) * 1_000_000 + int(frac.ljust(6, "0")[:6])


def _text(value: str | None, escape: str) -> str | None:
    """Undo Squid's encodings when present (rare): percent for user names, backslash for quoted."""
    if value is None or escape not in value:
        return value
    if escape == "%":
        from urllib.parse import unquote

        return unquote(value)
    return value.encode("latin-1", "backslashreplace").decode("unicode_escape")


def _media(value: str) -> str | None:
    return None if value in ("-", "") else value.split(";", 1)[0].strip().lower() or None


def _native_row(m: re.Match[str]) -> tuple[Any, ...]:
    sec, frac, duration, client, action, status, size, method, url, user, hier, peer, ctype = m.groups()
    url_v = _dash(url)
    scheme, host, path, query, port = split_url(url_v)
    # event_time, client_ip, client_port, username, http_method, url, url_scheme, url_host, url_path, url_query,
    # server_ip, server_port, http_version, status_code, response_bytes, request_bytes, duration_ms, content_type,
    # user_agent, referer, proxy_action, proxy_hierarchy
    return (
        _micros(sec, frac),
        _dash(client),
        None,
        _text(_dash(user), "%"),
        method.upper(),
        url_v,
        scheme,
        host,
        path,
        query,
        _dash(peer),
        port,
        None,
        int(status),
        int(size),
        None,
        int(duration),
        _media(ctype),
        None,
        None,
        _dash(action),
        _dash(hier),
    )


def _recommended_row(m: re.Match[str]) -> tuple[Any, ...]:
    (sec, frac, duration, client, cport, action, status, size, req_size, method, url, version, user, hier, peer, sport, ctype, ref, ua) = (
        m.groups()
    )
    url_v = _dash(url)
    scheme, host, path, query, port = split_url(url_v)
    return (
        _micros(sec, frac),
        _dash(client),
        int(cport) if cport != "-" else None,
        _text(_dash(user), "%"),
        method.upper(),
        url_v,
        scheme,
        host,
        path,
        query,
        _dash(peer),
        int(sport) if sport != "-" else port,
        _dash(version.removeprefix("HTTP/")),
        int(status),
        int(size),
        int(req_size),
        int(duration),
        _media(ctype),
        _text(_dash(ua), "\\"),
        _text(_dash(ref), "\\"),
        _dash(action),
        _dash(hier),
    )


def run_python_re(kind: str, path: Path, out: Path) -> dict[str, int]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from infra.rawfile import sha256_file
    from transforms.schema import CANONICAL_ARROW_SCHEMA, REJECTS_ARROW_SCHEMA

    if kind not in BASELINE_KINDS:
        raise ValueError(f"python-re has no regex for {kind}")
    sha = sha256_file(path)
    match = (NATIVE_RE if kind == "squid" else RECOMMENDED_RE).match
    convert = _native_row if kind == "squid" else _recommended_row
    data_names = CANONICAL_ARROW_SCHEMA.names[:22]
    constants = {"proxy_host": PROXY_HOST, "source": SOURCE, "source_format": parser_args(kind)[0], "source_file_sha256": sha}
    out.mkdir(parents=True, exist_ok=True)
    rows_out = 0
    rejects: list[tuple[int, str, str]] = []

    def flush(writer: pq.ParquetWriter, rows: list[tuple[Any, ...]], numbers: list[int]) -> None:
        columns: dict[str, Any] = dict(zip(data_names, zip(*rows, strict=True), strict=True))
        columns.update({name: [value] * len(rows) for name, value in constants.items()})
        columns["extra"] = [None] * len(rows)  # the Squid formats carry nothing beyond the canonical columns
        columns["source_line"] = numbers
        writer.write_table(pa.Table.from_pydict(columns, schema=CANONICAL_ARROW_SCHEMA))

    with (
        path.open(encoding="utf-8", errors="backslashreplace", newline="") as f,
        pq.ParquetWriter(out / "events.parquet", CANONICAL_ARROW_SCHEMA, compression="zstd") as writer,
    ):
        rows: list[tuple[Any, ...]] = []
        numbers: list[int] = []
        for number, raw in enumerate(f, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                continue
            m = match(line)
            if m is None:
                rejects.append((number, line, "line does not match the format"))
                continue
            try:
                rows.append(convert(m))
            except ValueError as e:
                rejects.append((number, line, str(e)))
                continue
            numbers.append(number)
            if len(rows) == BATCH_LINES:
                flush(writer, rows, numbers)
                rows_out += len(rows)
                rows, numbers = [], []
        if rows:
            flush(writer, rows, numbers)
            rows_out += len(rows)
    if rejects:
        number_col, line_col, reason_col = (list(c) for c in zip(*rejects, strict=True))
        table = pa.Table.from_pydict(
            {
                "source": [SOURCE] * len(rejects),
                "source_file_sha256": [sha] * len(rejects),
                "source_line": number_col,
                "raw_line": line_col,
                "reason": reason_col,
            },
            schema=REJECTS_ARROW_SCHEMA,
        )
        pq.write_table(table, out / "rejects.parquet", compression="zstd")
    return {"rows": rows_out, "rejects": len(rejects)}


# --------------------------------------------------------------------------------------
# Engine (c): DuckDB: the file as one VARCHAR column, regexp_extract, casts, COPY to Parquet.
# --------------------------------------------------------------------------------------

DUCK_NATIVE = (
    r"^\s*(\d+)\.(\d+)\s+(\d+)\s+(\S+)\s+(\S+)/(\d+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)/(\S+)\s+(\S+)\s*$",
    ["sec", "frac", "duration", "client", "action", "status", "size", "method", "url", "usr", "hier", "peer", "ctype"],
)
DUCK_RECOMMENDED = (
    RECOMMENDED_RE.pattern,
    [
        "sec",
        "frac",
        "duration",
        "client",
        "cport",
        "action",
        "status",
        "size",
        "req_size",
        "method",
        "url",
        "version",
        "usr",
        "hier",
        "peer",
        "sport",
        "ctype",
        "ref",
        "ua",
    ],
)


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def duckdb_sql(kind: str, path: Path, target: Path, sha: str) -> str:
    if kind not in BASELINE_KINDS:
        raise ValueError(f"duckdb has no regex for {kind}")
    pattern, names = DUCK_NATIVE if kind == "squid" else DUCK_RECOMMENDED
    has = set(names)

    def col(name: str, sql_type: str | None = None) -> str:
        if name not in has:
            return "NULL"
        value = f"NULLIF(NULLIF(f.{name}, '-'), '')"
        return f"TRY_CAST({value} AS {sql_type})" if sql_type else value

    url_port = "COALESCE(TRY_CAST(NULLIF(u.port, '') AS INTEGER), TRY_CAST(NULLIF(a.port, '') AS INTEGER), "
    url_port += (
        "CASE lower(u.scheme) WHEN 'http' THEN 80 WHEN 'https' THEN 443 WHEN 'ftp' THEN 21 WHEN 'ws' THEN 80 WHEN 'wss' THEN 443 END)"
    )
    server_port = f"COALESCE({col('sport', 'INTEGER')}, {url_port})" if "sport" in has else url_port
    select = f"""
        make_timestamp(f.sec::BIGINT * 1000000 + rpad(f.frac, 6, '0')[1:6]::BIGINT)::TIMESTAMPTZ AS event_time,
        {col("client")} AS client_ip,
        {col("cport", "INTEGER")} AS client_port,
        CASE WHEN contains(f.usr, '%') THEN url_decode(f.usr) ELSE {col("usr")} END AS username,
        upper(f.method) AS http_method,
        {col("url")} AS url,
        NULLIF(lower(u.scheme), '') AS url_scheme,
        NULLIF(trim(COALESCE(NULLIF(u.host, ''), a.host), '[]'), '') AS url_host,
        NULLIF(COALESCE(NULLIF(u.path, ''), o.path), '') AS url_path,
        NULLIF(COALESCE(NULLIF(u.query, ''), o.query), '') AS url_query,
        {col("peer")} AS server_ip,
        {server_port}::INTEGER AS server_port,
        {"NULL" if "version" not in has else "NULLIF(NULLIF(regexp_replace(f.version, '^HTTP/', ''), '-'), '')"} AS http_version,
        f.status::INTEGER AS status_code,
        f.size::BIGINT AS response_bytes,
        {col("req_size", "BIGINT")} AS request_bytes,
        f.duration::BIGINT AS duration_ms,
        NULLIF(NULLIF(lower(trim(split_part(f.ctype, ';', 1))), '-'), '') AS content_type,
        {col("ua")} AS user_agent,
        {col("ref")} AS referer,
        {col("action")} AS proxy_action,
        {col("hier")} AS proxy_hierarchy,
        {_sql_str(PROXY_HOST)} AS proxy_host,
        NULL AS extra,
        {_sql_str(SOURCE)} AS source,
        {_sql_str(parser_args(kind)[0])} AS source_format,
        {_sql_str(sha)} AS source_file_sha256,
        source_line
    """
    # Column types pinned to the canonical schema (VARCHAR literals and NULLs would otherwise drift).
    casts = {
        "client_port": "INTEGER",
        "server_port": "INTEGER",
        "status_code": "INTEGER",
        "response_bytes": "BIGINT",
        "request_bytes": "BIGINT",
        "duration_ms": "BIGINT",
        "source_line": "BIGINT",
        "extra": "MAP(VARCHAR, VARCHAR)",
    }
    from transforms.schema import CANONICAL_ARROW_SCHEMA

    outer = ", ".join(
        f"{n}::{casts.get(n, 'TIMESTAMPTZ' if n == 'event_time' else 'VARCHAR')} AS {n}" for n in CANONICAL_ARROW_SCHEMA.names
    )
    absolute = ABSOLUTE_URL_RE.pattern
    authority = AUTHORITY_RE.pattern
    return f"""
    COPY (
      WITH lines AS (
        SELECT row_number() OVER () AS source_line, line
        FROM read_csv({_sql_str(str(path))}, columns = {{'line': 'VARCHAR'}}, delim = {_sql_str(chr(1))}, quote = '', escape = '',
                      header = false, auto_detect = false, strict_mode = false)
      ),
      fields AS MATERIALIZED (
        SELECT source_line, regexp_extract(line, {_sql_str(pattern)}, {names!r}) AS f FROM lines
      ),
      parts AS MATERIALIZED (
        SELECT source_line, f,
          regexp_extract(f.url, {_sql_str(absolute)}, ['scheme', 'host', 'port', 'path', 'query']) AS u,
          regexp_extract(f.url, {_sql_str(authority)}, ['host', 'port']) AS a,
          regexp_extract(f.url, '^(/[^?#]*)(?:\\?([^#]*))?', ['path', 'query']) AS o
        FROM fields WHERE f.sec <> ''
      )
      SELECT {outer} FROM (SELECT {select} FROM parts)
    ) TO {_sql_str(str(target))} (FORMAT parquet, COMPRESSION zstd)
    """


def run_duckdb(kind: str, path: Path, out: Path) -> dict[str, int]:
    import duckdb

    from infra.rawfile import sha256_file

    sha = sha256_file(path)
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    row = con.execute(duckdb_sql(kind, path, out / "events.parquet", sha)).fetchone()
    assert row is not None
    return {"rows": int(row[0]), "rejects": -1, "threads": int(str(con.execute("SELECT current_setting('threads')").fetchall()[0][0]))}


ENGINE_MODULES = {
    "proxyvault": ("proxyvault.normalize", "transforms.parsers"),
    "python-re": ("pyarrow.parquet", "transforms.schema", "urllib.parse"),
    "duckdb": ("duckdb", "transforms.schema"),
}
RUNNERS: dict[str, Callable[[str, Path, Path], dict[str, int]]] = {
    "proxyvault": run_proxyvault,
    "python-re": run_python_re,
    "duckdb": run_duckdb,
}


def worker(engine: str, kind: str, path: Path, out: Path) -> None:
    """Child-process entry: run one engine once and print its JSON result on the last stdout line.

    The engine's modules are imported before the clock starts: import time is the same for
    every input size (and large here when ``PYTHONDONTWRITEBYTECODE`` is set).
    """
    for module in ENGINE_MODULES[engine]:
        importlib.import_module(module)
    start = time.perf_counter()
    result = RUNNERS[engine](kind, path, out)
    seconds = time.perf_counter() - start
    print(json.dumps({**result, "seconds": seconds, "peak_rss_kb": peak_rss_kb()}), flush=True)


def peak_rss_kb() -> int | None:
    """This process's own peak RSS in KiB (``VmHWM``), or None where ``/proc`` is missing."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) if match else None


# --------------------------------------------------------------------------------------
# Driver.
# --------------------------------------------------------------------------------------


@dataclass
class Run:
    kind: str
    engine: str
    input_bytes: int
    lines: int
    seconds: float
    wall: float
    rss_mb: float
    rows: int
    rejects: int
    extra: dict[str, int] = field(default_factory=dict)


def run_child(engine: str, kind: str, path: Path, out: Path, lines: int) -> Run:
    """Run one engine in a child process; its peak RSS comes from ``os.wait4``."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", engine, kind, str(path), str(out)]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    stdout = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{engine} on {path} failed with exit code {proc.returncode}")
    result = json.loads(stdout.strip().splitlines()[-1])
    extra = {k: v for k, v in result.items() if k not in ("rows", "rejects", "seconds", "peak_rss_kb")}
    rss_kb = result["peak_rss_kb"] or usage.ru_maxrss  # see the module docstring
    return Run(
        kind,
        engine,
        path.stat().st_size,
        lines,
        result["seconds"],
        wall,
        rss_kb * 1024 / MB,
        result["rows"],
        result["rejects"],
        extra,
    )


def generate_input(workdir: Path, kind: str, lines: int) -> Path:
    """The sample file for ``kind`` (deterministic, so a file left by an earlier run is reused)."""
    from proxyvault.sample import write_sample

    path = workdir / f"{kind}-{lines}.log"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        write_sample(tmp, kind, lines)
        tmp.replace(path)
    return path


def grow_input(source: Path, target: Path, size_gb: float) -> int:
    """Write ``source`` repeatedly to ``target`` until it holds ``size_gb`` GB; return its line count."""
    size = source.stat().st_size
    with source.open("rb") as f:
        per_copy = sum(block.count(b"\n") for block in iter(lambda: f.read(MB), b""))
    copies = max(1, round(size_gb * 1000 * MB / size))
    if not (target.exists() and target.stat().st_size == copies * size):
        with target.open("wb") as out:
            for _ in range(copies):
                with source.open("rb") as f:
                    shutil.copyfileobj(f, out, MB)  # streamed: keeps this (parent) process small
    return copies * per_copy


def head(source: Path, target: Path, lines: int) -> Path:
    with source.open("rb") as src, target.open("wb") as dst:
        for i, line in enumerate(src):
            if i == lines:
                break
            dst.write(line)
    return target


def check_outputs(kind: str, outs: dict[str, Path]) -> list[str]:
    """Compare the engines' event Parquet files: schema, row count and a few aggregates."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from transforms.schema import CANONICAL_ARROW_SCHEMA

    facts: dict[str, tuple[Any, ...]] = {}
    notes: list[str] = []
    for engine, out in outs.items():
        files = sorted(out.rglob("*.parquet"))
        events = [f for f in files if "rejects" not in f.parts and not f.name.startswith("rejects")]
        table = pq.read_table(events[0], columns=["event_time", "response_bytes", "server_port", "url_host", "content_type", "source_line"])
        schema = pq.read_schema(events[0])
        if [(f.name, f.type) for f in schema] != [(f.name, f.type) for f in CANONICAL_ARROW_SCHEMA]:  # nullability may differ
            notes.append(f"{kind}/{engine}: schema differs from CANONICAL_ARROW_SCHEMA")
        facts[engine] = (
            table.num_rows,
            pc.min(table["event_time"]).as_py(),
            pc.max(table["event_time"]).as_py(),
            pc.sum(table["response_bytes"]).as_py(),
            pc.sum(table["server_port"]).as_py(),
            pc.count(table["url_host"]).as_py(),
            pc.count(table["content_type"]).as_py(),
            pc.sum(table["source_line"]).as_py(),
        )
    reference = facts.get("proxyvault")
    for engine, fact in facts.items():
        if reference is not None and fact != reference:
            notes.append(f"{kind}/{engine}: output differs from proxyvault: {fact} vs {reference}")
    return notes


def profile_phases(kind: str, path: Path, use_cprofile: bool) -> str:
    """Time proxyvault's phases separately, in this process, on ``path``."""
    import polars as pl
    import pyarrow.parquet as pq

    from infra.rawfile import iter_line_chunks, open_raw, sha256_file
    from transforms.parsers import ParserOptions, build_parser
    from transforms.schema import CANONICAL_ARROW_SCHEMA, CANONICAL_COLUMNS, REJECT_COLUMNS, conform, to_arrow

    name, spec, tz = parser_args(kind)
    parser = build_parser(name, ParserOptions(logformat=spec, tz=tz))
    times: dict[str, float] = {}

    def timed(phase: str, start: float) -> None:
        times[phase] = times.get(phase, 0.0) + time.perf_counter() - start

    profiler = cProfile.Profile() if use_cprofile else None
    t = time.perf_counter()
    sha = sha256_file(path)
    timed("sha256 of the input", t)
    constants = {"source": SOURCE, "source_format": name, "proxy_host": PROXY_HOST, "source_file_sha256": sha}
    lines_in = 0
    with tempfile.TemporaryDirectory() as tmp, open_raw(path) as stream:
        writer = pq.ParquetWriter(Path(tmp) / "events.parquet", CANONICAL_ARROW_SCHEMA, compression="zstd", write_statistics=True)
        chunks = iter_line_chunks(stream)
        while True:
            t = time.perf_counter()
            chunk = next(chunks, None)
            timed("read + split lines (iter_line_chunks)", t)
            if chunk is None:
                break
            lines_in += chunk.lines_in
            t = time.perf_counter()
            if profiler:
                profiler.enable()
            result = parser.parse(chunk.lines)
            if profiler:
                profiler.disable()
            timed("parse + normalize (parser.parse)", t)
            t = time.perf_counter()
            rows = conform(result.rows.with_columns(**{k: pl.lit(v) for k, v in constants.items()}), CANONICAL_COLUMNS)
            conform(result.rejects.with_columns(source=pl.lit(SOURCE), source_file_sha256=pl.lit(sha)), REJECT_COLUMNS)
            timed("constants + conform", t)
            t = time.perf_counter()
            table = to_arrow(rows, CANONICAL_ARROW_SCHEMA)
            timed("to_arrow (polars -> arrow + cast)", t)
            t = time.perf_counter()
            writer.write_table(table)
            timed("parquet write (zstd)", t)
        t = time.perf_counter()
        writer.close()
        timed("parquet write (zstd)", t)
    total = sum(times.values())
    size = path.stat().st_size
    lines_out = [f"  {kind}: {lines_in:,} lines, {size / MB:.1f} MB, {total:.2f} s in-process ({lines_in / total:,.0f} lines/s)"]
    for phase, seconds in times.items():
        lines_out.append(f"    {phase:<42} {seconds:7.3f} s  {100 * seconds / total:5.1f}%  {size / MB / seconds:8.1f} MB/s")
    if profiler:
        buffer = io.StringIO()
        # polars does its work in Rust inside a few ``collect`` calls, so by tottime everything is
        # ``collect``; cumulative time per project function says which step pays for it.
        pstats.Stats(profiler, stream=buffer).sort_stats("cumulative").print_stats(r"transforms|infra", 15)
        body = [ln for ln in buffer.getvalue().splitlines() if ln.strip()]
        lines_out.append("    cProfile of parser.parse, project functions, top 15 by cumulative time:")
        lines_out.extend("      " + ln for ln in body[-16:])
    return "\n".join(lines_out)


def fmt_table(runs: Sequence[Run]) -> str:
    header = f"{'kind':<18} {'engine':<11} {'rows':>10} {'seconds':>8} {'wall s':>7} {'lines/s':>11} {'MB/s':>7} {'peak RSS MB':>11}"
    out = [header, "-" * len(header)]
    for r in runs:
        out.append(
            f"{r.kind:<18} {r.engine:<11} {r.rows:>10,} {r.seconds:>8.2f} {r.wall:>7.2f} {r.lines / r.seconds:>11,.0f}"
            f" {r.input_bytes / MB / r.seconds:>7.1f} {r.rss_mb:>11.0f}"
        )
    return "\n".join(out)


def fmt_ratios(runs: Sequence[Run]) -> str:
    out: list[str] = []
    by = {(r.kind, r.engine): r for r in runs}
    for kind in dict.fromkeys(r.kind for r in runs):
        pv = by.get((kind, "proxyvault"))
        if pv is None:
            continue
        for engine, target in TARGETS.items():
            other = by.get((kind, engine))
            if other is None:
                continue
            speedup = other.seconds / pv.seconds
            verdict = "MET" if speedup >= target else "NOT MET"
            out.append(f"  {kind:<18} proxyvault vs {engine:<10} {speedup:5.2f}x faster   (target >= {target:g}x: {verdict})")
    return "\n".join(out)


def fmt_vs_squid(runs: Sequence[Run]) -> str:
    """proxyvault's lines/s on each kind as a share of its lines/s on Squid native, same run."""
    pv = {r.kind: r for r in runs if r.engine == "proxyvault"}
    squid = pv.get("squid")
    others = [kind for kind in pv if kind != "squid"]
    if not others:
        return ""
    if squid is None:
        return "  (add squid to --kinds: the new formats are compared with the Squid native parser in the same run)"
    base = squid.lines / squid.seconds
    header = f"  {'kind':<18} {'lines/s':>11} {'MB/s':>7} {'vs squid':>9}   target"
    out = [
        header,
        "  " + "-" * (len(header) - 2),
        f"  {'squid':<18} {base:>11,.0f} {squid.input_bytes / MB / squid.seconds:>7.1f} {1:>9.2f}",
    ]
    for kind in others:
        r = pv[kind]
        rate = r.lines / r.seconds
        ratio = rate / base
        if kind in BASELINE_KINDS:
            verdict = "n/a (a Squid kind: see the baselines)"
        else:
            verdict = f">= {VS_SQUID_TARGET:g}: {'MET' if ratio >= VS_SQUID_TARGET else 'NOT MET'}"
        out.append(f"  {kind:<18} {rate:>11,.0f} {r.input_bytes / MB / r.seconds:>7.1f} {ratio:>9.2f}   {verdict}")
    return "\n".join(out)


def iter_kinds(text: str) -> Iterator[str]:
    for kind in (k.strip() for k in text.split(",")):
        if kind not in KINDS:
            raise SystemExit(f"unknown kind '{kind}'; choose from {', '.join(KINDS)}")
        yield kind


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["--worker"]:
        worker(args_list[1], args_list[2], Path(args_list[3]), Path(args_list[4]))
        return 0
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--lines", type=int, default=2_000_000, help="lines per generated input (default 2,000,000)")
    p.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated sample kinds (default {','.join(KINDS)})")
    p.add_argument("--workdir", type=Path, help="keep inputs and outputs here (default: a temporary directory, removed at the end)")
    p.add_argument(
        "--skip-baselines", action="store_true", help=f"time proxyvault only (the baselines exist for {', '.join(BASELINE_KINDS)} only)"
    )
    p.add_argument("--profile-lines", type=int, default=500_000, help="lines for the in-process phase profile (0: skip; default 500,000)")
    p.add_argument("--cprofile", action="store_true", help="add a cProfile top 15 of parser.parse to the phase profile")
    p.add_argument("--rss-input-gb", type=float, default=0.0, help="also report proxyvault's peak RSS on an input of this many GB")
    args = p.parse_args(args_list)
    kinds = list(iter_kinds(args.kinds))
    workdir: Path = args.workdir or Path(tempfile.mkdtemp(prefix="proxyvault-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    runs: list[Run] = []
    notes: list[str] = []
    profiles: list[str] = []
    try:
        for kind in kinds:
            t = time.perf_counter()
            path = generate_input(workdir, kind, args.lines)
            print(
                f"{kind}: input {path} ({path.stat().st_size / MB:.1f} MB, {args.lines:,} lines, ready in {time.perf_counter() - t:.1f} s)",
                flush=True,
            )
            outs: dict[str, Path] = {}
            engines = ENGINES if kind in BASELINE_KINDS and not args.skip_baselines else ("proxyvault",)
            for engine in engines:
                outs[engine] = workdir / "out" / kind / engine
                run = run_child(engine, kind, path, outs[engine], args.lines)
                runs.append(run)
                print(f"  {engine:<11} {run.seconds:7.2f} s  {run.rss_mb:6.0f} MB peak RSS  rows {run.rows:,}", flush=True)
            rows = {r.engine: r.rows for r in runs if r.kind == kind}
            same = len(set(rows.values())) == 1
            notes.append(f"{kind}: rows written {rows} -> {'same row count' if same else 'ROW COUNTS DIFFER'}")
            notes.extend(check_outputs(kind, outs))
            if args.profile_lines:
                sample = path if args.profile_lines >= args.lines else head(path, workdir / f"{kind}-profile.log", args.profile_lines)
                profiles.append(profile_phases(kind, sample, args.cprofile))
            if args.rss_input_gb:
                big = workdir / f"{kind}-{args.rss_input_gb:g}GB.log"
                big_lines = grow_input(path, big, args.rss_input_gb)
                run = run_child("proxyvault", kind, big, workdir / "out" / kind / "rss", big_lines)
                big.unlink()
                shutil.rmtree(workdir / "out" / kind / "rss", ignore_errors=True)
                notes.append(
                    f"{kind}: proxyvault on {run.input_bytes / MB / 1000:.2f} GB ({big_lines:,} lines): {run.seconds:.1f} s, "
                    f"{run.input_bytes / MB / run.seconds:.1f} MB/s, peak RSS {run.rss_mb:.0f} MB "
                    f"(target <= {RSS_TARGET_MB:.0f} MB on 5 GB: {'MET' if run.rss_mb <= RSS_TARGET_MB else 'NOT MET'})"
                )
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    threads = next((r.extra.get("threads") for r in runs if r.engine == "duckdb"), None)
    print()
    print(
        f"proxyvault normalize benchmark: {args.lines:,} lines per kind, {os.cpu_count()} CPUs"
        + (f", DuckDB threads={threads}" if threads else "")
    )
    print("seconds = work inside the child process (after imports); wall s = whole child process; MB = 10^6 bytes of input")
    print(fmt_table(runs))
    ratios = fmt_ratios(runs)
    if ratios:
        print("\nSpeed-up of proxyvault (baseline seconds / proxyvault seconds):")
        print(ratios)
    vs_squid = fmt_vs_squid(runs)
    if vs_squid:
        print("\nproxyvault lines/s vs squid native in the same run (no python-re/duckdb baselines for these formats):")
        print(vs_squid)
    print("\nChecks:")
    for note in notes:
        print(f"  {note}")
    if profiles:
        print("\nWhere proxyvault's time goes (phases timed separately, in-process, one run):")
        print("\n".join(profiles))
    return 0


if __name__ == "__main__":
    sys.exit(main())
