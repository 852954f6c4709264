"""Use case: verify the archive against its signed digest chain.

What is checked, for the hours in range (default: the whole chain):

* every digest: its Ed25519 signature under a trusted key, that its key matches the hour
  and kind it claims, and its link to the previous digest (that digest exists, hashes to
  ``previous_digest_sha256`` and carries ``previous_signature``);
* every hour: covered (an hourly digest exists, empty or not) or a gap;
* every manifest a digest lists: present, and hashing to what the digest says;
* every object a manifest lists: present, and its bytes (re-read and hashed, streaming)
  matching the manifest's size and SHA-256;
* every object in the range's partitions that no verified manifest lists, and every
  manifest no digest lists: unreferenced.

Each item ends up ``valid``, ``invalid``, ``missing`` or ``unreferenced``; each hour
``covered`` or ``gap``. ``offline`` verifies a restored folder: only what the folder
holds is judged, and what it does not hold is counted as ``not_present``, not a problem.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from infra.integrity import fingerprint, load_public_key, sha256_hex, signature_problem
from infra.layout import (
    CUSTODY_TABLES,
    HEAD_KEY,
    HOUR,
    HOURLY_TABLES,
    digest_date_prefix,
    digest_key,
    hours_between,
    manifest_key,
    parse_key,
    parse_utc,
    utc_text,
)
from infra.store import ObjectMissingError, ObjectStore, sha256_stream

STATUSES = ("valid", "invalid", "missing", "unreferenced", "gap")
PROBLEMS = ("invalid", "missing", "unreferenced", "gap")
#: Objects re-hashed at once: hashlib releases the GIL on large blocks, so two threads
#: use both cores of a small machine.
HASH_THREADS = 2

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Finding:
    status: str  # invalid | missing | unreferenced | gap
    kind: str  # digest | manifest | object | hour
    key: str
    detail: str


@dataclass
class VerifyReport:
    location: str
    start: str | None
    end: str | None
    sources: list[str]
    offline: bool = False
    #: counts per status, over digests, manifests, objects and hours
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    checked: dict[str, int] = field(default_factory=lambda: {"digests": 0, "manifests": 0, "objects": 0, "hours": 0})
    covered_hours: int = 0
    #: offline: keys that verified documents list but the folder does not hold (not judged)
    not_present: list[str] = field(default_factory=list)
    #: objects of hours not sealed yet (after sealed_through) and their manifests: not judged until sealed
    pending: int = 0
    bytes_hashed: int = 0
    sealed_through: str | None = None
    key_fingerprints: list[str] = field(default_factory=list)
    trust: str = ""
    problems: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, status: str, kind: str, key: str, detail: str = "") -> None:
        self.counts[status] = self.counts.get(status, 0) + 1
        if status in PROBLEMS:
            self.problems.append(Finding(status, kind, key, detail))

    def to_json(self) -> dict[str, Any]:
        return {
            "location": self.location,
            "start": self.start,
            "end": self.end,
            "sources": self.sources,
            "offline": self.offline,
            "ok": self.ok,
            "counts": self.counts,
            "checked": self.checked,
            "covered_hours": self.covered_hours,
            "not_present": self.not_present,
            "pending": self.pending,
            "bytes_hashed": self.bytes_hashed,
            "sealed_through": self.sealed_through,
            "key_fingerprints": self.key_fingerprints,
            "trust": self.trust,
            "problems": [vars(p) for p in self.problems],
        }

    def render(self) -> str:
        span = f"{self.start or 'start of chain'} .. {self.end or 'end of chain'}"
        lines = [
            f"verify {self.location} ({'offline, ' if self.offline else ''}{span}"
            + (f", sources {', '.join(self.sources)})" if self.sources else ")")
        ]
        lines.append("  " + "  ".join(f"{s}: {self.counts.get(s, 0)}" for s in STATUSES) + f"  (covered hours: {self.covered_hours})")
        lines.append(
            f"  checked {self.checked['digests']} digests, {self.checked['manifests']} manifests, {self.checked['objects']} objects "
            f"({self.bytes_hashed / 1e6:,.1f} MB re-hashed); sealed through {self.sealed_through or '-'}; {self.trust}"
        )
        if self.not_present:
            lines.append(
                f"  {len(self.not_present)} listed items are not in this folder (not restored), not judged, e.g. {self.not_present[0]}"
            )
        if self.pending:
            lines.append(f"  {self.pending} objects of batches archived after the last seal: judged once their hours are sealed")
        for p in self.problems:
            lines.append(f"  {p.status.upper():12} {p.kind:8} {p.key}: {p.detail}")
        lines.append("  OK: everything in range is valid" if self.ok else f"  FAILED: {len(self.problems)} problems")
        return "\n".join(lines)


def store_public_keys(store: ObjectStore) -> dict[str, Ed25519PublicKey]:
    """Public keys kept in the store (``keys/``): convenient, but only as trustworthy as the store."""
    keys = {}
    for key in store.list_keys("keys/"):
        if key.endswith(".pub.pem"):
            public = load_public_key(store.get_bytes(key), f"{store.location}/{key}")
            keys[fingerprint(public)] = public
    return keys


def _load_json(data: bytes) -> dict[str, Any] | None:
    try:
        loaded = json.loads(data)
    except ValueError:
        return None
    return loaded if isinstance(loaded, dict) else None


class _Verifier:
    def __init__(self, store: ObjectStore, keys: dict[str, Ed25519PublicKey], report: VerifyReport, progress: Progress | None) -> None:
        self.store = store
        self.keys = keys
        self.report = report
        self.progress = progress
        self.digests: dict[str, dict[str, Any]] = {}
        self.digest_sha: dict[str, str] = {}

    # -- digests ---------------------------------------------------------------------------

    def digest_keys_in(self, hours: list[datetime]) -> list[str]:
        wanted = {utc_text(h) for h in hours}
        keys: list[str] = []
        for day in sorted({h.replace(hour=0) for h in hours}):
            for key in self.store.list_keys(digest_date_prefix(day)):
                parts = parse_key(key)
                if parts is None:
                    self.report.add("unreferenced", "object", key, "not a digest key")
                    continue
                if utc_text(parts.hour) in wanted:
                    keys.append(key)
        return keys

    def check_digest(self, key: str) -> dict[str, Any] | None:
        """Check one digest and its link to the previous one; the parsed digest when it is valid."""
        self.report.checked["digests"] += 1
        data = self.store.get_if_exists(key)
        if data is None:
            self.report.add("missing", "digest", key, "listed as a previous digest but absent")
            return None
        document = _load_json(data)
        if document is None:
            self.report.add("invalid", "digest", key, "not JSON")
            return None
        problem = signature_problem(document, self.keys)
        if problem is None:
            hour = document.get("hour")
            kind = document.get("kind")
            expected = (
                digest_key(parse_utc(hour), None if kind == "hourly" else document.get("sequence")) if isinstance(hour, str) else None
            )
            if expected != key:
                problem = f"claims to be {expected} (hour {hour}, {kind}): digests were moved or swapped"
        if problem:
            self.report.add("invalid", "digest", key, problem)
            return None
        # a broken link is reported, but the digest's own content is still authentic
        link = self.link_problem(document)
        if link:
            self.report.add("invalid", "digest", key, link)
        else:
            self.report.add("valid", "digest", key)
        self.digests[key] = document
        self.digest_sha[key] = sha256_hex(data)
        fp = document["public_key_fingerprint"]
        if fp not in self.report.key_fingerprints:
            self.report.key_fingerprints.append(fp)
        return document

    def link_problem(self, document: dict[str, Any]) -> str | None:
        previous = document.get("previous_digest_key")
        if previous is None:
            return None if document.get("sequence") == 1 else "has no previous digest but is not the first of the chain"
        data = self.store.get_if_exists(previous)
        if data is None:
            if self.report.offline:
                self.report.not_present.append(previous)
                return None
            self.report.add(
                "missing", "digest", previous, f"the previous digest of {document.get('hour')} ({document.get('kind')}) is gone"
            )
            return None  # the gap is reported on the missing one; this digest's own signature held
        if sha256_hex(data) != document.get("previous_digest_sha256"):
            return f"previous digest {previous} changed after this digest was sealed (SHA-256 differs)"
        previous_doc = _load_json(data) or {}
        if previous_doc.get("signature") != document.get("previous_signature"):
            return f"previous digest {previous} carries another signature than the one recorded"
        if previous_doc.get("sequence") != document.get("sequence", 0) - 1:
            return f"sequence {document.get('sequence')} does not follow {previous} (sequence {previous_doc.get('sequence')})"
        return None

    # -- manifests and objects -------------------------------------------------------------

    def check_manifests(self, sources: list[str]) -> dict[str, dict[str, Any]]:
        """Check every manifest the valid digests list; returns the valid ones by key."""
        entries: dict[str, dict[str, Any]] = {}
        for document in self.digests.values():
            for entry in document.get("manifests", []):
                if not sources or entry.get("source") in sources:
                    entries.setdefault(entry["key"], entry)
        manifests: dict[str, dict[str, Any]] = {}
        for key, entry in sorted(entries.items()):
            self.report.checked["manifests"] += 1
            data = self.store.get_if_exists(key)
            if data is None:
                if self.report.offline:
                    self.report.not_present.append(key)
                else:
                    self.report.add("missing", "manifest", key, "listed in a digest but absent")
                continue
            if sha256_hex(data) != entry["sha256"] or len(data) != entry["size"]:
                self.report.add("invalid", "manifest", key, "does not hash to what its digest recorded: edited after sealing")
                continue
            manifest = _load_json(data)
            if manifest is None:
                self.report.add("invalid", "manifest", key, "not JSON")
                continue
            self.report.add("valid", "manifest", key)
            manifests[key] = manifest
        return manifests

    def check_objects(self, manifests: dict[str, dict[str, Any]]) -> set[str]:
        """Re-hash every object the manifests list; returns the referenced keys."""
        listed: dict[str, dict[str, Any]] = {}
        for manifest in manifests.values():
            for obj in manifest["objects"]:
                listed.setdefault(obj["key"], obj)
        done = 0

        def rehash(item: tuple[str, dict[str, Any]]) -> tuple[str, dict[str, Any], str | None, int]:
            key, obj = item
            try:
                stream = self.store.open(key)
            except ObjectMissingError:
                return key, obj, None, -1
            with stream:
                sha, size = sha256_stream(stream)
            return key, obj, sha, size

        with ThreadPoolExecutor(HASH_THREADS) as pool:
            for key, obj, sha, size in pool.map(rehash, sorted(listed.items())):
                self.report.checked["objects"] += 1
                done += 1
                if sha is None:
                    if self.report.offline:
                        self.report.not_present.append(key)
                    else:
                        self.report.add("missing", "object", key, f"listed in manifest batch {obj.get('key', key)} but absent")
                    continue
                self.report.bytes_hashed += size
                if size != obj["size"]:
                    self.report.add("invalid", "object", key, f"{size} bytes, the manifest says {obj['size']}: truncated or replaced")
                elif sha != obj["sha256"]:
                    self.report.add("invalid", "object", key, f"SHA-256 {sha[:16]}…, the manifest says {obj['sha256'][:16]}…: altered")
                else:
                    self.report.add("valid", "object", key)
                if self.progress and done % 50 == 0:
                    self.progress(f"verify: {done}/{len(listed)} objects, {self.report.bytes_hashed / 1e6:,.0f} MB")
        return set(listed)

    # -- unreferenced ----------------------------------------------------------------------

    def check_unreferenced(
        self,
        hours: list[datetime],
        sources: list[str],
        referenced: set[str],
        manifests: set[str],
        *,
        whole: bool,
        sealed_through: datetime | None,
    ) -> None:
        """Flag what no verified manifest (or, for manifests, no digest) lists.

        ``whole``: the whole store, every partition and every manifest, plus folders that
        are not part of the layout at all (not offline: a restored folder holds other files); else
        the partitions of ``hours`` only. In the whole store, objects of hours after
        ``sealed_through`` are pending, not unreferenced: no digest could list them yet.
        """
        pending_manifests: set[str] = set()
        hour_texts = {utc_text(h) for h in hours}
        listed_manifests = {e["key"] for d in self.digests.values() for e in d.get("manifests", [])}
        candidates: set[str] = set()
        days = sorted({h.replace(hour=0) for h in hours})
        for table in HOURLY_TABLES:
            for source_prefix in self.store.list_prefixes(f"{table}/"):
                source = source_prefix[len(table) + len("/source=") : -1]
                if sources and source not in sources:
                    continue
                prefixes = [source_prefix] if whole else [f"{source_prefix}date={day:%Y-%m-%d}/" for day in days]
                for key in (k for prefix in prefixes for k in self.store.list_keys(prefix)):
                    parts = parse_key(key)
                    if key in referenced or (not whole and parts is not None and utc_text(parts.hour) not in hour_texts):
                        continue
                    if parts is None:
                        self.report.add("unreferenced", "object", key, "not an archive key; no manifest lists it")
                        continue
                    mkey = manifest_key(source, parts.batch or "")
                    if whole and not self.report.offline and parts.hour and (sealed_through is None or parts.hour > sealed_through):
                        self.report.pending += 1
                        pending_manifests.add(mkey)
                        continue
                    candidates.add(mkey)
                    self.report.add("unreferenced", "object", key, "no verified manifest lists it (an unfinished batch, or added)")
        if whole:
            for key in self.store.list_keys("manifests/"):
                parts = parse_key(key)
                if not sources or (parts is not None and parts.source in sources):
                    candidates.add(key)
            # custody folders (landing/, receipts/, ledger/) hold what is not archived yet: outside the chain
            known = {f"{t}/" for t in (*HOURLY_TABLES, *CUSTODY_TABLES, "manifests", "digests", "keys")}
            for folder in [] if self.report.offline else self.store.list_prefixes(""):
                if folder not in known:
                    for key in self.store.list_keys(folder):
                        self.report.add("unreferenced", "object", key, "outside the archive layout")
        for key in sorted(candidates - manifests - listed_manifests - pending_manifests):
            if self.store.head(key) is not None:
                why = (
                    "no digest lists it: a batch archived after its hours were sealed; `proxyvault seal --until T --recheck HOUR` lists it"
                )
                self.report.add("unreferenced", "manifest", key, why)


def verify_store(
    store: ObjectStore,
    keys: dict[str, Ed25519PublicKey],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    sources: Iterable[str] = (),
    offline: bool = False,
    trust: str = "",
    progress: Progress | None = None,
) -> VerifyReport:
    """Verify ``store`` for the hours in [start, end) (default: every hour the chain covers)."""
    source_list = sorted(sources)
    whole = start is None and end is None
    report = VerifyReport(store.location, utc_text(start), utc_text(end), source_list, offline=offline, trust=trust)
    verifier = _Verifier(store, keys, report, progress)
    head_data = store.get_if_exists(HEAD_KEY)
    head = _load_json(head_data) if head_data is not None else None
    if head and head.get("sealed_through"):
        report.sealed_through = head["sealed_through"]
    if start is None or end is None:
        first, last = _chain_span(store)
        if first is None or last is None:
            why = "no digest in this folder: nothing here can be verified" if offline else "no digest at all: nothing was ever sealed"
            report.add("gap", "hour", "digests/", why)
            return report
        start = start or first
        end = end or (last + HOUR)
        report.start, report.end = utc_text(start), utc_text(end)
    hours = hours_between(start, end)
    for key in verifier.digest_keys_in(hours):
        verifier.check_digest(key)
    if head and not offline:
        head_key = head.get("key")
        if isinstance(head_key, str) and store.head(head_key) is None:
            report.add("missing", "digest", head_key, "the chain's latest digest (per digests/head.json) is gone")
    hourly = {d["hour"] for d in verifier.digests.values() if d.get("kind") == "hourly"}
    sealed_through = parse_utc(report.sealed_through) if report.sealed_through else None
    for hour in hours:
        report.checked["hours"] += 1
        if utc_text(hour) in hourly:
            report.covered_hours += 1
        elif not offline:
            late = sealed_through is not None and hour > sealed_through
            why = (
                f"not sealed yet (sealed through {report.sealed_through})"
                if late
                else "no valid hourly digest: never sealed, deleted or invalid"
            )
            report.add("gap", "hour", digest_key(hour), why)
    manifests = verifier.check_manifests(source_list)
    referenced = verifier.check_objects(manifests)
    verifier.check_unreferenced(
        hours, source_list, referenced | set(manifests), set(manifests), whole=whole or offline, sealed_through=sealed_through
    )
    return report


def _chain_span(store: ObjectStore) -> tuple[datetime | None, datetime | None]:
    """The first and last hour with a digest, from the digest partitions."""
    dates = store.list_prefixes("digests/")
    if not dates:
        return None, None
    hours: list[datetime] = []
    for date_prefix in (dates[0], dates[-1]):
        for key in store.list_keys(date_prefix):
            parts = parse_key(key)
            if parts and parts.hour:
                hours.append(parts.hour)
    return (min(hours), max(hours)) if hours else (None, None)
