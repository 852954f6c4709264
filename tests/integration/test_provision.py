"""Provisioning against moto's S3 server over real HTTP.

moto keeps Object Lock, versioning, default retention, lifecycle rules and bucket
policies as sent, refuses to delete a COMPLIANCE-locked version and shows an object's
lock in HEAD. It evaluates a bucket policy without any request context, though: a Deny
statement applies whatever its condition, so once our policy (deny plain HTTP) is on a
bucket every object request to it is refused, as AWS would refuse plain HTTP. Objects
are therefore written to a bucket provisioned with ``apply_bucket_policy=False``, and
the policy is checked on a bucket of its own.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

import boto3
import pytest
from botocore.exceptions import ClientError

from infra.config import RetentionSettings, Transition
from infra.devs3 import moto_s3_server
from infra.provision import LIFECYCLE_RULE_ID, ProvisionError, ProvisionReport, load_policy, provision_bucket
from infra.retention import check_retention, retain_until

POLICY = RetentionSettings()  # COMPLIANCE, 7 years, GLACIER_IR after 90 days, DEEP_ARCHIVE after 365
#: moto's buckets live in one store per process, shared with other test modules: names get a run suffix.
RUN = uuid.uuid4().hex[:8]
ARCHIVE = f"pv-archive-{RUN}"  # no bucket policy: objects are written here
PREFIX = "logs"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_s3_server() as url:
        yield url


@pytest.fixture(scope="module")
def s3(endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")


class Runs(NamedTuple):
    first: ProvisionReport
    after_first: dict[str, Any]
    second: ProvisionReport
    after_second: dict[str, Any]


@pytest.fixture(scope="module")
def archive(s3: Any) -> Runs:
    """The archive bucket provisioned twice, with its settings read back after each run."""
    first = provision_bucket(s3, ARCHIVE, PREFIX, POLICY, apply_bucket_policy=False)
    after_first = settings(s3, ARCHIVE)
    second = provision_bucket(s3, ARCHIVE, PREFIX, POLICY, apply_bucket_policy=False)
    return Runs(first, after_first, second, settings(s3, ARCHIVE))


def settings(s3: Any, bucket: str) -> dict[str, Any]:
    """Everything provisioning sets, as the server reports it (without request metadata)."""
    answers = {
        "versioning": s3.get_bucket_versioning(Bucket=bucket),
        "object_lock": s3.get_object_lock_configuration(Bucket=bucket),
        "lifecycle": s3.get_bucket_lifecycle_configuration(Bucket=bucket),
    }
    try:
        answers["policy"] = s3.get_bucket_policy(Bucket=bucket)
    except ClientError:
        answers["policy"] = {}
    for answer in answers.values():
        answer.pop("ResponseMetadata", None)
    return answers


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def put(s3: Any, key: str, data: bytes, **extra: Any) -> Any:
    """A write as the archive makes it: with its SHA-256 checksum header."""
    return s3.put_object(Bucket=ARCHIVE, Key=key, Body=data, ChecksumAlgorithm="SHA256", ChecksumSHA256=sha256_b64(data), **extra)


def test_new_bucket_is_created_with_every_setting(archive: Runs) -> None:
    first, read_back = archive.first, archive.after_first
    assert [(s.name, s.status) for s in first.steps] == [
        ("bucket", "created"),
        ("versioning", "unchanged"),  # S3 turns versioning on with Object Lock
        ("object-lock", "set"),
        ("lifecycle", "set"),
        ("bucket-policy", "skipped"),
    ]
    assert first.changed and first.prefix == "logs/"
    assert read_back["versioning"]["Status"] == "Enabled"
    lock = read_back["object_lock"]["ObjectLockConfiguration"]
    assert lock["ObjectLockEnabled"] == "Enabled"
    assert lock["Rule"]["DefaultRetention"]["Mode"] == "COMPLIANCE"
    assert lock["Rule"]["DefaultRetention"]["Years"] == 7
    [rule] = read_back["lifecycle"]["Rules"]
    assert rule["ID"] == LIFECYCLE_RULE_ID and rule["Status"] == "Enabled"
    assert rule["Filter"] == {"Prefix": "logs/"}
    assert rule["Transitions"] == [{"Days": 90, "StorageClass": "GLACIER_IR"}, {"Days": 365, "StorageClass": "DEEP_ARCHIVE"}]
    assert rule["NoncurrentVersionTransitions"] == [
        {"NoncurrentDays": 90, "StorageClass": "GLACIER_IR"},
        {"NoncurrentDays": 365, "StorageClass": "DEEP_ARCHIVE"},
    ]
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
    rendered = first.render()
    assert rendered.startswith(f"s3://{ARCHIVE}/logs/: 1 created, 1 unchanged, 2 set, 1 skipped")
    assert "COMPLIANCE 7 years" in rendered and "GLACIER_IR after 90 days" in rendered


def test_second_run_changes_nothing(archive: Runs) -> None:
    second = archive.second
    assert [(s.name, s.status) for s in second.steps] == [
        ("bucket", "unchanged"),
        ("versioning", "unchanged"),
        ("object-lock", "unchanged"),
        ("lifecycle", "unchanged"),
        ("bucket-policy", "skipped"),
    ]
    assert not second.changed
    assert archive.after_second == archive.after_first


def test_bucket_policy_is_applied_once_and_keeps_other_statements(s3: Any) -> None:
    bucket = f"pv-policy-{RUN}"
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    other = {
        "Sid": "AuditorRead",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:role/auditor"},
        "Action": "s3:GetObject",
    }
    other["Resource"] = f"arn:aws:s3:::{bucket}/*"
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [other]}))

    first = provision_bucket(s3, bucket, PREFIX, POLICY)
    assert first.step("bucket").status == "unchanged" and first.step("bucket-policy").status == "set"
    assert "1 other statement kept" in first.step("bucket-policy").detail
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert policy["Statement"] == [other, *load_policy("bucket-policy", bucket, PREFIX)["Statement"]]

    second = provision_bucket(s3, bucket, PREFIX, POLICY)
    assert {s.status for s in second.steps} == {"unchanged"}
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == policy


def test_bucket_policy_refuses_plain_http(s3: Any) -> None:
    """Plain HTTP to a bucket with the policy is refused (moto: whatever the condition; AWS: because of it)."""
    bucket = f"pv-policy-http-{RUN}"
    provision_bucket(s3, bucket, "", POLICY)
    data = b"over plain http"
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket=bucket, Key="x", Body=data, ChecksumAlgorithm="SHA256", ChecksumSHA256=sha256_b64(data))
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_changed_config_is_applied_and_other_lifecycle_rules_kept(s3: Any) -> None:
    bucket = f"pv-change-{RUN}"
    other = {"ID": "tmp-cleanup", "Filter": {"Prefix": "tmp/"}, "Status": "Enabled", "Expiration": {"Days": 1}}
    governance = RetentionSettings(mode="GOVERNANCE", years=1, transitions=(Transition(30, "STANDARD_IA"),))
    provision_bucket(s3, bucket, PREFIX, governance, apply_bucket_policy=False)
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [other, *rules]})

    report = provision_bucket(s3, bucket, PREFIX, POLICY, apply_bucket_policy=False)
    assert report.step("object-lock").status == "set" and "was GOVERNANCE 1 year" in report.step("object-lock").detail
    assert report.step("lifecycle").status == "set" and "1 other rule kept" in report.step("lifecycle").detail
    lock = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    assert lock["Rule"]["DefaultRetention"]["Mode"] == "COMPLIANCE" and lock["Rule"]["DefaultRetention"]["Years"] == 7
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    assert rules["tmp-cleanup"] == other
    assert [t["StorageClass"] for t in rules[LIFECYCLE_RULE_ID]["Transitions"]] == ["GLACIER_IR", "DEEP_ARCHIVE"]


def test_bucket_without_object_lock_is_refused(s3: Any) -> None:
    bucket = f"pv-unlocked-{RUN}"
    s3.create_bucket(Bucket=bucket)
    with pytest.raises(ProvisionError) as failed:
        provision_bucket(s3, bucket, PREFIX, POLICY)
    message = str(failed.value)
    assert message.startswith(f"s3://{bucket}/logs/: bucket: the bucket exists without Object Lock")
    assert "can only enable when a bucket is created" in message and "provision a new bucket" in message
    assert "\n" not in message


def test_missing_bucket_without_create_is_refused(s3: Any) -> None:
    with pytest.raises(ProvisionError, match="no such bucket; create it with Object Lock"):
        provision_bucket(s3, f"pv-missing-{RUN}", PREFIX, POLICY, create=False)


def test_bucket_outside_us_east_1_gets_its_location(endpoint: str) -> None:
    s3_eu = boto3.client("s3", endpoint_url=endpoint, region_name="eu-west-1")
    bucket = f"pv-eu-{RUN}"
    report = provision_bucket(s3_eu, bucket, PREFIX, POLICY, apply_bucket_policy=False)
    assert report.step("bucket").status == "created" and "eu-west-1" in report.step("bucket").detail
    assert s3_eu.get_bucket_location(Bucket=bucket)["LocationConstraint"] == "eu-west-1"


@pytest.mark.usefixtures("archive")
def test_object_without_retention_gets_the_default(s3: Any) -> None:
    before = datetime.now(UTC)
    put(s3, "logs/default.bin", b"default retention")
    head = s3.head_object(Bucket=ARCHIVE, Key="logs/default.bin", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == sha256_b64(b"default retention")
    assert head["ObjectLockMode"] == "COMPLIANCE"
    until = head["ObjectLockRetainUntilDate"]
    # moto counts a year as 365 days; AWS by the calendar
    assert before + timedelta(days=7 * 365 - 1) <= until <= datetime.now(UTC) + timedelta(days=7 * 366)


@pytest.mark.usefixtures("archive")
def test_object_with_event_date_retention_keeps_it(s3: Any) -> None:
    event_date = date(2026, 2, 1)
    until = retain_until(event_date, POLICY.years)
    put(s3, "logs/event.bin", b"event retention", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until)
    head = s3.head_object(Bucket=ARCHIVE, Key="logs/event.bin")
    assert head["ObjectLockMode"] == "COMPLIANCE" and head["ObjectLockRetainUntilDate"] == until
    assert check_retention(head["ObjectLockMode"], head["ObjectLockRetainUntilDate"], event_date, POLICY) is None
    assert check_retention(head["ObjectLockMode"], head["ObjectLockRetainUntilDate"], date(2026, 2, 2), POLICY) is not None


@pytest.mark.usefixtures("archive")
def test_locked_version_cannot_be_deleted(s3: Any) -> None:
    version = put(s3, "logs/locked.bin", b"locked")["VersionId"]
    for extra in ({}, {"BypassGovernanceRetention": True}):
        with pytest.raises(ClientError) as refused:
            s3.delete_object(Bucket=ARCHIVE, Key="logs/locked.bin", VersionId=version, **extra)
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert s3.head_object(Bucket=ARCHIVE, Key="logs/locked.bin", VersionId=version)["ContentLength"] == len(b"locked")
