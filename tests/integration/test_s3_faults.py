"""S3Store against a flaky endpoint: moto behind :mod:`tests.integration.faultproxy`.

With a tenth of the requests failing (500, 503 SlowDown, resets before and after the
endpoint did the work) every object still arrives exactly once, and intact. With an
endpoint that always fails, a put gives up within a bounded time, names the key, and
leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import http.client
import random
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from infra.s3store import S3Store
from infra.store import StoreError, UploadMismatchError, sha256_stream
from tests.integration.faultproxy import fault_proxy

MIB = 1024 * 1024


def _store(endpoint: str, bucket: str, session: Any, **options: Any) -> S3Store:
    return S3Store(bucket, "faults", endpoint_url=endpoint, region="us-east-1", lock_mode="COMPLIANCE", session=session, **options)


def _nothing_left(client: Any, bucket: str) -> None:
    assert client.list_object_versions(Bucket=bucket).get("Versions", []) == []
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_objects_arrive_once_and_intact_through_a_flaky_endpoint(
    s3_endpoint: str, s3_bucket: str, s3_client: Any, s3_session: Any, tmp_path: Path
) -> None:
    rng = random.Random(2026)
    objects: dict[str, bytes] = {}
    for i in range(50):
        # every tenth a multipart upload (6 to 11 MiB in 5 MiB parts), the rest small
        size = rng.randrange(6 * MIB, 11 * MIB) if i % 10 == 3 else rng.randrange(0, 64 * 1024)
        objects[f"events/source=s{i % 3}/date=2026-11-22/hour={i % 24:02d}/part-{i}.parquet"] = rng.randbytes(size)
    until = datetime(2031, 1, 1, tzinfo=UTC)

    with fault_proxy(s3_endpoint, rate=0.10, seed=7) as (url, proxy):
        store = _store(url, s3_bucket, s3_session, multipart_threshold=5 * MIB, max_attempts=10, connect_timeout=2.0, read_timeout=10.0)
        for i, (key, data) in enumerate(objects.items()):
            path = tmp_path / f"object-{i}"
            path.write_bytes(data)
            info = store.put_file(key, path, retain_until=until)
            assert (info.size, info.sha256) == (len(data), hashlib.sha256(data).hexdigest())
        assert list(store.list_keys("events/")) == sorted(objects)
    assert proxy.total_injected > 0, "the proxy injected no fault: the test proved nothing"
    assert {"500", "503", "reset", "lost"} <= set(proxy.injected), proxy.injected
    # a write that happened but whose answer was lost is what could duplicate objects: make sure one was hit
    assert any(kind == "lost" and method in ("PUT", "POST") for kind, method, _ in proxy.log), proxy.log

    # behind the store's back, straight from moto
    versions = s3_client.list_object_versions(Bucket=s3_bucket).get("Versions", [])
    assert sorted(v["Key"] for v in versions) == sorted(f"faults/{key}" for key in objects)  # exactly one version each
    assert s3_client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []
    multipart = 0
    for key, data in objects.items():
        head = s3_client.head_object(Bucket=s3_bucket, Key=f"faults/{key}")
        assert head["ContentLength"] == len(data) and head["Metadata"]["sha256"] == hashlib.sha256(data).hexdigest()
        multipart += bool(re.search(r'-\d+"$', head["ETag"]))
        body = s3_client.get_object(Bucket=s3_bucket, Key=f"faults/{key}")["Body"]
        assert sha256_stream(body) == (hashlib.sha256(data).hexdigest(), len(data))
    assert multipart == 5


@pytest.mark.parametrize("kind", ["503", "reset"])
def test_an_endpoint_that_always_fails_gives_up_in_time(
    s3_endpoint: str, s3_bucket: str, s3_client: Any, s3_session: Any, kind: str
) -> None:
    with fault_proxy(s3_endpoint, rate=1.0, kinds=(kind,)) as (url, proxy):
        store = _store(url, s3_bucket, s3_session, max_attempts=3, connect_timeout=1.0, read_timeout=2.0)
        started = time.monotonic()
        with pytest.raises(StoreError, match=r"events/doomed\.bin: the endpoint kept failing after 3 attempts") as raised:
            store.put_bytes("events/doomed.bin", b"never stored")
        elapsed = time.monotonic() - started
    assert elapsed < 15, f"gave up only after {elapsed:.1f} s"
    assert proxy.injected[kind] == 3  # one HEAD, tried three times, and nothing more
    assert "proxyvault-test-secret" not in str(raised.value)
    _nothing_left(s3_client, s3_bucket)


def test_a_multipart_upload_that_fails_midway_is_aborted(
    s3_endpoint: str, s3_bucket: str, s3_client: Any, s3_session: Any, tmp_path: Path
) -> None:
    """Parts always fail (the create went through): the upload is aborted, no parts linger."""
    path = tmp_path / "big.bin"
    path.write_bytes(random.Random(1).randbytes(6 * MIB))

    def parts_only(method: str, target: str) -> bool:
        return method == "PUT" and "partNumber=" in target

    with fault_proxy(s3_endpoint, rate=1.0, kinds=("500",), only=parts_only) as (url, proxy):
        store = _store(url, s3_bucket, s3_session, multipart_threshold=5 * MIB, max_attempts=2, connect_timeout=1.0, read_timeout=2.0)
        with pytest.raises(StoreError, match=r"multipart part 1 events/big\.bin: the endpoint kept failing after 2 attempts"):
            store.put_file("events/big.bin", path)
    assert proxy.injected["500"] == 2
    _nothing_left(s3_client, s3_bucket)


def test_an_upload_that_reads_back_different_is_a_mismatch(s3_endpoint: str, s3_bucket: str, s3_client: Any, s3_session: Any) -> None:
    """moto stores whatever it gets, so the proxy tampers with the read-back: HEAD reports another checksum."""
    tampered = "x" * 43 + "="

    def tamper(method: str, target: str, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        if method != "HEAD":
            return headers
        return [(n, tampered if n.lower() == "x-amz-checksum-sha256" else v) for n, v in headers]

    with fault_proxy(s3_endpoint, rate=0.0, tamper=tamper) as (url, _proxy):
        store = _store(url, s3_bucket, s3_session, max_attempts=1)
        with pytest.raises(UploadMismatchError, match=r"events/m\.bin: sent 5 bytes sha256 [0-9a-f]{64}, S3 holds 5 bytes sha256 c71c"):
            store.put_bytes("events/m.bin", b"hello")


def test_the_proxy_forwards_chunked_bodies_and_keeps_connections(s3_endpoint: str, s3_bucket: str, s3_client: Any) -> None:
    """S3Store sends Content-Length bodies; other clients (aws-chunked uploads) send chunked ones, which must pass as they are."""
    with fault_proxy(s3_endpoint, rate=0.0) as (url, proxy):
        connection = http.client.HTTPConnection("127.0.0.1", int(url.rsplit(":", 1)[1]), timeout=10)
        try:
            for key in ("chunked-1", "chunked-2"):  # two requests on one kept-alive connection
                chunks = [b"hello ", b"chunked ", key.encode()]
                connection.request(
                    "PUT", f"/{s3_bucket}/{key}", body=iter(chunks), headers={"Transfer-Encoding": "chunked"}, encode_chunked=True
                )
                response = connection.getresponse()
                assert response.status == 200, response.read()
                response.read()
        finally:
            connection.close()
    assert proxy.requests == 2 and proxy.total_injected == 0
    for key in ("chunked-1", "chunked-2"):
        assert s3_client.get_object(Bucket=s3_bucket, Key=key)["Body"].read() == b"hello chunked " + key.encode()


def test_archive_and_seal_through_a_flaky_endpoint_lose_and_duplicate_nothing(
    s3_endpoint: str, s3_bucket: str, s3_client: Any, s3_session: Any, tmp_path: Path
) -> None:
    """The whole commit protocol (data, manifest, digests, head hint) through 10 % faults, then verified straight from moto."""
    from datetime import timedelta

    from proxyvault.verify import verify_store
    from tests.integration.archive_helpers import START, archive, make_keys, seal_until, squid_log

    keys = make_keys(tmp_path / "keys")
    logs = [squid_log(tmp_path / f"{i}.log", START + timedelta(hours=i), hours=1.5, per_hour=200, seed=i) for i in range(3)]
    with fault_proxy(s3_endpoint, rate=0.10, seed=11) as (url, proxy):
        flaky = _store(url, s3_bucket, s3_session, max_attempts=10, connect_timeout=2.0, read_timeout=10.0)
        results = [archive(flaky, log) for log in logs]
        seal_until(flaky, keys.signer, START + timedelta(hours=5))
        assert [archive(flaky, log).status for log in logs] == ["already_archived"] * 3
    assert proxy.total_injected > 0, "the proxy injected no fault: the test proved nothing"
    direct = _store(s3_endpoint, s3_bucket, s3_session)
    report = verify_store(direct, keys.trusted())
    assert report.ok, report.render()
    assert report.covered_hours == 5 and report.checked["manifests"] == 3
    assert sum(r.rows for r in results) == 3 * 300
    versions = s3_client.list_object_versions(Bucket=s3_bucket).get("Versions", [])
    keys_seen = [v["Key"] for v in versions if not v["Key"].endswith("digests/head.json")]
    assert len(keys_seen) == len(set(keys_seen))  # one version of every write-once object
