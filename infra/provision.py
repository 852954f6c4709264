"""Provision the archive bucket: Object Lock, versioning, default retention, lifecycle, policy.

:func:`provision_bucket` makes an S3 bucket (AWS or any S3-compatible provider) fit to
hold the archive, one step at a time, and is idempotent: each step reads the setting,
changes it only when it differs from what the config asks for, and reads it back. Its
:class:`ProvisionReport` says per step ``created``/``set`` (changed), ``unchanged`` or
``skipped``, with the setting as read back.

1. **bucket**: created with Object Lock when missing (``create``). An existing bucket
   without Object Lock is an error: most providers can only enable it at creation.
2. **versioning**: enabled (Object Lock needs it; S3 enables it with the lock).
3. **object-lock**: the default retention (``retention.mode``, ``retention.years``), a
   floor for any object written without its own retention. It counts from the upload,
   while each archive write sets its own retain-until (event date + years, see
   :mod:`infra.retention`), which takes precedence.
4. **lifecycle**: one rule, ``proxyvault-archive``, for the prefix: the
   ``retention.transitions`` (e.g. GLACIER_IR after 90 days, DEEP_ARCHIVE after 365)
   for current and noncurrent versions, and incomplete multipart uploads aborted after
   7 days. Other rules on the bucket are kept.
5. **bucket-policy**: the statements of ``policies/bucket-policy.json`` (deny plain
   HTTP, deny deletes and governance bypass under the prefix). Other statements are kept.

The templates in ``infra/policies/`` are read with :func:`load_policy`; see
``infra/policies/README.md``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from infra.config import RetentionSettings

#: A boto3 S3 client (boto3 ships no type information).
S3Client = Any
StepStatus = Literal["created", "set", "unchanged", "skipped"]

POLICY_NAMES = ("bucket-policy", "pipeline-iam-policy")
#: The lifecycle rule this module owns; other rules on the bucket are left alone.
LIFECYCLE_RULE_ID = "proxyvault-archive"
#: Days after which an unfinished multipart upload is aborted (its parts are billed until then).
ABORT_MULTIPART_DAYS = 7
#: Every statement this module owns starts with this Sid; others in a bucket policy are kept.
SID_PREFIX = "ProxyVault"
POLICY_VERSION = "2012-10-17"

_BUCKET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{2,254}")
#: Characters that would widen an ARN or condition pattern, or start a policy variable.
_PATTERN_CHARS = set("*?$")


class ProvisionError(RuntimeError):
    """The bucket cannot be provisioned as configured; one line naming the bucket, the step and the fix."""


@dataclass(frozen=True)
class Step:
    name: str
    status: StepStatus
    #: The setting as read back after the step (or why it was skipped).
    detail: str


@dataclass(frozen=True)
class ProvisionReport:
    bucket: str
    #: The key prefix the archive lives under: ``""`` (whole bucket) or ending in ``/``.
    prefix: str
    steps: tuple[Step, ...]

    @property
    def changed(self) -> bool:
        """Whether any step created or changed something."""
        return any(step.status in ("created", "set") for step in self.steps)

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    def render(self) -> str:
        """A few aligned lines for humans.

        >>> print(ProvisionReport("pv-archive", "logs/", (Step("bucket", "created", "Object Lock enabled"),)).render())
        s3://pv-archive/logs/: 1 created
          bucket  created  Object Lock enabled
        """
        counts: dict[str, int] = {}
        for step in self.steps:
            counts[step.status] = counts.get(step.status, 0) + 1
        summary = ", ".join(f"{n} {status}" for status, n in counts.items())
        name_width = max((len(s.name) for s in self.steps), default=0)
        status_width = max((len(s.status) for s in self.steps), default=0)
        lines = [f"s3://{self.bucket}/{self.prefix}: {summary}"]
        lines += [f"  {s.name:<{name_width}}  {s.status:<{status_width}}  {s.detail}".rstrip() for s in self.steps]
        return "\n".join(lines)


def key_prefix(prefix: str) -> str:
    """The archive's key prefix as it appears in ARNs and lifecycle filters: ``""`` or ``"logs/"``.

    >>> key_prefix("/logs/proxy/"), key_prefix("")
    ('logs/proxy/', '')
    """
    stripped = prefix.strip("/")
    if bad := sorted(set(stripped) & _PATTERN_CHARS):
        raise ValueError(f"prefix {prefix!r}: {' '.join(bad)} would act as a pattern or variable in policies; choose a plain prefix")
    return f"{stripped}/" if stripped else ""


def load_policy(name: str, bucket: str, prefix: str) -> dict[str, Any]:
    """The JSON template ``infra/policies/<name>.json`` with ``${Bucket}`` and ``${Prefix}`` filled.

    ``${Prefix}`` becomes :func:`key_prefix` of ``prefix`` (``"logs/"``, or ``""`` for the
    whole bucket), so ``arn:aws:s3:::${Bucket}/${Prefix}*`` covers the archive's keys.
    With an empty prefix, a ``s3:prefix`` condition that would match everything is
    dropped (a list request without a prefix carries no ``s3:prefix`` at all).

    >>> policy = load_policy("bucket-policy", "pv-archive", "logs")
    >>> policy["Statement"][1]["Resource"]
    'arn:aws:s3:::pv-archive/logs/*'
    """
    stem = name.removesuffix(".json")
    if stem not in POLICY_NAMES:
        raise ValueError(f"no policy template {name!r}; the templates are {', '.join(POLICY_NAMES)}")
    if not _BUCKET_NAME.fullmatch(bucket):
        raise ValueError(f"{bucket!r} is not a bucket name; S3 bucket names have 3 to 63 letters, digits, '.' and '-'")
    values = {"${Bucket}": bucket, "${Prefix}": key_prefix(prefix)}
    text = resources.files("infra").joinpath("policies").joinpath(f"{stem}.json").read_text(encoding="utf-8")
    policy = _fill(json.loads(text), values)
    if not isinstance(policy, dict) or not isinstance(policy.get("Statement"), list):
        raise ValueError(f"policies/{stem}.json: not a policy document (an object with a Statement list); fix the template")
    leftover = re.findall(r"\$\{[^}]*\}", json.dumps(policy))
    if leftover:
        raise ValueError(f"policies/{stem}.json: unknown placeholder {leftover[0]}; the placeholders are {', '.join(values)}")
    if not values["${Prefix}"]:
        for statement in policy["Statement"]:
            condition = statement.get("Condition", {})
            like = condition.get("StringLike", {})
            if like.get("s3:prefix") in (["*"], "*"):
                del like["s3:prefix"]
                if not like:
                    del condition["StringLike"]
                if not condition:
                    del statement["Condition"]
    return policy


def _fill(value: Any, values: dict[str, str]) -> Any:
    """Replace placeholders inside the parsed JSON's strings (never in its syntax)."""
    if isinstance(value, str):
        for placeholder, text in values.items():
            value = value.replace(placeholder, text)
        return value
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    if isinstance(value, dict):
        return {_fill(k, values): _fill(v, values) for k, v in value.items()}
    return value


def provision_bucket(
    client: S3Client,
    bucket: str,
    prefix: str,
    retention: RetentionSettings,
    *,
    create: bool = True,
    apply_bucket_policy: bool = True,
) -> ProvisionReport:
    """Make ``bucket`` fit for the archive under ``prefix``; see the module docstring for the steps.

    Raises :class:`ProvisionError` (one line) when the bucket is missing and ``create`` is
    False, exists without Object Lock, belongs to someone else, or the provider refuses
    or does not keep a setting. ``apply_bucket_policy=False`` skips the bucket policy
    (for endpoints reached over plain HTTP, which the policy denies).
    """
    if not _BUCKET_NAME.fullmatch(bucket):
        raise ProvisionError(f"{bucket!r} is not a bucket name; S3 bucket names have 3 to 63 letters, digits, '.' and '-'")
    try:
        prefix = key_prefix(prefix)
    except ValueError as exc:
        raise ProvisionError(f"s3://{bucket}/: {exc}") from None
    s3 = _Calls(client, f"s3://{bucket}/{prefix}")
    steps = [
        _ensure_bucket(s3, bucket, create),
        _ensure_versioning(s3, bucket),
        _ensure_object_lock(s3, bucket, retention),
        _ensure_lifecycle(s3, bucket, prefix, retention),
        _ensure_bucket_policy(s3, bucket, prefix) if apply_bucket_policy else Step("bucket-policy", "skipped", "apply_bucket_policy=False"),
    ]
    return ProvisionReport(bucket, prefix, tuple(steps))


class _Calls:
    """The client's calls, with provider errors turned into one-line :class:`ProvisionError`."""

    def __init__(self, client: S3Client, where: str) -> None:
        self.client = client
        self.where = where

    def __call__(
        self, step: str, operation: str, *, missing: tuple[str, ...] = (), hints: dict[str, str] | None = None, **kwargs: Any
    ) -> Any:
        """``client.<operation>(**kwargs)``; None when the error code is one of ``missing``.

        ``hints`` maps error codes to the fix the message ends with.
        """
        method: Callable[..., Any] = getattr(self.client, operation)
        try:
            return method(**kwargs)
        except ClientError as exc:
            code = _error_code(exc)
            if code in missing:
                return None
            message = exc.response.get("Error", {}).get("Message") or "no message"
            fix = (hints or {}).get(code, "check the credentials' permissions and the provider's support")
            raise ProvisionError(f"{self.where}: {step}: {operation} failed ({code}: {message}); {fix}") from None
        except BotoCoreError as exc:
            raise ProvisionError(f"{self.where}: {step}: {operation} failed ({exc}); check the endpoint and the network") from None

    def fail(self, step: str, problem: str) -> ProvisionError:
        return ProvisionError(f"{self.where}: {step}: {problem}")


def _error_code(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return str(error.get("Code") or status or "unknown")


def _region(client: S3Client) -> str:
    region = getattr(getattr(client, "meta", None), "region_name", None)
    return region if isinstance(region, str) and region else "us-east-1"


def _ensure_bucket(s3: _Calls, bucket: str, create: bool) -> Step:
    region = _region(s3.client)
    exists = (
        s3(
            "bucket",
            "head_bucket",
            missing=("404", "NoSuchBucket", "NotFound"),
            hints={"403": "the bucket belongs to another account, or these credentials lack s3:ListBucket on it"},
            Bucket=bucket,
        )
        is not None
    )
    created = False
    if not exists:
        if not create:
            raise s3.fail("bucket", "no such bucket; create it with Object Lock enabled, or provision with create=True")
        kwargs: dict[str, Any] = {"Bucket": bucket, "ObjectLockEnabledForBucket": True}
        if region != "us-east-1":  # us-east-1 refuses its own name as a LocationConstraint
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        taken = "bucket names are global: another account owns this one; choose another store.bucket"
        created = (
            s3("bucket", "create_bucket", missing=("BucketAlreadyOwnedByYou",), hints={"BucketAlreadyExists": taken}, **kwargs) is not None
        )
    lock = s3("bucket", "get_object_lock_configuration", missing=("ObjectLockConfigurationNotFoundError",), Bucket=bucket)
    if lock is None or lock.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") != "Enabled":
        raise s3.fail(
            "bucket",
            "the bucket exists without Object Lock, which most providers can only enable when a bucket is created "
            "(and objects already in it would stay unlocked); provision a new bucket (set store.bucket to an unused name) "
            "and copy the archive into it",
        )
    return Step("bucket", "created" if created else "unchanged", f"Object Lock enabled, region {region}")


def _ensure_versioning(s3: _Calls, bucket: str) -> Step:
    def read() -> str | None:
        status = s3("versioning", "get_bucket_versioning", Bucket=bucket).get("Status")
        return status if isinstance(status, str) else None

    before = read()
    if before == "Enabled":
        return Step("versioning", "unchanged", "Enabled")
    s3("versioning", "put_bucket_versioning", Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    after = read()
    if after != "Enabled":
        raise s3.fail("versioning", f"asked for versioning Enabled, the provider reports {after or 'never enabled'}; enable it by hand")
    return Step("versioning", "set", f"Enabled (was {before or 'never enabled'})")


def _default_retention(s3: _Calls, bucket: str) -> tuple[str | None, int | None, int | None]:
    """(mode, years, days) of the bucket's default retention; zero counts read as None."""
    config = s3("object-lock", "get_object_lock_configuration", Bucket=bucket).get("ObjectLockConfiguration", {})
    default = config.get("Rule", {}).get("DefaultRetention", {})
    return default.get("Mode"), default.get("Years") or None, default.get("Days") or None


def _describe_retention(mode: str | None, years: int | None, days: int | None) -> str:
    if mode is None:
        return "no default retention"
    period = f"{years} year{'s' * (years != 1)}" if years else f"{days} day{'s' * (days != 1)}"
    return f"{mode} {period}"


def _ensure_object_lock(s3: _Calls, bucket: str, retention: RetentionSettings) -> Step:
    wanted = (retention.mode, retention.years, None)
    before = _default_retention(s3, bucket)
    detail = f"default retention {_describe_retention(*wanted)} from upload (each write sets event date + {retention.years} years)"
    if before == wanted:
        return Step("object-lock", "unchanged", detail)
    s3(
        "object-lock",
        "put_object_lock_configuration",
        Bucket=bucket,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": retention.mode, "Years": retention.years}},
        },
    )
    after = _default_retention(s3, bucket)
    if after != wanted:
        raise s3.fail(
            "object-lock", f"asked for default retention {_describe_retention(*wanted)}, the provider kept {_describe_retention(*after)}"
        )
    return Step("object-lock", "set", f"{detail}; was {_describe_retention(*before)}")


def lifecycle_rule(prefix: str, retention: RetentionSettings) -> dict[str, Any]:
    """The lifecycle rule for the archive under ``prefix`` (as given to :func:`key_prefix`)."""
    rule: dict[str, Any] = {"ID": LIFECYCLE_RULE_ID, "Filter": {"Prefix": key_prefix(prefix)}, "Status": "Enabled"}
    if retention.transitions:
        rule["Transitions"] = [{"Days": t.days, "StorageClass": t.storage_class} for t in retention.transitions]
        rule["NoncurrentVersionTransitions"] = [{"NoncurrentDays": t.days, "StorageClass": t.storage_class} for t in retention.transitions]
    rule["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": ABORT_MULTIPART_DAYS}
    return rule


def _canonical_rule(rule: dict[str, Any]) -> str:
    """A rule as comparable text: the legacy top-level ``Prefix`` and an empty ``Filter`` read as ``Filter.Prefix``."""
    rule = dict(rule)
    legacy = rule.pop("Prefix", None)
    lifecycle_filter = rule.get("Filter")
    if lifecycle_filter in (None, {}):
        rule["Filter"] = {"Prefix": legacy or ""}
    return json.dumps(rule, sort_keys=True, default=str)


def _lifecycle_rules(s3: _Calls, bucket: str) -> list[dict[str, Any]]:
    answer = s3("lifecycle", "get_bucket_lifecycle_configuration", missing=("NoSuchLifecycleConfiguration",), Bucket=bucket)
    return [] if answer is None else list(answer.get("Rules", []))


def _ensure_lifecycle(s3: _Calls, bucket: str, prefix: str, retention: RetentionSettings) -> Step:
    wanted = lifecycle_rule(prefix, retention)
    moves = ", ".join(f"{t.storage_class} after {t.days} days" for t in retention.transitions) or "no transitions"
    detail = (
        f"rule {LIFECYCLE_RULE_ID} on {prefix or 'the whole bucket'}: {moves} (current and noncurrent versions); "
        f"incomplete multipart uploads aborted after {ABORT_MULTIPART_DAYS} days"
    )
    rules = _lifecycle_rules(s3, bucket)
    ours = [r for r in rules if r.get("ID") == LIFECYCLE_RULE_ID]
    if len(ours) == 1 and _canonical_rule(ours[0]) == _canonical_rule(wanted):
        return Step("lifecycle", "unchanged", detail)
    others = [r for r in rules if r.get("ID") != LIFECYCLE_RULE_ID]
    s3("lifecycle", "put_bucket_lifecycle_configuration", Bucket=bucket, LifecycleConfiguration={"Rules": [*others, wanted]})
    kept = [r for r in _lifecycle_rules(s3, bucket) if r.get("ID") == LIFECYCLE_RULE_ID]
    if len(kept) != 1 or _canonical_rule(kept[0]) != _canonical_rule(wanted):
        raise s3.fail(
            "lifecycle", f"the provider did not keep rule {LIFECYCLE_RULE_ID} as sent (it has {kept}); check its lifecycle support"
        )
    others_note = f"; {len(others)} other rule{'s' * (len(others) != 1)} kept" if others else ""
    return Step("lifecycle", "set", detail + others_note)


def _canonical_statements(policy: dict[str, Any]) -> list[str]:
    """A policy's statements as sorted comparable texts; ``"x"`` and ``["x"]`` read alike, as in IAM."""
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    return sorted(json.dumps(_canonical(s), sort_keys=True) for s in statements)


def _canonical(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _canonical(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return sorted((_canonical(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, str) and key not in ("", "Sid", "Effect", "Version", "Id"):
        return [value]
    return value


def _bucket_policy(s3: _Calls, bucket: str) -> dict[str, Any] | None:
    answer = s3("bucket-policy", "get_bucket_policy", missing=("NoSuchBucketPolicy",), Bucket=bucket)
    if answer is None:
        return None
    try:
        policy = json.loads(answer["Policy"])
    except (KeyError, TypeError, ValueError):
        raise s3.fail("bucket-policy", "the bucket's current policy is not JSON; look at it with get-bucket-policy and fix it") from None
    if not isinstance(policy, dict):
        raise s3.fail("bucket-policy", "the bucket's current policy is not a JSON object; look at it with get-bucket-policy and fix it")
    return policy


def _ensure_bucket_policy(s3: _Calls, bucket: str, prefix: str) -> Step:
    template = load_policy("bucket-policy", bucket, prefix)
    ours = template["Statement"]
    sids = ", ".join(s["Sid"] for s in ours)
    current = _bucket_policy(s3, bucket)
    statements = [] if current is None else current.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    others = [s for s in statements if not str(s.get("Sid", "")).startswith(SID_PREFIX)]
    wanted: dict[str, Any] = {"Version": POLICY_VERSION, "Statement": [*others, *ours]}
    if current is not None and "Id" in current:
        wanted = {"Version": POLICY_VERSION, "Id": current["Id"], "Statement": wanted["Statement"]}
    others_note = f"; {len(others)} other statement{'s' * (len(others) != 1)} kept" if others else ""
    detail = f"{sids}{others_note}"
    if current is not None and current.get("Version") == POLICY_VERSION and _canonical_statements(current) == _canonical_statements(wanted):
        return Step("bucket-policy", "unchanged", detail)
    s3("bucket-policy", "put_bucket_policy", Bucket=bucket, Policy=json.dumps(wanted))
    after = _bucket_policy(s3, bucket)
    if after is None or _canonical_statements(after) != _canonical_statements(wanted):
        raise s3.fail(
            "bucket-policy", "the provider did not keep the policy as sent; compare get-bucket-policy with policies/bucket-policy.json"
        )
    return Step("bucket-policy", "set", detail)
