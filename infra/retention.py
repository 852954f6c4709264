"""How long an archived object must be kept: its event date plus the policy's years.

Pure date arithmetic (standard library only), shared by the stores (which send the
date with each write), provisioning and the auditor (which checks what a store says).

The rule, precisely:

* ``event_date`` is a **UTC calendar date** (the date of the events an object holds,
  not the date it was uploaded: a backfill of old logs is kept no longer than the logs
  were due, a late upload is not kept longer).
* Its *anniversary* ``years`` later is the same month and day ``years`` later; the
  anniversary of **29 February** in a year without one is **1 March** (the later
  choice: 28 February would keep the object a day less than the full years).
* The object is kept for the whole anniversary day: it is retained until **midnight
  UTC at the start of the day after the anniversary**.

So an event on 2025-03-05 with a 7-year policy is retained until 2032-03-06T00:00Z,
and an event on 2024-02-29 until 2031-03-02T00:00Z (2031 has no 29 February).

An object that spans several dates (a raw log file that crosses midnight) is kept
until the latest of its dates' limits (:func:`latest_retain_until`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # infra.config pulls in polars; this module stays standard library only
    from infra.config import RetentionSettings

#: How strong each Object Lock mode is: COMPLIANCE (nobody can shorten or lift it)
#: satisfies a GOVERNANCE policy, not the other way round.
MODE_STRENGTH = {"GOVERNANCE": 1, "COMPLIANCE": 2}


def anniversary(event_date: date, years: int) -> date:
    """The same month and day ``years`` later; 29 February onto a year without one: 1 March.

    >>> anniversary(date(2025, 3, 5), 7)
    datetime.date(2032, 3, 5)
    >>> anniversary(date(2024, 2, 29), 7)
    datetime.date(2031, 3, 1)
    >>> anniversary(date(2024, 2, 29), 4)
    datetime.date(2028, 2, 29)
    """
    if isinstance(event_date, datetime):
        raise TypeError(f"{event_date!r}: pass the event's UTC calendar date (e.g. ts.astimezone(UTC).date()), not a datetime")
    if isinstance(years, bool) or not isinstance(years, int) or years < 0:
        raise ValueError(f"{years!r} is not a whole number of years ≥ 0")
    try:
        return event_date.replace(year=event_date.year + years)
    except ValueError:  # 29 February, and the target year has none
        return date(event_date.year + years, 3, 1)


def retain_until(event_date: date, years: int) -> datetime:
    """Midnight UTC at the start of the day after ``event_date``'s anniversary ``years`` later.

    >>> retain_until(date(2025, 3, 5), 7)
    datetime.datetime(2032, 3, 6, 0, 0, tzinfo=datetime.timezone.utc)
    >>> retain_until(date(2024, 2, 29), 7)  # 2031 has no 29 February: anniversary 1 March
    datetime.datetime(2031, 3, 2, 0, 0, tzinfo=datetime.timezone.utc)
    >>> retain_until(date(2025, 12, 31), 7)  # the whole of 2032-12-31 is covered
    datetime.datetime(2033, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
    """
    return datetime.combine(anniversary(event_date, years) + timedelta(days=1), time(), tzinfo=UTC)


def latest_retain_until(dates: Iterable[date], years: int) -> datetime:
    """The latest :func:`retain_until` of ``dates``: what an object holding all of them needs.

    >>> latest_retain_until([date(2025, 12, 31), date(2026, 1, 1)], 1)
    datetime.datetime(2027, 1, 2, 0, 0, tzinfo=datetime.timezone.utc)
    """
    limits = [retain_until(d, years) for d in dates]
    if not limits:
        raise ValueError("no event dates: an object's retention needs at least one")
    return max(limits)


def utc_text(value: datetime) -> str:
    """``2032-03-06T00:00:00Z`` (a naive datetime is taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def check_retention(
    info_mode: str | None,
    info_until: datetime | None,
    event_date: date | Iterable[date],
    policy: RetentionSettings,
) -> str | None:
    """What is wrong with an object's lock for ``policy``, in one line; None when it complies.

    ``info_mode`` and ``info_until`` are what the store says about the object (S3's
    ``ObjectLockMode`` and ``ObjectLockRetainUntilDate``; a naive datetime is taken as
    UTC); ``event_date`` is its event date, or all of them for an object spanning
    several. Violations: no lock, an unknown mode, a weaker mode than the policy's
    (GOVERNANCE where COMPLIANCE is required; COMPLIANCE always satisfies GOVERNANCE),
    and a retain-until earlier than :func:`latest_retain_until`. Several are joined
    with ``"; "``.

    >>> from types import SimpleNamespace as Policy
    >>> policy = Policy(mode="COMPLIANCE", years=7)
    >>> check_retention("COMPLIANCE", datetime(2032, 3, 6, tzinfo=UTC), date(2025, 3, 5), policy) is None
    True
    >>> print(check_retention("COMPLIANCE", datetime(2032, 3, 5, tzinfo=UTC), date(2025, 3, 5), policy))
    retained until 2032-03-05T00:00:00Z, 1 day short of the required 2032-03-06T00:00:00Z (2025-03-05 + 7 years)
    """
    dates = [event_date] if isinstance(event_date, date) else sorted(event_date)
    required = latest_retain_until(dates, policy.years)
    basis = f"{dates[-1].isoformat()} + {policy.years} years"
    if info_mode is None and info_until is None:
        return f"no Object Lock retention; the policy requires {policy.mode} until {utc_text(required)} ({basis})"
    if info_mode is None or info_until is None:
        return (
            f"incomplete Object Lock retention (mode {info_mode}, retain-until {info_until and utc_text(info_until)}); "
            f"the policy requires {policy.mode} until {utc_text(required)} ({basis})"
        )
    problems: list[str] = []
    if info_mode not in MODE_STRENGTH:
        problems.append(f"unknown retention mode {info_mode!r}; the policy requires {policy.mode}")
    elif MODE_STRENGTH[info_mode] < MODE_STRENGTH[policy.mode]:
        problems.append(f"retention mode {info_mode} is weaker than the policy's {policy.mode} (privileged users can lift it)")
    until = info_until if info_until.tzinfo is not None else info_until.replace(tzinfo=UTC)
    if until < required:
        problems.append(
            f"retained until {utc_text(until)}, {_shortfall(required - until)} short of the required {utc_text(required)} ({basis})"
        )
    return "; ".join(problems) or None


def _shortfall(delta: timedelta) -> str:
    """``1 day``, ``365 days``, ``3 h`` (under a day), ``12 s`` (under an hour)."""
    if delta >= timedelta(days=1):
        days = delta.days
        return f"{days} day" if days == 1 else f"{days} days"
    if delta >= timedelta(hours=1):
        return f"{delta.seconds // 3600} h"
    return f"{max(int(delta.total_seconds()), 1)} s"
