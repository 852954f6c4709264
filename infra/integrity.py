"""Integrity primitives: canonical JSON, the digest signing key pair, signatures.

Manifests and digests are JSON with sorted keys and no insignificant whitespace, so the
same content is always the same bytes and the same SHA-256. A digest is signed with
Ed25519 over its canonical JSON *without* the ``signature`` field; the signature (base64)
is then added as that field. Ed25519 signatures are deterministic, so re-sealing the same
hour with the same key gives the same bytes.

A key's fingerprint is ``SHA256:`` and the hex SHA-256 of its raw 32-byte public key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


class SigningKeyError(ValueError):
    """A signing or public key cannot be read; the message names the file and the fix."""


def canonical_json(document: Any) -> bytes:
    """The one byte form of a JSON document: sorted keys, compact, UTF-8, newline-terminated.

    >>> canonical_json({"b": 1, "a": [1, "é"]})
    b'{"a":[1,"\\xc3\\xa9"],"b":1}\\n'
    """
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fingerprint(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "SHA256:" + hashlib.sha256(raw).hexdigest()


def public_pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


@dataclass(frozen=True)
class Signer:
    """The private half: signs digests."""

    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key)

    def sign(self, payload: bytes) -> str:
        return base64.b64encode(self.private_key.sign(payload)).decode()


def generate_keypair(private_path: Path, public_path: Path) -> Signer:
    """Write a new Ed25519 key pair: the private key readable by its owner only (0600).

    Refuses to overwrite an existing private key: digests it signed would become
    unverifiable if it were lost.
    """
    if private_path.exists():
        raise SigningKeyError(f"{private_path}: a signing key already exists; keep it, or move it away first to rotate keys")
    private_key = Ed25519PrivateKey.generate()
    private_path.parent.mkdir(parents=True, exist_ok=True)
    pem = private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    os.chmod(private_path, 0o600)  # whatever the umask
    public_path.parent.mkdir(parents=True, exist_ok=True)
    public_path.write_bytes(public_pem(private_key.public_key()))
    return Signer(private_key)


def load_signer(path: Path) -> Signer:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SigningKeyError(f"{path}: cannot read the signing key ({exc.strerror}); create one with `proxyvault keys generate`") from None
    mode = path.stat().st_mode & 0o077
    if mode:
        raise SigningKeyError(f"{path}: the signing key is readable by others (mode {path.stat().st_mode & 0o777:o}); run chmod 600 {path}")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except ValueError:
        raise SigningKeyError(f"{path}: not a PEM private key; point [keys] private at the file `proxyvault keys generate` wrote") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path}: not an Ed25519 key; digests are signed with Ed25519 (`proxyvault keys generate`)")
    return Signer(key)


def load_public_key(data: bytes, where: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        raise SigningKeyError(f"{where}: not a PEM public key; use the .pub.pem file `proxyvault keys generate` wrote") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError(f"{where}: not an Ed25519 public key")
    return key


def load_public_keys(paths: list[Path]) -> dict[str, Ed25519PublicKey]:
    """Trusted public keys by fingerprint."""
    keys: dict[str, Ed25519PublicKey] = {}
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise SigningKeyError(f"{path}: cannot read the public key ({exc.strerror}); check [keys] public / trusted") from None
        key = load_public_key(data, str(path))
        keys[fingerprint(key)] = key
    return keys


def signed_document(document: dict[str, Any], signer: Signer) -> bytes:
    """``document`` plus its Ed25519 ``signature``, as canonical JSON bytes."""
    body = {k: v for k, v in document.items() if k != "signature"}
    return canonical_json({**body, "signature": signer.sign(canonical_json(body))})


def signature_problem(document: dict[str, Any], keys: dict[str, Ed25519PublicKey]) -> str | None:
    """Why ``document``'s signature does not hold, or None when it does.

    The key is chosen by the document's ``public_key_fingerprint`` among ``keys`` (the
    trusted ones); a fingerprint nobody trusts is a problem even if the signature matches.
    """
    signature = document.get("signature")
    fp = document.get("public_key_fingerprint")
    if not isinstance(signature, str) or not isinstance(fp, str):
        return "no signature or key fingerprint"
    key = keys.get(fp)
    if key is None:
        return f"signed by untrusted key {fp}"
    body = {k: v for k, v in document.items() if k != "signature"}
    try:
        key.verify(base64.b64decode(signature, validate=True), canonical_json(body))
    except (InvalidSignature, ValueError):
        return f"signature does not match its content under key {fp}"
    return None
