"""Legal hold over a time range, and `proxyvault provision` / `legal-hold` from the command line, on both stores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from infra.store import LocalStore, ObjectStore
from proxyvault.legal_hold import keys_in_range, set_legal_hold
from tests.conftest import REPO
from tests.integration.archive_helpers import START, archive, make_keys, seal_until, squid_log


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return LocalStore(tmp_path / "store", lock_mode="COMPLIANCE")
    from infra.s3store import S3Store

    return S3Store(request.getfixturevalue("s3_bucket"), "", endpoint_url=request.getfixturevalue("s3_endpoint"), lock_mode="COMPLIANCE")


def test_legal_hold_covers_the_range_and_only_it(store: ObjectStore, tmp_path: Path) -> None:
    early = archive(store, squid_log(tmp_path / "a.log", START, hours=1, per_hour=20))
    late = archive(store, squid_log(tmp_path / "b.log", START + timedelta(hours=5), hours=1, per_hour=20, seed=2))
    seal_until(store, make_keys(tmp_path / "keys").signer, START + timedelta(hours=6))
    result = set_legal_hold(store, START, START + timedelta(hours=1), [], on=True)
    held = set(keys_in_range(store, START, START + timedelta(hours=1)))
    assert result["objects"] == len(held) > 4
    early_manifest = json.loads(store.get_bytes(early.manifest_key))
    assert {early.manifest_key, *(o["key"] for o in early_manifest["objects"])} <= held
    assert "digests/date=2026-11-20/hour=09/hourly.json" in held
    for key in store.list_keys(""):
        info = store.head(key)
        assert info is not None
        assert info.legal_hold == (key in held), key
    assert late.manifest_key not in held
    set_legal_hold(store, START, START + timedelta(hours=1), [], on=False)
    assert not any((store.head(k) or pytest.fail(k)).legal_hold for k in held)


def _cli(*args: str, cwd: Path, config: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PROXYVAULT_CONFIG": str(config), "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "proxyvault", *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=300)


def test_provision_and_legal_hold_commands_on_s3(s3_endpoint: str, s3_client: Any, tmp_path: Path) -> None:
    config = tmp_path / "proxyvault.toml"
    config.write_text(
        f'[store]\nkind = "s3"\nendpoint_url = "{s3_endpoint}"\nregion = "us-east-1"\nbucket = "pv-cli-provision"\nprefix = "vault"\n'
        '[retention]\nmode = "GOVERNANCE"\nyears = 3\n[sources.edge]\nformat = "squid"\n'
    )
    # moto applies bucket policies without request context (every object call would be denied): policy tested elsewhere
    first = _cli("provision", "--no-bucket-policy", cwd=tmp_path, config=config)
    assert first.returncode == 0, first.stderr
    lock = s3_client.get_object_lock_configuration(Bucket="pv-cli-provision")["ObjectLockConfiguration"]
    assert lock["Rule"]["DefaultRetention"]["Mode"] == "GOVERNANCE" and lock["Rule"]["DefaultRetention"]["Years"] == 3
    again = _cli("provision", "--no-bucket-policy", cwd=tmp_path, config=config)
    assert again.returncode == 0 and "4 unchanged, 1 skipped" in again.stdout.splitlines()[0]

    log = squid_log(tmp_path / "a.log", START, hours=1, per_hour=10)
    assert _cli("archive", "--source", "edge", str(log), cwd=tmp_path, config=config).returncode == 0
    held = _cli("legal-hold", "on", "--start", "2026-11-20T09:00:00Z", "--end", "2026-11-20T10:00:00Z", cwd=tmp_path, config=config)
    assert held.returncode == 0, held.stderr
    keys = json.loads(held.stdout)["keys"]
    assert keys and all(
        s3_client.head_object(Bucket="pv-cli-provision", Key=f"vault/{k}").get("ObjectLockLegalHoldStatus") == "ON" for k in keys
    )
    head = s3_client.head_object(Bucket="pv-cli-provision", Key=f"vault/{keys[0]}")
    assert head["ObjectLockMode"] == "GOVERNANCE"


def test_provision_of_a_local_store_explains_itself(tmp_path: Path) -> None:
    config = tmp_path / "proxyvault.toml"
    config.write_text('[store]\npath = "vault"\n')
    done = _cli("provision", cwd=tmp_path, config=config)
    assert done.returncode == 0 and "nothing to provision" in done.stdout and (tmp_path / "vault").is_dir()
