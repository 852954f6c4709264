"""Retention limits from event dates, and the auditor's check of what a store reports."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from infra.config import RetentionSettings
from infra.retention import anniversary, check_retention, latest_retain_until, retain_until

COMPLIANCE_7 = RetentionSettings(mode="COMPLIANCE", years=7)
GOVERNANCE_7 = RetentionSettings(mode="GOVERNANCE", years=7)


def utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


@pytest.mark.parametrize(
    ("event_date", "years", "expected"),
    [
        pytest.param(date(2025, 3, 5), 7, utc(2032, 3, 6), id="ordinary-date"),
        pytest.param(date(2025, 6, 30), 1, utc(2026, 7, 1), id="month-end"),
        pytest.param(date(2025, 12, 31), 7, utc(2033, 1, 1), id="year-boundary"),
        pytest.param(date(2024, 2, 29), 7, utc(2031, 3, 2), id="feb29-onto-common-year-is-mar1"),
        pytest.param(date(2024, 2, 29), 4, utc(2028, 3, 1), id="feb29-onto-leap-year"),
        pytest.param(date(2024, 2, 28), 1, utc(2025, 3, 1), id="feb28"),
        pytest.param(date(2025, 3, 5), 0, utc(2025, 3, 6), id="zero-years-keeps-the-day"),
    ],
)
def test_retain_until(event_date: date, years: int, expected: datetime) -> None:
    until = retain_until(event_date, years)
    assert until == expected
    assert until.tzinfo is UTC and until.time() == datetime.min.time()
    # kept through the whole anniversary day
    assert until.date() == anniversary(event_date, years) + timedelta(days=1)


@pytest.mark.parametrize(
    ("dates", "expected"),
    [
        pytest.param([date(2025, 3, 5)], utc(2032, 3, 6), id="one-date"),
        pytest.param([date(2025, 12, 31), date(2026, 1, 1)], utc(2033, 1, 2), id="across-new-year"),
        pytest.param((d for d in [date(2026, 1, 1), date(2025, 12, 31)]), utc(2033, 1, 2), id="unordered-generator"),
        pytest.param([date(2024, 2, 28), date(2024, 2, 29)], utc(2031, 3, 2), id="feb28-and-feb29"),
    ],
)
def test_latest_retain_until(dates: list[date], expected: datetime) -> None:
    assert latest_retain_until(dates, 7) == expected


@pytest.mark.parametrize(
    ("call", "error"),
    [
        pytest.param(lambda: latest_retain_until([], 7), ValueError, id="no-dates"),
        pytest.param(lambda: retain_until(date(2025, 1, 1), -1), ValueError, id="negative-years"),
        pytest.param(lambda: retain_until(datetime(2025, 1, 1, 23, tzinfo=UTC), 7), TypeError, id="datetime-not-date"),
    ],
)
def test_retain_until_rejects(call: Callable[[], object], error: type[Exception]) -> None:
    with pytest.raises(error):
        call()


EVENT = date(2025, 3, 5)
REQUIRED = utc(2032, 3, 6)


@pytest.mark.parametrize(
    ("mode", "until", "policy", "expected"),
    [
        pytest.param("COMPLIANCE", REQUIRED, COMPLIANCE_7, None, id="ok-exact"),
        pytest.param("COMPLIANCE", utc(2040, 1, 1), COMPLIANCE_7, None, id="ok-longer"),
        pytest.param("COMPLIANCE", REQUIRED.astimezone(timezone(timedelta(hours=2))), COMPLIANCE_7, None, id="ok-other-zone"),
        pytest.param("COMPLIANCE", REQUIRED.replace(tzinfo=None), COMPLIANCE_7, None, id="ok-naive-is-utc"),
        pytest.param("COMPLIANCE", REQUIRED, GOVERNANCE_7, None, id="compliance-satisfies-governance"),
        pytest.param("GOVERNANCE", REQUIRED, GOVERNANCE_7, None, id="ok-governance"),
        pytest.param(
            None, None, COMPLIANCE_7, "no Object Lock retention; the policy requires COMPLIANCE until 2032-03-06", id="missing-lock"
        ),
        pytest.param("COMPLIANCE", None, COMPLIANCE_7, "incomplete Object Lock retention (mode COMPLIANCE", id="mode-without-date"),
        pytest.param(None, REQUIRED, COMPLIANCE_7, "incomplete Object Lock retention (mode None", id="date-without-mode"),
        pytest.param(
            "GOVERNANCE",
            REQUIRED,
            COMPLIANCE_7,
            "retention mode GOVERNANCE is weaker than the policy's COMPLIANCE",
            id="governance-vs-compliance",
        ),
        pytest.param("LEGAL", REQUIRED, COMPLIANCE_7, "unknown retention mode 'LEGAL'", id="unknown-mode"),
        pytest.param("COMPLIANCE", utc(2032, 3, 5), COMPLIANCE_7, "retained until 2032-03-05T00:00:00Z, 1 day short", id="too-short-a-day"),
        pytest.param(
            "COMPLIANCE", utc(2032, 3, 5, 23), COMPLIANCE_7, "1 h short of the required 2032-03-06T00:00:00Z", id="too-short-an-hour"
        ),
        pytest.param("COMPLIANCE", utc(2031, 3, 6), COMPLIANCE_7, "366 days short", id="too-short-a-year"),
        pytest.param("COMPLIANCE", REQUIRED, RetentionSettings(years=10), "(2025-03-05 + 10 years)", id="too-short-for-longer-policy"),
    ],
)
def test_check_retention(mode: str | None, until: datetime | None, policy: RetentionSettings, expected: str | None) -> None:
    problem = check_retention(mode, until, EVENT, policy)
    if expected is None:
        assert problem is None
    else:
        assert problem is not None and expected in problem and "\n" not in problem


def test_check_retention_reports_every_problem() -> None:
    problem = check_retention("GOVERNANCE", utc(2030, 1, 1), EVENT, COMPLIANCE_7)
    assert problem is not None
    assert problem.startswith("retention mode GOVERNANCE is weaker") and "; retained until 2030-01-01T00:00:00Z" in problem


def test_check_retention_several_dates_needs_the_latest() -> None:
    dates = [date(2025, 12, 31), date(2026, 1, 1)]
    assert check_retention("COMPLIANCE", utc(2033, 1, 2), dates, COMPLIANCE_7) is None
    problem = check_retention("COMPLIANCE", utc(2033, 1, 1), dates, COMPLIANCE_7)
    assert problem is not None and "(2026-01-01 + 7 years)" in problem
