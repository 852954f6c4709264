"""S3 (or any S3-compatible endpoint) behind the :class:`~infra.store.ObjectStore` interface.

Same rules as :class:`~infra.store.LocalStore`: write-once keys, idempotent puts, a
read-back check after every write, retention travelling with each write. How:

* **The full-object SHA-256 goes into user metadata** (``x-amz-meta-sha256``) on every
  upload. S3's own ``ChecksumSHA256`` is the object's SHA-256 only for a single PUT; for
  a multipart upload it is a checksum of the parts' checksums, which no one else can
  recompute from the bytes. The metadata gives :meth:`S3Store.head` one comparable hash
  for both, so an idempotent re-put and an audit can compare without downloading.
* **Every PUT carries ``ChecksumSHA256``** (of the object, or of each part), so S3 rejects
  bytes corrupted in transit (``BadDigest``); it is sent as a header, so bodies go out
  with a plain ``Content-Length``, never ``aws-chunked``.
* **HEAD after PUT**: the size and S3's stored checksum (single PUT) or the recorded
  metadata hash (multipart) must equal what was sent, else :class:`UploadMismatchError`.
  Some endpoints (moto among them) do not verify uploaded checksums, so this check and the
  callers' own re-hash of what they read back are what count.
* **Write-once on the server too**: uploads are conditional (``If-None-Match: *``). A PUT
  whose response was lost and that botocore retries then gets ``412`` instead of writing
  a second version; the store then HEADs the key and compares, exactly as for a re-put.
  Incomplete multipart uploads of a key are aborted once the key holds its object (they
  come from retried ``CreateMultipartUpload`` calls and would otherwise cost storage).
* Retention is read from HEAD's ``x-amz-object-lock-*`` headers (one request, and moto
  answers ``GetObjectRetention`` with HTTP 500). Shortening a COMPLIANCE retention is
  refused here before S3 is asked, as :class:`LocalStore` does, since not every endpoint
  enforces it.
* Retries are botocore's ``adaptive`` mode (exponential backoff, client-side throttling on
  ``SlowDown``); when they run out the error names the operation, the key and the count.

Credentials come from the standard AWS chain, or from an Airflow connection
(:meth:`S3Store.from_settings`); they never appear in messages.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib
import io
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, cast

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError, NoCredentialsError, PartialCredentialsError
from botocore.exceptions import ConnectionError as BotoConnectionError

from infra.config import LockMode, StoreSettings
from infra.store import (
    BLOCK_BYTES,
    ObjectConflictError,
    ObjectInfo,
    ObjectMissingError,
    ObjectStore,
    RetentionError,
    StoreError,
    UploadMismatchError,
    sha256_path,
)

MIB = 1024 * 1024
#: S3's smallest part (except the last) and its largest part count.
MIN_PART_BYTES = 5 * MIB
MAX_PARTS = 10_000
#: Retention of each version of a pointer object, so a bucket default does not keep every
#: overwritten hint for years.
POINTER_RETENTION = timedelta(days=1)
_MULTIPART_ETAG = re.compile(r'-\d+"?$')
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
_DENIED = {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "AllAccessDisabled"}


class _KeyTakenError(Exception):
    """A conditional write found the key taken (412), or the upload it completed is gone."""


def _b64(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode("ascii")


def _utc(value: datetime) -> datetime:
    """Aware UTC; a naive value is local time, as :class:`LocalStore` reads it."""
    return value.astimezone(UTC)


def _utc_text(value: datetime) -> str:
    return _utc(value).isoformat().replace("+00:00", "Z")


class _FileSlice(io.RawIOBase):
    """``length`` bytes of ``file`` from ``start``: one part, streamed and seekable (botocore rewinds it to retry)."""

    def __init__(self, file: BinaryIO, start: int, length: int) -> None:
        super().__init__()
        self._file = file
        self._start = start
        self._length = length
        self._pos = 0

    def __len__(self) -> int:
        return self._length

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._length}[whence]
        self._pos = min(max(base + offset, 0), self._length)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        count = min(len(view), self._length - self._pos)
        if count <= 0:
            return 0
        self._file.seek(self._start + self._pos)
        data = self._file.read(count)
        view[: len(data)] = data
        self._pos += len(data)
        return len(data)


class _Body(io.RawIOBase):
    """An object's bytes as they stream in; botocore's errors mid-stream become :class:`StoreError`."""

    def __init__(self, body: Any, where: str) -> None:
        super().__init__()
        self._body = body
        self._where = where

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        try:
            data = self._body.read() if size is None or size < 0 else self._body.read(size)
        except BotoCoreError as exc:
            raise StoreError(f"{self._where}: reading failed mid-stream ({type(exc).__name__}); read the object again") from exc
        return cast(bytes, data)

    def readall(self) -> bytes:
        return self.read()

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


class S3Store(ObjectStore):
    """An S3 bucket (and key prefix) as an object store; see the module docstring for how."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        lock_mode: LockMode | None = None,
        multipart_threshold: int = 64 * MIB,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        max_attempts: int = 10,
        session: boto3.Session | None = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.lock_mode = lock_mode
        self.multipart_threshold = multipart_threshold
        self.max_attempts = max_attempts
        self.endpoint_url = endpoint_url
        self.location = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        config = Config(
            # total_max_attempts counts the first try too (botocore's max_attempts counts only retries)
            retries={"mode": "adaptive", "total_max_attempts": max_attempts},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            signature_version="s3v4",
            # path style: works with IP endpoints (moto, MinIO) as well as AWS
            s3={"addressing_style": "path"},
            # checksums are sent as headers by us; never let botocore switch to aws-chunked trailers
            request_checksum_calculation="when_required",
        )
        #: The boto3 S3 client (thread-safe); tools and tests may use it for what the interface does not cover.
        self.client: Any = (session or boto3.Session()).client("s3", endpoint_url=endpoint_url, region_name=region, config=config)

    @classmethod
    def from_settings(cls, settings: StoreSettings, lock_mode: LockMode | None) -> S3Store:
        """The store ``[store]`` describes; credentials from ``aws_conn_id``'s Airflow connection when set.

        An endpoint or region in the settings wins over the connection's.
        """
        if not settings.bucket:
            raise StoreError('store.bucket is not set; add bucket = "my-proxy-archive" to [store]')
        session = None
        endpoint_url = settings.endpoint_url
        region = settings.region
        if settings.aws_conn_id:
            session, conn_endpoint, conn_region = _airflow_session(settings.aws_conn_id)
            endpoint_url = endpoint_url or conn_endpoint
            region = region or conn_region
        return cls(
            settings.bucket,
            settings.prefix,
            endpoint_url=endpoint_url,
            region=region,
            lock_mode=lock_mode,
            multipart_threshold=settings.multipart_threshold,
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            max_attempts=settings.max_attempts,
            session=session,
        )

    # -- keys ---------------------------------------------------------------------------

    def _full(self, key: str) -> str:
        if not key or key.startswith("/") or ".." in key.split("/") or key.endswith("/"):
            raise StoreError(f"{self.location}: '{key}' is not an object key; use a relative path like events/x.parquet")
        return f"{self.prefix}/{key}" if self.prefix else key

    def _full_prefix(self, prefix: str) -> str:
        return f"{self.prefix}/{prefix}" if self.prefix else prefix

    def _relative(self, full: str) -> str:
        return full[len(self.prefix) + 1 :] if self.prefix else full

    # -- calls and errors ---------------------------------------------------------------

    def _call(self, operation: str, key: str, method: Callable[..., Any], *, taken: tuple[str, ...] = (), **params: Any) -> dict[str, Any]:
        """``method(Bucket=..., **params)``; errors translated, a failed precondition (or a code in ``taken``) raised as _KeyTakenError."""
        try:
            return cast(dict[str, Any], method(Bucket=self.bucket, **params))
        except ClientError as exc:
            if _status(exc) == 412 or _code(exc) in ("PreconditionFailed", *taken):
                raise _KeyTakenError(key) from exc
            raise self._error(operation, key, exc) from exc
        except BotoCoreError as exc:
            raise self._error(operation, key, exc) from exc

    def _error(self, operation: str, key: str, exc: Exception) -> StoreError:
        """One line naming the bucket, operation, key and the fix; never credentials."""
        where = f"{self.location}: {operation} {key}" if key else f"{self.location}: {operation}"
        if isinstance(exc, NoCredentialsError | PartialCredentialsError):
            return StoreError(f"{where}: no AWS credentials found; set store.aws_conn_id or configure the standard AWS credential chain")
        if isinstance(exc, ClientError):
            code, status = _code(exc), _status(exc)
            attempts = int(exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)) + 1
            if code == "NoSuchBucket":
                return StoreError(f"s3://{self.bucket}: no such bucket; create it with `proxyvault provision`")
            if code in _NOT_FOUND:
                return ObjectMissingError(f"{self.location}: no object {key}")
            if code in _DENIED or status == 403:
                return StoreError(
                    f"{where}: access denied ({code}); check the credentials (store.aws_conn_id or the AWS chain) and the bucket policy"
                )
            if exc.response.get("ResponseMetadata", {}).get("MaxAttemptsReached") or status >= 500 or code in ("SlowDown", "Throttling"):
                return StoreError(
                    f"{where}: the endpoint kept failing after {attempts} attempts ({code}, HTTP {status}); "
                    "check the endpoint's health or raise store.max_attempts"
                )
            message = " ".join(str(exc.response.get("Error", {}).get("Message", "")).split())[:200]
            return StoreError(f"{where}: {code} (HTTP {status}): {message}; check the bucket's configuration")
        if isinstance(exc, BotoConnectionError | HTTPClientError):  # connect/read timeouts, resets, refused
            endpoint = self.endpoint_url or "the S3 endpoint"
            return StoreError(
                f"{where}: the endpoint kept failing after {self.max_attempts} attempts ({type(exc).__name__}); "
                f"check that {endpoint} is reachable, or raise store.max_attempts / store.read_timeout"
            )
        detail = " ".join(str(exc).split())[:200]
        return StoreError(f"{where}: {type(exc).__name__}: {detail}")

    # -- reading ------------------------------------------------------------------------

    def _head_raw(self, key: str) -> dict[str, Any] | None:
        full = self._full(key)
        try:
            return cast(dict[str, Any], self.client.head_object(Bucket=self.bucket, Key=full, ChecksumMode="ENABLED"))
        except ClientError as exc:
            if _code(exc) in _NOT_FOUND:
                return None
            raise self._error("head", key, exc) from exc
        except BotoCoreError as exc:
            raise self._error("head", key, exc) from exc

    def head(self, key: str) -> ObjectInfo | None:
        raw = self._head_raw(key)
        return None if raw is None else _info(key, raw)

    def open(self, key: str) -> BinaryIO:
        full = self._full(key)
        response = self._call("get", key, self.client.get_object, Key=full)
        return cast(BinaryIO, _Body(response["Body"], f"{self.location}: get {key}"))

    def list_keys(self, prefix: str) -> Iterator[str]:
        # S3 lists in UTF-8 byte order, which is code-point order: already sorted, so stream it
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self._full_prefix(prefix))
        try:
            for page in pages:
                for item in page.get("Contents", []):
                    if not item["Key"].endswith("/"):  # "folder" markers are not objects
                        yield self._relative(item["Key"])
        except (ClientError, BotoCoreError) as exc:
            raise self._error("list", prefix, exc) from exc

    def list_prefixes(self, prefix: str) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self._full_prefix(prefix), Delimiter="/")
        try:
            found = [self._relative(p["Prefix"]) for page in pages for p in page.get("CommonPrefixes", [])]
        except (ClientError, BotoCoreError) as exc:
            raise self._error("list", prefix, exc) from exc
        return sorted(found)

    # -- writing ------------------------------------------------------------------------

    def _lock_params(self, retain_until: datetime | None) -> dict[str, Any]:
        if self.lock_mode is None or retain_until is None:
            return {}
        return {"ObjectLockMode": self.lock_mode, "ObjectLockRetainUntilDate": _utc(retain_until)}

    def put_file(self, key: str, path: Path, *, sha256: str | None = None, retain_until: datetime | None = None) -> ObjectInfo:
        full = self._full(key)
        size = path.stat().st_size
        sha256 = (sha256 or sha256_path(path)).lower()
        existing = self._head_raw(key)
        if existing is not None:
            return self._same_or_conflict(key, existing, sha256, size, verify=False)
        part_size = max(self.multipart_threshold, MIN_PART_BYTES, math.ceil(size / MAX_PARTS))
        multipart = size >= self.multipart_threshold and size > 0
        try:
            if multipart:
                self._put_multipart(key, full, path, size, sha256, part_size, self._lock_params(retain_until))
            else:
                self._put_single(key, full, path, size, sha256, self._lock_params(retain_until))
        except _KeyTakenError:
            # a retried request of ours landed first, or another writer: compare, as for a re-put
            taken = self._head_raw(key)
            if taken is None:
                raise StoreError(f"{self.location}: put {key}: a concurrent write to the key did not finish; put it again") from None
            info = self._same_or_conflict(key, taken, sha256, size, verify=True, multipart=multipart)
        else:
            written = self._head_raw(key)
            if written is None:
                raise UploadMismatchError(f"{self.location}: {key}: the upload succeeded but HEAD finds no object; put it again")
            info = self._verified(key, written, sha256, size, multipart=multipart)
        if multipart:
            self._abort_stray_uploads(full)
        return info

    def _same_or_conflict(
        self, key: str, raw: dict[str, Any], sha256: str, size: int, *, verify: bool, multipart: bool = False
    ) -> ObjectInfo:
        info = _info(key, raw)
        if info.sha256 == sha256 and info.size == size:
            return self._verified(key, raw, sha256, size, multipart=multipart) if verify else info
        raise ObjectConflictError(
            f"{self.location}: {key} already holds other bytes ({info.size} bytes, sha256 {info.sha256}; not {size} bytes, {sha256}); "
            "archived objects are write-once: find out why the same key got different content"
        )

    def _verified(self, key: str, raw: dict[str, Any], sha256: str, size: int, *, multipart: bool) -> ObjectInfo:
        """The object's info when what S3 holds matches what was sent, else :class:`UploadMismatchError`."""
        info = _info(key, raw)
        multipart = multipart or info.multipart
        checksum = raw.get("ChecksumSHA256")
        if not multipart and checksum and "-" not in checksum:
            held = base64.b64decode(checksum).hex()
        else:
            # multipart: S3's checksum is of the parts' checksums; the recorded full-object hash is what compares.
            # An endpoint that returns no checksum leaves only the record (callers re-hash what they read).
            held = str(raw.get("Metadata", {}).get("sha256", "")).lower()
        held_size = int(raw.get("ContentLength", -1))
        if held != sha256 or held_size != size:
            raise UploadMismatchError(
                f"{self.location}: {key}: sent {size} bytes sha256 {sha256}, S3 holds {held_size} bytes sha256 {held}; "
                "do not trust the object: compare it with the source and check the endpoint"
            )
        return replace(info, multipart=multipart)

    def _put_single(self, key: str, full: str, path: Path, size: int, sha256: str, lock: dict[str, Any]) -> None:
        with path.open("rb") as body:
            self._call(
                "put",
                key,
                self.client.put_object,
                Key=full,
                Body=body,
                ContentLength=size,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=_b64(sha256),
                Metadata={"sha256": sha256},
                IfNoneMatch="*",
                **lock,
            )

    def _put_multipart(self, key: str, full: str, path: Path, size: int, sha256: str, part_size: int, lock: dict[str, Any]) -> None:
        created = self._call(
            "multipart create",
            key,
            self.client.create_multipart_upload,
            Key=full,
            ChecksumAlgorithm="SHA256",
            Metadata={"sha256": sha256},
            **lock,
        )
        upload_id = created["UploadId"]
        try:
            parts: list[dict[str, Any]] = []
            with path.open("rb") as file:
                for number, start in enumerate(range(0, size, part_size), 1):
                    part = _FileSlice(file, start, min(part_size, size - start))
                    digest = hashlib.sha256()
                    while block := part.read(BLOCK_BYTES):
                        digest.update(block)
                    part.seek(0)
                    checksum = base64.b64encode(digest.digest()).decode("ascii")
                    uploaded = self._call(
                        f"multipart part {number}",
                        key,
                        self.client.upload_part,
                        # NoSuchUpload: another writer of the key completed it and aborted this upload as stray
                        taken=("NoSuchUpload",),
                        Key=full,
                        UploadId=upload_id,
                        PartNumber=number,
                        Body=part,
                        ContentLength=len(part),
                        ChecksumAlgorithm="SHA256",
                        ChecksumSHA256=checksum,
                    )
                    parts.append({"PartNumber": number, "ETag": uploaded["ETag"], "ChecksumSHA256": checksum})
            self._call(
                "multipart complete",
                key,
                self.client.complete_multipart_upload,
                # NoSuchUpload: an earlier attempt of this call completed it and its response was lost
                taken=("NoSuchUpload",),
                Key=full,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
                IfNoneMatch="*",
            )
        except BaseException:
            # fails when completed already, or when the endpoint is down: then a lifecycle rule removes what is left
            with contextlib.suppress(ClientError, BotoCoreError):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=full, UploadId=upload_id)
            raise

    def _abort_stray_uploads(self, full: str) -> None:
        """Abort incomplete uploads of the key (from retried creates): it holds its object now."""
        try:
            pages = self.client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket, Prefix=full)
            for page in pages:
                for upload in page.get("Uploads", []):
                    if upload["Key"] == full:
                        self.client.abort_multipart_upload(Bucket=self.bucket, Key=full, UploadId=upload["UploadId"])
        except (ClientError, BotoCoreError):
            pass  # best effort: the object is stored and verified

    def put_pointer(self, key: str, data: bytes) -> None:
        full = self._full(key)
        sha256 = hashlib.sha256(data).hexdigest()
        lock = self._lock_params(datetime.now(UTC) + POINTER_RETENTION)
        self._call(
            "put",
            key,
            self.client.put_object,
            Key=full,
            Body=data,
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=_b64(sha256),
            Metadata={"sha256": sha256},
            **lock,
        )

    def set_legal_hold(self, key: str, on: bool) -> None:
        # HEAD first: some endpoints (moto) answer a hold on a missing key with HTTP 500, which would be retried
        if self._head_raw(key) is None:
            raise ObjectMissingError(f"{self.location}: no object {key}")
        self._call("legal hold", key, self.client.put_object_legal_hold, Key=self._full(key), LegalHold={"Status": "ON" if on else "OFF"})

    def set_retention(self, key: str, retain_until: datetime) -> None:
        info = self.head(key)
        if info is None:
            raise ObjectMissingError(f"{self.location}: no object {key}")
        mode = info.retention_mode or self.lock_mode
        if mode is None:
            raise RetentionError(f"{self.location}: {key} has no lock mode and the store has none; set [retention] mode")
        if mode == "COMPLIANCE" and info.retain_until and _utc(retain_until) < info.retain_until:
            raise RetentionError(
                f"{self.location}: {key} is locked in COMPLIANCE mode until {_utc_text(info.retain_until)}; it cannot be shortened"
            )
        try:
            self.client.put_object_retention(
                Bucket=self.bucket, Key=self._full(key), Retention={"Mode": mode, "RetainUntilDate": _utc(retain_until)}
            )
        except ClientError as exc:
            if _code(exc) in ("AccessDenied", "InvalidRequest"):
                raise RetentionError(
                    f"{self.location}: {key}: S3 refused retention {mode} until {_utc_text(retain_until)} ({_code(exc)}); "
                    "a lock can be extended, not shortened, and the bucket needs Object Lock"
                ) from exc
            raise self._error("retention", key, exc) from exc
        except BotoCoreError as exc:
            raise self._error("retention", key, exc) from exc


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: Any) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def _info(key: str, raw: dict[str, Any]) -> ObjectInfo:
    """An :class:`ObjectInfo` from a HEAD response."""
    metadata = {str(k).lower(): str(v) for k, v in raw.get("Metadata", {}).items()}
    checksum = raw.get("ChecksumSHA256")
    multipart = bool(_MULTIPART_ETAG.search(str(raw.get("ETag", "")))) or raw.get("ChecksumType") == "COMPOSITE"
    sha256 = metadata.get("sha256", "").lower() or None
    if sha256 is None and checksum and not multipart and "-" not in checksum and raw.get("ChecksumType", "FULL_OBJECT") == "FULL_OBJECT":
        sha256 = base64.b64decode(checksum).hex()
    until = raw.get("ObjectLockRetainUntilDate")
    return ObjectInfo(
        key=key,
        size=int(raw["ContentLength"]),
        sha256=sha256,
        retention_mode=raw.get("ObjectLockMode"),
        retain_until=_utc(until) if isinstance(until, datetime) else None,
        legal_hold=raw.get("ObjectLockLegalHoldStatus") == "ON",
        storage_class=str(raw.get("StorageClass") or "STANDARD"),
        multipart=multipart,
    )


def _airflow_session(conn_id: str) -> tuple[Any, str | None, str | None]:
    """A boto3 session, endpoint and region from an Airflow connection (imported here: Airflow loads slowly)."""
    try:
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
    except ImportError:
        pass
    else:
        hook = AwsBaseHook(aws_conn_id=conn_id, client_type="s3")
        return hook.get_session(), hook.conn_config.endpoint_url, hook.conn_region_name
    get_connection: Callable[[str], Any]
    try:
        from airflow.sdk import BaseHook

        get_connection = BaseHook.get_connection
    except ImportError:  # Airflow 2
        get_connection = importlib.import_module("airflow.hooks.base").BaseHook.get_connection
    try:
        conn = get_connection(conn_id)
    except Exception as exc:  # Airflow raises its own types (AirflowNotFoundException, ...)
        raise StoreError(
            f"store.aws_conn_id: Airflow connection '{conn_id}' not found ({type(exc).__name__}); create it or fix the id"
        ) from exc
    extra = conn.extra_dejson or {}
    session = boto3.Session(
        aws_access_key_id=conn.login or None,
        aws_secret_access_key=conn.password or None,
        aws_session_token=extra.get("aws_session_token") or None,
        region_name=extra.get("region_name") or None,
    )
    endpoint = extra.get("endpoint_url") or (extra.get("service_config", {}).get("s3", {}).get("endpoint_url"))
    return session, endpoint or None, extra.get("region_name") or None
