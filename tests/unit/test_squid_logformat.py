"""The logformat compiler: grammar, code coverage, escaping, and errors that carry the fix."""

from __future__ import annotations

import polars as pl
import pytest

from transforms.parsers import FormatError, ParserOptions, build_parser
from transforms.parsers.base import LINES_SCHEMA
from transforms.parsers.squid_logformat import (
    PREDEFINED,
    RECOMMENDED,
    Field,
    Literal,
    compile_spec,
    logformat_from_squid_conf,
    tokenize_spec,
)


def _parse(spec: str, *lines: str, tz: str | None = None) -> tuple[list[dict[str, object]], list[str]]:
    parser = build_parser("squid-logformat", ParserOptions(logformat=spec, tz=tz))
    frame = pl.DataFrame({"source_line": list(range(1, len(lines) + 1)), "line": list(lines)}, schema=LINES_SCHEMA)
    result = parser.parse(frame)
    return result.rows.to_dicts(), result.rejects["reason"].to_list()


@pytest.mark.parametrize(
    ("spec", "code", "arg", "encoding", "width", "left"),
    [
        pytest.param("%03tu", "tu", None, "", 3, False, id="zero-padded width"),
        pytest.param("%-6tr", "tr", None, "", 6, True, id="left aligned"),
        pytest.param("%[un", "un", None, "[", None, False, id="bracket encoding"),
        pytest.param('%"{User-Agent}>h', ">h", "User-Agent", '"', None, False, id="quoted header, arg before"),
        pytest.param("%>h{Referer}", ">h", "Referer", "", None, False, id="arg after the code"),
        pytest.param("%http::>Hs", ">Hs", None, "", None, False, id="http:: prefix"),
        pytest.param("%<Hs", "<Hs", None, "", None, False, id="longest match beats <h"),
        pytest.param("%tS", "tS", None, "", None, False, id="case matters: tS is not ts"),
        pytest.param("%{%Y-%m-%d}tl", "tl", "%Y-%m-%d", "", None, False, id="strftime argument"),
    ],
)
def test_tokenize_field(spec: str, code: str, arg: str | None, encoding: str, width: int | None, left: bool) -> None:
    (item,) = tokenize_spec(spec)
    assert isinstance(item, Field)
    assert (item.code, item.arg, item.encoding, item.width, item.left_aligned) == (code, arg, encoding, width, left)


def test_tokenize_literals_and_percent() -> None:
    items = tokenize_spec("100%% [%tl]")
    assert items[0] == Literal("100% [")
    assert isinstance(items[1], Field) and items[1].code == "tl"
    assert items[2] == Literal("]")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param("%ts %zz", "unknown logformat code at position 5: '%zz'", id="unknown code"),
        pytest.param("%ts %{User-Agent>h", "unknown logformat code", id="unclosed brace reads as unknown"),
        pytest.param("%>a %rm %ru", "has no time code", id="no time"),
        pytest.param("   ", "empty logformat spec", id="empty"),
        pytest.param("%{%Y %Q}tl %>a", "uses %Q", id="unreadable strftime"),
    ],
)
def test_bad_spec_is_one_line_with_a_fix(spec: str, message: str) -> None:
    with pytest.raises(FormatError) as info:
        compile_spec(spec)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_local_time_without_offset_needs_a_zone() -> None:
    with pytest.raises(FormatError, match="--tz"):
        build_parser("squid-logformat", ParserOptions(logformat="%{%Y-%m-%d %H:%M:%S}tl %>a"))


def test_unknown_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        build_parser("squid-logformat", ParserOptions(logformat="%{%Y-%m-%d %H:%M:%S}tl %>a", tz="Mars/Olympus"))


# Every code the foundation issue names, each mapped to the canonical column it fills.
ALL_CODES_SPEC = (
    "%ts.%03tu %tr [%tl] [%tg] %>a %>p %<a %<p %la %lp %un %[un %ul %ue %rm %ru %rv %>Hs %<Hs %<st %>st %Ss %Sh %mt"
    ' "%{User-Agent}>h" "%{Content-Type}<h"'
)
ALL_CODES_LINE = (
    "1790000000.250 12 [22/Nov/2026:10:00:00 +0100] [22/Nov/2026:09:00:00 +0000] 10.0.0.1 50000 198.51.100.1 8080 192.0.2.1 3128"
    ' alice alice alice - GET http://h.example:8080/p?q 1.1 200 200 999 123 TCP_MISS HIER_DIRECT text/html "UA/1.0 (x)" "text/html"'
)


def test_all_required_codes_parse_into_their_columns() -> None:
    rows, rejects = _parse(ALL_CODES_SPEC, ALL_CODES_LINE)
    assert rejects == []
    (row,) = rows
    assert row["event_time"].isoformat() == "2026-09-21T14:13:20.250000+00:00"  # %ts.%03tu times the event (first time code)
    assert row["client_ip"] == "10.0.0.1"
    assert row["client_port"] == 50000
    assert row["server_ip"] == "198.51.100.1"
    assert row["server_port"] == 8080
    assert row["username"] == "alice"
    assert (row["http_method"], row["url"], row["http_version"]) == ("GET", "http://h.example:8080/p?q", "1.1")
    assert (row["status_code"], row["response_bytes"], row["request_bytes"], row["duration_ms"]) == (200, 999, 123, 12)
    assert (row["proxy_action"], row["proxy_hierarchy"], row["content_type"]) == ("TCP_MISS", "HIER_DIRECT", "text/html")
    assert row["user_agent"] == "UA/1.0 (x)"


def test_recommended_logformat_carries_every_required_field() -> None:
    required = {
        "event_time", "http_version", "http_method", "content_type", "user_agent", "referer", "response_bytes", "username",
        "client_ip", "client_port", "server_ip", "server_port", "url_host", "url", "status_code", "duration_ms", "proxy_action",
    }  # fmt: skip
    assert required <= compile_spec(RECOMMENDED).carried_columns
    missing_in_native = required - compile_spec(PREDEFINED["squid"]).carried_columns
    assert missing_in_native == {"user_agent", "referer", "http_version", "client_port"}


@pytest.mark.parametrize(
    ("spec", "line", "column", "expected"),
    [
        pytest.param('%ts "%{User-Agent}>h"', r'1790000000 "a \"b\" c\\d"', "user_agent", 'a "b" c\\d', id="quoted: backslash escapes"),
        pytest.param("%ts %[un", "1790000000 DOMAIN%5Cj%C3%BCrgen", "username", "DOMAIN\\jürgen", id="bracket: percent encoding"),
        pytest.param("%ts %#un", "1790000000 a%20b", "username", "a b", id="hash: url encoding"),
        pytest.param("%ts %ru", "1790000000 http://x/a%20b", "url", "http://x/a%20b", id="url stays as logged"),
        pytest.param("%ts %6tr %>a", "1790000000     42 10.0.0.1", "duration_ms", 42, id="width pads with spaces"),
        pytest.param("%ts %-6tr|%>a", "1790000000 42    |10.0.0.1", "duration_ms", 42, id="left aligned pads after"),
        pytest.param("%ts %mt", "1790000000 Text/HTML; charset=UTF-8", "content_type", "text/html", id="media type without parameters"),
        pytest.param("%ts %{%s}tg %>a", "1790000000 1790000000 10.0.0.9", "client_ip", "10.0.0.9", id="second time code is matched only"),
    ],
)
def test_values_are_decoded_per_encoding(spec: str, line: str, column: str, expected: object) -> None:
    rows, rejects = _parse(spec, line)
    assert rejects == []
    assert rows[0][column] == expected


def test_tl_offsets_are_honoured() -> None:
    rows, _ = _parse("[%tl] %>a", "[01/Mar/2026:00:30:00 +0530] 10.0.0.1", "[01/Mar/2026:00:30:00 -0000] 10.0.0.1")
    assert [r["event_time"].isoformat() for r in rows] == ["2026-02-28T19:00:00+00:00", "2026-03-01T00:30:00+00:00"]


def test_mismatch_names_the_field() -> None:
    _, rejects = _parse(PREDEFINED["combined"], '10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] "GET http://x/ HTTP/1.1" 200 abc "-" "-" A:B')
    assert rejects == ["bad response size 'abc'"]
    _, rejects = _parse(PREDEFINED["combined"], "10.0.0.1 - - 22/Nov/2026 GET")
    assert rejects == ["line does not match the logformat at '%tl' (field 4 of 13), near '22/Nov/2026 GET'"]


SQUID_CONF = """
# comment
http_port 3128
logformat vault %ts.%03tu %6tr %>a \\
    %Ss/%03>Hs %<st %rm %ru
access_log /var/log/squid/access.log vault
"""


def test_logformat_from_squid_conf_joins_continuation_lines() -> None:
    assert logformat_from_squid_conf(SQUID_CONF, "vault") == "%ts.%03tu %6tr %>a      %Ss/%03>Hs %<st %rm %ru"
    assert logformat_from_squid_conf(SQUID_CONF, "combined") == PREDEFINED["combined"]
    with pytest.raises(FormatError, match="no 'logformat nope"):
        logformat_from_squid_conf(SQUID_CONF, "nope")


@pytest.mark.parametrize("name", list(PREDEFINED))
def test_predefined_formats_compile(name: str) -> None:
    compiled = compile_spec(PREDEFINED[name])
    assert "event_time" in compiled.carried_columns
