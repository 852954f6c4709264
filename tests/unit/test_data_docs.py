"""Data Docs from validation reports: a page per suite result, failures shown as failures.

Two crafted batches are validated (polars engine) and their reports rendered with
great-expectations' own site builder: ``edge`` passes, ``branch`` has a status code 999
and an ``http_method`` ``FOO``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from expectations.data_docs import build_data_docs
from infra.config import ValidationSettings
from proxyvault.validate import Batch, validate_batch
from transforms.schema import REQUIRED_FIELDS, conform

T0 = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
RECEIVED = T0 + timedelta(minutes=16)
ROWS = 4
PASSING_SHA = "ab" * 32
FAILING_SHA = "cd" * 32


def _frame(source: str, sha: str, methods: list[str], statuses: list[int]) -> pl.DataFrame:
    n = range(ROWS)
    return conform(
        pl.DataFrame(
            {
                "event_time": [T0 + timedelta(minutes=i) for i in n],
                "client_ip": ["10.0.0.1", "2001:db8::7", "192.168.1.20", "10.0.0.2"],
                "client_port": [50000 + i for i in n],
                "username": ["alice"] * ROWS,
                "http_method": methods,
                "url": [f"http://www.example.com/{i}" for i in n],
                "url_host": ["www.example.com"] * ROWS,
                "server_ip": ["93.184.216.34"] * ROWS,
                "server_port": [80] * ROWS,
                "http_version": ["1.1"] * ROWS,
                "status_code": statuses,
                "response_bytes": [1000] * ROWS,
                "request_bytes": [0] * ROWS,
                "duration_ms": [5] * ROWS,
                "content_type": ["text/html"] * ROWS,
                "user_agent": ["Mozilla/5.0"] * ROWS,
                "referer": ["http://www.example.com/"] * ROWS,
                "proxy_action": ["TCP_MISS"] * ROWS,
                "source": [source] * ROWS,
                "source_format": ["squid"] * ROWS,
                "source_file_sha256": [sha] * ROWS,
                "source_line": [i + 1 for i in n],
            }
        )
    )


def _report(frame: pl.DataFrame, source: str, sha: str) -> dict[str, Any]:
    batch = Batch(
        events=frame.lazy(),
        source=source,
        source_format="squid",
        source_file_sha256=sha,
        carried_columns=REQUIRED_FIELDS,
        received_at=RECEIVED,
    )
    return validate_batch(batch, ValidationSettings())


@pytest.fixture(scope="module")
def reports() -> list[dict[str, Any]]:
    passing = _report(_frame("edge", PASSING_SHA, ["GET", "POST", "CONNECT", "GET"], [200, 0, 304, 404]), "edge", PASSING_SHA)
    failing = _report(_frame("branch", FAILING_SHA, ["GET", "FOO", "GET", "GET"], [200, 999, 200, 200]), "branch", FAILING_SHA)
    assert passing["status"] == "passed"
    assert failing["status"] == "failed"
    return [passing, failing]


@pytest.fixture(scope="module")
def site(reports: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    site_dir = tmp_path_factory.mktemp("data_docs") / "site"
    index = build_data_docs(reports, site_dir)
    assert index == site_dir.resolve() / "index.html"
    return site_dir


def _page(site: Path, source: str, suite: str, sha: str) -> str:
    run_time = RECEIVED.strftime("%Y%m%dT%H%M%S.%fZ")
    return (site / "validations" / source / suite / source / run_time / f"{sha[:16]}.html").read_text()


def _status(page: str) -> str:
    match = re.search(r"Status:</span>\s*<i [^>]*\btext-(success|danger)\b[^>]*></i>\s*(Succeeded|Failed)", page)
    assert match, "no status in the page's overview"
    return match.group(2)


def test_index_links_every_validation_result(site: Path) -> None:
    index = (site / "index.html").read_text()
    pages = sorted(p.relative_to(site).as_posix() for p in (site / "validations").rglob("*.html"))
    assert len(pages) == 4  # 2 batches x 2 suites
    for page in pages:
        assert page in index
    suites = sorted(p.relative_to(site).as_posix() for p in (site / "expectations").rglob("*.html"))
    assert suites == [f"expectations/{s}/{n}.html" for s in ("branch", "edge") for n in ("completeness", "proxy_events")]
    assert (site / "static").is_dir()


def test_failing_batch_shows_the_failed_expectations(site: Path) -> None:
    page = _page(site, "branch", "proxy_events", FAILING_SHA)
    assert _status(page) == "Failed"
    for column, check, value in (("status_code", "0 (no reply) or a status 100-599", "999"), ("http_method", "a known HTTP method", "FOO")):
        at = page.index(f"{column} values must be {check}")  # the expectation's meta "check"
        icon = page.rindex('<i class="fas fa-', 0, at)
        assert page.startswith('<i class="fas fa-times text-danger"', icon), f"{column} not shown as failed"
        following = page.find('<i class="fas fa-', at)
        assert re.search(rf">\s*{value}\s*<", page[at:following])  # among the sampled unexpected values
    assert "Unsuccessful Expectations" in page
    # the batch's completeness suite passed
    assert _status(_page(site, "branch", "completeness", FAILING_SHA)) == "Succeeded"


def test_passing_batch_shows_success(site: Path) -> None:
    for suite in ("proxy_events", "completeness"):
        page = _page(site, "edge", suite, PASSING_SHA)
        assert _status(page) == "Succeeded"
        assert "fa-times" not in page
    page = _page(site, "edge", "proxy_events", PASSING_SHA)
    assert "status_code values must be 0 (no reply) or a status 100-599" in page
    assert PASSING_SHA in page  # the batch's identity, under "Show more info"


def test_same_reports_same_bytes_and_stale_pages_go(reports: list[dict[str, Any]], site: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    build_data_docs(reports, again)
    files = sorted(p.relative_to(site) for p in site.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for name in files:
        assert (site / name).read_bytes() == (again / name).read_bytes(), name
    build_data_docs(reports[:1], again)  # only the passing batch now
    assert not (again / "validations" / "branch").exists()
    assert not (again / "expectations" / "branch").exists()
    assert "branch" not in (again / "index.html").read_text()


def test_importing_the_module_does_not_import_great_expectations() -> None:
    code = "import sys, expectations.data_docs; assert 'great_expectations' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])
