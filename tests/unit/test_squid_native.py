"""The native parser's split fast path must agree with the compiled-logformat regex path."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from proxyvault.sample import generate_lines
from transforms.parsers import ParserOptions, build_parser
from transforms.parsers.base import LINES_SCHEMA
from transforms.parsers.squid import SPEC, SquidNativeParser
from transforms.parsers.squid_logformat import SquidLogformatParser


def _lines(lines: list[str]) -> pl.DataFrame:
    return pl.DataFrame({"source_line": range(1, len(lines) + 1), "line": lines}, schema=LINES_SCHEMA)


def test_fast_path_agrees_with_the_logformat_regex() -> None:
    lines = _lines(list(generate_lines("squid", 3000, seed=11, damaged_every=97)))
    fast = SquidNativeParser(ParserOptions()).parse(lines)
    regex = SquidLogformatParser(SPEC, ParserOptions(), format_name="squid").parse(lines)
    assert fast.rows.height > 2900
    assert_frame_equal(fast.rows.select(regex.rows.columns), regex.rows)
    assert fast.rejects["source_line"].to_list() == regex.rejects["source_line"].to_list()


@pytest.mark.parametrize(
    ("line", "event_time"),
    [
        pytest.param("1790000000 5 10.0.0.1 TCP_MISS/200 1 GET http://x/ - HIER_NONE/- -", "2026-09-21T14:13:20+00:00", id="whole seconds"),
        pytest.param(
            "1790000000.5 5 10.0.0.1 TCP_MISS/200 1 GET http://x/ - HIER_NONE/- -", "2026-09-21T14:13:20.500000+00:00", id="tenths"
        ),
        pytest.param(
            "  1790000000.123      5   10.0.0.1  TCP_MISS/200 1 GET http://x/ - HIER_NONE/- -",
            "2026-09-21T14:13:20.123000+00:00",
            id="runs of spaces",
        ),
        pytest.param("1790000000.123\t5 10.0.0.1 TCP_MISS/200 1 GET http://x/ - HIER_NONE/- -", None, id="tab is not a separator"),
    ],
)
def test_epochs_and_spacing(line: str, event_time: str | None) -> None:
    result = build_parser("squid", ParserOptions()).parse(_lines([line]))
    if event_time is None:
        assert result.rows.height == 0 and result.rejects.height == 1
    else:
        assert result.rows["event_time"][0].isoformat() == event_time


def test_mixed_chunk_keeps_line_order() -> None:
    lines = [
        "1790000000.1 5 10.0.0.1 TCP_MISS/200 1 GET http://x/1 - HIER_NONE/- -",
        '1790000000.2 5 10.0.0.1 TCP_MISS/200 1 GET http://x/2 - HIER_NONE/- - "-" "curl/8"',
        "1790000000.3 5 10.0.0.1 TCP_MISS/200 1 GET http://x/3 - HIER_NONE/- -",
    ]
    result = build_parser("squid", ParserOptions()).parse(_lines(lines))
    assert result.rows["source_line"].to_list() == [1, 2, 3]
    assert result.rows["user_agent"].to_list() == [None, "curl/8", None]
