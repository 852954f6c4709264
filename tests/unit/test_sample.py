"""The sample generator: every kind is deterministic, detected as its format, parsed whole,
and its damaged lines (and only those) are rejects. Traffic over a time span follows the
office-hours curve, splits and joins cleanly, and ``squid-local`` writes the right offsets."""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl
import pytest

from proxyvault.normalize import Provenance, normalize_detected, normalize_files, sample_lines
from proxyvault.sample import (
    DAMAGE,
    FORMATS,
    KINDS,
    LOCAL_TIME_LOGFORMAT,
    TRAFFIC_DAMAGE,
    _record,
    generate_lines,
    generate_traffic,
    header_lines,
    is_damaged,
    write_sample,
    write_traffic,
)
from transforms.parsers import PARSERS, ParserOptions, build_parser
from transforms.parsers.base import LINES_SCHEMA, ParseResult
from transforms.parsers.detect import CANDIDATES, DetectionError, detect_format
from transforms.parsers.squid_logformat import RECOMMENDED

LINES = 1500
DAMAGED_EVERY = 61
#: Kinds that ``--format auto`` recognises; the others (``squid-local``) need an explicit format.
DETECTED = [kind for kind in KINDS if FORMATS[kind][:2] in CANDIDATES]


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


@pytest.mark.parametrize("kind", DETECTED)
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
    summaries = [explicit]
    if kind in DETECTED:
        summaries.append(normalize_detected([path], ParserOptions(tz=tz), "s", None, tmp_path / "auto"))
    for summary in summaries:
        files = summary["files"]
        assert isinstance(files, list)
        (file,) = files
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
        files = summary["files"]
        assert isinstance(files, list)
        (file,) = files
        frames[kind] = pl.read_parquet(file["events_path"]).select(pl.col("event_time").dt.truncate("1s"), *COMPARED)
    reference = frames["squid"]
    assert reference.height == 400
    for kind, frame in frames.items():
        assert frame.equals(reference), kind


@pytest.mark.parametrize("kind", sorted(set(KINDS) - set(DETECTED)))
def test_a_kind_auto_detection_does_not_know_asks_for_a_format(kind: str, tmp_path: Path) -> None:
    """squid-local's spec is not among detection's candidates: detection says so rather than guess."""
    path = write_sample(tmp_path / "in.log", kind, 200, seed=5, damaged_every=7)
    with pytest.raises(DetectionError, match="give --format"):
        detect_format(sample_lines(path), ParserOptions(tz=FORMATS[kind][2]), where=path.name)


def test_local_time_logformat_is_the_recommended_one_timed_by_tl() -> None:
    assert RECOMMENDED.replace("%ts.%03tu", "[%tl]") == LOCAL_TIME_LOGFORMAT
    assert FORMATS["squid-local"] == ("squid-logformat", LOCAL_TIME_LOGFORMAT, None)
    # without a zone, generate_lines writes UTC
    assert all(" +0000] " in line for line in generate_lines("squid-local", 50))


# --- traffic over a time span -------------------------------------------------------------

MONDAY = datetime(2026, 10, 19, tzinfo=UTC)  # a Monday, a week before the end of summer time in Europe
SQUID_KINDS = ("squid", "squid-recommended")
_LOCAL_TIME = re.compile(r"^\[(\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d) ([+-]\d{4})\] ")


def _traffic(kind: str, start: datetime, end: datetime, per_hour: int = 120, **kwargs: Any) -> list[str]:
    """The records of generate_traffic (header lines dropped)."""
    lines = list(generate_traffic(kind, start, end, per_hour=per_hour, **kwargs))
    assert lines[: len(header_lines(kind))] == header_lines(kind)
    return lines[len(header_lines(kind)) :]


def _epoch_ms(line: str) -> int:
    """A squid / squid-recommended line's time, in milliseconds."""
    seconds, millis = line.split(" ", 1)[0].split(".")
    return int(seconds) * 1000 + int(millis)


def _ms(t: datetime) -> int:
    return (t - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def _parse(kind: str, lines: list[str]) -> ParseResult:
    name, spec, tz = FORMATS[kind]
    parser = build_parser(name, ParserOptions(logformat=spec, tz=tz))
    parser.start_file()
    return parser.parse(pl.DataFrame({"source_line": range(1, len(lines) + 1), "line": lines}, schema=LINES_SCHEMA))


@pytest.mark.parametrize("kind", KINDS)
def test_traffic_same_arguments_same_bytes(kind: str, tmp_path: Path) -> None:
    start, end = MONDAY + timedelta(hours=7), MONDAY + timedelta(hours=13)
    args: dict[str, Any] = {"per_hour": 150, "seed": 3, "damaged_every": 40, "tz": "Europe/Brussels"}
    a = write_traffic(tmp_path / "a.log", kind, start, end, **args)
    b = write_traffic(tmp_path / "b.log", kind, start, end, **args)
    c = write_traffic(tmp_path / "c.log", kind, start, end, **{**args, "seed": 4})
    assert (tmp_path / "a.log").read_bytes() == (tmp_path / "b.log").read_bytes() != (tmp_path / "c.log").read_bytes()
    assert a == b == len((tmp_path / "a.log").read_text(encoding="utf-8").splitlines())
    assert c > len(header_lines(kind))


@pytest.mark.parametrize("kind", SQUID_KINDS)
def test_traffic_times_strictly_increase_inside_the_span(kind: str) -> None:
    start = MONDAY + timedelta(hours=5, minutes=59, seconds=58, microseconds=123_456)
    end = MONDAY + timedelta(days=2, hours=3, seconds=1, microseconds=500)
    times = [_epoch_ms(line) for line in _traffic(kind, start, end, per_hour=900)]
    assert len(times) > 900 * 12
    assert all(a < b for a, b in pairwise(times))
    assert _ms(start) < times[0]  # start is at .123456 s: the first whole millisecond in the span is .124
    assert times[-1] <= _ms(end)  # end is at .0005 s: .000 is still before it


def test_traffic_hourly_counts_follow_the_curve() -> None:
    """A week in Brussels: nights ~5-10 % of the peak, a morning ramp, a lunch dip, weekends ~25 %."""
    per_hour = 1000
    zone = "Europe/Brussels"
    lines = _traffic("squid", MONDAY, MONDAY + timedelta(days=7), per_hour=per_hour, tz=zone)
    by_hour = Counter(_epoch_ms(line) // 3_600_000 for line in lines)
    first = _ms(MONDAY) // 3_600_000
    assert sorted(by_hour) == list(range(first, first + 7 * 24))  # every hour holds records
    local_hours: dict[tuple[int, int], int] = {}  # (day 0 = Monday, local hour) -> count
    for hour, count in by_hour.items():
        local = datetime.fromtimestamp(hour * 3600 + 1800, UTC).astimezone(ZoneInfo(zone))
        local_hours[((local.date() - MONDAY.date()).days, local.hour)] = count
    weekdays, weekend = range(5), (5, 6)

    def mean(days: Iterable[int], hours: Iterable[int]) -> float:
        values = [local_hours[(d, h)] for d in days for h in hours if (d, h) in local_hours]
        return sum(values) / len(values)

    night, peak = mean(weekdays, range(1, 5)), mean(weekdays, (10, 15))
    assert 0.04 * per_hour <= night <= 0.1 * per_hour
    assert 0.85 * per_hour <= peak <= 1.1 * per_hour
    assert mean(weekdays, (6,)) < mean(weekdays, (7,)) < mean(weekdays, (8,)) < mean(weekdays, (9,))  # the morning ramp
    assert mean(weekdays, (12,)) < 0.8 * mean(weekdays, (11, 13))  # the lunch dip
    assert mean(weekdays, range(19, 24)) < 0.4 * peak  # the evening tail
    assert mean(weekdays, range(19, 24)) > night
    assert max(by_hour.values()) <= 1.1 * per_hour + 1
    weekday_total = sum(c for (d, _), c in local_hours.items() if d in weekdays) / 5
    weekend_total = sum(c for (d, _), c in local_hours.items() if d in weekend) / 2
    assert 0.18 <= weekend_total / weekday_total <= 0.32
    assert mean(weekend, range(1, 5)) <= 0.1 * per_hour


def test_traffic_curve_is_read_in_the_zone() -> None:
    """08:00 UTC is mid-morning in Brussels and the middle of the night in New York."""
    day = (MONDAY + timedelta(hours=8), MONDAY + timedelta(hours=9))
    brussels = len(_traffic("squid", *day, per_hour=1000, tz="Europe/Brussels"))
    new_york = len(_traffic("squid", *day, per_hour=1000, tz="America/New_York"))
    utc = len(_traffic("squid", *day, per_hour=1000))
    assert brussels > 5 * new_york
    assert 0.6 * 1000 <= utc < brussels  # 08:00 UTC is still the morning ramp


def test_traffic_every_hour_has_a_record_at_the_lowest_rate() -> None:
    lines = _traffic("squid", MONDAY, MONDAY + timedelta(days=2), per_hour=1)
    hours = [_epoch_ms(line) // 3_600_000 for line in lines]
    assert sorted(set(hours)) == list(range(_ms(MONDAY) // 3_600_000, _ms(MONDAY) // 3_600_000 + 48))


@pytest.mark.parametrize("kind", KINDS)
def test_traffic_split_then_joined_is_one_call(kind: str) -> None:
    """[a, b) then [b, c) are the records of [a, c), wherever b falls (inside an hour, or on one)."""
    a, c = MONDAY + timedelta(hours=6, minutes=40), MONDAY + timedelta(hours=11, minutes=5)
    args: dict[str, Any] = {"per_hour": 200, "seed": 5, "damaged_every": 17, "tz": "Europe/Brussels"}
    whole = _traffic(kind, a, c, **args)
    assert len(whole) > 200
    for b in (MONDAY + timedelta(hours=8, minutes=17, seconds=23, milliseconds=456), MONDAY + timedelta(hours=9)):
        assert _traffic(kind, a, b, **args) + _traffic(kind, b, c, **args) == whole
    pieces = [a + timedelta(minutes=m) for m in range(0, 270, 37)] + [c]
    assert [line for x, y in pairwise(pieces) for line in _traffic(kind, x, y, **args)] == whole


def test_write_traffic_appends(tmp_path: Path) -> None:
    a, b, c = MONDAY, MONDAY + timedelta(hours=30), MONDAY + timedelta(days=2)
    path = tmp_path / "logs" / "access.log"
    first = write_traffic(path, "elff", a, b, per_hour=50)
    second = write_traffic(path, "elff", b, c, per_hour=50, append=True)
    text = path.read_text(encoding="utf-8").splitlines()
    headers = header_lines("elff")
    assert text == headers + _traffic("elff", a, b, per_hour=50) + headers + _traffic("elff", b, c, per_hour=50)
    assert first + second == len(text)
    assert write_traffic(path, "elff", a, b, per_hour=50) == first  # without append, the file is replaced
    assert len(path.read_text(encoding="utf-8").splitlines()) == first


def test_traffic_damage_replaces_records_in_place() -> None:
    """Damaged lines stand in for the same events: the other lines are those of an undamaged run."""
    span = (MONDAY + timedelta(hours=8), MONDAY + timedelta(hours=12))
    clean = _traffic("clf", *span, per_hour=500)
    damaged = _traffic("clf", *span, per_hour=500, damaged_every=25)
    assert len(clean) == len(damaged)
    changed = sum(a != b for a, b in zip(clean, damaged, strict=True))
    assert 0.5 * len(clean) / 25 <= changed <= 1.5 * len(clean) / 25


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("start", "end", "per_hour"),
    [
        (MONDAY + timedelta(hours=20, minutes=30), MONDAY + timedelta(days=1, hours=14), 150),  # a weekday night and morning
        (datetime(2026, 10, 24, 20, 30, tzinfo=UTC), datetime(2026, 10, 25, 14, tzinfo=UTC), 400),  # a weekend night, summer time ends
    ],
    ids=["weekday", "dst-weekend"],
)
def test_traffic_parses_with_rejects_only_on_damaged_lines(kind: str, start: datetime, end: datetime, per_hour: int) -> None:
    """Every kind's traffic parses with its FORMATS parser; the damaged lines, and only those, are rejects;
    the rows are the generated events (UTC instants, whole seconds outside Squid) in every kind."""
    args: dict[str, Any] = {"per_hour": per_hour, "seed": 8, "tz": "Europe/Brussels"}
    lines = list(generate_traffic(kind, start, end, damaged_every=29, **args))
    clean = list(generate_traffic(kind, start, end, **args))
    reference = _traffic("squid-recommended", start, end, **args)
    headers = len(header_lines(kind))
    damaged = [n for n, (a, b) in enumerate(zip(lines, clean, strict=True), start=1) if a != b]
    assert len(damaged) >= 20
    result = _parse(kind, lines)
    assert result.directives == headers
    assert result.rejects["source_line"].to_list() == damaged
    assert result.rows.height == len(lines) - headers - len(damaged)
    rows = result.rows.sort("source_line")
    expected_ms = [_epoch_ms(reference[n - 1 - headers]) for n in rows["source_line"].to_list()]
    unit = 1 if kind in SQUID_KINDS else 1000  # other formats (and %tl) log whole seconds
    got_ms = [_ms(t) for t in rows["event_time"].to_list()]
    assert got_ms == [ms // unit * unit for ms in expected_ms]
    assert got_ms == sorted(got_ms)
    assert _ms(start) <= got_ms[0] and got_ms[-1] < _ms(end)


@pytest.mark.parametrize(
    ("change", "before", "after"),
    [
        (datetime(2026, 10, 25, 1, tzinfo=UTC), "+0200", "+0100"),  # summer time ends: 03:00 CEST -> 02:00 CET
        (datetime(2026, 3, 29, 1, tzinfo=UTC), "+0100", "+0200"),  # summer time starts: 02:00 CET -> 03:00 CEST
    ],
)
def test_squid_local_offsets_across_dst(change: datetime, before: str, after: str) -> None:
    """Local wall-clock times with the offset of their instant, and the parser reads them back to that instant."""
    start, end = change - timedelta(hours=3), change + timedelta(hours=3)
    args: dict[str, Any] = {"per_hour": 2000, "seed": 2, "tz": "Europe/Brussels", "damaged_every": 0}
    local = _traffic("squid-local", start, end, **args)
    reference = _traffic("squid-recommended", start, end, **args)
    assert len(local) == len(reference) > 6
    offsets = []
    for line, ref in zip(local, reference, strict=True):
        found = _LOCAL_TIME.match(line)
        assert found is not None, line
        wall, offset = found.groups()
        instant = _epoch_ms(ref) // 1000
        assert offset == (before if instant < _ms(change) // 1000 else after)
        assert int(datetime.strptime(f"{wall} {offset}", "%d/%b/%Y:%H:%M:%S %z").timestamp()) == instant
        assert line[found.end() - 1 :] == ref[len(ref.split(" ", 1)[0]) :]  # the rest is the recommended line
        offsets.append(offset)
    assert offsets.count(before) > 0 and offsets.count(after) > 0
    if before == "+0200":  # the hour 02:00-03:00 is lived twice: once in summer time, once in winter time
        twice = {line[13:15] + off for line, off in zip(local, offsets, strict=True) if line[13:15] == "02"}
        assert twice == {"02+0200", "02+0100"}
    parsed = build_parser("squid-logformat", ParserOptions(logformat=LOCAL_TIME_LOGFORMAT)).parse(
        pl.DataFrame({"source_line": range(1, len(local) + 1), "line": local}, schema=LINES_SCHEMA)
    )
    assert parsed.rejects.height == 0
    assert [int(t.timestamp()) for t in parsed.rows.sort("source_line")["event_time"].to_list()] == [
        _epoch_ms(ref) // 1000 for ref in reference
    ]


def test_traffic_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        generate_traffic("squid", datetime(2026, 10, 19), MONDAY, per_hour=10)
    with pytest.raises(ValueError, match="per_hour"):
        generate_traffic("squid", MONDAY, MONDAY + timedelta(hours=1), per_hour=0)
    with pytest.raises(ValueError, match="unknown kind"):
        generate_traffic("bind", MONDAY, MONDAY + timedelta(hours=1), per_hour=10)
    with pytest.raises(ZoneInfoNotFoundError):
        generate_traffic("squid", MONDAY, MONDAY + timedelta(hours=1), per_hour=10, tz="Mars/Olympus_Mons")
    assert _traffic("squid", MONDAY, MONDAY) == []


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("variant", [0, 1, 2])
def test_each_kind_of_traffic_damage_is_a_reject(kind: str, variant: int) -> None:
    """TRAFFIC_DAMAGE rejects on any date (the 31st, February, leap or not) and in a local zone."""
    lines = list(header_lines(kind))
    for i in range(250):
        r = _record(random.Random(i), i)
        t = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=3 * i, seconds=977 * i)
        r["ts"] = f"{_ms(t) // 1000}.{i % 1000:03d}"
        r["tz"] = "Europe/Brussels"
        lines.append(TRAFFIC_DAMAGE[kind](r, variant))
    result = _parse(kind, lines)
    assert result.rows.height == 0
    assert result.rejects.height == len(lines) - len(header_lines(kind))
