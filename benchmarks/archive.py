"""Benchmark archiving against normalizing alone, and deep verify against hashlib's SHA-256.

Run from the repository root::

    .venv/bin/python benchmarks/archive.py                    # 2,000,000 Squid lines, ~1 GB verified
    .venv/bin/python benchmarks/archive.py --lines 300000 --verify-gb 0.3

Two measurements, each compared with a baseline measured in the same run:

1. **Archive overhead.** ``normalize`` (``proxyvault.normalize.normalize_file`` with
   validation: canonical Parquet, rejects, validation report) and ``archive``
   (``proxyvault.archive.archive_file``: the same, split by UTC hour and sorted, plus the raw
   file compressed with zstd, every object hashed, written to a :class:`~infra.store.LocalStore`
   and read back to check it, and the manifest) each run in a fresh child process on the same
   input, alternating, ``--rounds`` times (default 3: single runs vary by up to 30 % here);
   the best time of each counts. Target: archive ≤ 1.20 × normalize.
2. **Deep verify speed.** A local store holding the archived batch plus a bulk batch of
   incompressible objects (``--verify-gb`` in all) is sealed, then ``verify_store`` re-hashes
   every object (after one warm-up pass, so the page cache holds the files as it would for a
   store on a fast disk). Baseline: ``hashlib.sha256`` over a 256 MB in-memory buffer, one
   thread. Targets: ≥ 1 GB/s and ≥ 70 % of the baseline.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ARCHIVE_TARGET = 1.20
VERIFY_GBPS_TARGET = 1.0
VERIFY_VS_HASHLIB_TARGET = 0.70
GB = 1_000_000_000
RECEIVED_AT = datetime(2026, 9, 22, tzinfo=UTC)  # after the sample's last line: no clock flags


def worker(mode: str, path: Path, out: Path) -> None:
    """Run one mode on ``path`` into ``out`` and print the seconds it took (after imports)."""
    from infra.config import RetentionSettings
    from infra.store import LocalStore
    from proxyvault.archive import archive_file
    from proxyvault.normalize import Provenance, ValidationRun, normalize_file
    from transforms.parsers import ParserOptions, build_parser

    parser = build_parser("squid", ParserOptions())
    provenance = Provenance("bench", "squid", "bench-proxy")
    validation = ValidationRun(received_at=RECEIVED_AT)
    start = time.perf_counter()
    if mode == "normalize":
        summary = normalize_file(path, parser, provenance, out, validation=validation)
        rows = summary.rows_out
    else:
        result = archive_file(path, parser, provenance, LocalStore(out / "store"), RetentionSettings(), validation, workdir=out)
        rows = result.rows
    print(json.dumps({"seconds": time.perf_counter() - start, "rows": rows}))


def run_child(mode: str, path: Path, out: Path) -> dict[str, float]:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    done = subprocess.run([sys.executable, __file__, "--worker", mode, str(path), str(out)], capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{mode} failed:\n{done.stderr}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def build_verify_store(store_dir: Path, batch_dir: Path, total_bytes: int) -> tuple[int, int]:
    """Add a bulk batch of incompressible objects to the archived store until it holds ``total_bytes``; seal it.

    Returns (object count, bytes) of what verify will re-hash.
    """
    from infra.config import RetentionSettings
    from infra.integrity import canonical_json, generate_keypair
    from infra.layout import manifest_key, part_key, utc_text
    from infra.store import LocalStore
    from proxyvault.seal import seal

    store = LocalStore(store_dir)
    stored = sum((store_dir / k).stat().st_size for k in store.list_keys(""))
    hour = datetime(2026, 9, 21, 16, tzinfo=UTC)
    block = os.urandom(128 * 1024 * 1024)
    i = 0
    while stored < total_bytes:  # one batch per bulk object: the object and its manifest
        batch = f"{i:016x}"
        path = batch_dir / f"bulk-{i}.bin"
        path.write_bytes(batch.encode() + block[16:])
        key = part_key("events", "bulk", hour, batch)
        info = store.put_file(key, path)
        path.unlink()
        obj = {"kind": "events", "hour": utc_text(hour), "key": key, "sha256": info.sha256, "size": info.size, "rows": 0}
        manifest = {"format": "proxyvault.manifest/1", "batch": batch, "source": "bulk", "objects": [obj], "hours": [utc_text(hour)]}
        store.put_bytes(manifest_key("bulk", batch), canonical_json(manifest))
        stored += info.size
        i += 1
    signer = generate_keypair(batch_dir / "sign.pem", batch_dir / "sign.pub.pem")
    seal(store, signer, hour + timedelta(hours=1), RetentionSettings(), start=datetime(2026, 9, 21, 14, tzinfo=UTC))
    keys = list(store.list_keys(""))
    total = sum((store_dir / k).stat().st_size for k in keys if not k.startswith(("digests/", "manifests/", "keys/")))
    return len(keys), total


def hashlib_gbps() -> float:
    buffer = os.urandom(256 * 1024 * 1024)
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        hashlib.sha256(buffer).hexdigest()
        best = max(best, len(buffer) / (time.perf_counter() - start) / GB)
    return best


def verify_gbps(store_dir: Path, public: Path) -> tuple[float, int, bool]:
    from infra.integrity import load_public_keys
    from infra.store import LocalStore
    from proxyvault.verify import verify_store

    keys = load_public_keys([public])
    verify_store(LocalStore(store_dir), keys)  # warm-up: the page cache now holds the objects
    best = 0.0
    report = None
    for _ in range(2):
        start = time.perf_counter()
        report = verify_store(LocalStore(store_dir), keys)
        best = max(best, report.bytes_hashed / (time.perf_counter() - start) / GB)
    assert report is not None
    return best, report.bytes_hashed, report.ok


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["--worker"]:
        worker(args_list[1], Path(args_list[2]), Path(args_list[3]))
        return 0
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--lines", type=int, default=2_000_000, help="Squid native lines in the input (default 2,000,000)")
    p.add_argument("--rounds", type=int, default=3, help="runs of each mode; the best counts (default 3)")
    p.add_argument("--verify-gb", type=float, default=1.0, help="bytes in the store deep verify re-hashes, in GB (default 1)")
    p.add_argument("--workdir", type=Path, help="keep inputs and outputs here (default: a temporary directory)")
    args = p.parse_args(args_list)
    sys.path.insert(0, str(REPO))
    from proxyvault.sample import write_sample

    workdir: Path = args.workdir or Path(tempfile.mkdtemp(prefix="proxyvault-bench-archive-"))
    workdir.mkdir(parents=True, exist_ok=True)
    failures = []
    try:
        path = workdir / f"squid-{args.lines}.log"
        if not path.exists():
            write_sample(path, "squid", args.lines)
        print(f"input: {path} ({path.stat().st_size / 1e6:.1f} MB, {args.lines:,} lines); {os.cpu_count()} CPUs", flush=True)
        times: dict[str, list[float]] = {"normalize": [], "archive": []}
        for round_ in range(args.rounds):
            for mode in ("normalize", "archive"):
                run = run_child(mode, path, workdir / mode)
                times[mode].append(run["seconds"])
                print(f"  round {round_ + 1} {mode:<9} {run['seconds']:6.2f} s  rows {int(run['rows']):,}", flush=True)
        normalize, archive = min(times["normalize"]), min(times["archive"])
        ratio = archive / normalize
        print(
            f"\narchive vs normalize (both validate; best of {args.rounds}): normalize {normalize:.2f} s, archive {archive:.2f} s, "
            f"overhead {100 * (ratio - 1):+.1f} % (target <= {100 * (ARCHIVE_TARGET - 1):.0f} %: "
            f"{'MET' if ratio <= ARCHIVE_TARGET else 'NOT MET'})"
        )
        print(f"  archive: {args.lines / archive:,.0f} lines/s; normalize: {args.lines / normalize:,.0f} lines/s")
        if ratio > ARCHIVE_TARGET:
            failures.append("archive overhead")

        store_dir = workdir / "archive" / "store"
        count, _ = build_verify_store(store_dir, workdir, int(args.verify_gb * GB))
        baseline = hashlib_gbps()
        speed, hashed, ok = verify_gbps(store_dir, workdir / "sign.pub.pem")
        share = speed / baseline
        print(
            f"\ndeep verify: {hashed / GB:.2f} GB in {count} objects re-hashed at {speed:.2f} GB/s; hashlib SHA-256 (1 thread, "
            f"in memory) {baseline:.2f} GB/s; verify = {100 * share:.0f} % of it"
        )
        print(
            f"  targets: >= {VERIFY_GBPS_TARGET:.1f} GB/s: {'MET' if speed >= VERIFY_GBPS_TARGET else 'NOT MET'}; "
            f">= {100 * VERIFY_VS_HASHLIB_TARGET:.0f} % of hashlib: {'MET' if share >= VERIFY_VS_HASHLIB_TARGET else 'NOT MET'}; "
            f"verify result: {'all valid' if ok else 'PROBLEMS'}"
        )
        if speed < VERIFY_GBPS_TARGET or share < VERIFY_VS_HASHLIB_TARGET or not ok:
            failures.append("deep verify")
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    if failures:
        print(f"\nNOT MET: {', '.join(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
