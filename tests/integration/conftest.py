"""Integration fixtures: moto's S3 server over real HTTP (one per session), and a fresh bucket per test."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from infra.devs3 import moto_s3_server


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 on 127.0.0.1 (dummy credentials in the environment while it runs)."""
    # werkzeug logs every request at INFO; keep warnings and errors only, and only while moto runs
    werkzeug = logging.getLogger("werkzeug")
    level = werkzeug.level
    werkzeug.setLevel(logging.WARNING)
    try:
        with moto_s3_server() as endpoint:
            yield endpoint
    finally:
        werkzeug.setLevel(level)


@pytest.fixture(scope="session")
def s3_session(s3_endpoint: str) -> Any:
    """One boto3 session for the tests' stores: a new one per store costs a tenth of a second."""
    import boto3

    return boto3.Session()


@pytest.fixture(scope="session")
def s3_client(s3_endpoint: str) -> Any:
    """A plain boto3 client straight to moto: for setting up and for checking behind a store's back."""
    import boto3
    from botocore.config import Config

    config = Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"mode": "standard", "max_attempts": 2})
    return boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", config=config)


@pytest.fixture
def s3_bucket(s3_client: Any) -> str:
    """A new bucket for this test, with Object Lock and versioning enabled."""
    name = f"pv-test-{uuid.uuid4().hex[:16]}"
    s3_client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    s3_client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name
