"""Archive keys (infra/layout.py): built and parsed back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from infra.layout import (
    digest_key,
    hours_between,
    manifest_key,
    parse_key,
    part_key,
    raw_key,
    validation_key,
)

HOUR = datetime(2026, 11, 22, 7, 30, tzinfo=UTC)
SHA = "0123456789abcdef" + "0" * 48


@pytest.mark.parametrize(
    ("key", "table", "batch"),
    [
        pytest.param(part_key("events", "edge-1", HOUR, SHA[:16]), "events", SHA[:16], id="events"),
        pytest.param(part_key("quarantine", "edge-1", HOUR, SHA[:16]), "quarantine", SHA[:16], id="quarantine"),
        pytest.param(part_key("rejects", "edge-1", HOUR, SHA[:16]), "rejects", SHA[:16], id="rejects"),
        pytest.param(raw_key("edge-1", HOUR, SHA), "raw", SHA[:16], id="raw"),
        pytest.param(validation_key("edge-1", HOUR, SHA[:16]), "validation", SHA[:16], id="validation"),
        pytest.param(manifest_key("edge-1", SHA[:16]), "manifests", SHA[:16], id="manifest"),
    ],
)
def test_keys_parse_back(key: str, table: str, batch: str) -> None:
    parts = parse_key(key)
    assert parts is not None
    assert (parts.table, parts.source, parts.batch) == (table, "edge-1", batch)
    if table != "manifests":
        assert parts.hour == HOUR.replace(minute=0)
        assert "/date=2026-11-22/hour=07/" in key


def test_digest_keys() -> None:
    assert digest_key(HOUR) == "digests/date=2026-11-22/hour=07/hourly.json"
    assert digest_key(HOUR, 42) == "digests/date=2026-11-22/hour=07/backfill-000000042.json"
    parsed = parse_key(digest_key(HOUR, 42))
    assert parsed is not None and parsed.table == "digests" and parsed.hour == HOUR.replace(minute=0)


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("events/source=a/date=2026-11-22/hour=07/evil.parquet", id="unknown-name"),
        pytest.param("raw/source=a/date=2026-11-22/hour=07/part-0123456789abcdef.parquet", id="part-under-raw"),
        pytest.param("events/source=a/date=2026-11-22/hour=07/" + SHA + ".log.zst", id="raw-under-events"),
        pytest.param("notes.txt", id="outside"),
    ],
)
def test_foreign_keys_are_not_ours(key: str) -> None:
    assert parse_key(key) is None


def test_hours_between_is_half_open() -> None:
    start = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    assert len(hours_between(start, start + timedelta(hours=2))) == 3
    assert hours_between(start.replace(minute=0), start.replace(minute=0) + timedelta(hours=2))[-1].hour == 1
