"""Clock sanity: future events, time running backwards, events outside the rotation window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from expectations.clock import clock_flags
from expectations.suites import EventWindow

T0 = datetime(2026, 10, 25, 0, 45, tzinfo=UTC)  # the night Europe/Brussels leaves summer time
MINUTE = timedelta(minutes=1)


def batch(*offsets_min: float, file: str = "f1") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "source_file_sha256": [file] * len(offsets_min),
            "source_line": list(range(1, len(offsets_min) + 1)),
            "event_time": [T0 + o * MINUTE for o in offsets_min],
        },
        schema={"source_file_sha256": pl.String, "source_line": pl.Int64, "event_time": pl.Datetime("us", "UTC")},
    )


WINDOW = EventWindow(start=T0, end=T0 + 15 * MINUTE, received_at=T0 + 16 * MINUTE, skew=5 * MINUTE)


def flags(frame: pl.DataFrame, window: EventWindow = WINDOW) -> dict[str, tuple[int, int]]:
    return {f.check: (f.rows, f.first_line) for f in clock_flags(frame, window)}


def test_a_healthy_file_has_no_flags() -> None:
    # small disorder (requests finishing out of order) is within the skew
    assert flags(batch(0, 1, 0.5, 3, 2.9, 10, 14, 15)) == {}


def test_future_events() -> None:
    assert flags(batch(0, 1, 22, 23), EventWindow(received_at=T0 + 16 * MINUTE, skew=5 * MINUTE)) == {"future": (2, 3)}


def test_clock_set_back() -> None:
    # an NTP step of one hour back at line 3: every later line is behind the latest seen
    assert flags(batch(10, 11, -50, -49, -48), EventWindow(skew=5 * MINUTE)) == {"backwards": (3, 3)}


def test_start_time_formats_allow_long_requests() -> None:
    # a 40-minute tunnel, logged when it ends with its start time (Apache, ProxySG, ...)
    frame = batch(10, 11, -29, 12)
    assert flags(frame, EventWindow(skew=5 * MINUTE)) == {"backwards": (1, 3)}
    assert flags(frame, EventWindow(skew=5 * MINUTE, start_allowance=timedelta(hours=1))) == {}


def test_outside_the_rotation_window() -> None:
    assert flags(batch(0, 1, 2, 30)) == {"future": (1, 4), "outside_window": (1, 4)}
    assert flags(batch(-90, 1, 2, 3)) == {"outside_window": (1, 1)}  # an hour shifted: a zone applied twice


def test_one_file_at_a_time() -> None:
    # two files: the second starting earlier would look like a clock going back
    frame = pl.concat([batch(10, 11), batch(0, 1, file="f2")])
    with pytest.raises(ValueError, match="one source file"):
        clock_flags(frame, EventWindow(skew=5 * MINUTE))


@pytest.mark.parametrize("shuffle", [False, True])
def test_file_order_is_source_line_order(shuffle: bool) -> None:
    frame = batch(10, 11, -50)
    if shuffle:
        frame = frame.reverse()
    assert flags(frame, EventWindow(skew=5 * MINUTE)) == {"backwards": (1, 3)}


def test_detail_names_the_line_and_time() -> None:
    (flag,) = clock_flags(batch(0, 30), EventWindow(received_at=T0 + 16 * MINUTE, skew=5 * MINUTE))
    assert flag.detail == "1 events later than the receipt time 2026-10-25T01:01:00Z + skew; first at line 2 (2026-10-25T01:15:00Z)"
