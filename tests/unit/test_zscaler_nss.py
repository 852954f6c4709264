"""Zscaler NSS specifics the golden files cannot show: the zone requirement, key aliases,
%-decoding, URL shapes, JSON the fast reader refuses, and chunking."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from proxyvault.normalize import Provenance, normalize_file
from transforms.normalize import TimeZoneError
from transforms.parsers import ParserOptions, build_parser
from transforms.parsers.base import LINES_SCHEMA, FormatError
from transforms.parsers.zscaler_nss import JsonLines, _unescape_column, unescape_nss

UTC = ParserOptions(tz="UTC")
EVENT = {
    "time": "Mon Sep 21 14:13:20 2026",
    "login": "jane@example.com",
    "proto": "HTTPS",
    "eurl": "www.example.com/a?b=c",
    "action": "Allowed",
}


def _wrapped(event: dict[str, object], sourcetype: str = "zscalernss-web") -> str:
    return json.dumps({"sourcetype": sourcetype, "event": event}, separators=(",", ":"))


def _lines(lines: list[str]) -> pl.DataFrame:
    return pl.DataFrame({"source_line": range(1, len(lines) + 1), "line": lines}, schema=LINES_SCHEMA)


def _parse(lines: list[str], options: ParserOptions = UTC) -> tuple[pl.DataFrame, pl.DataFrame]:
    result = build_parser("zscaler-nss", options).parse(_lines(lines))
    return result.rows, result.rejects


def test_the_feed_zone_is_required() -> None:
    with pytest.raises(FormatError, match=r"^zscaler-nss times carry no UTC offset; give the NSS feed's time zone with --tz \(UTC"):
        build_parser("zscaler-nss", ParserOptions())
    with pytest.raises(TimeZoneError, match=r"unknown time zone 'GMT\+1'"):
        build_parser("zscaler-nss", ParserOptions(tz="GMT+1"))


@pytest.mark.parametrize(
    ("tz", "expected"),
    [
        pytest.param("UTC", "2026-09-21T14:13:20+00:00", id="GMT feed"),
        pytest.param("Europe/Brussels", "2026-09-21T12:13:20+00:00", id="Brussels feed"),
        pytest.param("America/New_York", "2026-09-21T18:13:20+00:00", id="New York feed"),
    ],
)
def test_time_is_read_in_the_feed_zone(tz: str, expected: str) -> None:
    rows, _ = _parse([_wrapped(EVENT)], ParserOptions(tz=tz))
    assert rows["event_time"][0].isoformat() == expected


def test_epochtime_wins_and_the_time_text_is_kept() -> None:
    rows, _ = _parse([_wrapped(EVENT | {"epochtime": "1790000000"})], ParserOptions(tz="Europe/Brussels"))
    assert rows["event_time"][0].isoformat() == "2026-09-21T14:13:20+00:00"
    assert rows["extra"][0]["time"] == "Mon Sep 21 14:13:20 2026"


def test_wrapped_and_bare_records_are_the_same_row() -> None:
    rows, rejects = _parse([_wrapped(EVENT), json.dumps(EVENT), '{ "sourcetype" : "zscalernss-web", "event" : ' + json.dumps(EVENT) + " }"])
    assert rejects.height == 0
    assert rows.drop("source_line").unique().height == 1


@pytest.mark.parametrize("sourcetype", ["zscalernss-fw", "zscalernss-dns", "zscalernss-audit", "zscalernss-tunnel", "zscalernss-casb"])
def test_other_feeds_are_rejected(sourcetype: str) -> None:
    _, rejects = _parse([_wrapped(EVENT, sourcetype)])
    assert rejects["reason"].to_list() == [f"not a web-feed record (sourcetype {sourcetype})"]


def test_first_alias_wins_and_the_others_are_kept() -> None:
    event = EVENT | {"user": "other@example.com", "cip": "10.0.0.1", "ClientIP": "10.0.0.2", "respcode": "NA", "status": "204"}
    rows, _ = _parse([_wrapped(event)])
    row = rows.row(0, named=True)
    assert (row["username"], row["client_ip"], row["status_code"]) == ("jane@example.com", "10.0.0.1", 204)
    assert row["extra"] == {"proto": "HTTPS", "user": "other@example.com", "ClientIP": "10.0.0.2"}


@pytest.mark.parametrize(
    ("event", "url", "scheme", "host", "port", "path", "query"),
    [
        pytest.param(
            {"proto": "HTTP", "eurl": "www.example.com/a?b=c"},
            "www.example.com/a?b=c",
            "http",
            "www.example.com",
            80,
            "/a",
            "b=c",
            id="http",
        ),
        pytest.param(
            {"proto": "HTTPS", "eurl": "www.example.com:8443/"},
            "www.example.com:8443/",
            "https",
            "www.example.com",
            8443,
            "/",
            None,
            id="https port",
        ),
        pytest.param(
            {"proto": "HTTP_PROXY", "eurl": "www.example.com:443", "reqmethod": "CONNECT"},
            "www.example.com:443",
            None,
            "www.example.com",
            443,
            None,
            None,
            id="connect",
        ),
        pytest.param(
            {"proto": "HTTP", "eurl": "www.example.com", "reqmethod": "CONNECT"},
            "www.example.com",
            None,
            "www.example.com",
            None,
            None,
            None,
            id="connect no port",
        ),
        pytest.param(
            {"proto": "SSL", "eurl": "secure.example.com"}, "secure.example.com", None, "secure.example.com", None, None, None, id="ssl"
        ),
        pytest.param({"proto": "TUNNEL", "eurl": "10.1.2.3:22"}, "10.1.2.3:22", None, "10.1.2.3", 22, None, None, id="tunnel"),
        pytest.param(
            {"proto": "HTTPS", "eurl": "https://www.example.com/x"},
            "https://www.example.com/x",
            "https",
            "www.example.com",
            443,
            "/x",
            None,
            id="with scheme",
        ),
        pytest.param(
            {"proto": "FTP", "eurl": "ftp.example.com/pub/f.txt"},
            "ftp.example.com/pub/f.txt",
            "ftp",
            "ftp.example.com",
            21,
            "/pub/f.txt",
            None,
            id="ftp",
        ),
        pytest.param(
            {"protocol": "HTTPS", "url": "[2001:db8::1]:8443/x"},
            "[2001:db8::1]:8443/x",
            "https",
            "2001:db8::1",
            8443,
            "/x",
            None,
            id="ipv6",
        ),
        pytest.param(
            {"proto": "HTTPS", "eurl": "www.example.com/", "srv_dport": "8443"},
            "www.example.com/",
            "https",
            "www.example.com",
            8443,
            "/",
            None,
            id="srv_dport",
        ),
    ],
)
def test_url_shapes(
    event: dict[str, str], url: str, scheme: str | None, host: str, port: int | None, path: str | None, query: str | None
) -> None:
    base = {k: v for k, v in EVENT.items() if k not in ("proto", "eurl")}
    rows, rejects = _parse([_wrapped(base | event)])
    assert rejects.height == 0
    row = rows.row(0, named=True)
    assert (row["url"], row["url_scheme"], row["url_host"], row["server_port"], row["url_path"], row["url_query"]) == (
        url,
        scheme,
        host,
        port,
        path,
        query,
    )


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        pytest.param("Mozilla/5.0%20(X11%3b%20Linux)", "Mozilla/5.0 (X11; Linux)", id="ascii"),
        pytest.param("K%C3%A4rnten%20%E6%97%A5%E6%9C%AC", "Kärnten 日本", id="utf-8"),
        pytest.param("caf%E9", "caf\\xe9", id="not utf-8"),
        pytest.param("a%0Ab%09c%7F", "a%0Ab%09c%7F", id="control characters stay encoded"),
        pytest.param("100%25%20sure%", "100% sure%", id="lone percent"),
        pytest.param("%2541", "%41", id="decoded once"),
        pytest.param("%zz%4", "%zz%4", id="not escapes"),
    ],
)
def test_unescape(encoded: str, decoded: str) -> None:
    assert unescape_nss(encoded) == decoded
    frame = _unescape_column(pl.DataFrame({"ua": [encoded, "x%20y"]}), "ua")  # vectorised path where it can
    assert frame["ua"].to_list() == [decoded, "x y"]


def test_user_agent_and_username_are_decoded_urls_and_extra_are_not() -> None:
    event = EVENT | {"login": "j%2Edoe%40example.com", "ua": "curl/8%2E0", "eurl": "www.example.com/a%20b", "location": "Road%20Warrior"}
    row = _parse([_wrapped(event)])[0].row(0, named=True)
    assert (row["username"], row["user_agent"], row["url"], row["url_path"]) == (
        "j.doe@example.com",
        "curl/8.0",
        "www.example.com/a%20b",
        "/a%20b",
    )
    assert row["extra"]["location"] == "Road%20Warrior"


@pytest.mark.parametrize("placeholder", ["None", "NA", "N/A", "", " ", "-"])
def test_placeholders_are_null(placeholder: str) -> None:
    event = EVENT | {"reqmethod": placeholder, "respcode": placeholder, "ua": placeholder, "threatname": placeholder}
    rows, rejects = _parse([_wrapped(event)])
    assert rejects.height == 0
    row = rows.row(0, named=True)
    assert (row["http_method"], row["status_code"], row["user_agent"]) == (None, None, None)
    assert "threatname" not in row["extra"]


def test_a_broken_line_does_not_spoil_its_chunk() -> None:
    good = [_wrapped(EVENT | {"eurl": f"www.example.com/{i}"}) for i in range(50)]
    lines = [*good[:20], '{"sourcetype":"zscalernss-web","event":{"time":', *good[20:], _wrapped(EVENT) + " trailing"]
    rows, rejects = _parse(lines)
    assert rows.height == 50 and rows["url"].to_list() == [f"www.example.com/{i}" for i in range(50)]
    assert rows["source_line"].to_list() == [*range(1, 21), *range(22, 52)]
    assert rejects["source_line"].to_list() == [21, 52]
    assert all(r.startswith("invalid JSON (expected one object per line): ") for r in rejects["reason"])


def test_values_of_any_json_type_and_any_key_are_kept() -> None:
    event = EVENT | {
        "_reason": "x",
        "source_line": "7",
        "reqsize": 512,
        "riskscore": 1.5,
        "bwthrottle": True,
        "dlpdict": None,
        "tags": ["a", "b"],
        "geo": {"cc": "BE"},
    }
    row = _parse([_wrapped(event)])[0].row(0, named=True)
    assert row["request_bytes"] == 512
    assert {k: row["extra"][k] for k in ("_reason", "source_line", "riskscore", "bwthrottle", "tags", "geo")} == {
        "_reason": "x",
        "source_line": "7",
        "riskscore": "1.5",
        "bwthrottle": "true",
        "tags": '["a","b"]',
        "geo": '{"cc":"BE"}',
    }


def test_iso_dates_stay_text_in_every_chunk() -> None:
    """pyarrow would read ISO strings as timestamps and lose their text."""
    reader = JsonLines()
    for stamp in ("2026-09-21 16:30:00", "2026-09-21T16:30:00Z", "2026-09-21"):
        frame = _lines([json.dumps({"datetime": "2026-09-21 16:30:00", "bypassedtime": stamp})])
        records = reader.records(frame)
        assert records["@bypassedtime"].to_list() == [stamp] and records["@datetime"].to_list() == ["2026-09-21 16:30:00"]


def test_chunks_keep_line_order(tmp_path: Path) -> None:
    lines = [_wrapped(EVENT | {"eurl": f"www.example.com/{i}"}) if i % 13 else "not json" for i in range(400)]
    log = tmp_path / "nss.log"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = normalize_file(log, build_parser("zscaler-nss", UTC), Provenance("t", "zscaler-nss", None), tmp_path / "out", 4096)
    assert summary.reconciled and summary.rejects_out == 31
    rows = pl.read_parquet(summary.events_path)
    assert rows["url"].to_list() == [f"www.example.com/{i}" for i in range(400) if i % 13]
