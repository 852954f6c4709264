"""Archiving batches and sealing hours, on both stores: layout, determinism, idempotency, crash
consistency, late data, retention per object, and the CLI end to end."""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
import zstandard

from infra.layout import digest_key, manifest_key
from infra.retention import retain_until
from infra.store import LocalStore, ObjectStore, StoreError, sha256_stream
from proxyvault.seal import read_head
from proxyvault.verify import verify_store
from tests.conftest import REPO
from tests.integration.archive_helpers import (
    RETENTION,
    START,
    Backdoor,
    archive,
    crash_before_manifest,
    make_keys,
    seal_until,
    squid_log,
)


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[ObjectStore, Backdoor]]:
    if request.param == "local":
        local = LocalStore(tmp_path / "store", lock_mode="COMPLIANCE")
        yield local, Backdoor(local)
        return
    from infra.s3store import S3Store

    bucket = request.getfixturevalue("s3_bucket")
    s3 = S3Store(bucket, "", endpoint_url=request.getfixturevalue("s3_endpoint"), region="us-east-1", lock_mode="COMPLIANCE")
    yield s3, Backdoor(s3, request.getfixturevalue("s3_client"), bucket)


def test_layout_hive_parquet_readable_by_duckdb(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    log = squid_log(tmp_path / "a.log", START, hours=3, per_hour=100)
    result = archive(store, log)
    assert result.status == "archived" and result.rows == 300 and result.rejects == 1
    keys = list(store.list_keys(""))
    events = [k for k in keys if k.startswith("events/")]
    assert events == [f"events/source=edge/date=2026-11-20/hour={h:02d}/part-{result.batch}.parquet" for h in (9, 10, 11)]
    assert any(k.startswith("rejects/source=edge/date=2026-11-20/hour=09/") for k in keys)
    assert any(k.startswith("validation/source=edge/date=2026-11-20/hour=09/") for k in keys)
    raw = next(k for k in keys if k.startswith("raw/"))
    # the raw object is the received bytes, zstd-compressed, named by their SHA-256
    assert raw == f"raw/source=edge/date=2026-11-20/hour=09/{hashlib.sha256(log.read_bytes()).hexdigest()}.log.zst"
    assert zstandard.ZstdDecompressor().decompress(store.get_bytes(raw)) == log.read_bytes()

    glob = str(tmp_path / "store" / "events" / "**" / "*.parquet")
    query = f"select hour::int h, count(*) n from read_parquet('{glob}', hive_partitioning=true) group by 1 order by 1"
    rows = duckdb.sql(query)
    assert [r[:2] for r in rows.fetchall()] == [(9, 100), (10, 100), (11, 100)]
    for key in events:
        parquet = pq.ParquetFile(store.root / key)
        column = parquet.schema_arrow.get_field_index("event_time")
        stats = parquet.metadata.row_group(0).column(column).statistics
        assert stats is not None and stats.has_min_max  # statistics kept for pruning
        assert parquet.metadata.row_group(0).column(column).compression == "ZSTD"
        times = parquet.read(columns=["event_time"]).column(0).to_pylist()
        assert times == sorted(times)


def test_out_of_order_rows_are_sorted_within_each_hour(tmp_path: Path) -> None:
    log = squid_log(tmp_path / "a.log", START, hours=2, per_hour=50, junk=0)
    lines = log.read_text().splitlines()
    log.write_text("\n".join(lines[::-1]) + "\n")  # newest first
    store = LocalStore(tmp_path / "store")
    archive(store, log)
    for key in store.list_keys("events/"):
        times = pq.read_table(store.root / key, columns=["event_time"]).column(0).to_pylist()
        assert times == sorted(times) and len(times) == 50


def test_same_input_same_keys_and_bytes_in_a_fresh_store(tmp_path: Path) -> None:
    log = squid_log(tmp_path / "a.log", START, hours=2, per_hour=60)
    keys = make_keys(tmp_path / "keys")
    snapshots = []
    for name in ("one", "two"):
        store = LocalStore(tmp_path / name)
        archive(store, log)
        seal_until(store, keys.signer, START + timedelta(hours=3))
        snapshots.append(Backdoor(store).all_objects())
    assert snapshots[0] == snapshots[1]
    assert len(snapshots[0]) > 8


def test_archiving_twice_changes_nothing(store: tuple[ObjectStore, Backdoor], tmp_path: Path) -> None:
    target, backdoor = store
    log = squid_log(tmp_path / "a.log", START, hours=2, per_hour=60)
    first = archive(target, log)
    before = backdoor.all_objects()
    renamed = tmp_path / "renamed.log"
    renamed.write_bytes(log.read_bytes())  # the same file under another name is the same batch
    again = archive(target, renamed)
    assert again.status == "already_archived" and again.manifest_sha256 == first.manifest_sha256
    assert backdoor.all_objects() == before
    assert all(backdoor.versions(k) == 1 for k in before)


def test_crash_between_data_and_manifest_is_completed_by_the_next_run(store: tuple[ObjectStore, Backdoor], tmp_path: Path) -> None:
    target, backdoor = store
    keys = make_keys(tmp_path / "keys")
    log = squid_log(tmp_path / "a.log", START, hours=2, per_hour=60)
    with crash_before_manifest(target):
        archive(target, log)
    data_keys = set(backdoor.all_objects())
    assert data_keys and not any(k.startswith("manifests/") for k in data_keys)
    # nothing that counts: sealing now lists no batch, and verify flags the orphans
    seal_until(target, keys.signer, START + timedelta(hours=1))
    head = read_head(target)
    assert head is not None
    assert json.loads(target.get_bytes(head.key))["manifests"] == []
    orphans = verify_store(target, keys.trusted())
    assert {p.key for p in orphans.problems if p.status == "unreferenced"} >= {k for k in data_keys if "hour=09" in k}

    result = archive(target, log)  # the next run completes the batch
    assert result.status == "archived" and result.objects_present == len(data_keys) and result.objects_written == 0
    seal_until(target, keys.signer, START + timedelta(hours=3), recheck={START})
    report = verify_store(target, keys.trusted())
    assert report.ok, report.render()
    assert all(backdoor.versions(k) == 1 for k in data_keys)


def test_late_batch_gets_a_backfill_digest(store: tuple[ObjectStore, Backdoor], tmp_path: Path) -> None:
    target, _ = store
    keys = make_keys(tmp_path / "keys")
    archive(target, squid_log(tmp_path / "a.log", START, hours=1, per_hour=30))
    first = seal_until(target, keys.signer, START + timedelta(hours=4))
    assert (first.hourly, first.empty, first.backfill) == (4, 3, 0)
    late = archive(target, squid_log(tmp_path / "late.log", START + timedelta(hours=2), hours=1, per_hour=30, seed=3), "late-source")
    second = seal_until(target, keys.signer, START + timedelta(hours=4), recheck={START + timedelta(hours=2)})
    assert (second.hourly, second.backfill) == (0, 1)
    backfill = json.loads(target.get_bytes(second.digests[0]))
    assert backfill["kind"] == "backfill" and [m["key"] for m in backfill["manifests"]] == [late.manifest_key]
    assert backfill["previous_digest_key"] == digest_key(START + timedelta(hours=3))
    # the empty hourly digest of that hour stays: it said what had arrived when it was sealed
    assert json.loads(target.get_bytes(digest_key(START + timedelta(hours=2))))["manifests"] == []
    report = verify_store(target, keys.trusted())
    assert report.ok, report.render()
    # sealing again is a no-op
    assert seal_until(target, keys.signer, START + timedelta(hours=4), recheck={START + timedelta(hours=2)}).digests == []


def test_each_object_is_retained_from_its_event_date(store: tuple[ObjectStore, Backdoor], tmp_path: Path) -> None:
    target, _ = store
    log = squid_log(tmp_path / "a.log", datetime(2026, 11, 20, 22, 30, tzinfo=UTC), hours=3, per_hour=20)  # crosses midnight
    result = archive(target, log)
    manifest = json.loads(target.get_bytes(manifest_key("edge", result.batch)))
    for obj in manifest["objects"]:
        info = target.head(obj["key"])
        assert info is not None and info.retention_mode == "COMPLIANCE"
        if obj["kind"] == "events":
            expected = retain_until(datetime.fromisoformat(obj["hour"].replace("Z", "+00:00")).date(), RETENTION.years)
        else:  # batch-level objects hold rows of both dates: the later one counts
            expected = retain_until(datetime(2026, 11, 21).date(), RETENTION.years)
        assert info.retain_until == expected, obj["key"]
    assert {o["hour"][:10] for o in manifest["objects"] if o["kind"] == "events"} == {"2026-11-20", "2026-11-21"}


def test_manifest_records_the_batch(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    log = squid_log(tmp_path / "a.log", START, hours=1, per_hour=50)
    result = archive(store, log)
    manifest = json.loads(store.get_bytes(result.manifest_key))
    assert manifest["receipt"]["sha256"].startswith(result.batch) and manifest["receipt"]["lines"] == 51
    assert manifest["counts"]["rows_out"] + manifest["counts"]["rejects_out"] == manifest["counts"]["lines_in"]
    assert manifest["schema_version"] == "1" and manifest["parser_version"].startswith("proxyvault ")
    report = next(o for o in manifest["objects"] if o["kind"] == "validation")
    assert manifest["validation"]["report_sha256"] == report["sha256"] and manifest["validation"]["status"] == "passed"
    for obj in manifest["objects"]:
        assert Backdoor(store).all_objects()[obj["key"]] == obj["sha256"]


def test_multipart_objects_record_the_whole_object_sha256(s3_endpoint: str, s3_bucket: str, tmp_path: Path) -> None:
    from infra.s3store import S3Store

    store = S3Store(s3_bucket, "", endpoint_url=s3_endpoint, region="us-east-1", multipart_threshold=5 * 1024 * 1024)
    big = squid_log(tmp_path / "big.log", START, hours=1, per_hour=120_000)
    rng = random.Random(5)  # a random query per line: the raw file stays > 5 MiB compressed, so it goes up in parts
    big.write_text(
        "".join(f"{line.replace(' - HIER', f'?r={rng.randbytes(48).hex()} - HIER', 1)}\n" for line in big.read_text().splitlines())
    )
    result = archive(store, big)
    manifest = json.loads(store.get_bytes(result.manifest_key))
    raw = next(o for o in manifest["objects"] if o["kind"] == "raw")
    assert raw["multipart"] is True and raw["size"] > 5 * 1024 * 1024
    for obj in manifest["objects"]:
        info = store.head(obj["key"])
        assert info is not None
        assert (info.multipart, info.sha256, info.size) == (obj["multipart"], obj["sha256"], obj["size"]), obj["key"]
    with store.open(raw["key"]) as stream:  # the recorded hash is of the whole object, not S3's checksum of part checksums
        assert sha256_stream(stream) == (raw["sha256"], raw["size"])


def test_fail_policy_stores_nothing(tmp_path: Path) -> None:
    from infra.config import ValidationSettings
    from proxyvault.archive import archive_file
    from proxyvault.normalize import Provenance, ValidationRun
    from proxyvault.validate import ValidationFailed
    from transforms.parsers import ParserOptions, build_parser

    store = LocalStore(tmp_path / "store")
    log = squid_log(tmp_path / "a.log", START, hours=1, per_hour=20)
    # received a day before its first line was written: every row is "in the future"
    strict = ValidationRun(settings=ValidationSettings(policy="fail"), received_at=START - timedelta(days=1))
    with pytest.raises(ValidationFailed):
        archive_file(log, build_parser("squid", ParserOptions()), Provenance("edge", "squid", None), store, RETENTION, strict)
    assert list(store.list_keys("")) == []


def test_conflicting_bytes_under_a_key_are_refused(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    store.put_bytes("events/x", b"one")
    with pytest.raises(StoreError, match="write-once"):
        store.put_bytes("events/x", b"two")


def _cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "proxyvault", *args], cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=300
    )


def test_cli_keys_archive_seal_verify(tmp_path: Path) -> None:
    config = tmp_path / "proxyvault.toml"
    config.write_text(
        '[store]\npath = "vault"\n[keys]\nprivate = "k/sign.pem"\npublic = "k/sign.pub.pem"\n[sources.edge]\nformat = "squid"\n'
    )
    env = {"PROXYVAULT_CONFIG": str(config), "PYTHONPATH": str(REPO)}
    made = _cli("keys", "generate", cwd=tmp_path, env=env)
    assert made.returncode == 0, made.stderr
    private = tmp_path / "k" / "sign.pem"
    assert private.stat().st_mode & 0o777 == 0o600
    fingerprint = next(line.split()[1] for line in made.stdout.splitlines() if line.startswith("fingerprint:"))
    assert (tmp_path / "vault" / "keys" / f"{fingerprint.removeprefix('SHA256:')}.pub.pem").is_file()
    assert "BEGIN PUBLIC KEY" in made.stdout
    assert _cli("keys", "generate", cwd=tmp_path, env=env).returncode != 0  # never overwrites a signing key

    log = squid_log(tmp_path / "in" / "a.log", START, hours=2, per_hour=30)
    done = _cli("archive", "--source", "edge", "--seal-until", "2026-11-20T12:00:00Z", str(log), cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["batches"][0]["status"] == "archived" and summary["seal"]["hourly"] == 3

    ok = _cli("verify", cwd=tmp_path, env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "invalid: 0" in ok.stdout and "OK" in ok.stdout
    as_json = json.loads(_cli("verify", "--json", cwd=tmp_path, env=env).stdout)
    assert as_json["ok"] is True and as_json["covered_hours"] == 3

    rejects = next((tmp_path / "vault" / "rejects").rglob("*.parquet"))
    rejects.chmod(0o644)
    rejects.write_bytes(rejects.read_bytes()[:-10])
    bad = _cli("verify", "--start", "2026-11-20T09:00:00Z", "--end", "2026-11-20T12:00:00Z", cwd=tmp_path, env=env)
    assert bad.returncode == 1
    assert "INVALID" in bad.stdout and rejects.name in bad.stdout


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    env = {"PYTHONPATH": str(REPO)}
    no_key = _cli("seal", "--until", "2026-11-20T12:00:00Z", cwd=tmp_path, env=env)
    assert no_key.returncode == 1 and len(no_key.stderr.strip().splitlines()) == 1
    assert "proxyvault keys generate" in no_key.stderr
    nothing = _cli("verify", "--public-key", str(tmp_path / "missing.pem"), cwd=tmp_path, env=env)
    assert nothing.returncode != 0 and "missing.pem" in nothing.stderr


def test_finishing_a_crashed_batch_after_its_receipt_time_changed(tmp_path: Path) -> None:
    """The file was touched between the crash and the re-run: the error says which receipt time completes the batch."""
    from infra.store import ObjectConflictError
    from proxyvault.archive import archive_file
    from proxyvault.normalize import Provenance, ValidationRun
    from transforms.parsers import ParserOptions, build_parser

    store = LocalStore(tmp_path / "store")
    log = squid_log(tmp_path / "a.log", START, hours=1, per_hour=20)
    with crash_before_manifest(store):
        archive(store, log)
    first_receipt = datetime.fromtimestamp(log.stat().st_mtime, UTC)
    os.utime(log, (log.stat().st_mtime + 3600,) * 2)
    with pytest.raises(ObjectConflictError, match=r"--received-at 2026-11-20T10:01:00") as caught:
        archive(store, log)
    assert "validation/" in str(caught.value) and str(log) in str(caught.value)
    parser = build_parser("squid", ParserOptions())
    done = archive_file(log, parser, Provenance("edge", "squid", "proxy-1"), store, RETENTION, ValidationRun(received_at=first_receipt))
    assert done.status == "archived" and done.objects_written == 0


def _cut_off_log(path: Path) -> tuple[Path, str]:
    """A Squid log taken while its writer was mid-line: the last line is half written, with no newline."""
    log = squid_log(path, START, hours=1, per_hour=40)
    stamp = log.stat().st_mtime
    tail = log.read_text().splitlines()[-1][:-7]  # "... HIER_DIRECT/192.0.2.39 te": cut in the content type
    with log.open("a", encoding="utf-8") as f:
        f.write(tail)
    os.utime(log, (stamp, stamp))
    return log, tail


def test_partial_last_line_reject_and_custody_are_recorded(tmp_path: Path) -> None:
    from proxyvault.archive import archive_file
    from proxyvault.normalize import PARTIAL_LAST_LINE_REASON, Provenance, ValidationRun
    from transforms.parsers import ParserOptions, build_parser

    log, tail = _cut_off_log(tmp_path / "a.log")
    custody = {"receipt_key": "receipts/source=edge/" + "0" * 64 + ".json", "taken_at": "2026-11-20T10:01:00Z", "taken_from": "proxy-1"}
    store = LocalStore(tmp_path / "store")
    parser = build_parser("squid", ParserOptions())
    result = archive_file(
        log, parser, Provenance("edge", "squid", "proxy-1"), store, RETENTION, ValidationRun(), partial_last_line="reject", custody=custody
    )
    assert result.status == "archived" and (result.rows, result.rejects) == (40, 2)
    manifest = json.loads(store.get_bytes(result.manifest_key))
    assert manifest["partial_last_line"] == "reject" and manifest["receipt"]["custody"] == custody
    counts = manifest["counts"]
    assert counts["last_line_unterminated"] and counts["reconciled"] and (counts["lines_in"], counts["rejects_out"]) == (42, 2)
    (rejects,) = [o for o in manifest["objects"] if o["kind"] == "rejects"]
    assert rejects["rows"] == 2
    table = pq.read_table(store.root / rejects["key"]).to_pylist()
    assert [(r["source_line"], r["raw_line"], r["reason"]) for r in table][-1] == (42, tail, PARTIAL_LAST_LINE_REASON)
    assert table[0]["source_line"] == 22 and table[0]["reason"] != PARTIAL_LAST_LINE_REASON  # the helper's junk line
    # the raw object keeps the received bytes, the partial line included
    raw = next(o for o in manifest["objects"] if o["kind"] == "raw")
    assert zstandard.ZstdDecompressor().decompress(store.get_bytes(raw["key"])) == log.read_bytes()
    keys = make_keys(tmp_path / "keys")
    seal_until(store, keys.signer, START + timedelta(hours=2))
    report = verify_store(store, keys.trusted())
    assert report.ok, report.render()

    # parsed (the default), the cut-off line passes for a row (content type "te"); the manifest has no mark of the option
    default = LocalStore(tmp_path / "default")
    plain = archive(default, log)
    plain_manifest = json.loads(default.get_bytes(plain.manifest_key))
    assert "partial_last_line" not in plain_manifest and "custody" not in plain_manifest["receipt"]
    assert plain_manifest["counts"]["last_line_unterminated"] and (plain.rows, plain.rejects) == (41, 1)


def test_manifest_bytes_are_unchanged_without_custody_or_reject(tmp_path: Path) -> None:
    from infra.integrity import canonical_json
    from proxyvault.archive import archive_file
    from proxyvault.normalize import Provenance, ValidationRun
    from transforms.parsers import ParserOptions, build_parser

    log = squid_log(tmp_path / "a.log", START, hours=2, per_hour=30)
    stores = {name: LocalStore(tmp_path / name) for name in ("helper", "explicit", "both")}
    archive(stores["helper"], log)  # the callers that never heard of the options
    parser = build_parser("squid", ParserOptions())
    provenance = Provenance("edge", "squid", "proxy-1")
    archive_file(log, parser, provenance, stores["explicit"], RETENTION, ValidationRun(), partial_last_line="parse", custody=None)
    custody = {"taken_at": "2026-11-20T11:01:00Z"}
    archive_file(log, parser, provenance, stores["both"], RETENTION, ValidationRun(), partial_last_line="reject", custody=custody)
    snapshots = {name: Backdoor(store).all_objects() for name, store in stores.items()}
    assert snapshots["helper"] == snapshots["explicit"]
    (key,) = [k for k in snapshots["helper"] if k.startswith("manifests/")]
    # the file ends with a newline: under reject the data objects are the same bytes, only the manifest says more
    assert {k: v for k, v in snapshots["both"].items() if k != key} == {k: v for k, v in snapshots["helper"].items() if k != key}
    manifest = json.loads(stores["both"].get_bytes(key))
    assert manifest.pop("partial_last_line") == "reject" and manifest["receipt"].pop("custody") == custody
    assert canonical_json(manifest) == stores["helper"].get_bytes(key)
    receipt = json.loads(stores["helper"].get_bytes(key))["receipt"]
    assert sorted(receipt) == sorted(
        ("name", "sha256", "size", "compression", "lines", "received_at", "first_event_time", "last_event_time", "source", "host")
    )


def test_custody_that_is_not_json_is_refused_before_anything_is_stored(tmp_path: Path) -> None:
    from proxyvault.archive import archive_file
    from proxyvault.normalize import Provenance, ValidationRun
    from transforms.parsers import ParserOptions, build_parser

    store = LocalStore(tmp_path / "store")
    log = squid_log(tmp_path / "a.log", START, hours=1, per_hour=10)
    with pytest.raises(ValueError, match="custody record is not JSON-ready"):
        archive_file(
            log,
            build_parser("squid", ParserOptions()),
            Provenance("edge", "squid", None),
            store,
            RETENTION,
            ValidationRun(),
            custody={"at": START},
        )
    assert list(store.list_keys("")) == []
