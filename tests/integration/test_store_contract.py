"""One contract for every :class:`~infra.store.ObjectStore`: LocalStore and S3Store (moto over HTTP).

The contract tests run against both stores; what cannot be identical (LocalStore's
read-only files and hidden sidecars, S3's versions, multipart uploads, prefix and error
translation) is tested per store below them, each with the reason. moto does not verify
uploaded checksums and ignores lock headers on multipart uploads (see infra/devs3.py), so
those parts are checked on the requests sent rather than on what moto stores.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from infra.config import StoreSettings
from infra.s3store import S3Store
from infra.store import (
    LocalStore,
    ObjectConflictError,
    ObjectMissingError,
    ObjectStore,
    RetentionError,
    StoreError,
    sha256_stream,
)

MIB = 1024 * 1024
#: S3Store's multipart threshold here: S3's smallest part, so an 11 MiB object goes up in 3 parts.
THRESHOLD = 5 * MIB
#: S3 keeps retain-until dates to the second (moto even drops the fraction on PUT): use whole seconds.
UNTIL = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)
HIVE_KEY = "events/source=a/date=2026-11-22/hour=10/part-x.parquet"


@dataclass
class Backend:
    """A store under test, and a way to look behind its back."""

    kind: str
    store: ObjectStore
    root: Path | None = None
    client: Any = None
    bucket: str = ""
    prefix: str = ""

    def writes(self, key: str) -> tuple[object, ...]:
        """What changes when ``key`` is written: version ids (S3), inode and mtimes of file and sidecar (local)."""
        if self.kind == "s3":
            full = f"{self.prefix}/{key}"
            listed = self.client.list_object_versions(Bucket=self.bucket, Prefix=full)
            return tuple(v["VersionId"] for v in listed.get("Versions", []) if v["Key"] == full)
        assert self.root is not None
        path = self.root / key
        sidecar = path.with_name(f".{path.name}.meta.json")
        return (path.stat().st_ino, path.stat().st_mtime_ns, sidecar.stat().st_ino, sidecar.stat().st_mtime_ns)


@pytest.fixture(params=[pytest.param("local", id="local"), pytest.param("s3", id="s3")])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "local":
        root = tmp_path / "archive"
        return Backend("local", LocalStore(root, lock_mode="COMPLIANCE"), root=root)
    bucket = request.getfixturevalue("s3_bucket")
    store = _s3_store(request.getfixturevalue("s3_endpoint"), bucket, request.getfixturevalue("s3_session"))
    return Backend("s3", store, client=request.getfixturevalue("s3_client"), bucket=bucket, prefix="archive/v1")


def _s3_store(endpoint: str, bucket: str, session: Any) -> S3Store:
    return S3Store(
        bucket,
        "archive/v1",
        endpoint_url=endpoint,
        region="us-east-1",
        lock_mode="COMPLIANCE",
        multipart_threshold=THRESHOLD,
        session=session,
    )


def _data(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


# -- the contract ------------------------------------------------------------------------


def test_put_and_get_round_trip(backend: Backend, tmp_path: Path) -> None:
    store = backend.store
    data = _data(100_000, 1)
    info = store.put_bytes("events/a.bin", data)
    assert (info.key, info.size, info.sha256) == ("events/a.bin", len(data), hashlib.sha256(data).hexdigest())
    assert store.head("events/a.bin") == info
    assert store.get_bytes("events/a.bin") == data
    with store.open("events/a.bin") as stream:
        assert sha256_stream(stream, block=4096) == (info.sha256, len(data))

    source = tmp_path / "source.txt"
    source.write_bytes(b"from a file\n")
    from_file = store.put_file(HIVE_KEY, source)  # the file's hash computed by the store
    assert from_file.sha256 == hashlib.sha256(b"from a file\n").hexdigest() and from_file.size == 12
    assert store.get_bytes(HIVE_KEY) == b"from a file\n"
    assert store.put_bytes("empty", b"").size == 0 and store.get_bytes("empty") == b""


def test_put_again_with_the_same_bytes_writes_nothing(backend: Backend, tmp_path: Path) -> None:
    store = backend.store
    first = store.put_bytes("events/same.bin", b"same bytes", retain_until=UNTIL)
    before = backend.writes("events/same.bin")
    source = tmp_path / "same.bin"
    source.write_bytes(b"same bytes")
    assert store.put_file("events/same.bin", source) == first
    assert store.put_file("events/same.bin", source, sha256=first.sha256) == first
    assert store.put_bytes("events/same.bin", b"same bytes", retain_until=UNTIL) == first
    assert backend.writes("events/same.bin") == before
    if backend.kind == "s3":
        assert len(before) == 1  # one version: the re-puts wrote none


def test_other_bytes_under_a_taken_key_conflict(backend: Backend) -> None:
    store = backend.store
    store.put_bytes("events/k.bin", b"original")
    for other in (b"different", b"origina!"):  # another size, then the same size
        with pytest.raises(ObjectConflictError, match=r"events/k\.bin.*write-once"):
            store.put_bytes("events/k.bin", other)
    assert store.get_bytes("events/k.bin") == b"original"
    head = store.head("events/k.bin")
    assert head is not None and head.sha256 == hashlib.sha256(b"original").hexdigest()


def test_list_keys_sorted_and_filtered_and_list_prefixes(backend: Backend) -> None:
    store = backend.store
    keys = [
        HIVE_KEY,
        "events/source=a/date=2026-11-22/hour=09/part-0.parquet",
        "events/source=a/date=2026-11-21/hour=23/part-0.parquet",
        "events/source=ab/date=2026-11-22/hour=10/part-0.parquet",
        "events/source=b/date=2026-11-22/hour=10/part-0.parquet",
        "digests/2026-11-22.json",
        "top.txt",
    ]
    for i, key in enumerate(random.Random(7).sample(keys, len(keys))):
        store.put_bytes(key, f"object {i}".encode())
    assert list(store.list_keys("")) == sorted(keys)
    assert list(store.list_keys("events/")) == sorted(k for k in keys if k.startswith("events/"))
    assert list(store.list_keys("events/source=a/")) == sorted(k for k in keys if k.startswith("events/source=a/"))
    # a prefix is a string prefix, not a folder: source=a also matches source=ab
    assert list(store.list_keys("events/source=a")) == sorted(k for k in keys if k.startswith("events/source=a"))
    assert list(store.list_keys("events/source=a/date=2026-11-22/hour=10/")) == [HIVE_KEY]
    assert list(store.list_keys("nothing/")) == []
    assert store.list_prefixes("") == ["digests/", "events/"]
    assert store.list_prefixes("events/") == ["events/source=a/", "events/source=ab/", "events/source=b/"]
    assert store.list_prefixes("events/source=a/") == ["events/source=a/date=2026-11-21/", "events/source=a/date=2026-11-22/"]
    assert store.list_prefixes("events/source=a/date=2026-11-22/hour=10/") == []
    assert store.list_prefixes("nothing/") == []


def test_a_missing_key(backend: Backend) -> None:
    store = backend.store
    store.put_bytes("events/present.bin", b"x")
    assert store.head("events/absent.bin") is None
    with pytest.raises(ObjectMissingError, match=r"events/absent\.bin"):
        store.open("events/absent.bin")
    with pytest.raises(ObjectMissingError, match=r"events/absent\.bin"):
        store.get_bytes("events/absent.bin")
    with pytest.raises(ObjectMissingError, match=r"events/absent\.bin"):
        store.set_legal_hold("events/absent.bin", True)
    with pytest.raises(ObjectMissingError, match=r"events/absent\.bin"):
        store.set_retention("events/absent.bin", UNTIL)
    assert store.head("events") is None  # a "folder" is not an object


@pytest.mark.parametrize("key", ["", "/events/x", "events/../x", "events/"])
def test_a_key_that_is_not_one_is_refused(backend: Backend, key: str) -> None:
    with pytest.raises(StoreError, match="is not an object key"):
        backend.store.put_bytes(key, b"x")
    with pytest.raises(StoreError, match="is not an object key"):
        backend.store.head(key)


def test_retention_round_trips_through_head(backend: Backend) -> None:
    store = backend.store
    berlin = timezone(timedelta(hours=1))
    info = store.put_bytes("events/locked.bin", b"locked", retain_until=UNTIL.astimezone(berlin))
    head = store.head("events/locked.bin")
    assert head is not None and head == info
    assert head.retention_mode == "COMPLIANCE"
    assert head.retain_until == UNTIL and head.retain_until.utcoffset() == timedelta(0)
    assert (head.legal_hold, head.storage_class, head.multipart) == (False, "STANDARD", False)
    unlocked = store.put_bytes("events/unlocked.bin", b"unlocked")
    assert (unlocked.retention_mode, unlocked.retain_until) == (None, None)


def test_legal_hold_on_and_off(backend: Backend) -> None:
    store = backend.store
    store.put_bytes("events/held.bin", b"held", retain_until=UNTIL)
    store.set_legal_hold("events/held.bin", True)
    held = store.head("events/held.bin")
    assert held is not None and held.legal_hold is True
    store.set_legal_hold("events/held.bin", False)
    released = store.head("events/held.bin")
    assert released is not None and released.legal_hold is False
    assert released.retain_until == UNTIL  # the hold does not touch the retention


def test_retention_can_be_extended_not_shortened(backend: Backend) -> None:
    store = backend.store
    store.put_bytes("events/r.bin", b"retained", retain_until=UNTIL)
    later = UNTIL + timedelta(days=365)
    store.set_retention("events/r.bin", later)
    extended = store.head("events/r.bin")
    assert extended is not None and (extended.retention_mode, extended.retain_until) == ("COMPLIANCE", later)
    # moto would let S3 shorten COMPLIANCE; S3Store refuses before asking, as LocalStore does
    with pytest.raises(RetentionError, match=r"events/r\.bin.*COMPLIANCE"):
        store.set_retention("events/r.bin", UNTIL)
    unchanged = store.head("events/r.bin")
    assert unchanged is not None and unchanged.retain_until == later
    assert store.get_bytes("events/r.bin") == b"retained"


def test_put_pointer_overwrites(backend: Backend) -> None:
    store = backend.store
    store.put_pointer("digests/HEAD", b"first")
    store.put_pointer("digests/HEAD", b"second, longer")
    assert store.get_bytes("digests/HEAD") == b"second, longer"
    assert list(store.list_keys("digests/")) == ["digests/HEAD"]
    info = store.head("digests/HEAD")
    assert info is not None and info.size == len(b"second, longer")


def test_a_large_object_round_trips(backend: Backend, tmp_path: Path) -> None:
    """11 MiB: three parts for S3Store here; S3-only details in test_s3_large_object_is_multipart."""
    data = _data(11 * MIB + 123, 3)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    info = backend.store.put_file(HIVE_KEY, source)
    assert (info.size, info.sha256) == (len(data), digest)
    head = backend.store.head(HIVE_KEY)
    assert head is not None and (head.size, head.sha256) == (len(data), digest)
    with backend.store.open(HIVE_KEY) as stream:
        assert sha256_stream(stream) == (digest, len(data))
    before = backend.writes(HIVE_KEY)
    assert backend.store.put_file(HIVE_KEY, source, sha256=digest) == info  # idempotent in parts too
    assert backend.writes(HIVE_KEY) == before
    with pytest.raises(ObjectConflictError, match=r"part-x\.parquet"):
        backend.store.put_bytes(HIVE_KEY, data[:-1] + b"!")


def test_a_key_below_an_object_is_missing(backend: Backend) -> None:
    """S3 has no folders: "a/b/c" below object "a/b" is simply absent."""
    store = backend.store
    store.put_bytes("events/a", b"x")
    assert store.head("events/a/b") is None
    with pytest.raises(ObjectMissingError):
        store.open("events/a/b")


# -- LocalStore only -----------------------------------------------------------------------


def test_local_objects_are_read_only_and_sidecars_hidden(tmp_path: Path) -> None:
    """LocalStore emulates Object Lock with file modes and a sidecar beside each object; S3 needs neither."""
    root = tmp_path / "archive"
    store = LocalStore(root, lock_mode="COMPLIANCE")
    store.put_bytes(HIVE_KEY, b"parquet bytes", retain_until=UNTIL)
    path = root / HIVE_KEY
    assert path.stat().st_mode & 0o777 == 0o444
    sidecar = path.with_name(".part-x.parquet.meta.json")
    assert json.loads(sidecar.read_text())["retain_until"] == "2031-01-02T03:04:05Z"
    assert list(store.list_keys("")) == [HIVE_KEY]
    assert list(store.list_keys("events/source=a/date=2026-11-22/hour=10/")) == [HIVE_KEY]
    assert sorted(p.name for p in path.parent.iterdir()) == [".part-x.parquet.meta.json", "part-x.parquet"]
    if os.geteuid() != 0:  # root writes through mode bits
        with pytest.raises(PermissionError):
            path.open("ab")


def test_local_objects_are_never_multipart(tmp_path: Path) -> None:
    """A file has no parts: ObjectInfo.multipart is an S3 notion."""
    store = LocalStore(tmp_path / "archive")
    source = tmp_path / "big.bin"
    source.write_bytes(_data(6 * MIB, 4))
    assert store.put_file("big.bin", source).multipart is False


# -- S3Store only ----------------------------------------------------------------------------


@pytest.fixture
def s3(s3_endpoint: str, s3_bucket: str, s3_session: Any) -> S3Store:
    return _s3_store(s3_endpoint, s3_bucket, s3_session)


def test_s3_keys_live_under_the_prefix_with_sha256_metadata(s3: S3Store, s3_client: Any) -> None:
    data = b"behind the prefix"
    s3.put_bytes(HIVE_KEY, data, retain_until=UNTIL)
    assert s3.location == f"s3://{s3.bucket}/archive/v1"
    listed = [o["Key"] for o in s3_client.list_objects_v2(Bucket=s3.bucket).get("Contents", [])]
    assert listed == [f"archive/v1/{HIVE_KEY}"]
    head = s3_client.head_object(Bucket=s3.bucket, Key=f"archive/v1/{HIVE_KEY}", ChecksumMode="ENABLED")
    digest = hashlib.sha256(data)
    assert head["Metadata"] == {"sha256": digest.hexdigest()}
    assert head["ChecksumSHA256"] == base64.b64encode(digest.digest()).decode()
    assert head["ObjectLockMode"] == "COMPLIANCE"


def test_s3_large_object_is_multipart(s3: S3Store, s3_client: Any, tmp_path: Path) -> None:
    """At the threshold S3Store uploads in parts; S3's checksum is then of the parts, so the metadata carries the object's."""
    data = _data(11 * MIB, 5)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    sent: list[dict[str, Any]] = []
    s3.client.meta.events.register("before-call.s3.CreateMultipartUpload", lambda params, **_: sent.append(params["headers"]))
    info = s3.put_file("events/big.bin", source, retain_until=UNTIL)
    assert info.multipart is True and info.sha256 == hashlib.sha256(data).hexdigest() and info.size == len(data)
    raw = s3_client.head_object(Bucket=s3.bucket, Key="archive/v1/events/big.bin")
    assert raw["ETag"].endswith('-3"')  # 5 + 5 + 1 MiB
    # moto ignores lock headers on multipart uploads; check that they were sent
    assert len(sent) == 1
    assert sent[0]["x-amz-object-lock-mode"] == "COMPLIANCE"
    assert sent[0]["x-amz-object-lock-retain-until-date"].startswith("2031-01-02T03:04:05")
    assert sent[0]["x-amz-checksum-algorithm"] == "SHA256"
    assert s3_client.list_multipart_uploads(Bucket=s3.bucket).get("Uploads", []) == []


def test_s3_pointer_versions_get_a_short_retention(s3: S3Store, s3_client: Any) -> None:
    """A bucket's default retention would keep every overwritten hint for years: pointers carry one day."""
    s3.put_pointer("digests/HEAD", b"one")
    s3.put_pointer("digests/HEAD", b"two")
    versions = s3_client.list_object_versions(Bucket=s3.bucket, Prefix="archive/v1/digests/HEAD")["Versions"]
    assert len(versions) == 2
    head = s3.head("digests/HEAD")
    assert head is not None and head.retention_mode == "COMPLIANCE" and head.retain_until is not None
    assert timedelta(hours=23) < head.retain_until - datetime.now(UTC) <= timedelta(days=1)


def test_s3_no_such_bucket_names_the_fix(s3_endpoint: str, s3_session: Any) -> None:
    store = S3Store("pv-no-such-bucket", endpoint_url=s3_endpoint, region="us-east-1", max_attempts=1, session=s3_session)
    with pytest.raises(StoreError, match=r"^s3://pv-no-such-bucket: no such bucket; create it with `proxyvault provision`$"):
        store.put_bytes("events/x", b"x")
    with pytest.raises(StoreError, match="no such bucket"):
        list(store.list_keys("events/"))


def test_s3_refused_retention_becomes_retention_error(s3: S3Store) -> None:
    """A GOVERNANCE lock shortened without bypass, or a bucket without Object Lock: S3 answers AccessDenied / InvalidRequest."""
    from botocore.stub import Stubber

    s3.put_bytes("events/g.bin", b"governed", retain_until=UNTIL)
    with Stubber(s3.client) as stub:
        stub.add_response(
            "head_object",
            {"ContentLength": 8, "ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": UNTIL, "Metadata": {}},
        )
        stub.add_client_error("put_object_retention", service_error_code="AccessDenied", http_status_code=403)
        with pytest.raises(
            RetentionError, match=r"events/g\.bin: S3 refused retention GOVERNANCE until 2031-01-01T00:00:00Z \(AccessDenied\)"
        ):
            s3.set_retention("events/g.bin", datetime(2031, 1, 1, tzinfo=UTC))
        stub.assert_no_pending_responses()


def test_s3_from_settings_reads_an_airflow_connection(s3_endpoint: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials, region and endpoint from an Airflow connection (here from the environment, as Airflow allows)."""
    extra = {"region_name": "us-east-1", "endpoint_url": s3_endpoint}
    connection = {"conn_type": "aws", "login": "proxyvault-test", "password": "airflow-secret-value", "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_PV_TEST_S3", json.dumps(connection))
    # prove the credentials come from the connection, not from the environment moto set up
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    settings = StoreSettings(kind="s3", bucket=s3_bucket, prefix="viaairflow", aws_conn_id="pv_test_s3")
    store = S3Store.from_settings(settings, lock_mode="GOVERNANCE")
    assert (store.location, store.lock_mode, store.endpoint_url) == (f"s3://{s3_bucket}/viaairflow", "GOVERNANCE", s3_endpoint)
    assert store.client.meta.region_name == "us-east-1"
    assert store.put_bytes("x.txt", b"via airflow").size == 11
    assert list(store.list_keys("")) == ["x.txt"]
    with pytest.raises(StoreError) as raised:
        S3Store.from_settings(StoreSettings(kind="s3", bucket=s3_bucket, aws_conn_id="pv_missing_conn"), lock_mode=None)
    assert "pv_missing_conn" in str(raised.value) and "airflow-secret-value" not in str(raised.value)


def test_s3_errors_never_show_credentials(s3_bucket: str, s3_session: Any) -> None:
    """An unreachable endpoint: the error names operation, key and attempts, and no secret."""
    store = S3Store(
        s3_bucket, endpoint_url="http://127.0.0.1:9", region="us-east-1", max_attempts=1, connect_timeout=0.5, session=s3_session
    )
    with pytest.raises(StoreError, match=r"head events/x: the endpoint kept failing after 1 attempts") as raised:
        store.put_bytes("events/x", b"x")
    assert "proxyvault-test-secret" not in str(raised.value)
