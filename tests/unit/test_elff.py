"""ELFF specifics the golden files cannot show: errors, chunk boundaries, carried columns."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from proxyvault.normalize import Provenance, normalize_file
from transforms.normalize import TimeZoneError
from transforms.parsers import ParserOptions, build_parser
from transforms.parsers.base import FormatError
from transforms.parsers.elff import PREDEFINED, ElffParser

HEADER = "#Fields: date time c-ip sc-status cs-method cs-uri-scheme cs-host cs-uri-path x-virus-id\n"
LINE = "2026-10-10 10:00:{s:02d} 10.0.0.{n} 200 GET http h{n}.example /p -\n"


def _normalize(
    tmp_path: Path, text: str, options: ParserOptions | None = None, chunk_bytes: int = 1 << 20
) -> tuple[pl.DataFrame, pl.DataFrame]:
    log = tmp_path / "access.log"
    log.write_text(text, encoding="utf-8")
    summary = normalize_file(
        log, build_parser("elff", options or ParserOptions()), Provenance("t", "elff", None), tmp_path / "out", chunk_bytes
    )
    assert summary.reconciled
    return pl.read_parquet(summary.events_path), pl.read_parquet(summary.rejects_path)


def test_fields_declared_in_an_earlier_chunk_still_apply(tmp_path: Path) -> None:
    body = "".join(LINE.format(s=i % 60, n=i % 250) for i in range(400))
    rows, rejects = _normalize(tmp_path, "#Version: 1.0\n" + HEADER + body, chunk_bytes=2048)
    assert rejects.height == 0
    assert rows.height == 400
    assert rows["source_line"].to_list() == list(range(3, 403))


def test_a_new_file_forgets_the_previous_files_fields(tmp_path: Path) -> None:
    parser = build_parser("elff", ParserOptions())
    first, second = tmp_path / "a.log", tmp_path / "b.log"
    first.write_text(HEADER + LINE.format(s=1, n=1))
    second.write_text(LINE.format(s=2, n=2))
    normalize_file(first, parser, Provenance("t", "elff", None), tmp_path / "out")
    summary = normalize_file(second, parser, Provenance("t", "elff", None), tmp_path / "out")
    assert (summary.rows_out, summary.rejects_out) == (0, 1)
    assert "no #Fields directive before this line" in next(iter(summary.reject_reasons))


def test_date_directive_with_a_zone_needs_tz(tmp_path: Path) -> None:
    with pytest.raises(TimeZoneError, match=r"'#Date' states the zone '\+0200'.*--tz"):
        _normalize(tmp_path, "#Date: 2026-07-01 00:00:00 +0200\n" + HEADER + LINE.format(s=1, n=1))


def test_date_directive_offset_must_agree_with_tz(tmp_path: Path) -> None:
    with pytest.raises(TimeZoneError, match=r"line 1: .*states \+0200, but --tz Europe/London is \+0100"):
        _normalize(tmp_path, "#Date: 2026-07-01 00:00:00 +0200\n" + HEADER, ParserOptions(tz="Europe/London"))


def test_local_date_directive_converts_with_tz(tmp_path: Path) -> None:
    rows, _ = _normalize(
        tmp_path, "#Date: 2026-07-01 00:00:00 +0200\n" + HEADER + LINE.format(s=1, n=1), ParserOptions(tz="Europe/Brussels")
    )
    assert str(rows["event_time"][0]) == "2026-10-10 08:00:01+00:00"  # CEST in October: +0200


def test_gmt_date_directive_ignores_tz(tmp_path: Path) -> None:
    rows, _ = _normalize(tmp_path, "#Date: 2026-07-01 00:00:00\n" + HEADER + LINE.format(s=1, n=1), ParserOptions(tz="Europe/Brussels"))
    assert str(rows["event_time"][0]) == "2026-10-10 10:00:01+00:00"


def test_unknown_fields_are_kept_in_extra_and_quotes_removed(tmp_path: Path) -> None:
    text = '#Fields: date time c-ip cs-uri x-Custom-Field cs-categories\n2026-10-10 10:00:00 10.0.0.1 http://a/ "a ""b""" "News;Sports"\n'
    rows, _ = _normalize(tmp_path, text)
    assert dict(rows["extra"][0]) == {"x-Custom-Field": 'a "b"', "cs-categories": "News;Sports"}


def test_logformat_default_is_validated_at_build_time() -> None:
    with pytest.raises(FormatError, match="no time field"):
        ElffParser(ParserOptions(logformat="c-ip sc-status"))
    with pytest.raises(FormatError, match="twice"):
        ElffParser(ParserOptions(logformat="date time c-ip c-ip"))


def test_builtin_field_list() -> None:
    parser = ElffParser(ParserOptions(logformat="bcreportermain_v1"))
    assert {"user_agent", "referer", "content_type", "username", "url_host"} <= parser.carried_columns
    assert "client_port" not in parser.carried_columns  # bcreportermain_v1 does not log c-port
    assert len(PREDEFINED["bcreportermain_v1"].split()) == 27


def test_carried_columns_follow_the_fields_seen(tmp_path: Path) -> None:
    parser = build_parser("elff", ParserOptions())
    log = tmp_path / "a.log"
    log.write_text("#Fields: date time c-ip cs-uri\n2026-10-10 10:00:00 10.0.0.1 http://a/\n")
    normalize_file(log, parser, Provenance("t", "elff", None), tmp_path / "out")
    assert parser.carried_columns == frozenset(
        {"event_time", "client_ip", "url", "url_scheme", "url_host", "url_path", "url_query", "server_port"}
    )


@pytest.mark.parametrize(
    "prefix",
    [
        pytest.param("<134>Oct 10 13:55:36 sg ProxySG[1]: ", id="rfc3164-tag"),
        pytest.param("Oct  9 01:02:03 sg ", id="rfc3164-no-tag"),
        pytest.param("<13>1 2026-10-10T13:55:36Z sg ProxySG - - - ", id="rfc5424"),
        pytest.param('<13>1 2026-10-10T13:55:36Z sg ProxySG - - [a b="c"][d] ', id="rfc5424-sd"),
        pytest.param("", id="none"),
    ],
)
def test_syslog_prefixes_are_removed_from_directives_and_data(tmp_path: Path, prefix: str) -> None:
    rows, rejects = _normalize(tmp_path, prefix + HEADER + prefix + LINE.format(s=5, n=5))
    assert rejects.height == 0
    assert rows["client_ip"].to_list() == ["10.0.0.5"]


def test_recommended_field_list_logs_every_required_field() -> None:
    from transforms.parsers.elff import RECOMMENDED_FIELDS

    required = {"event_time", "http_version", "http_method", "content_type", "user_agent", "referer", "response_bytes", "username"}
    required |= {"client_ip", "client_port", "server_ip", "server_port", "url_host", "url", "status_code", "duration_ms", "proxy_action"}
    assert required <= ElffParser(ParserOptions(logformat=RECOMMENDED_FIELDS)).carried_columns
    assert PREDEFINED["vault"] == RECOMMENDED_FIELDS
