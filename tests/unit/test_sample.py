"""The sample generator: every kind is deterministic, detected as its format, parsed whole,
and its damaged lines (and only those) are rejects."""

from __future__ import annotations

import random
from pathlib import Path

import polars as pl
import pytest

from proxyvault.normalize import Provenance, normalize_detected, normalize_files, sample_lines
from proxyvault.sample import DAMAGE, FORMATS, KINDS, _record, header_lines, is_damaged, write_sample
from transforms.parsers import PARSERS, ParserOptions, build_parser
from transforms.parsers.base import LINES_SCHEMA
from transforms.parsers.detect import detect_format

LINES = 1500
DAMAGED_EVERY = 61


def _options(kind: str) -> ParserOptions:
    _, spec, tz = FORMATS[kind]
    return ParserOptions(tz=tz, logformat=spec)


def test_every_kind_has_a_registered_format() -> None:
    assert set(KINDS) == set(FORMATS) == set(DAMAGE)
    assert {FORMATS[kind][0] for kind in KINDS} == set(PARSERS)


@pytest.mark.parametrize("kind", KINDS)
def test_same_seed_same_bytes(kind: str, tmp_path: Path) -> None:
    a = write_sample(tmp_path / "a.log", kind, 500, seed=3, damaged_every=50).read_bytes()
    b = write_sample(tmp_path / "b.log", kind, 500, seed=3, damaged_every=50).read_bytes()
    c = write_sample(tmp_path / "c.log", kind, 500, seed=4, damaged_every=50).read_bytes()
    assert a == b
    assert a != c
    assert len(a.decode().splitlines()) == 500 + len(header_lines(kind))


@pytest.mark.parametrize("kind", KINDS)
def test_auto_detection_picks_the_kind_format(kind: str, tmp_path: Path) -> None:
    path = write_sample(tmp_path / "in.log", kind, 200, seed=5, damaged_every=7)
    detection = detect_format(sample_lines(path), ParserOptions(tz=FORMATS[kind][2]), where=path.name)
    assert detection.format_name == FORMATS[kind][0]
    assert detection.options.logformat == FORMATS[kind][1]


@pytest.mark.parametrize("kind", KINDS)
def test_every_line_parses_except_the_damaged_ones(kind: str, tmp_path: Path) -> None:
    path = write_sample(tmp_path / "in.log", kind, LINES, seed=9, damaged_every=DAMAGED_EVERY)
    name, _, tz = FORMATS[kind]
    damaged = [i + 1 + len(header_lines(kind)) for i in range(LINES) if is_damaged(i, DAMAGED_EVERY)]
    explicit = normalize_files([path], build_parser(name, _options(kind)), Provenance("s", name, None), tmp_path / "explicit")
    auto = normalize_detected([path], ParserOptions(tz=tz), "s", None, tmp_path / "auto")
    for summary in (explicit, auto):
        (file,) = summary["files"]  # type: ignore[misc]
        assert file["format"] == name
        assert file["reconciled"]
        assert file["lines_in"] == LINES + len(header_lines(kind))
        assert file["directives"] == len(header_lines(kind))
        assert file["rows_out"] == LINES - len(damaged)
        assert file["rejects_out"] == len(damaged)
        rejects = pl.read_parquet(file["rejects_path"])
        assert rejects["source_line"].to_list() == damaged
        assert rejects["reason"].null_count() == 0 and (rejects["reason"].str.len_chars() > 10).all()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("variant", [0, 1, 2])
def test_each_kind_of_damage_is_a_reject(kind: str, variant: int) -> None:
    """Every damage variant, on records of every shape (CONNECT, error: URLs, IPv6, ...)."""
    lines = header_lines(kind) + [DAMAGE[kind](_record(random.Random(i), i), variant) for i in range(0, 2000, 20)]
    frame = pl.DataFrame({"source_line": range(1, len(lines) + 1), "line": lines}, schema=LINES_SCHEMA)
    parser = build_parser(FORMATS[kind][0], _options(kind))
    parser.start_file()
    result = parser.parse(frame)
    assert result.rows.height == 0
    assert result.rejects.height == len(lines) - len(header_lines(kind))


COMPARED = ["client_ip", "http_method", "url_host", "status_code", "response_bytes"]


def test_the_same_events_in_every_kind(tmp_path: Path) -> None:
    """Line n of every kind is the same request: same second, client, method, host, status, size."""
    frames = {}
    for kind in KINDS:
        path = write_sample(tmp_path / f"{kind}.log", kind, 400, seed=2)
        name = FORMATS[kind][0]
        summary = normalize_files([path], build_parser(name, _options(kind)), Provenance("s", name, None), tmp_path / kind)
        (file,) = summary["files"]  # type: ignore[misc]
        frames[kind] = pl.read_parquet(file["events_path"]).select(pl.col("event_time").dt.truncate("1s"), *COMPARED)
    reference = frames["squid"]
    assert reference.height == 400
    for kind, frame in frames.items():
        assert frame.equals(reference), kind
