"""Where everything lives in the archive: one place that builds and parses object keys.

::

    events/source=S/date=YYYY-MM-DD/hour=HH/part-<batch>.parquet      rows, by UTC event hour
    quarantine/source=S/date=…/hour=…/part-<batch>.parquet            rows of batches that failed validation
    rejects/source=S/date=…/hour=…/part-<batch>.parquet               unparseable lines, at the batch hour
    raw/source=S/date=…/hour=…/<sha256>.log.zst                       the received file, zstd
    validation/source=S/date=…/hour=…/<batch>.json                    the validation report
    manifests/source=S/<batch>.json                                   the batch's commit record
    digests/date=YYYY-MM-DD/hour=HH/hourly.json                       the signed digest of an hour
    digests/date=…/hour=…/backfill-<sequence>.json                    late batches of a sealed hour
    digests/head.json                                                 hint: the chain's latest digest
    keys/<fingerprint>.pub.pem                                        public keys, for auditors

Custody of files taken from the proxies, before they are archived (:mod:`proxyvault.rotate`)::

    landing/source=S/<sha256>.log.zst                                 a taken file, zstd, until archived
    receipts/source=S/<content-sha256>.json                           its receipt: custody starts here
    ledger/date=YYYY-MM-DD/source=S/<content-sha256>.json             the day's ledger entry, pointing to it

A *batch* is one received file of one source; its id is the first 16 hex digits of the
file's SHA-256, so every object of a batch names it and the manifest's key follows from
any of them. The *batch hour* is the hour of the batch's first event (of its receipt when
it has none): rejects, raw and validation objects sit there. Events sit in the hour of
each row. Manifests are not partitioned by time because a batch can span hours; readers
find them through digests, or from any of the batch's objects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

#: Tables whose keys are partitioned by source, date and hour.
HOURLY_TABLES = ("events", "quarantine", "rejects", "raw", "validation")
#: Folders of the custody hand-off: outside the digest chain, checked against manifests.
CUSTODY_TABLES = ("landing", "receipts", "ledger")
HEAD_KEY = "digests/head.json"
HOUR = timedelta(hours=1)

_HOURLY_KEY = re.compile(
    r"(?P<table>[a-z]+)/source=(?P<source>[^/]+)/date=(?P<date>\d{4}-\d{2}-\d{2})/hour=(?P<hour>\d{2})/"
    r"(?:part-(?P<part>[0-9a-f]{16})\.parquet|(?P<raw>[0-9a-f]{64})\.log\.zst|(?P<report>[0-9a-f]{16})\.json)"
)
_MANIFEST_KEY = re.compile(r"manifests/source=(?P<source>[^/]+)/(?P<batch>[0-9a-f]{16})\.json")
_LANDING_KEY = re.compile(r"landing/source=(?P<source>[^/]+)/(?P<sha>[0-9a-f]{64})\.log\.zst")
_RECEIPT_KEY = re.compile(r"receipts/source=(?P<source>[^/]+)/(?P<sha>[0-9a-f]{64})\.json")
_LEDGER_KEY = re.compile(r"ledger/date=(?P<date>\d{4}-\d{2}-\d{2})/source=(?P<source>[^/]+)/(?P<sha>[0-9a-f]{64})\.json")
_DIGEST_KEY = re.compile(r"digests/date=(?P<date>\d{4}-\d{2}-\d{2})/hour=(?P<hour>\d{2})/(?:hourly|backfill-(?P<seq>\d{9}))\.json")


def batch_id(sha256: str) -> str:
    """The batch id of a received file: the first 16 hex digits of its SHA-256."""
    return sha256[:16]


def floor_hour(value: datetime) -> datetime:
    """The UTC hour ``value`` falls in.

    >>> floor_hour(datetime(2026, 11, 22, 10, 59, 59, tzinfo=UTC)).isoformat()
    '2026-11-22T10:00:00+00:00'
    """
    value = value.astimezone(UTC)
    return value.replace(minute=0, second=0, microsecond=0)


def hours_between(start: datetime, end: datetime) -> list[datetime]:
    """The UTC hours that overlap [start, end)."""
    hours = []
    hour = floor_hour(start)
    while hour < end:
        hours.append(hour)
        hour += HOUR
    return hours


def hour_prefix(table: str, source: str, hour: datetime) -> str:
    """``events/source=S/date=2026-11-22/hour=10/``"""
    hour = floor_hour(hour)
    return f"{table}/source={source}/date={hour:%Y-%m-%d}/hour={hour:%H}/"


def date_prefix(table: str, source: str, hour: datetime) -> str:
    return f"{table}/source={source}/date={hour.astimezone(UTC):%Y-%m-%d}/"


def part_key(table: str, source: str, hour: datetime, batch: str) -> str:
    """A Parquet part of a batch: ``events``, ``quarantine`` or ``rejects``."""
    return f"{hour_prefix(table, source, hour)}part-{batch}.parquet"


def raw_key(source: str, hour: datetime, sha256: str) -> str:
    return f"{hour_prefix('raw', source, hour)}{sha256}.log.zst"


def validation_key(source: str, hour: datetime, batch: str) -> str:
    return f"{hour_prefix('validation', source, hour)}{batch}.json"


def manifest_key(source: str, batch: str) -> str:
    return f"manifests/source={source}/{batch}.json"


def digest_key(hour: datetime, sequence: int | None = None) -> str:
    """The hourly digest's key, or a backfill digest's (``sequence`` given)."""
    hour = floor_hour(hour)
    name = "hourly" if sequence is None else f"backfill-{sequence:09d}"
    return f"digests/date={hour:%Y-%m-%d}/hour={hour:%H}/{name}.json"


def landing_key(source: str, sha256: str) -> str:
    """A taken file, as zstd of its bytes, named by the SHA-256 of those bytes."""
    return f"landing/source={source}/{sha256}.log.zst"


def receipt_key(source: str, content_sha256: str) -> str:
    """A taken file's receipt, named by the SHA-256 of its content (decompressed): one per content, whatever its name."""
    return f"receipts/source={source}/{content_sha256}.json"


def ledger_key(day: date, source: str, content_sha256: str) -> str:
    """The entry of the day a file was taken, pointing to its receipt: lists what a day took."""
    return f"{ledger_day_prefix(day)}source={source}/{content_sha256}.json"


def ledger_day_prefix(day: date) -> str:
    return f"ledger/date={day:%Y-%m-%d}/"


def digest_date_prefix(day: datetime) -> str:
    return f"digests/date={day.astimezone(UTC):%Y-%m-%d}/"


def public_key_key(fingerprint: str) -> str:
    return f"keys/{fingerprint.removeprefix('SHA256:')}.pub.pem"


@dataclass(frozen=True)
class KeyParts:
    """What a key says about itself."""

    table: str
    source: str | None
    hour: datetime | None
    batch: str | None


def parse_key(key: str) -> KeyParts | None:
    """Read a key back; None for keys outside the layout.

    >>> parse_key("events/source=a/date=2026-11-22/hour=10/part-0123456789abcdef.parquet").batch
    '0123456789abcdef'
    >>> parse_key("manifests/source=a/0123456789abcdef.json").table
    'manifests'
    """
    if m := _HOURLY_KEY.fullmatch(key):
        hour = datetime.fromisoformat(f"{m['date']}T{m['hour']}:00:00+00:00")
        batch = m["part"] or m["report"] or (m["raw"] and batch_id(m["raw"]))
        if (m["part"] and m["table"] not in ("events", "quarantine", "rejects")) or (m["raw"] and m["table"] != "raw"):
            return None
        if m["report"] and m["table"] != "validation":
            return None
        return KeyParts(m["table"], m["source"], hour, batch)
    if m := _MANIFEST_KEY.fullmatch(key):
        return KeyParts("manifests", m["source"], None, m["batch"])
    if m := _LANDING_KEY.fullmatch(key):
        return KeyParts("landing", m["source"], None, batch_id(m["sha"]))
    if m := _RECEIPT_KEY.fullmatch(key):
        return KeyParts("receipts", m["source"], None, None)
    if m := _LEDGER_KEY.fullmatch(key):
        return KeyParts("ledger", m["source"], datetime.fromisoformat(f"{m['date']}T00:00:00+00:00"), None)
    if m := _DIGEST_KEY.fullmatch(key):
        return KeyParts("digests", None, datetime.fromisoformat(f"{m['date']}T{m['hour']}:00:00+00:00"), None)
    return None


def utc_text(value: datetime | None) -> str | None:
    """``2026-11-22T10:00:00Z``: how times are written in manifests and digests."""
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
