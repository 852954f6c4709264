"""Each expectation can fail, a clean batch passes, and both engines give the same results.

Every case is run by the polars engine and by great-expectations itself; the engines must
agree on each expectation's success, counts and unexpected values.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest

from expectations.engine import run_suite_gx, run_suite_polars
from expectations.suites import (
    IP_ADDRESS_REGEX,
    EventWindow,
    Suite,
    completeness_suite,
    proxy_events_suite,
)
from infra.config import DEFAULT_MOSTLY
from transforms.schema import REQUIRED_FIELDS, conform

T0 = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
WINDOW = EventWindow(start=T0, end=T0 + timedelta(minutes=15), received_at=T0 + timedelta(minutes=16))
ROWS = 8


def clean_batch() -> pl.DataFrame:
    """Eight rows that satisfy every expectation, with every required field present."""
    n = range(ROWS)
    return conform(
        pl.DataFrame(
            {
                "event_time": [T0 + timedelta(seconds=60 * i) for i in n],
                "client_ip": ["10.0.0.1", "192.168.1.20", "2001:db8::7", "::ffff:10.1.2.3", "172.16.0.9", "10.0.0.1", "fe80::1", "8.8.8.8"],
                "client_port": [50000 + i for i in n],
                "username": ["alice"] * ROWS,
                "http_method": ["GET", "POST", "CONNECT", "HEAD", "PUT", "DELETE", "OPTIONS", "GET"],
                "url": [f"http://www.example.com/{i}" for i in n],
                "url_host": ["www.example.com"] * ROWS,
                "server_ip": ["93.184.216.34"] * ROWS,
                "server_port": [80, 443, 8080, 80, 80, 80, 80, 65535],
                "http_version": ["1.1"] * ROWS,
                "status_code": [200, 201, 0, 304, 100, 599, 404, 302],
                "response_bytes": [1000 + i for i in n],
                "request_bytes": [0] * ROWS,
                "duration_ms": [5 * i for i in n],
                "content_type": ["text/html"] * ROWS,
                "user_agent": ["Mozilla/5.0"] * ROWS,
                "referer": ["http://www.example.com/"] * ROWS,
                "proxy_action": ["TCP_MISS"] * ROWS,
                "source": ["edge"] * ROWS,
                "source_format": ["squid-logformat"] * ROWS,
                "source_file_sha256": ["ab" * 32] * ROWS,
                "source_line": [i + 1 for i in n],
            }
        )
    )


def _set(column: str, row: int, value: Any) -> Callable[[pl.DataFrame], pl.DataFrame]:
    def mutate(frame: pl.DataFrame) -> pl.DataFrame:
        values = frame[column].to_list()
        values[row] = value
        return frame.with_columns(pl.Series(column, values, dtype=frame.schema[column]))

    return mutate


#: (case id, how to break the clean batch, the one critical expectation that must fail)
STRUCTURAL_CASES = [
    pytest.param(_set("event_time", 3, None), ("expect_column_values_to_not_be_null", "event_time"), id="event_time-null"),
    pytest.param(
        _set("event_time", 3, T0 - timedelta(hours=1)), ("expect_column_values_to_be_between", "event_time"), id="event_time-early"
    ),
    pytest.param(
        _set("event_time", 7, T0 + timedelta(hours=2)), ("expect_column_values_to_be_between", "event_time"), id="event_time-future"
    ),
    pytest.param(_set("http_method", 1, "FOO"), ("expect_column_values_to_be_in_set", "http_method"), id="http_method-unknown"),
    pytest.param(_set("http_method", 1, "get"), ("expect_column_values_to_be_in_set", "http_method"), id="http_method-lower-case"),
    pytest.param(_set("status_code", 2, 99), ("expect_column_values_to_be_in_set", "status_code"), id="status-99"),
    pytest.param(_set("status_code", 2, 600), ("expect_column_values_to_be_in_set", "status_code"), id="status-600"),
    pytest.param(_set("client_port", 0, 0), ("expect_column_values_to_be_between", "client_port"), id="client_port-0"),
    pytest.param(_set("server_port", 0, 65536), ("expect_column_values_to_be_between", "server_port"), id="server_port-65536"),
    pytest.param(_set("response_bytes", 0, -1), ("expect_column_values_to_be_between", "response_bytes"), id="response_bytes-negative"),
    pytest.param(_set("request_bytes", 0, -5), ("expect_column_values_to_be_between", "request_bytes"), id="request_bytes-negative"),
    pytest.param(_set("duration_ms", 0, -1), ("expect_column_values_to_be_between", "duration_ms"), id="duration-negative"),
    pytest.param(_set("client_ip", 4, "172.888.0.1"), ("expect_column_values_to_match_regex", "client_ip"), id="client_ip-octet"),
    pytest.param(_set("client_ip", 4, "2001:db8:::1"), ("expect_column_values_to_match_regex", "client_ip"), id="client_ip-bad-v6"),
    pytest.param(_set("server_ip", 4, "www.example.com"), ("expect_column_values_to_match_regex", "server_ip"), id="server_ip-name"),
    pytest.param(_set("source_line", 5, 5), ("expect_compound_columns_to_be_unique", None), id="source_line-duplicate"),
]


def _failed(result: dict[str, Any], severity: str = "critical") -> set[tuple[str, str | None]]:
    return {
        (r["expectation_config"]["type"], r["expectation_config"]["kwargs"].get("column"))
        for r in result["results"]
        if not r["success"] and r["expectation_config"]["severity"] == severity
    }


def _comparable(value: Any) -> Any:
    """Values as both engines should report them: numbers as floats, times as UTC instants, no NaN/NaT."""
    if value is None or value == "NaT" or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    return value


def run_both(suite: Suite, frame: pl.DataFrame) -> dict[str, Any]:
    """Run ``suite`` with both engines, assert they agree, return the polars result."""
    fast, reference = run_suite_polars(suite, frame), run_suite_gx(suite, frame)
    assert len(fast["results"]) == len(reference["results"])
    for ours, theirs in zip(fast["results"], reference["results"], strict=True):
        config = ours["expectation_config"]
        assert config == theirs["expectation_config"]
        label = f"{config['type']} {config['kwargs'].get('column', config['kwargs'].get('column_list'))}"
        assert ours["success"] == theirs["success"], label
        for key, value in theirs["result"].items():
            mine, reference_value = _comparable(ours["result"][key]), _comparable(value)
            assert mine == (pytest.approx(reference_value) if isinstance(reference_value, float) else reference_value), f"{label}: {key}"
    assert fast["success"] == reference["success"]
    return fast


def test_clean_batch_passes_every_expectation() -> None:
    frame = clean_batch()
    structural = run_both(proxy_events_suite(WINDOW), frame)
    completeness = run_both(completeness_suite(REQUIRED_FIELDS, DEFAULT_MOSTLY), frame)
    assert structural["success"] and completeness["success"]
    assert _failed(structural) == set() and _failed(structural, "info") == set()
    assert structural["results"][0]["result"]["element_count"] == ROWS


@pytest.mark.parametrize(("mutate", "expected"), STRUCTURAL_CASES)
def test_each_structural_expectation_can_fail(mutate: Callable[[pl.DataFrame], pl.DataFrame], expected: tuple[str, str | None]) -> None:
    result = run_both(proxy_events_suite(WINDOW), mutate(clean_batch()))
    assert _failed(result) == {expected} and not result["success"]


def test_every_structural_expectation_has_a_failing_case() -> None:
    covered = {case.values[1] for case in STRUCTURAL_CASES}
    critical = {(e.type, e.column) for e in proxy_events_suite(WINDOW).expectations if e.severity == "critical"}
    assert critical == covered


def test_extension_methods_are_reported_not_failed() -> None:
    result = run_both(proxy_events_suite(WINDOW), _set("http_method", 1, "PROPFIND")(_set("http_method", 2, "NONE")(clean_batch())))
    assert result["success"] and _failed(result) == set()
    assert _failed(result, "info") == {("expect_column_values_to_be_in_set", "http_method")}
    (notice,) = [r for r in result["results"] if not r["success"]]
    assert notice["result"]["partial_unexpected_list"] == ["PROPFIND"]  # NONE is Squid's "no request", not news


@pytest.mark.parametrize("column", REQUIRED_FIELDS)
def test_each_completeness_expectation_can_fail(column: str) -> None:
    frame = clean_batch().with_columns(pl.lit(None).cast(clean_batch().schema[column]).alias(column))
    mostly = {name: 0.5 for name in REQUIRED_FIELDS}
    result = run_both(completeness_suite(REQUIRED_FIELDS, mostly), frame)
    assert _failed(result) == {("expect_column_values_to_not_be_null", column)}


def test_completeness_threshold_is_mostly() -> None:
    frame = _set("user_agent", 0, None)(_set("user_agent", 1, None)(clean_batch()))  # 6 of 8 = 75 %
    passing = run_both(completeness_suite(["user_agent"], {**DEFAULT_MOSTLY, "user_agent": 0.75}), frame)
    failing = run_both(completeness_suite(["user_agent"], {**DEFAULT_MOSTLY, "user_agent": 0.76}), frame)
    assert passing["success"] and not failing["success"]
    assert failing["results"][0]["result"]["unexpected_count"] == 2


def test_fields_the_format_cannot_carry_are_listed_not_expected() -> None:
    carried = [c for c in REQUIRED_FIELDS if c not in ("user_agent", "referer")]
    frame = clean_batch().with_columns(user_agent=pl.lit(None, pl.String), referer=pl.lit(None, pl.String))
    suite = completeness_suite(carried, DEFAULT_MOSTLY, "edge", "squid")
    assert suite.meta["not_logged_by_this_source"] == ["user_agent", "referer"]
    assert {e.column for e in suite.expectations} == set(carried)
    assert run_both(suite, frame)["success"]


def test_empty_batch_passes_vacuously() -> None:
    frame = clean_batch().head(0)
    assert run_both(proxy_events_suite(WINDOW), frame)["success"]
    assert run_both(completeness_suite(REQUIRED_FIELDS, DEFAULT_MOSTLY), frame)["success"]


def test_window_bounds() -> None:
    window = EventWindow(start=T0, end=T0 + timedelta(minutes=15), received_at=T0 + timedelta(minutes=10), skew=timedelta(minutes=2))
    assert window.lower == T0 - timedelta(minutes=2)
    assert window.upper == T0 + timedelta(minutes=12)  # the receipt is earlier than the end
    assert EventWindow(start=T0, start_allowance=timedelta(hours=1)).lower == T0 - timedelta(hours=1, minutes=5)
    assert [e.column for e in proxy_events_suite(EventWindow()).expectations].count("event_time") == 1  # no bounds: only not-null


IP_SAMPLES = [
    "0.0.0.0",
    "255.255.255.255",
    "10.0.0.1",
    "256.1.1.1",
    "1.2.3",
    "1.2.3.4.5",
    "01.2.3.4",
    "1.2.3.04",
    "::",
    "::1",
    "1::",
    "2001:db8::1",
    "2001:0db8:0000:0000:0000:ff00:0042:8329",
    "2001:db8:0:0:1:0:0:1",
    "fe80::1:2:3:4",
    "::ffff:192.0.2.1",
    "::ffff:0:192.0.2.1",
    "64:ff9b::192.0.2.33",
    "1:2:3:4:5:6:192.0.2.1",
    "1:2:3:4:5:6:7::",
    "::2:3:4:5:6:7:8",
    "2001:db8:::1",
    "2001:db8::1::2",
    "1:2:3:4:5:6:7:8:9",
    "12345::1",
    "g::1",
    "1.2.3.4:80",
    "[::1]",
    "",
    " 10.0.0.1",
    "١٠.0.0.1",  # Arabic-Indic digits are not an address
]


@pytest.mark.parametrize("text", IP_SAMPLES)
def test_ip_regex_agrees_with_ipaddress(text: str) -> None:
    import re

    try:
        ipaddress.ip_address(text)
        valid = True
    except ValueError:
        valid = False
    assert (re.search(IP_ADDRESS_REGEX, text) is not None) == valid
    matched = pl.Series([text]).str.contains(IP_ADDRESS_REGEX).item()
    assert matched == valid  # the polars (Rust) regex reads it the same way
