"""The policy templates in infra/policies: valid JSON, filled completely, and saying what they must."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.config import RetentionSettings
from infra.provision import POLICY_NAMES, ProvisionError, load_policy, provision_bucket

POLICIES = Path(__file__).parents[2] / "infra" / "policies"
PREFIXES = [pytest.param("logs", id="prefix"), pytest.param("/a/b/", id="nested-prefix"), pytest.param("", id="whole-bucket")]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(policy: dict[str, Any], effect: str) -> list[dict[str, Any]]:
    return [s for s in policy["Statement"] if s["Effect"] == effect]


def actions(statement: dict[str, Any]) -> set[str]:
    return set(as_list(statement.get("Action", [])))


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_template_parses_and_has_placeholders(name: str) -> None:
    text = (POLICIES / f"{name}.json").read_text(encoding="utf-8")
    template = json.loads(text)
    assert template["Version"] == "2012-10-17"
    assert "${Bucket}" in text and "${Prefix}" in text


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("name", POLICY_NAMES)
def test_filled_policy_has_no_placeholders(name: str, prefix: str) -> None:
    policy = load_policy(name, "pv-archive", prefix)
    text = json.dumps(policy)
    assert "${" not in text
    assert "arn:aws:s3:::pv-archive" in text
    assert "//" not in text.replace("arn:aws:s3:::", "")
    assert load_policy(f"{name}.json", "pv-archive", prefix) == policy


def test_bucket_policy_denies_plain_http() -> None:
    policy = load_policy("bucket-policy", "pv-archive", "logs")
    tls = [
        s
        for s in statements(policy, "Deny")
        if s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") in ("false", ["false"]) and actions(s) == {"s3:*"}
    ]
    assert len(tls) == 1
    assert tls[0]["Principal"] == "*"
    assert set(as_list(tls[0]["Resource"])) == {"arn:aws:s3:::pv-archive", "arn:aws:s3:::pv-archive/*"}


def test_bucket_policy_denies_deletes_under_the_prefix() -> None:
    policy = load_policy("bucket-policy", "pv-archive", "logs")
    denied = [s for s in statements(policy, "Deny") if "Condition" not in s]
    assert {"s3:DeleteObject", "s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"} <= set().union(*map(actions, denied))
    for statement in denied:
        assert statement["Principal"] == "*"
        assert as_list(statement["Resource"]) == ["arn:aws:s3:::pv-archive/logs/*"]
    assert statements(policy, "Allow") == []


def test_bucket_policy_leaves_provisioning_possible() -> None:
    """Nothing but plain HTTP is denied on the bucket's own configuration."""
    policy = load_policy("bucket-policy", "pv-archive", "logs")
    unconditional = set().union(*(actions(s) for s in statements(policy, "Deny") if "Condition" not in s))
    assert not any(a.startswith(("s3:PutBucket", "s3:PutLifecycle", "s3:GetBucket")) for a in unconditional)
    assert "s3:*" not in unconditional


def test_iam_policy_allows_no_delete_and_no_wildcard() -> None:
    policy = load_policy("pipeline-iam-policy", "pv-archive", "logs")
    allowed = set().union(*(actions(s) for s in statements(policy, "Allow")))
    assert not [a for a in allowed if a.lower().startswith("s3:delete") or "*" in a]
    assert not any("NotAction" in s for s in statements(policy, "Allow"))
    assert {"s3:PutObject", "s3:GetObject", "s3:ListBucket", "s3:PutObjectRetention", "s3:RestoreObject"} <= allowed
    assert "s3:BypassGovernanceRetention" not in allowed


def test_iam_policy_is_scoped_to_the_bucket_and_prefix() -> None:
    policy = load_policy("pipeline-iam-policy", "pv-archive", "logs")
    for statement in statements(policy, "Allow"):
        for resource in as_list(statement["Resource"]):
            assert resource in ("arn:aws:s3:::pv-archive", "arn:aws:s3:::pv-archive/logs/*")
    listing = [s for s in statements(policy, "Allow") if "s3:ListBucket" in actions(s)]
    assert [s["Condition"] for s in listing] == [{"StringLike": {"s3:prefix": ["logs/*"]}}]


def test_iam_policy_explicitly_denies_deletes() -> None:
    policy = load_policy("pipeline-iam-policy", "pv-archive", "logs")
    denied = set().union(*(actions(s) for s in statements(policy, "Deny")))
    assert {"s3:DeleteObject", "s3:DeleteObjectVersion", "s3:BypassGovernanceRetention", "s3:PutBucketPolicy"} <= denied


def test_iam_policy_for_whole_bucket_lists_without_prefix_condition() -> None:
    policy = load_policy("pipeline-iam-policy", "pv-archive", "")
    listing = [s for s in statements(policy, "Allow") if "s3:ListBucket" in actions(s)]
    assert len(listing) == 1 and "Condition" not in listing[0]
    objects = set().union(*(as_list(s["Resource"]) for s in statements(policy, "Allow")))
    assert "arn:aws:s3:::pv-archive/*" in objects


@pytest.mark.parametrize(
    ("name", "bucket", "prefix", "message"),
    [
        pytest.param("nope", "pv-archive", "logs", "no policy template", id="unknown-template"),
        pytest.param("bucket-policy", "pv", "logs", "not a bucket name", id="short-bucket"),
        pytest.param("bucket-policy", "pv-*", "logs", "not a bucket name", id="wildcard-bucket"),
        pytest.param("bucket-policy", "pv-archive", "logs/*", "would act as a pattern", id="wildcard-prefix"),
        pytest.param("bucket-policy", "pv-archive", "${aws:username}", "would act as a pattern", id="variable-prefix"),
    ],
)
def test_load_policy_rejects(name: str, bucket: str, prefix: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_policy(name, bucket, prefix)


@pytest.mark.parametrize(
    ("bucket", "prefix", "message"),
    [
        pytest.param("pv", "logs", "'pv' is not a bucket name", id="short-bucket"),
        pytest.param("pv-archive", "logs/*", r"s3://pv-archive/: prefix 'logs/\*': \* would act as a pattern", id="wildcard-prefix"),
    ],
)
def test_provision_refuses_bad_names_before_any_call(bucket: str, prefix: str, message: str) -> None:
    with pytest.raises(ProvisionError, match=message):
        provision_bucket(object(), bucket, prefix, RetentionSettings())
