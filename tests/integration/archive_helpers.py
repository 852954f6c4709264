"""Shared by the archive tests: generated multi-hour Squid logs, an archive+seal run, and raw access
to each store behind its back (for tampering and for checking what is really there)."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from infra.config import RetentionSettings
from infra.integrity import Signer, generate_keypair, load_public_keys
from infra.store import LocalStore, ObjectStore
from proxyvault.archive import ArchiveResult, archive_file
from proxyvault.normalize import Provenance, ValidationRun
from proxyvault.seal import SealResult, seal
from transforms.parsers import ParserOptions, build_parser

START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
RETENTION = RetentionSettings(years=7)


def squid_log(path: Path, start: datetime, hours: float, per_hour: int, seed: int = 0, junk: int = 1) -> Path:
    """A Squid native log with ``per_hour`` requests an hour from ``start``, plus ``junk`` unparseable lines."""
    lines = []
    count = int(hours * per_hour)
    for i in range(count):
        t = start + timedelta(seconds=(i + 0.5) * 3600 / per_hour)
        n = i + seed * 7919
        lines.append(
            f"{t.timestamp():.3f}    {100 + n % 900} 10.1.{n % 5}.{n % 200} TCP_MISS/200 {1000 + n % 5000} GET "
            f"http://host{n % 7}.example.test/p{n} - HIER_DIRECT/192.0.2.{n % 250} text/html"
        )
        if junk and i == count // 2:
            lines.extend(["this is not a squid line"] * junk)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.utime(path, (start.timestamp() + hours * 3600 + 60,) * 2)  # received just after its last line
    return path


def archive(store: ObjectStore, path: Path, source: str = "edge") -> ArchiveResult:
    parser = build_parser("squid", ParserOptions())
    return archive_file(path, parser, Provenance(source, "squid", "proxy-1"), store, RETENTION, ValidationRun())


class CrashBeforeManifestError(Exception):
    """Stands for the process dying between a batch's data objects and its manifest."""


@contextmanager
def crash_before_manifest(store: ObjectStore) -> Iterator[None]:
    """Within the block, writing a manifest to ``store`` "kills" the archive (raises); the store is whole again after."""
    original = store.put_bytes

    def put_bytes(key: str, data: bytes, **kwargs: Any) -> Any:
        if key.startswith("manifests/"):
            raise CrashBeforeManifestError(key)
        return original(key, data, **kwargs)

    store.put_bytes = put_bytes  # type: ignore[method-assign]
    try:
        with pytest.raises(CrashBeforeManifestError):
            yield
    finally:
        del store.put_bytes


def seal_until(store: ObjectStore, signer: Signer, until: datetime, recheck: set[datetime] | None = None) -> SealResult:
    return seal(store, signer, until, RETENTION, recheck=recheck or set())


@dataclass
class Keys:
    signer: Signer
    public_path: Path

    def trusted(self) -> dict[str, Any]:
        return load_public_keys([self.public_path])


def make_keys(directory: Path) -> Keys:
    signer = generate_keypair(directory / "signing.pem", directory / "signing.pub.pem")
    return Keys(signer, directory / "signing.pub.pem")


class Backdoor:
    """Read, overwrite and delete objects behind the store's back, as an attacker or a broken disk would."""

    def __init__(self, store: ObjectStore, s3_client: Any = None, bucket: str = "", prefix: str = "") -> None:
        self.store = store
        self.s3 = s3_client
        self.bucket = bucket
        self.prefix = f"{prefix}/" if prefix else ""

    def read(self, key: str) -> bytes:
        return self.store.get_bytes(key)

    def write(self, key: str, data: bytes) -> None:
        if isinstance(self.store, LocalStore):
            path = self.store.root / key
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists():
                path.chmod(0o644)
            path.write_bytes(data)
            return
        checksum = base64.b64encode(hashlib.sha256(data).digest()).decode()
        self.s3.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data, ChecksumAlgorithm="SHA256", ChecksumSHA256=checksum)

    def delete(self, key: str) -> None:
        if isinstance(self.store, LocalStore):
            (self.store.root / key).unlink()
            return
        self.s3.delete_object(Bucket=self.bucket, Key=self.prefix + key)  # a delete marker: the locked version stays

    def versions(self, key: str) -> int:
        """How many versions S3 holds of ``key`` (1 for a local store's file)."""
        if isinstance(self.store, LocalStore):
            return 1 if (self.store.root / key).exists() else 0
        listing = self.s3.list_object_versions(Bucket=self.bucket, Prefix=self.prefix + key)
        return sum(1 for v in listing.get("Versions", []) if v["Key"] == self.prefix + key)

    def all_objects(self) -> dict[str, str]:
        """Every key with the SHA-256 of its bytes (what is really there)."""
        return {key: hashlib.sha256(self.store.get_bytes(key)).hexdigest() for key in self.store.list_keys("")}
