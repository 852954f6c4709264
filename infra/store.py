"""The object store: one interface, a local directory and S3 behind it.

Archives are write-once. :meth:`ObjectStore.put_file` and :meth:`ObjectStore.put_bytes`
are idempotent (putting the same bytes under the same key again writes nothing) and
refuse other bytes under an existing key (:class:`ObjectConflictError`). After every write the
store reads the object's size and SHA-256 back and compares them with what was sent
(:class:`UploadMismatchError`); keys are relative to the store's root or prefix and always
use ``/``.

Retention travels with each write (``retain_until``); the store applies its configured
lock mode (``COMPLIANCE`` or ``GOVERNANCE``) with it. :class:`LocalStore` emulates Object
Lock: files are read-only once written and their retention and legal hold live in a
hidden sidecar beside them (``.NAME.meta.json``), which readers of ``events/`` never see.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from infra.config import LockMode, StoreSettings

#: Read size for streaming hashes and copies: large enough that hashing runs at
#: hashlib's speed, small enough to keep memory flat.
BLOCK_BYTES = 4 * 1024 * 1024


class StoreError(RuntimeError):
    """The store refused or failed an operation; the message names the key and the fix."""


class ObjectConflictError(StoreError):
    """A key already holds other bytes: archives are write-once."""


class UploadMismatchError(StoreError):
    """What the store holds after a write is not what was sent (size or SHA-256)."""


class ObjectMissingError(StoreError):
    """No object under the key."""


class RetentionError(StoreError):
    """A retention change the lock does not allow (e.g. shortening COMPLIANCE)."""


@dataclass(frozen=True)
class ObjectInfo:
    """What the store says about one object (its own claims; :func:`sha256_stream` checks bytes)."""

    key: str
    size: int
    #: Hex SHA-256 of the whole object as recorded at upload; None when the store has no record.
    sha256: str | None
    retention_mode: str | None = None
    retain_until: datetime | None = None
    legal_hold: bool = False
    storage_class: str = "STANDARD"
    #: Uploaded in parts: S3's own checksum is then a checksum of part checksums.
    multipart: bool = False


def sha256_stream(stream: BinaryIO, block: int = BLOCK_BYTES) -> tuple[str, int]:
    """Hex SHA-256 and byte count of everything ``stream`` yields, in bounded memory."""
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(block):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def sha256_path(path: Path) -> str:
    with path.open("rb") as f:
        return sha256_stream(f)[0]


class ObjectStore(ABC):
    """Write-once object storage with integrity checks and retention."""

    #: Where the store is, for messages: ``local:/srv/archive`` or ``s3://bucket/prefix``.
    location: str
    #: Object Lock mode applied with ``retain_until`` on writes; None: no lock.
    lock_mode: LockMode | None

    @abstractmethod
    def put_file(self, key: str, path: Path, *, sha256: str | None = None, retain_until: datetime | None = None) -> ObjectInfo:
        """Store ``path``'s bytes under ``key`` (streamed), then check size and SHA-256.

        ``sha256`` is the file's hex SHA-256 when the caller has it already. Returns the
        object's info; when ``key`` already holds these exact bytes, nothing is written.
        """

    def put_bytes(self, key: str, data: bytes, *, retain_until: datetime | None = None) -> ObjectInfo:
        """Store ``data`` under ``key``; same rules as :meth:`put_file`."""
        with tempfile.TemporaryDirectory(prefix="proxyvault-put-") as tmp:
            path = Path(tmp) / "object"
            path.write_bytes(data)
            return self.put_file(key, path, sha256=hashlib.sha256(data).hexdigest(), retain_until=retain_until)

    @abstractmethod
    def put_pointer(self, key: str, data: bytes) -> None:
        """Overwrite a small mutable object (e.g. the digest chain's head hint).

        Pointers are hints, never evidence: verification does not trust them.
        """

    @abstractmethod
    def head(self, key: str) -> ObjectInfo | None:
        """The object's info, or None when there is no object under ``key``."""

    @abstractmethod
    def open(self, key: str) -> BinaryIO:
        """A binary stream of the object's bytes; raises :class:`ObjectMissingError`."""

    def get_bytes(self, key: str) -> bytes:
        with self.open(key) as stream:
            return stream.read()

    def get_if_exists(self, key: str) -> bytes | None:
        """The object's bytes, or None when there is none: one request where HEAD then GET would be two."""
        try:
            return self.get_bytes(key)
        except ObjectMissingError:
            return None

    @abstractmethod
    def list_keys(self, prefix: str) -> Iterator[str]:
        """Every key under ``prefix`` (recursively), in lexicographic order."""

    @abstractmethod
    def list_prefixes(self, prefix: str) -> list[str]:
        """The next level of "folders" under ``prefix`` (which ends in ``/``), e.g. ``events/source=a/``."""

    @abstractmethod
    def set_legal_hold(self, key: str, on: bool) -> None:
        """Place or lift a legal hold on the object."""

    @abstractmethod
    def set_retention(self, key: str, retain_until: datetime) -> None:
        """Extend the object's retention; shortening a COMPLIANCE lock raises :class:`RetentionError`."""


def _meta_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.meta.json")


def _utc_text(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _utc_parse(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).astimezone(UTC)


class LocalStore(ObjectStore):
    """A directory as an object store: the embedded default and the offline copy.

    >>> import tempfile
    >>> store = LocalStore(Path(tempfile.mkdtemp()))
    >>> store.put_bytes("a/b.txt", b"hi").sha256[:12]
    '8f434346648f'
    >>> list(store.list_keys("a/"))
    ['a/b.txt']
    """

    def __init__(self, root: Path, lock_mode: LockMode | None = None) -> None:
        self.root = root
        self.lock_mode = lock_mode
        self.location = f"local:{root}"

    def _path(self, key: str) -> Path:
        if not key or key.startswith("/") or ".." in key.split("/") or key.endswith("/"):
            raise StoreError(f"{self.location}: '{key}' is not an object key; use a relative path like events/x.parquet")
        return self.root / key

    def put_file(self, key: str, path: Path, *, sha256: str | None = None, retain_until: datetime | None = None) -> ObjectInfo:
        target = self._path(key)
        sha256 = sha256 or sha256_path(path)
        size = path.stat().st_size
        existing = self.head(key)
        if existing is not None:
            if existing.sha256 == sha256 and existing.size == size:
                return existing
            raise ObjectConflictError(
                f"{self.location}: {key} already holds other bytes (sha256 {existing.sha256}, not {sha256}); "
                "archived objects are write-once: find out why the same key got different content"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out, path.open("rb") as src:
                while block := src.read(BLOCK_BYTES):
                    out.write(block)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o444)
            # the sidecar first: an object without its retention record would look unlocked
            self._write_meta(
                target,
                {
                    "sha256": sha256,
                    "size": size,
                    "retention_mode": self.lock_mode if retain_until else None,
                    "retain_until": _utc_text(retain_until),
                    "legal_hold": False,
                    "storage_class": "STANDARD",
                },
            )
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        info = self.head(key)
        with target.open("rb") as f:
            actual, actual_size = sha256_stream(f)
        if info is None or actual != sha256 or actual_size != size:
            raise UploadMismatchError(
                f"{self.location}: {key}: wrote {size} bytes sha256 {sha256}, read back {actual_size} sha256 {actual}"
            )
        return info

    def _write_meta(self, target: Path, meta: dict[str, object]) -> None:
        meta_path = _meta_path(target)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f"{meta_path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(meta, out, sort_keys=True)
        os.replace(tmp_name, meta_path)

    def _read_meta(self, target: Path) -> dict[str, object]:
        try:
            loaded = json.loads(_meta_path(target).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return loaded if isinstance(loaded, dict) else {}

    def put_pointer(self, key: str, data: bytes) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp_name, target)

    def head(self, key: str) -> ObjectInfo | None:
        target = self._path(key)
        try:
            size = target.stat().st_size
        except (FileNotFoundError, NotADirectoryError):  # NotADirectory: a parent "folder" is an object
            return None
        if target.is_dir():
            return None
        meta = self._read_meta(target)
        sha = meta.get("sha256")
        mode = meta.get("retention_mode")
        until = meta.get("retain_until")
        return ObjectInfo(
            key=key,
            size=size,
            sha256=sha if isinstance(sha, str) else None,
            retention_mode=mode if isinstance(mode, str) else None,
            retain_until=_utc_parse(until) if isinstance(until, str) else None,
            legal_hold=meta.get("legal_hold") is True,
            storage_class=str(meta.get("storage_class") or "STANDARD"),
        )

    def open(self, key: str) -> BinaryIO:
        try:
            return self._path(key).open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectMissingError(f"{self.location}: no object {key}") from None

    def list_keys(self, prefix: str) -> Iterator[str]:
        base = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        if not base.is_dir():
            return
        keys: list[str] = []
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            rel = Path(dirpath).relative_to(self.root).as_posix()
            for name in filenames:
                if name.startswith("."):
                    continue
                key = name if rel == "." else f"{rel}/{name}"
                if key.startswith(prefix):
                    keys.append(key)
        yield from sorted(keys)

    def list_prefixes(self, prefix: str) -> list[str]:
        base = self.root / prefix
        if not base.is_dir():
            return []
        return sorted(f"{prefix}{d.name}/" for d in base.iterdir() if d.is_dir() and not d.name.startswith("."))

    def _update_meta(self, key: str, **changes: object) -> None:
        target = self._path(key)
        if not target.is_file():
            raise ObjectMissingError(f"{self.location}: no object {key}")
        meta = self._read_meta(target)
        meta.update(changes)
        self._write_meta(target, meta)

    def set_legal_hold(self, key: str, on: bool) -> None:
        self._update_meta(key, legal_hold=on)

    def set_retention(self, key: str, retain_until: datetime) -> None:
        info = self.head(key)
        if info is None:
            raise ObjectMissingError(f"{self.location}: no object {key}")
        if info.retention_mode == "COMPLIANCE" and info.retain_until and retain_until < info.retain_until:
            raise RetentionError(
                f"{self.location}: {key} is locked in COMPLIANCE mode until {_utc_text(info.retain_until)}; it cannot be shortened"
            )
        self._update_meta(key, retain_until=_utc_text(retain_until), retention_mode=info.retention_mode or self.lock_mode)


def open_store(settings: StoreSettings, lock_mode: LockMode | None) -> ObjectStore:
    """The store the config names: a local directory, or an S3 bucket (boto3 imported only then)."""
    if settings.kind == "s3":
        from infra.s3store import S3Store

        return S3Store.from_settings(settings, lock_mode)
    return LocalStore(settings.path, lock_mode=lock_mode)
