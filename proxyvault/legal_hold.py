"""Use case: place or lift a legal hold on everything archived for a time range.

A legal hold keeps objects whatever their retention says, until it is lifted. It covers
every object of the range's UTC hours: events and quarantine parts of those hours, and
for each batch with rows there its rejects, raw file, validation report and manifest;
plus the hours' digests, so the evidence chain is held with the data.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime

from infra.layout import HOURLY_TABLES, digest_date_prefix, hours_between, manifest_key, parse_key, utc_text
from infra.store import ObjectStore


def keys_in_range(store: ObjectStore, start: datetime, end: datetime, sources: Iterable[str] = ()) -> list[str]:
    """Every archived key that belongs to the UTC hours in [start, end), found from the hour partitions and manifests."""
    wanted_sources = set(sources)
    hours = {utc_text(h) for h in hours_between(start, end)}
    days = sorted({h[:10] for h in hours if h})
    keys: set[str] = set()
    manifests: set[str] = set()
    for table in HOURLY_TABLES:
        for source_prefix in store.list_prefixes(f"{table}/"):
            source = source_prefix[len(table) + len("/source=") : -1]
            if wanted_sources and source not in wanted_sources:
                continue
            for day in days:
                for key in store.list_keys(f"{source_prefix}date={day}/"):
                    parts = parse_key(key)
                    if parts and parts.batch and utc_text(parts.hour) in hours:
                        keys.add(key)
                        manifests.add(manifest_key(source, parts.batch))
    for mkey in manifests:
        data = store.get_if_exists(mkey)
        if data is None:
            continue
        keys.add(mkey)
        keys.update(o["key"] for o in json.loads(data)["objects"])
    for day in days:
        for key in store.list_keys(digest_date_prefix(datetime.fromisoformat(day))):
            parts = parse_key(key)
            if parts and utc_text(parts.hour) in hours:
                keys.add(key)
    return sorted(keys)


def set_legal_hold(
    store: ObjectStore,
    start: datetime,
    end: datetime,
    sources: Iterable[str],
    on: bool,
    progress: Callable[[str], None] | None = None,
) -> dict[str, object]:
    """Set (``on``) or clear the legal hold on :func:`keys_in_range`; returns counts and the keys."""
    keys = keys_in_range(store, start, end, sources)
    for i, key in enumerate(keys, 1):
        store.set_legal_hold(key, on)
        if progress and i % 100 == 0:
            progress(f"legal hold {'on' if on else 'off'}: {i}/{len(keys)} objects")
    return {"legal_hold": "on" if on else "off", "start": utc_text(start), "end": utc_text(end), "objects": len(keys), "keys": keys}
