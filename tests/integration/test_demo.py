"""``proxyvault demo`` end to end, in its own process (it sets up Airflow's home before importing Airflow).

Five days instead of seven keep it under a minute; the late file then arrives on the
last day. A second run on the same home takes nothing new and changes no archived byte.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import polars as pl

from tests.integration.test_dags_e2e import snapshot

DAYS = 5
DAY_LINE = re.compile(r"2026-11-\d\d \([A-Z][a-z]{2}\): ")
#: What the archive holds as evidence; ``ledger/seen/`` holds spool markers, a cache keyed by file mtime.
EVIDENCE = ("events", "rejects", "raw", "validation", "manifests", "digests", "keys", "landing", "receipts")


def _demo(home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PROXYVAULT"))}
    return subprocess.run(
        [sys.executable, "-m", "proxyvault", "demo", "--home", str(home), "--days", str(DAYS)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_demo_runs_the_pipeline_and_a_second_run_changes_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = _demo(home)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    out = first.stdout
    days = [line for line in out.splitlines() if DAY_LINE.match(line)]
    assert len(days) == DAYS and all("archive:" in line for line in days)
    assert "(the file of 2026-11-10, late)" in days[-1] and "backfill digests" in days[-1]
    assert "edge-squid ends mid-line" in days[2]
    assert "OK: everything in range is valid" in out and "invalid: 0" in out
    for where in ("archive:", "data docs:", "reports:", "airflow home:"):
        assert where in out
    summary = json.loads((home / "reports" / "summary.json").read_text())
    assert sorted(summary["sources"]) == ["branch-squid", "edge-squid", "proxysg"]
    for source in summary["sources"].values():
        assert source["batches"] == DAYS and source["rows"] > 10_000 and source["rejects"] > 0
        assert source["lines_in"] >= source["rows"] + source["rejects"]
    assert (home / "reports" / "data_docs" / "index.html").is_file()
    rejects = pl.read_parquet(home / "archive" / "rejects" / "source=edge-squid" / "**" / "*.parquet", hive_partitioning=False)
    cut = rejects.filter(pl.col("reason").str.starts_with("unterminated last line"))
    assert cut["raw_line"].to_list() == [cut["raw_line"][0]] and cut["raw_line"][0].endswith("GET http://www.exa")

    before = snapshot(home / "archive", EVIDENCE)
    second = _demo(home)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    again = [line for line in second.stdout.splitlines() if DAY_LINE.match(line)]
    assert all("rotate: 0 landed" in line for line in again), again
    assert snapshot(home / "archive", EVIDENCE) == before
