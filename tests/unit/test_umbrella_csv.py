"""Umbrella CSV specifics the golden files cannot show: both split paths agree with a plain
reference reader, versions by column count, the header row, chunking and options."""

from __future__ import annotations

import random
from pathlib import Path

import polars as pl
import pytest

from proxyvault.normalize import Provenance, normalize_file
from transforms.normalize import TimeZoneError
from transforms.parsers import ParserOptions, build_parser
from transforms.parsers.base import LINES_SCHEMA
from transforms.parsers.umbrella_csv import FIELDS, VERSIONS, quick_split, regex_fields

ROW = [
    "2026-09-21 14:13:20",
    "LAPTOP-0042",
    "10.20.30.40",
    "203.0.113.9",
    "198.51.100.7",
    "text/html",
    "ALLOWED",
    "https://www.example.com/a?b=c",
    "",
    "curl/8.14.1",
    "200",
    "812",
    "15330",
    "14800",
]


def _line(values: list[str], sep: str = ",") -> str:
    return sep.join('"' + v.replace('"', '""') + '"' for v in values)


def _row(count: int) -> list[str]:
    return (ROW + [""] * count)[:count]


def _lines(lines: list[str]) -> pl.DataFrame:
    return pl.DataFrame({"source_line": range(1, len(lines) + 1), "line": lines}, schema=LINES_SCHEMA)


def _parse(lines: list[str], options: ParserOptions | None = None) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    result = build_parser("umbrella-csv", options or ParserOptions()).parse(_lines(lines))
    return result.rows, result.rejects, result.directives


def _reference(line: str) -> list[str] | None:
    """A plain character-by-character reader of the format, None when the line is broken:
    double-quoted fields, ``""`` inside, commas, spaces and tabs allowed around them."""
    i, n, fields = 0, len(line), []
    while True:
        while i < n and line[i] in " \t":
            i += 1
        if i >= n or line[i] != '"':
            return None
        i += 1
        value = []
        while True:
            if i >= n:
                return None
            if line[i] == '"':
                if line[i + 1 : i + 2] == '"':
                    value.append('"')
                    i += 2
                    continue
                i += 1
                break
            value.append(line[i])
            i += 1
        text = "".join(value)
        fields.append(text if text.strip() else "")
        while i < n and line[i] in " \t":
            i += 1
        if i == n:
            return fields
        if line[i] != ",":
            return None
        i += 1


def test_split_paths_agree_with_a_reference_reader() -> None:
    rng = random.Random(5)
    alphabet = ["a", "b", ",", '"', " ", "é", ""]
    lines = ['",","b"', '""", "', '" ,","x"']  # cases that once fooled the quick split
    for _ in range(5000):
        fields = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 4))) for _ in range(rng.randint(1, 5))]
        sep = rng.choice([",", ",", ", ", " ,", " , "])
        line = (" " if rng.random() < 0.1 else "") + _line(fields, sep)
        if rng.random() < 0.1:  # damage: drop or add a quote
            cut = rng.randrange(len(line))
            line = line[:cut] + rng.choice(['"', ""]) + line[cut + 1 :]
        lines.append(line)
    text = pl.Series(lines)
    pieces, simple = quick_split(text)
    fast = pieces.list.eval(pl.element().str.strip_prefix('"').str.strip_suffix('"'))
    slow = regex_fields(text)
    checked = 0
    for line, is_simple, fast_fields, slow_fields in zip(lines, simple.to_list(), fast.to_list(), slow.to_list(), strict=True):
        expected = _reference(line)
        assert slow_fields == expected, line
        if is_simple:
            assert fast_fields == expected, line
            checked += 1
    assert checked > 1000


@pytest.mark.parametrize(
    ("count", "ok"),
    [pytest.param(n, n in VERSIONS, id=f"{n} columns") for n in (1, 22, 23, 24, 26, 31, 32, 33, 35, 36, 37, 48, 49, 50)],
)
def test_column_count_picks_the_version(count: int, ok: bool) -> None:
    rows, rejects, _ = _parse([_line(_row(count))])
    if ok:
        assert rows.height == 1 and rows["status_code"][0] == 200
    else:
        assert rejects["reason"].to_list() == [f"expected 23, 32, 35, 37 or 49 columns, got {count}"]


def test_fields_are_named_by_position() -> None:
    values = [f"v{i}" for i in range(len(FIELDS))]
    values[0], values[10], values[11], values[12], values[25] = "2026-09-21 14:13:20", "204", "1", "2", "get"
    rows, rejects, _ = _parse([_line(values)])
    assert rejects.height == 0
    row = rows.row(0, named=True)
    assert (row["proxy_action"], row["url"], row["referer"], row["user_agent"], row["http_method"]) == ("v6", "v7", "v8", "v9", "GET")
    assert row["extra"]["Response Body Size"] == "v13"
    assert row["extra"]["Organization ID"] == "v48"
    assert set(row["extra"]) == {
        f
        for f in FIELDS
        if f
        not in (
            "Timestamp",
            "Internal Client IP",
            "Destination IP",
            "Content Type",
            "Action",
            "URL",
            "Referer",
            "User Agent",
            "Status Code",
            "Request Size",
            "Response Size",
            "Request Method",
        )
    }


@pytest.mark.parametrize(
    ("identity_type", "username"),
    [
        pytest.param("AD Users", "Jane Doe (jane@example.com)", id="AD user"),
        pytest.param("Roaming Computers", None, id="computer"),
        pytest.param("Networks", None, id="network"),
    ],
)
def test_username_only_for_ad_users(identity_type: str, username: str | None) -> None:
    values = _row(23)
    values[1], values[21] = "Jane Doe (jane@example.com)", identity_type
    rows, _, _ = _parse([_line(values)])
    assert rows["username"][0] == username
    assert rows["extra"][0]["Policy Identity Label"] == "Jane Doe (jane@example.com)"


@pytest.mark.parametrize(
    "line",
    [
        pytest.param(" " + _line(_row(23)), id="leading space"),
        pytest.param(_line(_row(23), ", "), id="space after commas"),
        pytest.param(_line(_row(23), " , ") + "  ", id="spaces around commas and after"),
    ],
)
def test_spacing_around_fields(line: str) -> None:
    rows, rejects, _ = _parse([line])
    assert rejects.height == 0
    assert rows["url"][0] == "https://www.example.com/a?b=c" and rows["response_bytes"][0] == 15330


def test_whitespace_only_fields_are_null() -> None:
    values = _row(23)
    values[9], values[15] = " ", "  "
    for line in (_line(values), _line(values, ", "), _line(values).replace('"a', '"a""')):
        rows, _, _ = _parse([line])
        assert rows["user_agent"][0] is None and "Categories" not in rows["extra"][0]


def test_header_row_is_a_directive_only_at_the_start_of_a_file() -> None:
    header = _line(["Timestamp", *FIELDS[1:23]])
    parser = build_parser("umbrella-csv", ParserOptions())
    first = parser.parse(_lines([header, _line(_row(23))]))
    assert (first.directives, first.rows.height, first.rejects.height) == (1, 1, 0)
    later = parser.parse(_lines([header]))  # the same file's next chunk: data, so a reject
    assert later.directives == 0 and later.rejects["reason"][0].startswith("bad time 'Timestamp'")
    parser.start_file()
    assert parser.parse(_lines([header])).directives == 1


def test_times_are_utc_whatever_the_zone(tmp_path: Path) -> None:
    rows, _, _ = _parse([_line(_row(23))], ParserOptions(tz="America/New_York"))
    assert rows["event_time"][0].isoformat() == "2026-09-21T14:13:20+00:00"
    with pytest.raises(TimeZoneError, match="unknown time zone 'Mars/Olympus'"):
        build_parser("umbrella-csv", ParserOptions(tz="Mars/Olympus"))


def test_chunks_and_mixed_paths_keep_line_order(tmp_path: Path) -> None:
    lines = []
    for i in range(300):
        values = _row((23, 32, 35)[i % 3])
        values[0] = f"2026-09-21 14:{i // 60:02d}:{i % 60:02d}"
        if i % 7 == 0:
            values[9] = 'Agent "quoted", v1'  # regex path
        lines.append(_line(values) if i % 11 else "broken")
    log = tmp_path / "proxy.csv"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = normalize_file(
        log, build_parser("umbrella-csv", ParserOptions()), Provenance("t", "umbrella-csv", None), tmp_path / "out", 4096
    )
    assert summary.reconciled and summary.rejects_out == 28
    rows = pl.read_parquet(summary.events_path)
    assert rows["source_line"].to_list() == [n for n in range(1, 301) if (n - 1) % 11]
    assert rows.filter(pl.col("source_line") == 8)["user_agent"][0] == 'Agent "quoted", v1'
