"""NCSA common / combined log formats (``clf``, ``combined``): times, request lines, escapes, rejects."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from transforms.normalize import TimeZoneError
from transforms.parsers import ParserOptions, build_parser
from transforms.parsers.base import LINES_SCHEMA, ParseResult
from transforms.parsers.clf import ClfParser
from transforms.parsers.squid_logformat import PREDEFINED, SquidLogformatParser

COMMON = '10.0.0.1 - - [{time}] "{request}" 200 5'
COMBINED = COMMON + ' "{referer}" "{agent}"'
TIME = "10/Oct/2026:13:55:36 +0000"


def _lines(lines: list[str]) -> pl.DataFrame:
    return pl.DataFrame({"source_line": range(1, len(lines) + 1), "line": lines}, schema=LINES_SCHEMA)


def _parse(fmt: str, *lines: str) -> ParseResult:
    result = build_parser(fmt, ParserOptions()).parse(_lines(list(lines)))
    assert result.rows.height + result.rejects.height == len(lines)
    return result


def _row(fmt: str, line: str) -> dict[str, Any]:
    result = _parse(fmt, line)
    assert result.rejects.height == 0, result.rejects["reason"].to_list()
    return result.rows.to_dicts()[0]


def _reason(fmt: str, line: str) -> str:
    result = _parse(fmt, line)
    assert result.rows.height == 0
    return str(result.rejects["reason"][0])


@pytest.mark.parametrize(
    ("logged", "utc"),
    [
        pytest.param("10/Oct/2026:13:55:36 +0530", "2026-10-10T08:25:36+00:00", id="+0530"),
        pytest.param("10/Oct/2026:13:55:36 -0930", "2026-10-10T23:25:36+00:00", id="-0930"),
        pytest.param("10/Oct/2026:13:55:36 +1245", "2026-10-10T01:10:36+00:00", id="+1245"),
        pytest.param("10/Oct/2026:13:55:36 -0000", "2026-10-10T13:55:36+00:00", id="-0000"),
        pytest.param("10/Oct/2026:13:55:36 +0000", "2026-10-10T13:55:36+00:00", id="+0000"),
        pytest.param("10/Oct/2026:13:55:36 -1200", "2026-10-11T01:55:36+00:00", id="-1200 next day"),
        pytest.param("31/Dec/2026:23:30:00 -0100", "2027-01-01T00:30:00+00:00", id="forward into the new year"),
        pytest.param("01/Jan/2027:00:10:00 +1400", "2026-12-31T10:10:00+00:00", id="back into the old year"),
        pytest.param("01/Mar/2028:05:00:00 +0530", "2028-02-29T23:30:00+00:00", id="back to a leap day"),
    ],
)
@pytest.mark.parametrize("fmt", ["clf", "combined"])
def test_every_offset_is_honoured(fmt: str, logged: str, utc: str) -> None:
    template = COMBINED if fmt == "combined" else COMMON
    row = _row(fmt, template.format(time=logged, request="GET / HTTP/1.1", referer="-", agent="-"))
    assert row["event_time"].isoformat() == utc


@pytest.mark.parametrize(
    "time",
    [
        pytest.param("32/Jan/2027:00:00:00 +0000", id="day 32"),
        pytest.param("10/Foo/2026:13:55:36 +0000", id="bad month name"),
        pytest.param("10/Oct/2026:24:00:00 +0000", id="hour 24"),
        pytest.param("10/Oct/2026:13:55:36", id="no offset"),
        pytest.param("-", id="dash"),
    ],
)
def test_bad_times_are_rejected_with_the_time(time: str) -> None:
    reason = _reason("clf", COMMON.format(time=time, request="GET / HTTP/1.1"))
    assert reason == f"bad time '{time}' for format '%d/%b/%Y:%H:%M:%S %z'"


@pytest.mark.parametrize(
    ("request_line", "expected"),
    [
        pytest.param(
            "GET http://h.example/p?q=1 HTTP/1.1",
            {"http_method": "GET", "url": "http://h.example/p?q=1", "url_host": "h.example", "url_query": "q=1", "http_version": "1.1"},
            id="absolute",
        ),
        pytest.param(
            "GET /p?q HTTP/1.0",
            {"http_method": "GET", "url": "/p?q", "url_host": None, "url_path": "/p", "server_port": None, "http_version": "1.0"},
            id="origin form keeps the url",
        ),
        pytest.param(
            "CONNECT h.example:443 HTTP/1.1",
            {"http_method": "CONNECT", "url": "h.example:443", "url_host": "h.example", "server_port": 443},
            id="connect",
        ),
        pytest.param("GET /h2 HTTP/2.0", {"http_version": "2.0"}, id="http/2.0"),
        pytest.param("GET /", {"http_method": "GET", "url": "/", "http_version": None}, id="http/0.9 has no version"),
        pytest.param("-", {"http_method": None, "url": None, "http_version": None, "status_code": 200}, id="dash keeps the row"),
        pytest.param("", {"http_method": None, "url": None, "http_version": None}, id="empty keeps the row"),
        pytest.param("get /x HTTP/1.1", {"http_method": "GET"}, id="method upper-cased"),
    ],
)
def test_request_line_split(request_line: str, expected: dict[str, Any]) -> None:
    row = _row("clf", COMMON.format(time=TIME, request=request_line))
    assert {k: row[k] for k in expected} == expected


@pytest.mark.parametrize(
    "request_line",
    [
        pytest.param("GET", id="method only"),
        pytest.param("GET /a b HTTP/1.1", id="space in the target"),
        pytest.param("GET / FTP/1.0", id="not an http version"),
        pytest.param("GET  / HTTP/1.1", id="two spaces"),
        pytest.param(r"\x16\x03\x01\x02\x00", id="tls bytes"),
    ],
)
def test_bad_request_lines_are_rejected(request_line: str) -> None:
    reason = _reason("clf", COMMON.format(time=TIME, request=request_line))
    assert reason == f"bad request line '{request_line}': expected \"METHOD TARGET HTTP/x.y\""


@pytest.mark.parametrize(
    ("referer", "agent", "expected_referer", "expected_agent"),
    [
        pytest.param(r"http://r/?q=\"a\"", r"say \"hi\"", 'http://r/?q="a"', 'say "hi"', id="apache quotes"),
        pytest.param("-", r"back\\slash", None, "back\\slash", id="apache backslash"),
        pytest.param(r"http://r/?q=\x22a\x22", r"nginx \x22q\x22", r"http://r/?q=\x22a\x22", r"nginx \x22q\x22", id="nginx x22 kept"),
        pytest.param("-", r"Caf\xc3\xa9", None, r"Caf\xc3\xa9", id="apache non-printable bytes kept"),
        pytest.param("-", "Übersetzer/1.0 日本語", None, "Übersetzer/1.0 日本語", id="raw utf-8"),
        pytest.param("", "", None, None, id="empty is null"),
    ],
)
def test_quoted_values_are_decoded(referer: str, agent: str, expected_referer: str | None, expected_agent: str | None) -> None:
    row = _row("combined", COMBINED.format(time=TIME, request="GET / HTTP/1.1", referer=referer, agent=agent))
    assert (row["referer"], row["user_agent"]) == (expected_referer, expected_agent)


def test_escaped_request_is_decoded_before_splitting() -> None:
    row = _row("clf", COMMON.format(time=TIME, request=r"GET /say?\"hi\" HTTP/1.1"))
    assert (row["url"], row["url_query"]) == ('/say?"hi"', '"hi"')


@pytest.mark.parametrize(
    ("line", "username"),
    [
        pytest.param(f'10.0.0.1 - DOMAIN%5Cjohn [{TIME}] "GET / HTTP/1.1" 200 5 TCP_MISS:HIER_DIRECT', "DOMAIN\\john", id="squid percent"),
        pytest.param(f'10.0.0.1 - DOMAIN\\\\john [{TIME}] "GET / HTTP/1.1" 200 5', "DOMAIN\\john", id="apache backslash"),
        pytest.param(f'10.0.0.1 - 100%25 [{TIME}] "GET / HTTP/1.1" 200 5', "100%25", id="web server percent kept"),
        pytest.param(f'10.0.0.1 - "" [{TIME}] "GET / HTTP/1.1" 200 5', None, id="apache empty user"),
        pytest.param(f'10.0.0.1 - - [{TIME}] "GET / HTTP/1.1" 200 5', None, id="dash"),
    ],
)
def test_usernames_are_decoded_per_writer(line: str, username: str | None) -> None:
    assert _row("clf", line)["username"] == username


@pytest.mark.parametrize(
    ("line", "fields"),
    [
        pytest.param(
            f'2001:db8::7 - - [{TIME}] "GET / HTTP/1.1" 000 - TCP_DENIED:HIER_NONE',
            {"client_ip": "2001:db8::7", "status_code": 0, "response_bytes": None, "proxy_action": "TCP_DENIED"},
            id="ipv6, 000, dash bytes, squid trailer",
        ),
        pytest.param(
            f'host.example - - [{TIME}] "GET / HTTP/1.1" 200 5',
            {"client_ip": None, "proxy_action": None, "proxy_hierarchy": None},
            id="host name is not an ip",
        ),
        pytest.param(
            f'  10.0.0.1  -  -  [{TIME}]  "GET / HTTP/1.1"  200  5  TCP_MISS:HIER_DIRECT  ',
            {"client_ip": "10.0.0.1", "proxy_hierarchy": "HIER_DIRECT"},
            id="runs of spaces",
        ),
    ],
)
def test_fields(line: str, fields: dict[str, Any]) -> None:
    row = _row("clf", line)
    assert {k: row[k] for k in fields} == fields


@pytest.mark.parametrize(
    ("fmt", "line", "reason"),
    [
        pytest.param(
            "clf",
            f'10.0.0.1 - - [{TIME}] "GET / HTTP/1.1" 200 5 "http://ref/" "UA"',
            'unexpected text after the last field: \'"http://ref/" "UA"\'; is this --format combined?',
            id="combined line fed to clf",
        ),
        pytest.param(
            "combined",
            f'10.0.0.1 - - [{TIME}] "GET / HTTP/1.1" 200 5 TCP_MISS:HIER_DIRECT',
            "no referer and user agent after '%b': expected '\"%{Referer}i\" \"%{User-Agent}i\"'; is this --format clf?",
            id="common line fed to combined",
        ),
        pytest.param(
            "combined",
            f'10.0.0.1 - - [{TIME}] "GET / HTTP/1.1" 200 5 "-" "curl/8" "198.51.100.7"',
            "unexpected text after the last field: '\"198.51.100.7\"'",
            id="extra field after the user agent",
        ),
        pytest.param(
            "clf",
            f'10.0.0.1 - - {TIME}] "GET / HTTP/1.1" 200 5',
            "line does not match the clf format at '[%t]' (field 4 of 7), near '10/Oct/2026:13:55:36 +0000] \"GET / HTTP/'",
            id="missing bracket",
        ),
        pytest.param(
            "clf",
            f'10.0.0.1 - - [{TIME}] "GET / HTT',
            "unterminated quote in '\"%r\"' (field 5 of 7), near '\"GET / HTT'; truncated line?",
            id="truncated in the request",
        ),
        pytest.param("clf", f'10.0.0.1 - - [{TIME}] "GET / HTTP/1.1" 200', "line ends before '%b' (field 7 of 7)", id="truncated"),
        pytest.param("clf", f'10.0.0.1 - - [{TIME}] "GET / HTTP/1.1" 2xx 5', "bad status '2xx'", id="bad status"),
        pytest.param("clf", f'10.0.0.1 - - [{TIME}] "GET / HTTP/1.1" 200 12k', "bad response size '12k'", id="bad size"),
        pytest.param(
            "clf",
            f'10.0.0.1 - - [{TIME}] "GET / HTTP/1.1" 200 5 TCP_MISS/HIER_DIRECT',
            "unexpected text after the last field: 'TCP_MISS/HIER_DIRECT'",
            id="bad squid trailer",
        ),
        pytest.param(
            "clf",
            f'10.0.0.1 - - [{TIME}] "GET / FTP" 2xx 5',
            "bad request line 'GET / FTP': expected \"METHOD TARGET HTTP/x.y\"",
            id="request line reason first",
        ),
    ],
)
def test_reject_reasons(fmt: str, line: str, reason: str) -> None:
    assert _reason(fmt, line) == reason


def test_carried_columns() -> None:
    clf = build_parser("clf", ParserOptions()).carried_columns
    combined = build_parser("combined", ParserOptions()).carried_columns
    assert {"event_time", "client_ip", "url_host", "server_port", "http_version", "status_code", "response_bytes"} <= clf
    assert "proxy_action" not in clf and "user_agent" not in clf  # the Squid trailer is optional
    assert combined - clf == {"referer", "user_agent"}


def test_zone_is_checked_and_unused() -> None:
    line = COMMON.format(time="10/Oct/2026:13:55:36 +0530", request="GET / HTTP/1.1")
    parser = build_parser("clf", ParserOptions(tz="Pacific/Auckland"))
    assert parser.parse(_lines([line])).rows["event_time"][0].isoformat() == "2026-10-10T08:25:36+00:00"
    with pytest.raises(TimeZoneError, match="unknown time zone 'Mars/Olympus'"):
        build_parser("combined", ParserOptions(tz="Mars/Olympus"))


def test_registry_names() -> None:
    for name in ("clf", "combined"):
        parser = build_parser(name, ParserOptions())
        assert isinstance(parser, ClfParser) and parser.format_name == name


def test_mixed_chunk_keeps_line_order() -> None:
    lines = [
        COMBINED.format(time=TIME, request="GET /1 HTTP/1.1", referer="-", agent=r"a\"1"),
        "garbage",
        COMBINED.format(time=TIME, request="GET /3 HTTP/1.1", referer="-", agent="a3"),
        COMBINED.format(time=TIME, request="GET", referer="-", agent="a4"),
        COMBINED.format(time=TIME, request="GET /5 HTTP/1.1", referer="-", agent="a5"),
    ]
    result = _parse("combined", *lines)
    assert result.rows["source_line"].to_list() == [1, 3, 5]
    assert result.rows["user_agent"].to_list() == ['a"1', "a3", "a5"]
    assert result.rejects["source_line"].to_list() == [2, 4]
    assert result.rejects["raw_line"].to_list() == [lines[1], lines[3]]


@pytest.mark.parametrize("name", ["common", "combined"])
def test_agrees_with_squid_logformat_on_squid_lines(name: str) -> None:
    """Squid's own ``logformat common|combined``, read by the generic logformat parser, gives the same rows."""
    agents = ["curl/8", r"say \"hi\"", "-", "Übersetzer/1.0"]
    users = ["-", "alice", "DOMAIN%5Cjohn"]
    urls = ["http://h.example/p?q=1", "h.example:443", "error:invalid-request", "http://[2001:db8::1]:8080/"]
    offsets = ["+0530", "-0930", "+1245", "-0000"]
    lines = []
    for i in range(48):
        line = (
            f"10.0.{i % 3}.{i} - {users[i % 3]} [10/Oct/2026:13:55:{i:02d} {offsets[i % 4]}]"
            f' "GET {urls[i % 4]} HTTP/1.{i % 2}" {200 + i} {i * 10}'
        )
        if name == "combined":
            line += f' "http://ref/{i}" "{agents[i % 4]}"'
        lines.append(line + " TCP_MISS:HIER_DIRECT")
    ours = build_parser("clf" if name == "common" else "combined", ParserOptions()).parse(_lines(lines))
    theirs = SquidLogformatParser(PREDEFINED[name], ParserOptions()).parse(_lines(lines))
    assert ours.rejects.height == 0 and theirs.rejects.height == 0
    assert_frame_equal(ours.rows.select(theirs.rows.columns), theirs.rows)
