"""The DAGs end to end, run for real with ``dag.test()`` on SQLite metadata.

* A real Squid on loopback logs with the full logformat while a background thread sends
  requests through it; ``proxy_rotate`` takes its log three times while requests are in
  flight and once after; ``proxy_archive`` archives what landed. The archived rows are
  exactly the requests sent: none lost, none duplicated, times in UTC within the clock
  of the run. Re-running ``proxy_archive`` and backfilling the day by params leave every
  byte of the archive as it was.
* A forced failure kills ``archive`` between the data objects and the manifest; the
  retry (the next run) completes, nothing is duplicated, and the archive is byte for
  byte the one a run without the failure builds from the same receipts.

Skipped only when Squid is not installed; with ``PROXYVAULT_REQUIRE_SQUID=1`` (CI) that is a failure.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from infra.integrity import generate_keypair, load_public_keys
from infra.squid import find_squid, running_squid
from infra.store import LocalStore
from proxyvault.airflow_local import AirflowRunError, asset_extras, run_dag, task_result
from proxyvault.sample import write_traffic
from proxyvault.verify import verify_store
from transforms.parsers.squid_logformat import RECOMMENDED

ROTATIONS_IN_FLIGHT = 3
SOURCE = "loopback-squid"


class Origin(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = self.path.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def origin() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Origin)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _write_config(path: Path, sources: str, store: Path, keys: Path) -> Path:
    path.write_text(
        f"{sources}\n[store]\npath = '{store}'\n\n[keys]\nprivate = '{keys}/signing.pem'\npublic = '{keys}/signing.pub.pem'\n",
        encoding="utf-8",
    )
    if not (keys / "signing.pem").exists():
        generate_keypair(keys / "signing.pem", keys / "signing.pub.pem")
    return path


def snapshot(root: Path, tables: tuple[str, ...] | None = None) -> dict[str, str]:
    """Every file under ``root`` (or its ``tables``) -> SHA-256 of its bytes."""
    files = [p for p in root.rglob("*") if p.is_file() and (tables is None or p.relative_to(root).parts[0] in tables)]
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def events(store: Path, source: str) -> pl.DataFrame:
    return pl.read_parquet(store / "events" / f"source={source}" / "**" / "*.parquet", hive_partitioning=False)


def _quarter(now: datetime) -> datetime:
    return now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)


@pytest.mark.skipif(
    find_squid() is None and not os.environ.get("PROXYVAULT_REQUIRE_SQUID"),
    reason="squid is not installed (apt-get install squid); CI sets PROXYVAULT_REQUIRE_SQUID=1 and must not skip",
)
def test_real_squid_rotated_while_serving_loses_and_duplicates_nothing(
    airflow_dags: dict[str, Any], origin: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="proxyvault-e2e-squid-"))  # Squid drops to 'proxy': needs a traversable path
    store = tmp_path / "archive"
    try:
        with running_squid(workdir, logformat=RECOMMENDED, native_log=False) as squid:
            sources = f"""
[sources.{SOURCE}]
format = "squid-logformat"
logformat = '{RECOMMENDED}'
rotation = "squid"
path = '{squid.access_log_path}'
squid_conf = '{squid.conf_path}'
squid_binary = '{squid.binary}'
settle = "0.2s"
reopen_timeout = "15s"
"""
            monkeypatch.setenv("PROXYVAULT_CONFIG", str(_write_config(tmp_path / "proxyvault.toml", sources, store, tmp_path / "keys")))
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": squid.proxy_url}))
            sent: list[int] = []
            stop = threading.Event()
            failures: list[str] = []

            def send() -> None:
                i = 0
                while not stop.is_set():
                    try:
                        with opener.open(f"{origin}/req/{i}", timeout=10) as reply:
                            assert reply.status == 200 and reply.read() == f"/req/{i}".encode()
                        sent.append(i)
                    except Exception as exc:  # a failed request is not a request Squid served
                        failures.append(f"/req/{i}: {exc}")
                    i += 1
                    time.sleep(0.005)

            began = datetime.now(UTC)
            sender = threading.Thread(target=send, daemon=True)
            sender.start()
            last = _quarter(began)
            logical = [last - timedelta(minutes=15 * k) for k in range(ROTATIONS_IN_FLIGHT, -1, -1)]
            receipts: list[str] = []
            in_flight: list[int] = []
            for n, logical_date in enumerate(logical):
                if n == ROTATIONS_IN_FLIGHT:  # the last rotation takes what was logged after the sender stopped
                    stop.set()
                    sender.join(30)
                    ended = datetime.now(UTC)
                else:
                    time.sleep(0.5)
                before = len(sent)
                run = run_dag(airflow_dags["proxy_rotate"], logical_date=logical_date)
                if n < ROTATIONS_IN_FLIGHT:
                    in_flight.append(len(sent) - before)  # requests answered while this rotation ran
                [extra] = asset_extras(run)
                assert extra["day"] == (logical_date - timedelta(minutes=15)).date().isoformat()
                receipts += extra["receipts"]
        assert not failures, failures[:3]
        assert len(sent) > 100 and all(n > 0 for n in in_flight), (len(sent), in_flight)
        assert len(receipts) == len(set(receipts)) == ROTATIONS_IN_FLIGHT + 1, "each rotation landed one file"

        run = run_dag(airflow_dags["proxy_archive"], run_conf={"receipts": receipts})
        sealed = task_result(run, "seal")
        assert sealed["files"] == sealed["archived"] == len(receipts) and sealed["rejects"] == 0

        rows = events(store, SOURCE)
        ids = sorted(int(u.rsplit("/", 1)[1]) for u in rows["url"].to_list())
        assert ids == sorted(sent), f"lost {sorted(set(sent) - set(ids))[:5]}, duplicated {len(ids) - len(set(ids))}"
        times = rows["event_time"]
        assert times.dtype == pl.Datetime("us", "UTC")
        assert began - timedelta(seconds=1) <= times.min() and times.max() <= ended + timedelta(seconds=1)

        # re-run, and backfill the day by params: not one byte changes
        before = snapshot(store)
        run_dag(airflow_dags["proxy_archive"], run_conf={"receipts": receipts})
        assert snapshot(store) == before
        days = sorted({(d - timedelta(minutes=15)).date().isoformat() for d in logical})
        run = run_dag(airflow_dags["proxy_archive"], run_conf={"day": days[0], "end_day": days[-1]})
        assert task_result(run, "plan")["receipts"] == sorted(receipts)
        assert snapshot(store) == before

        # seal the hours of the run (an hourly run after them) and verify the whole store
        run_dag(airflow_dags["proxy_archive"], logical_date=_quarter(datetime.now(UTC)) + timedelta(hours=2))
        report = verify_store(LocalStore(store), load_public_keys([tmp_path / "keys" / "signing.pub.pem"]))
        assert report.ok, report.render()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


class KilledMidBatchError(RuntimeError):
    pass


def test_archive_killed_mid_batch_completes_on_retry_with_nothing_duplicated(
    airflow_dags: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    sources = f"""
[sources.edge]
format = "squid"
rotation = "rename"
path = '{logs / "access.log"}'
settle = "0.05s"
reopen_timeout = "2s"
"""
    store = tmp_path / "archive"
    monkeypatch.setenv("PROXYVAULT_CONFIG", str(_write_config(tmp_path / "proxyvault.toml", sources, store, tmp_path / "keys")))
    start = datetime(2026, 11, 20, 9, tzinfo=UTC)
    write_traffic(logs / "access.log", "squid", start, start + timedelta(hours=3), per_hour=3000, seed=5, damaged_every=500)
    [extra] = asset_extras(run_dag(airflow_dags["proxy_rotate"], logical_date=start + timedelta(hours=3, minutes=15)))
    receipts = extra["receipts"]

    # the kill: the task dies after its data objects are up, before the manifest (the commit point)
    original = LocalStore.put_bytes

    def put_bytes(self: LocalStore, key: str, data: bytes, **kwargs: Any) -> Any:
        if key.startswith("manifests/"):
            raise KilledMidBatchError(f"killed before {key}")
        return original(self, key, data, **kwargs)

    monkeypatch.setattr(LocalStore, "put_bytes", put_bytes)
    with pytest.raises(AirflowRunError, match=r"archive\[0\]"):
        run_dag(airflow_dags["proxy_archive"], run_conf={"receipts": receipts})
    monkeypatch.setattr(LocalStore, "put_bytes", original)
    assert list((store / "events").rglob("*.parquet")) and not (store / "manifests").exists()

    run = run_dag(airflow_dags["proxy_archive"], run_conf={"receipts": receipts})  # the retry
    sealed = task_result(run, "seal")
    assert sealed["archived"] == 1
    rows = events(store, "edge")
    assert rows.height == rows.select("source_file_sha256", "source_line").unique().height == sealed["rows"] > 5000

    # the same receipts archived without a failure, in a fresh store, give the same bytes
    clean = tmp_path / "clean"
    for table in ("landing", "receipts", "ledger"):
        shutil.copytree(store / table, clean / table)
    monkeypatch.setenv("PROXYVAULT_CONFIG", str(_write_config(tmp_path / "clean.toml", sources, clean, tmp_path / "keys")))
    run_dag(airflow_dags["proxy_archive"], run_conf={"receipts": receipts})
    tables = ("events", "rejects", "raw", "validation", "manifests", "digests")
    assert snapshot(clean, tables) == snapshot(store, tables)
