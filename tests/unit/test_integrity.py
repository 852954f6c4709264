"""Signing keys, canonical JSON and digest signatures (infra/integrity.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.integrity import (
    SigningKeyError,
    canonical_json,
    generate_keypair,
    load_public_keys,
    load_signer,
    signature_problem,
    signed_document,
)


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    generate_keypair(tmp_path / "k.pem", tmp_path / "k.pub.pem")
    return tmp_path / "k.pem", tmp_path / "k.pub.pem"


def test_private_key_is_owner_only_and_never_overwritten(pair: tuple[Path, Path]) -> None:
    private, public = pair
    assert private.stat().st_mode & 0o777 == 0o600
    before = private.read_bytes()
    with pytest.raises(SigningKeyError, match="already exists"):
        generate_keypair(private, public)
    assert private.read_bytes() == before


def test_a_readable_private_key_is_refused(pair: tuple[Path, Path]) -> None:
    private, _ = pair
    private.chmod(0o644)
    with pytest.raises(SigningKeyError, match="chmod 600"):
        load_signer(private)


def test_missing_key_names_the_command(tmp_path: Path) -> None:
    with pytest.raises(SigningKeyError, match="proxyvault keys generate"):
        load_signer(tmp_path / "none.pem")


def test_canonical_json_is_the_same_bytes_whatever_the_key_order() -> None:
    assert canonical_json({"b": [1, {"d": 1, "c": 2}], "a": "é"}) == canonical_json({"a": "é", "b": [1, {"c": 2, "d": 1}]})


def test_signature_holds_for_the_signed_content_only(pair: tuple[Path, Path]) -> None:
    private, public = pair
    signer = load_signer(private)
    keys = load_public_keys([public])
    document = {"hour": "2026-11-22T10:00:00Z", "manifests": [], "public_key_fingerprint": signer.fingerprint}
    signed = json.loads(signed_document(document, signer))
    assert signature_problem(signed, keys) is None
    assert signed_document(document, signer) == signed_document(document, signer)  # Ed25519 is deterministic
    edited = {**signed, "manifests": [{"key": "x"}]}
    assert "does not match" in (signature_problem(edited, keys) or "")
    assert "untrusted" in (signature_problem({**signed, "public_key_fingerprint": "SHA256:00"}, keys) or "")
    assert signature_problem({k: v for k, v in signed.items() if k != "signature"}, keys) == "no signature or key fingerprint"
    assert "does not match" in (signature_problem({**signed, "signature": "not base64!"}, keys) or "")


def test_a_public_key_file_that_is_not_a_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pub.pem"
    bad.write_text("hello")
    with pytest.raises(SigningKeyError, match="not a PEM public key"):
        load_public_keys([bad])
