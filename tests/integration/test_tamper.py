"""The tamper matrix: every way of altering the archive that ``verify`` must catch and name, on both stores.

Each case archives two multi-hour batches, seals the hours, checks that verify finds all
valid, alters one thing behind the store's back, and checks that verify fails naming it.
On S3 (moto over HTTP) the alterations are what a credentialed attacker can do despite
Object Lock: write a new version over a key, or hide one behind a delete marker.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from infra.integrity import canonical_json, generate_keypair, signed_document
from infra.layout import digest_key, manifest_key
from infra.store import LocalStore, ObjectStore
from proxyvault.verify import VerifyReport, verify_store
from tests.integration.archive_helpers import START, Backdoor, Keys, archive, make_keys, seal_until, squid_log


@dataclass
class Archive:
    store: ObjectStore
    backdoor: Backdoor
    keys: Keys
    manifests: list[str]
    workdir: Path

    def verify(self) -> VerifyReport:
        return verify_store(self.store, self.keys.trusted())

    def key(self, prefix: str, contains: str = "") -> str:
        return next(k for k in self.store.list_keys(prefix) if contains in k)


@pytest.fixture(params=["local", "s3"])
def built(request: pytest.FixtureRequest, tmp_path: Path) -> Archive:
    if request.param == "local":
        store: ObjectStore = LocalStore(tmp_path / "store", lock_mode="COMPLIANCE")
        backdoor = Backdoor(store)
    else:
        from infra.s3store import S3Store

        endpoint = request.getfixturevalue("s3_endpoint")
        bucket = request.getfixturevalue("s3_bucket")
        store = S3Store(bucket, "vault", endpoint_url=endpoint, region="us-east-1", lock_mode="COMPLIANCE")
        backdoor = Backdoor(store, request.getfixturevalue("s3_client"), bucket, "vault")
    keys = make_keys(tmp_path / "keys")
    first = archive(store, squid_log(tmp_path / "in" / "a.log", START, hours=2.5, per_hour=40))
    second = archive(store, squid_log(tmp_path / "in" / "b.log", START + timedelta(hours=3), hours=1, per_hour=40, seed=1), "edge-2")
    seal_until(store, keys.signer, START + timedelta(hours=6))
    result = Archive(store, backdoor, keys, [first.manifest_key, second.manifest_key], tmp_path)
    clean = result.verify()
    assert clean.ok, clean.render()
    assert clean.counts["valid"] > 10 and clean.covered_hours == 6
    return result


def flip_parquet_byte(a: Archive) -> tuple[str, str]:
    key = a.key("events/source=edge/", "hour=10")
    data = bytearray(a.backdoor.read(key))
    data[len(data) // 2] ^= 0x01
    a.backdoor.write(key, bytes(data))
    return "invalid", key


def truncate_object(a: Archive) -> tuple[str, str]:
    key = a.key("raw/")
    a.backdoor.write(key, a.backdoor.read(key)[:-100])
    return "invalid", key


def delete_object(a: Archive) -> tuple[str, str]:
    key = a.key("rejects/")
    a.backdoor.delete(key)
    return "missing", key


def delete_digest(a: Archive) -> tuple[str, str]:
    key = digest_key(START + timedelta(hours=2))
    a.backdoor.delete(key)
    return "gap", key


def swap_digests(a: Archive) -> tuple[str, str]:
    one, two = digest_key(START + timedelta(hours=1)), digest_key(START + timedelta(hours=3))
    first, second = a.backdoor.read(one), a.backdoor.read(two)
    a.backdoor.write(one, second)
    a.backdoor.write(two, first)
    return "invalid", one


def edit_manifest(a: Archive) -> tuple[str, str]:
    key = a.manifests[0]
    manifest = json.loads(a.backdoor.read(key))
    manifest["counts"]["rejects_out"] = 0  # hide the rejects
    a.backdoor.write(key, canonical_json(manifest))
    return "invalid", key


def forge_digest(a: Archive) -> tuple[str, str]:
    """Re-sign an hour's digest without the first batch, with another key claiming to be ours."""
    key = digest_key(START + timedelta(hours=1))
    document = json.loads(a.backdoor.read(key))
    document["manifests"] = [m for m in document["manifests"] if m["key"] != a.manifests[0]]
    forger = generate_keypair(a.workdir / "forger.pem", a.workdir / "forger.pub.pem")
    a.backdoor.write(key, signed_document(document, forger))  # keeps our fingerprint: the signature cannot match
    return "invalid", key


def forge_with_own_key(a: Archive) -> tuple[str, str]:
    """The same, honestly naming the forger's key (and planting it in the store's keys/)."""
    key = digest_key(START + timedelta(hours=1))
    document = json.loads(a.backdoor.read(key))
    document["manifests"] = []
    forger = generate_keypair(a.workdir / "forger2.pem", a.workdir / "forger2.pub.pem")
    document["public_key_fingerprint"] = forger.fingerprint
    a.backdoor.write(key, signed_document(document, forger))
    a.backdoor.write(f"keys/{forger.fingerprint.removeprefix('SHA256:')}.pub.pem", (a.workdir / "forger2.pub.pem").read_bytes())
    return "invalid", key


def add_unreferenced(a: Archive) -> tuple[str, str]:
    key = "events/source=edge/date=2026-11-20/hour=10/part-00000000deadbeef.parquet"
    a.backdoor.write(key, a.backdoor.read(a.key("events/source=edge/", "hour=10")))
    return "unreferenced", key


def add_foreign_object(a: Archive) -> tuple[str, str]:
    key = "stash/payload.bin"
    a.backdoor.write(key, b"not part of any batch")
    return "unreferenced", key


def add_unlisted_manifest(a: Archive) -> tuple[str, str]:
    key = manifest_key("edge", "00000000deadbeef")
    a.backdoor.write(key, a.backdoor.read(a.manifests[0]))
    return "unreferenced", key


CASES: list[Callable[[Archive], tuple[str, str]]] = [
    flip_parquet_byte,
    truncate_object,
    delete_object,
    delete_digest,
    swap_digests,
    edit_manifest,
    forge_digest,
    forge_with_own_key,
    add_unreferenced,
    add_foreign_object,
    add_unlisted_manifest,
]


@pytest.mark.parametrize("tamper", [pytest.param(c, id=c.__name__) for c in CASES])
def test_verify_names_each_tampering(built: Archive, tamper: Callable[[Archive], tuple[str, str]]) -> None:
    status, key = tamper(built)
    report = built.verify()
    assert not report.ok
    named = [(p.status, p.key) for p in report.problems]
    assert (status, key) in named, report.render()
    assert report.counts[status] >= 1


def test_deleted_digest_also_breaks_the_chain_link(built: Archive) -> None:
    delete_digest(built)
    report = built.verify()
    missing = [p for p in report.problems if p.status == "missing" and p.kind == "digest"]
    assert [p.key for p in missing] == [digest_key(START + timedelta(hours=2))]


def test_edited_manifest_leaves_its_objects_unverified_but_named(built: Archive) -> None:
    """An edited manifest is not trusted, so its objects are reported as referenced by nothing verified."""
    edit_manifest(built)
    report = built.verify()
    unreferenced = {p.key for p in report.problems if p.status == "unreferenced"}
    manifest = json.loads(built.backdoor.read(built.manifests[0]))
    assert {o["key"] for o in manifest["objects"]} <= unreferenced


def test_range_and_source_filters_limit_what_is_judged(built: Archive) -> None:
    flip_parquet_byte(built)  # hour 10 of source edge
    outside = verify_store(built.store, built.keys.trusted(), start=START + timedelta(hours=3), end=START + timedelta(hours=6))
    assert outside.ok, outside.render()
    other_source = verify_store(built.store, built.keys.trusted(), sources=["edge-2"])
    assert other_source.ok, other_source.render()
    inside = verify_store(built.store, built.keys.trusted(), start=START + timedelta(hours=1), end=START + timedelta(hours=2))
    assert not inside.ok


def test_verify_json_lists_every_status(built: Archive) -> None:
    delete_object(built)
    document: dict[str, Any] = built.verify().to_json()
    assert set(document["counts"]) == {"valid", "invalid", "missing", "unreferenced", "gap"}
    assert document["ok"] is False and document["problems"][0]["status"] == "missing"


def _copy(store: ObjectStore, keys: list[str], folder: Path) -> None:
    for key in keys:
        target = folder / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(store.get_bytes(key))


def test_offline_verify_of_a_downloaded_copy(built: Archive) -> None:
    """A folder holding one hour's digest, its batch and the public key verifies alone; an edit is caught."""
    folder = built.workdir / "restored"
    hour_digest = digest_key(START + timedelta(hours=1))
    manifest_key_ = built.manifests[0]
    manifest = json.loads(built.store.get_bytes(manifest_key_))
    _copy(built.store, [hour_digest, manifest_key_, *(o["key"] for o in manifest["objects"] if "hour=10" in o["key"])], folder)
    public = built.keys.public_path
    report = verify_store(LocalStore(folder), built.keys.trusted(), offline=True)
    assert report.ok, report.render()
    assert report.counts["valid"] >= 3 and report.not_present  # the previous digest and other hours were not copied

    part = next(folder.rglob("part-*.parquet"))
    part.write_bytes(part.read_bytes()[:-1] + bytes([part.read_bytes()[-1] ^ 1]))
    edited = verify_store(LocalStore(folder), built.keys.trusted(), offline=True)
    assert ("invalid", part.relative_to(folder).as_posix()) in [(p.status, p.key) for p in edited.problems]
    assert public.exists()


def test_offline_verify_of_the_whole_store_copied(built: Archive) -> None:
    folder = built.workdir / "copy"
    _copy(built.store, list(built.store.list_keys("")), folder)
    report = verify_store(LocalStore(folder), built.keys.trusted(), offline=True)
    assert report.ok and report.not_present == [], report.render()
    assert report.covered_hours == 6


def test_offline_verify_flags_a_file_added_to_the_copy_and_an_empty_folder(built: Archive) -> None:
    folder = built.workdir / "copy"
    _copy(built.store, list(built.store.list_keys("")), folder)
    planted = folder / "events/source=edge/date=2026-11-20/hour=10/part-00000000deadbeef.parquet"
    planted.write_bytes(b"PAR1 planted")
    report = verify_store(LocalStore(folder), built.keys.trusted(), offline=True)
    assert ("unreferenced", planted.relative_to(folder).as_posix()) in [(p.status, p.key) for p in report.problems]
    empty = built.workdir / "empty"
    empty.mkdir()
    nothing = verify_store(LocalStore(empty), built.keys.trusted(), offline=True)
    assert not nothing.ok and nothing.problems[0].status == "gap"


def test_a_batch_archived_after_the_last_seal_is_pending_not_a_problem(built: Archive) -> None:
    later = squid_log(built.workdir / "in" / "later.log", START + timedelta(hours=7), hours=1, per_hour=20, seed=9)
    result = archive(built.store, later)
    report = built.verify()
    assert report.ok, report.render()
    assert report.pending >= 2
    seal_until(built.store, built.keys.signer, START + timedelta(hours=9))
    sealed = built.verify()
    assert sealed.ok and sealed.pending == 0 and result.manifest_key in {p for p in built.store.list_keys("manifests/")}
    assert sealed.checked["manifests"] == 3
