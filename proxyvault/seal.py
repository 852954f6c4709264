"""Use case: seal closed UTC hours into the signed digest chain.

One *hourly* digest per UTC hour per store lists the manifest (key, SHA-256, size) of
every committed batch with rows in that hour, or of every batch filed under it (its
batch hour). An hour without data gets an empty digest: positive evidence that nothing
arrived. A batch committed after its hour was sealed (late data, a backfill, a crashed
batch completed later) gets a *backfill* digest for that hour, listing only what the
earlier digests of the hour did not.

Digests form one chain in the order they are sealed: each names the previous digest's
key, SHA-256 and signature, and the fingerprint of the Ed25519 key that signed it, so
deleting, reordering or editing any digest breaks the chain at a named place. A small
mutable hint, ``digests/head.json``, says where the chain ends; it is never trusted by
verification, and sealing checks it against the digest it names before extending.

Sealing is one writer at a time per store (one Airflow pool slot, or one cron job).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from infra.config import RetentionSettings
from infra.integrity import Signer, canonical_json, public_pem, sha256_hex, signed_document
from infra.layout import (
    HEAD_KEY,
    HOUR,
    date_prefix,
    digest_key,
    floor_hour,
    hour_prefix,
    manifest_key,
    parse_key,
    parse_utc,
    public_key_key,
    utc_text,
)
from infra.retention import retain_until
from infra.store import ObjectStore, StoreError

DIGEST_FORMAT = "proxyvault.digest/1"
#: Tables whose hour partitions say which batches touch an hour.
_TOUCHING_TABLES = ("events", "quarantine", "raw")


class ChainError(StoreError):
    """The digest chain cannot be extended safely; the message says what is wrong and the fix."""


@dataclass(frozen=True)
class ChainHead:
    key: str
    sha256: str
    sequence: int
    signature: str
    #: The latest hour with an hourly digest.
    sealed_through: datetime | None


@dataclass
class SealResult:
    digests: list[str] = field(default_factory=list)
    hourly: int = 0
    empty: int = 0
    backfill: int = 0
    sealed_through: str | None = None
    #: Objects in sealed hours whose batch has no manifest yet (a batch still being archived, or a crashed one).
    uncommitted: list[str] = field(default_factory=list)


def read_head(store: ObjectStore) -> ChainHead | None:
    """The chain's end per the head hint, checked against the digest it names."""
    hint_data = store.get_if_exists(HEAD_KEY)
    if hint_data is None:
        return None
    hint = json.loads(hint_data)
    key = hint["key"]
    data = store.get_if_exists(key)
    if data is None:
        raise ChainError(
            f"{store.location}: {HEAD_KEY} names {key}, which is missing; run `proxyvault verify` and investigate before sealing"
        )
    if sha256_hex(data) != hint["sha256"]:
        raise ChainError(f"{store.location}: {key} does not hash to what {HEAD_KEY} says; run `proxyvault verify` and investigate")
    digest = json.loads(data)
    sealed = hint.get("sealed_through")
    return ChainHead(key, hint["sha256"], digest["sequence"], digest["signature"], parse_utc(sealed) if sealed else None)


class _Partitions:
    """Lists hour partitions a date at a time, so sealing a day costs a few list calls per source."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self.sources: dict[str, list[str]] = {}
        self.dates: dict[str, list[str]] = {}

    def sources_of(self, table: str) -> list[str]:
        if table not in self.sources:
            prefixes = self.store.list_prefixes(f"{table}/")
            self.sources[table] = [p[len(table) + len("/source=") : -1] for p in prefixes if p.startswith(f"{table}/source=")]
        return self.sources[table]

    def keys(self, table: str, source: str, hour: datetime) -> list[str]:
        prefix = date_prefix(table, source, hour)
        if prefix not in self.dates:
            self.dates[prefix] = list(self.store.list_keys(prefix))
        wanted = hour_prefix(table, source, hour)
        return [k for k in self.dates[prefix] if k.startswith(wanted)]


def batches_touching(
    store: ObjectStore, hour: datetime, partitions: _Partitions | None = None
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Committed batches with objects in ``hour``: manifest key -> digest entry; plus uncommitted object keys."""
    partitions = partitions or _Partitions(store)
    entries: dict[str, dict[str, Any]] = {}
    uncommitted: list[str] = []
    for table in _TOUCHING_TABLES:
        for source in partitions.sources_of(table):
            for key in partitions.keys(table, source, hour):
                parts = parse_key(key)
                if parts is None or parts.batch is None:
                    continue  # not ours: verification reports it
                mkey = manifest_key(source, parts.batch)
                if mkey in entries:
                    continue
                data = store.get_if_exists(mkey)
                if data is None:
                    uncommitted.append(key)
                    continue
                manifest = json.loads(data)
                rows = sum(
                    o.get("rows", 0) for o in manifest["objects"] if o["kind"] in ("events", "quarantine") and o["hour"] == utc_text(hour)
                )
                entries[mkey] = {
                    "key": mkey,
                    "sha256": sha256_hex(data),
                    "size": len(data),
                    "source": source,
                    "batch": parts.batch,
                    "rows": rows,
                }
    return entries, sorted(uncommitted)


def _listed_in_hour(store: ObjectStore, hour: datetime) -> set[str]:
    listed: set[str] = set()
    prefix = digest_key(hour).rsplit("/", 1)[0] + "/"
    for key in store.list_keys(prefix):
        listed.update(m["key"] for m in json.loads(store.get_bytes(key))["manifests"])
    return listed


def _earliest_hour(store: ObjectStore) -> datetime | None:
    """The first hour any batch is filed under (from ``raw/``, where every batch has an object)."""
    earliest: datetime | None = None
    for source_prefix in store.list_prefixes("raw/"):
        dates = store.list_prefixes(source_prefix)
        if not dates:
            continue
        first_key = next(iter(store.list_keys(dates[0])), None)
        parts = parse_key(first_key) if first_key else None
        if parts and parts.hour and (earliest is None or parts.hour < earliest):
            earliest = parts.hour
    return earliest


def seal(
    store: ObjectStore,
    signer: Signer,
    until: datetime,
    retention: RetentionSettings,
    *,
    recheck: Iterable[datetime] = (),
    start: datetime | None = None,
) -> SealResult:
    """Seal every hour before ``until`` not sealed yet, and backfill ``recheck`` hours.

    The first seal of a store starts at ``start``, else at the earliest hour with data.
    ``recheck``: already sealed hours that may have received late batches (what
    :func:`proxyvault.archive.archive_file` reports); each gets a backfill digest if so.
    """
    until = floor_hour(until)
    head = read_head(store)
    result = SealResult()
    partitions = _Partitions(store)
    store.put_bytes(public_key_key(signer.fingerprint), public_pem(signer.public_key))

    def append(hour: datetime, kind: str, manifests: list[dict[str, Any]]) -> None:
        nonlocal head
        sequence = head.sequence + 1 if head else 1
        key = digest_key(hour, None if kind == "hourly" else sequence)
        document = {
            "format": DIGEST_FORMAT,
            "kind": kind,
            "hour": utc_text(hour),
            "hour_end": utc_text(hour + HOUR),
            "sequence": sequence,
            "manifests": sorted(manifests, key=lambda m: m["key"]),
            "previous_digest_key": head.key if head else None,
            "previous_digest_sha256": head.sha256 if head else None,
            "previous_signature": head.signature if head else None,
            "public_key_fingerprint": signer.fingerprint,
        }
        data = signed_document(document, signer)
        present = store.head(key)
        if present is not None and present.sha256 != sha256_hex(data):
            # an earlier seal wrote this digest and stopped before moving the head: adopt it
            # if it extends the same chain end, else refuse (two sealers, or tampering)
            data = store.get_bytes(key)
            if json.loads(data).get("previous_digest_key") != document["previous_digest_key"]:
                raise ChainError(
                    f"{store.location}: {key} exists and does not follow {document['previous_digest_key']}; "
                    "another sealer ran or the chain was altered: run `proxyvault verify`"
                )
        else:
            store.put_bytes(key, data, retain_until=retain_until(hour.date(), retention.years))
        signed = json.loads(data)
        sealed_through = hour if kind == "hourly" else (head.sealed_through if head else None)
        head = ChainHead(key, sha256_hex(data), signed["sequence"], signed["signature"], sealed_through)
        store.put_pointer(
            HEAD_KEY,
            canonical_json({"key": head.key, "sha256": head.sha256, "sequence": head.sequence, "sealed_through": utc_text(sealed_through)}),
        )
        result.digests.append(key)

    sealed_through = head.sealed_through if head else None
    for hour in sorted({floor_hour(h) for h in recheck}):
        if sealed_through is None or hour > sealed_through:
            continue  # not sealed yet: the hourly digest will list it
        entries, _ = batches_touching(store, hour, partitions)
        listed = _listed_in_hour(store, hour)
        new = [e for k, e in entries.items() if k not in listed]
        if new:
            append(hour, "backfill", new)
            result.backfill += 1

    first: datetime | None = sealed_through + HOUR if sealed_through else (floor_hour(start) if start else _earliest_hour(store))
    hour = first or until
    while hour < until:
        entries, uncommitted = batches_touching(store, hour, partitions)
        result.uncommitted += uncommitted
        append(hour, "hourly", list(entries.values()))
        result.hourly += 1
        result.empty += not entries
        hour += HOUR
    result.sealed_through = utc_text(head.sealed_through) if head and head.sealed_through else None
    return result
