"""Benchmark batch validation (both suites + clock check) against normalizing the same batch.

Run from the repository root::

    .venv/bin/python benchmarks/validate.py                  # 2,000,000 lines per kind
    .venv/bin/python benchmarks/validate.py --lines 300000 --skip-gx
    .venv/bin/python benchmarks/validate.py --kinds squid --workdir build/bench-validate

For each kind the sample is normalized with :func:`proxyvault.normalize.normalize_file`
*without* validation (timed), then the batch it wrote is validated with
:func:`proxyvault.validate.validate_batch` on ``pl.scan_parquet(events)``, the way
``proxyvault normalize`` does it, with the default settings and the batch's window set to its
first and last event times (received at the last): every check runs, and the sample passes.
Each engine validates it:

``polars``
    the default engine: one polars query per suite over the Parquet file.
``great_expectations``
    the baseline in the same run: great-expectations 1.x, pandas execution engine.

Each step runs in its own child process (this script re-invoked with ``--worker``); the
time reported is the work inside the child after its imports, and the validation steps
are broken down (structural suite, completeness suite, clock check, the rest of the
report) by timing wrappers around the calls ``validate_batch`` makes, in the same single
call, so the parts add up to the total. great-expectations' import is timed on its own, in
a fresh interpreter, since a process pays it once. Peak RSS is each child's own
high-water mark (``VmHWM``; ``resource.getrusage`` where ``/proc`` is missing): process-
wide, so it covers everything the child did, imports included.

The target: validating a batch adds at most 25 % to the time of normalizing it
(:data:`TARGET_RATIO`). Both engines' per-expectation ``success`` and ``unexpected_count``
are compared; the script exits 1 if they disagree.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

KINDS = ("squid", "squid-recommended", "clf", "combined", "elff", "umbrella-csv", "zscaler-nss")  # proxyvault.sample kinds
DEFAULT_KINDS = ("squid", "squid-recommended")
ENGINES = ("polars", "great_expectations")
TARGET_RATIO = 0.25  # validation seconds / normalize seconds
PARTS = (("proxy_events", "structural suite"), ("completeness", "completeness suite"), ("clock", "clock check"))
REST = "  rest of the report"  # validate_batch's time outside the suites and the clock check
MB = 1_000_000
SOURCE = "bench"
PROXY_HOST = "bench-proxy"


# --------------------------------------------------------------------------------------
# Child-process steps.
# --------------------------------------------------------------------------------------


def peak_rss_kb() -> int:
    """This process's own peak RSS in KiB: ``VmHWM``, else ``ru_maxrss`` (Linux: KiB)."""
    try:
        match = re.search(r"^VmHWM:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.MULTILINE)
    except OSError:
        match = None
    if match:
        return int(match.group(1))
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def step_normalize(kind: str, path: Path, out: Path) -> dict[str, Any]:
    """Normalize ``path`` without validation; the summary fields the validation steps need."""
    importlib.import_module("proxyvault.normalize")
    from proxyvault.normalize import Provenance, normalize_file
    from proxyvault.sample import FORMATS
    from transforms.parsers import ParserOptions, build_parser

    name, spec, tz = FORMATS[kind]
    start = time.perf_counter()
    parser = build_parser(name, ParserOptions(logformat=spec, tz=tz))
    summary = normalize_file(path, parser, Provenance(SOURCE, name, PROXY_HOST), out)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "rows": summary.rows_out,
        "rejects": summary.rejects_out,
        "source_format": name,
        "events_path": summary.events_path,
        "events_bytes": Path(summary.events_path).stat().st_size,
        "source_file_sha256": summary.source_file_sha256,
        "carried_columns": summary.carried_columns,
        "first_event_time": summary.first_event_time,
        "last_event_time": summary.last_event_time,
    }


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def step_validate(engine: str, batch_info: dict[str, Any]) -> dict[str, Any]:
    """Validate the batch once with ``engine``, timing each part inside the same call."""
    import polars as pl

    import proxyvault.validate as validate_module
    from expectations.clock import ClockFlag, clock_flags
    from expectations.engine import ENGINES as RUNNERS
    from expectations.engine import Frame, SuiteResult
    from expectations.suites import EventWindow, Suite
    from infra.config import ValidationSettings

    import_seconds = 0.0
    if engine == "great_expectations":  # imported on first use otherwise: timed apart from the work
        t = time.perf_counter()
        importlib.import_module("great_expectations")
        import_seconds = time.perf_counter() - t

    parts: dict[str, float] = {}

    def timed_suite(run: Callable[[Suite, Frame], SuiteResult]) -> Callable[[Suite, Frame], SuiteResult]:
        def wrapper(suite: Suite, frame: Frame) -> SuiteResult:
            t = time.perf_counter()
            try:
                return run(suite, frame)
            finally:
                parts[suite.name] = parts.get(suite.name, 0.0) + time.perf_counter() - t

        return wrapper

    def timed_clock(frame: pl.DataFrame | pl.LazyFrame, window: EventWindow) -> list[ClockFlag]:
        t = time.perf_counter()
        try:
            return clock_flags(frame, window)
        finally:
            parts["clock"] = parts.get("clock", 0.0) + time.perf_counter() - t

    # validate_batch looks both names up in its module at call time
    setattr(validate_module, "ENGINES", {name: timed_suite(run) for name, run in RUNNERS.items()})  # noqa: B010
    setattr(validate_module, "clock_flags", timed_clock)  # noqa: B010
    batch = validate_module.Batch(
        events=pl.scan_parquet(batch_info["events_path"]),
        source=SOURCE,
        source_format=batch_info["source_format"],
        source_file_sha256=batch_info["source_file_sha256"],
        carried_columns=batch_info["carried_columns"],
        received_at=_time(batch_info["last_event_time"]),  # a file closed after its last event
        window_start=_time(batch_info["first_event_time"]),
        window_end=_time(batch_info["last_event_time"]),
    )
    start = time.perf_counter()
    report = validate_module.validate_batch(batch, ValidationSettings(), engine)
    seconds = time.perf_counter() - start
    expectations = [
        {
            "suite": suite,
            "type": r["expectation_config"]["type"].removeprefix("expect_"),
            "column": r["expectation_config"]["kwargs"].get("column") or "+".join(r["expectation_config"]["kwargs"].get("column_list", [])),
            "severity": r["expectation_config"]["severity"],
            "success": r["success"],
            "unexpected_count": r["result"]["unexpected_count"],
        }
        for suite, result in report["suites"].items()
        for r in result["results"]
    ]
    return {
        "seconds": seconds,
        "import_seconds": import_seconds,
        "parts": parts,
        "rows": report["batch"]["rows"],
        "status": report["status"],
        "failures": report["failures"],
        "notices": report["notices"],
        "clock_flags": [f["check"] for f in report["clock"]["flags"]],
        "expectations": expectations,
        "polars_threads": pl.thread_pool_size(),
    }


def worker(argv: Sequence[str]) -> None:
    """Child-process entry: run one step and print its JSON result on the last stdout line."""
    if argv[0] == "normalize":
        result = step_normalize(argv[1], Path(argv[2]), Path(argv[3]))
    else:
        result = step_validate(argv[1], json.loads(Path(argv[2]).read_text()))
    print(json.dumps({**result, "peak_rss_kb": peak_rss_kb()}), flush=True)


# --------------------------------------------------------------------------------------
# Driver.
# --------------------------------------------------------------------------------------


def run_child(args: Sequence[str]) -> tuple[dict[str, Any], float]:
    """Run ``--worker args`` in a child process; its JSON result and its whole wall time."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", *args]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    # great-expectations draws "Calculating Metrics" progress bars (tqdm) that it cannot be
    # told to hide from here: keep everything else the child wrote to stderr
    noise = re.compile(r"^\s*Calculating Metrics:")
    stderr = [part for part in re.split(r"[\r\n]+", proc.stderr) if part.strip() and not noise.match(part)]
    if stderr:
        print("\n".join(stderr), file=sys.stderr, flush=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:2])} failed with exit code {proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1]), wall


def time_import(code: str, env: dict[str, str] | None = None) -> float:
    """Wall seconds of a fresh interpreter running ``code``."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    return time.perf_counter() - start


@dataclass
class GxImport:
    bare_python: float  # python -c pass
    as_configured: float  # this environment as it is (PYTHONDONTWRITEBYTECODE etc.)
    warm_cache: float | None = None  # with a warm bytecode cache in the workdir


def measure_gx_import(workdir: Path) -> GxImport:
    result = GxImport(time_import("pass"), time_import("import great_expectations"))
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        # No .pyc is written here, so each import compiles great-expectations from source;
        # a deployment usually has the bytecode. Measure that too, with the cache kept in
        # the workdir (PYTHONPYCACHEPREFIX) rather than in the virtualenv.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
        time_import("import great_expectations", env)  # fills the cache
        result.warm_cache = time_import("import great_expectations", env)
    return result


def generate_input(workdir: Path, kind: str, lines: int) -> Path:
    """The sample file for ``kind`` (deterministic, so a file left by an earlier run is reused)."""
    from proxyvault.sample import write_sample

    path = workdir / f"{kind}-{lines}.log"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        write_sample(tmp, kind, lines)
        tmp.replace(path)
    return path


@dataclass
class Row:
    kind: str
    step: str
    engine: str
    rows: int
    seconds: float
    wall: float | None = None
    rss_mb: float | None = None
    normalize_seconds: float | None = None  # for the "vs normalize" column


@dataclass
class KindResult:
    kind: str
    normalize: dict[str, Any]
    validations: dict[str, dict[str, Any]] = field(default_factory=dict)


def agreement(result: KindResult) -> list[str]:
    """Differences between the engines' per-expectation success and unexpected_count."""
    if len(result.validations) < 2:
        return []
    (name_a, a), (name_b, b) = list(result.validations.items())[:2]
    if len(a["expectations"]) != len(b["expectations"]):
        return [f"{result.kind}: {name_a} ran {len(a['expectations'])} expectations, {name_b} {len(b['expectations'])}"]
    diffs = []
    for ea, eb in zip(a["expectations"], b["expectations"], strict=True):
        where = f"{result.kind}: {ea['suite']} {ea['type']} {ea['column']}"
        if (ea["suite"], ea["type"], ea["column"]) != (eb["suite"], eb["type"], eb["column"]):
            diffs.append(f"{where}: expectation order differs ({eb['suite']} {eb['type']} {eb['column']} in {name_b})")
            continue
        for key in ("success", "unexpected_count"):
            if ea[key] != eb[key]:
                diffs.append(f"{where}: {key} {ea[key]} ({name_a}) vs {eb[key]} ({name_b})")
    return diffs


def table_rows(results: Sequence[KindResult]) -> list[Row]:
    rows: list[Row] = []
    for r in results:
        n = r.normalize
        rows.append(Row(r.kind, "normalize, no validation", "proxyvault", n["rows"], n["seconds"], n["wall"], n["peak_rss_kb"] * 1024 / MB))
        for engine, v in r.validations.items():
            rows.append(
                Row(r.kind, "validate_batch", engine, v["rows"], v["seconds"], v["wall"], v["peak_rss_kb"] * 1024 / MB, n["seconds"])
            )
            for key, label in PARTS:
                rows.append(Row(r.kind, f"  {label}", engine, v["rows"], v["parts"].get(key, 0.0), normalize_seconds=n["seconds"]))
            rest = v["seconds"] - sum(v["parts"].values())
            rows.append(Row(r.kind, REST, engine, v["rows"], rest, normalize_seconds=n["seconds"]))
    return rows


def fmt_table(rows: Sequence[Row]) -> str:
    header = (
        f"{'kind':<18} {'step':<26} {'engine':<18} {'rows':>10} {'seconds':>8} {'wall s':>7} {'rows/s':>12}"
        f" {'vs normalize':>12} {'peak RSS MB':>11}"
    )
    out = [header, "-" * len(header)]
    for r in rows:
        wall = f"{r.wall:7.2f}" if r.wall is not None else f"{'':7}"
        rate = f"{r.rows / r.seconds:12,.0f}" if r.seconds > 0 and r.step != REST else f"{'-':>12}"
        ratio = f"{100 * r.seconds / r.normalize_seconds:11.1f}%" if r.normalize_seconds else f"{'':12}"
        rss = f"{r.rss_mb:11.0f}" if r.rss_mb is not None else f"{'':11}"
        out.append(f"{r.kind:<18} {r.step:<26} {r.engine:<18} {r.rows:>10,} {r.seconds:>8.3f} {wall} {rate} {ratio} {rss}")
    return "\n".join(out)


def verdict(result: KindResult, gx_import: GxImport | None) -> str:
    n = result.normalize["seconds"]
    out = [f"{result.kind}: normalize {n:.2f} s"]
    for engine, v in result.validations.items():
        ratio = v["seconds"] / n
        text = f"{engine} validation +{100 * ratio:.1f}% ({v['seconds']:.2f} s)"
        if engine == "great_expectations" and gx_import is not None:
            costs = [gx_import.as_configured - gx_import.bare_python]
            if gx_import.warm_cache is not None:
                costs.append(gx_import.warm_cache - gx_import.bare_python)
            text += ", " + " / ".join(f"+{100 * (v['seconds'] + c) / n:.0f}%" for c in costs) + " with its import"
            if len(costs) > 1:
                text += " (as configured / warm bytecode)"
        out.append(f"{text} -> target <= {100 * TARGET_RATIO:.0f}%: {'met' if ratio <= TARGET_RATIO else 'NOT MET'}")
    return "; ".join(out)


def iter_kinds(text: str) -> Iterator[str]:
    for kind in (k.strip() for k in text.split(",")):
        if kind not in KINDS:
            raise SystemExit(f"unknown kind '{kind}'; choose from {', '.join(KINDS)}")
        yield kind


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["--worker"]:
        worker(args_list[1:])
        return 0
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--lines", type=int, default=2_000_000, help="lines per generated input (default 2,000,000)")
    p.add_argument("--kinds", default=",".join(DEFAULT_KINDS), help=f"comma-separated sample kinds (default {','.join(DEFAULT_KINDS)})")
    p.add_argument("--workdir", type=Path, help="keep inputs and outputs here (default: a temporary directory, removed at the end)")
    p.add_argument("--skip-gx", action="store_true", help="skip the great-expectations baseline (and its import timing)")
    args = p.parse_args(args_list)
    kinds = list(iter_kinds(args.kinds))
    engines = ("polars",) if args.skip_gx else ENGINES
    workdir: Path = args.workdir or Path(tempfile.mkdtemp(prefix="proxyvault-bench-validate-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results: list[KindResult] = []
    gx_import: GxImport | None = None
    try:
        if not args.skip_gx:
            gx_import = measure_gx_import(workdir)
            print(f"great_expectations import, fresh interpreter: {gx_import.as_configured:.2f} s", flush=True)
        for kind in kinds:
            t = time.perf_counter()
            path = generate_input(workdir, kind, args.lines)
            print(
                f"{kind}: input {path} ({path.stat().st_size / MB:.1f} MB, {args.lines:,} lines, ready in {time.perf_counter() - t:.1f} s)"
            )
            out = workdir / "out" / kind
            shutil.rmtree(out, ignore_errors=True)
            normalize, wall = run_child(["normalize", kind, str(path), str(out)])
            normalize["wall"] = wall
            result = KindResult(kind, normalize)
            results.append(result)
            print(f"  normalize          {normalize['seconds']:7.2f} s  rows {normalize['rows']:,}", flush=True)
            batch_file = workdir / f"{kind}-batch.json"
            batch_file.write_text(json.dumps(normalize))
            for engine in engines:
                validation, wall = run_child(["validate", engine, str(batch_file)])
                validation["wall"] = wall
                result.validations[engine] = validation
                print(f"  validate {engine:<18} {validation['seconds']:7.2f} s  status {validation['status']}", flush=True)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)

    threads = next((v["polars_threads"] for r in results for v in r.validations.values()), None)
    print()
    print(f"proxyvault validation benchmark: {args.lines:,} lines per kind, {os.cpu_count()} CPUs, polars threads={threads}")
    print(
        "seconds = work inside the child process (after imports); wall s = whole child process; "
        "vs normalize = seconds / normalize seconds; peak RSS = the child's, process-wide"
    )
    print(fmt_table(table_rows(results)))
    if gx_import is not None:
        line = (
            f"\ngreat_expectations import in a fresh interpreter: {gx_import.as_configured:.2f} s wall "
            f"(python -c pass: {gx_import.bare_python:.2f} s)"
        )
        if gx_import.warm_cache is not None:
            line += (
                f"; PYTHONDONTWRITEBYTECODE is set, so that compiles it from source: with a warm bytecode cache "
                f"{gx_import.warm_cache:.2f} s"
            )
        print(line)
        for r in results:
            v = r.validations.get("great_expectations")
            if v is not None:
                print(f"  {r.kind}: in the validating child, after polars and proxyvault: {v['import_seconds']:.2f} s")

    print("\nBatches:")
    disagreements: list[str] = []
    for r in results:
        for engine, v in r.validations.items():
            flags = ", ".join(v["clock_flags"]) or "none"
            print(
                f"  {r.kind}/{engine}: {v['status']}, {len(v['failures'])} failures, {len(v['notices'])} notices, "
                f"clock flags: {flags}, {len(v['expectations'])} expectations"
            )
            for text in [*v["failures"], *v["notices"]][:3]:
                print(f"    {text[:160]}")
        diffs = agreement(r)
        disagreements += diffs
        if len(r.validations) == 2:
            print(f"  {r.kind}: " + ("engines agree (per-expectation success and unexpected_count)" if not diffs else "ENGINES DISAGREE"))
    for d in disagreements:
        print(f"    {d}")

    print("\nVerdict (validation time / normalize time, target <= 25%):")
    for r in results:
        print(f"  {verdict(r, gx_import)}")
    return 1 if disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
