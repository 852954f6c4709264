"""The sources config: one TOML file (``proxyvault.toml``), found via ``--config`` or
``PROXYVAULT_CONFIG``. Every error names the file, the key and the fix.

What a source says about itself (format, zone) and how its batches are judged
(completeness thresholds, clock skew, failure policy) lives here, so that the CLI, the
DAGs and the tests read the same settings::

    [validation]                      # defaults for every source
    engine = "polars"                 # or "great_expectations"
    policy = "archive_and_alert"      # or "quarantine", "fail"
    clock_skew = "5m"

    [sources.edge-squid]
    format = "squid"

    [sources.edge-squid.validation.mostly]
    username = 0.9                    # this proxy authenticates everyone

See ``docs/configuration.md`` for every key.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, cast, get_args

from transforms.schema import REQUIRED_FIELDS

Policy = Literal["archive_and_alert", "quarantine", "fail"]
Engine = Literal["polars", "great_expectations"]
POLICIES: tuple[str, ...] = get_args(Policy)
ENGINES: tuple[str, ...] = get_args(Engine)
CONFIG_ENV = "PROXYVAULT_CONFIG"

#: Default completeness thresholds: the fraction of rows that must carry each required
#: field, when the format can carry it. They are what a healthy forward proxy logs:
#: every request has a time, status and client, and all but a few errors (a connection
#: closed before its request line) a method and URL; a denial or a cache hit has
#: no upstream server, a CONNECT tunnel or a 304 no content type, a direct visit no
#: referer, an anonymous user no name. A proxy that stops logging a field falls far
#: below these; per-source settings tighten them (``username = 0.95`` where everyone
#: authenticates).
DEFAULT_MOSTLY: Mapping[str, float] = {
    "event_time": 1.0,
    "http_version": 0.9,
    "http_method": 0.99,
    "content_type": 0.3,
    "user_agent": 0.9,
    "referer": 0.05,
    "response_bytes": 0.99,
    "username": 0.0,
    "client_ip": 1.0,
    "client_port": 0.99,
    "server_ip": 0.3,
    "server_port": 0.9,
    "url_host": 0.95,
    "url": 0.99,
    "status_code": 1.0,
    "duration_ms": 0.99,
    "proxy_action": 0.99,
}
assert tuple(DEFAULT_MOSTLY) == REQUIRED_FIELDS


class ConfigError(ValueError):
    """The config file is wrong; the message names the file, the key and the fix."""


@dataclass(frozen=True)
class ValidationSettings:
    """How one source's batches are judged."""

    policy: Policy = "archive_and_alert"
    #: How far event times may stray from the batch's window, from the receipt time,
    #: and backwards from the latest time seen before them in the file.
    clock_skew: timedelta = timedelta(minutes=5)
    #: Formats that log a request's *start* (Apache, ProxySG, Umbrella, NSS) write a long
    #: request (a CONNECT tunnel) when it ends, with its old start time: this much extra
    #: earliness is normal for them.
    start_time_allowance: timedelta = timedelta(hours=1)
    mostly: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_MOSTLY))


@dataclass(frozen=True)
class SourceConfig:
    name: str
    format: str | None = None
    logformat: str | None = None
    tz: str | None = None
    proxy_host: str | None = None
    validation: ValidationSettings = field(default_factory=ValidationSettings)


StoreKind = Literal["local", "s3"]
LockMode = Literal["COMPLIANCE", "GOVERNANCE"]
STORE_KINDS: tuple[str, ...] = get_args(StoreKind)
LOCK_MODES: tuple[str, ...] = get_args(LockMode)
#: Where the embedded default keeps its archive and keys, relative to the working directory.
DEFAULT_LOCAL_STORE = Path("archive")
DEFAULT_KEY_DIR = Path("keys")


@dataclass(frozen=True)
class StoreSettings:
    """Where the archive lives: a local directory (the default) or an S3 bucket."""

    kind: StoreKind = "local"
    #: local: the directory.
    path: Path = DEFAULT_LOCAL_STORE
    #: s3: any S3-compatible endpoint (None: AWS itself), region, bucket and key prefix.
    endpoint_url: str | None = None
    region: str | None = None
    bucket: str | None = None
    prefix: str = ""
    #: s3: take credentials from this Airflow connection instead of the standard AWS chain.
    aws_conn_id: str | None = None
    #: s3: objects at least this large go up in parts (each part at most this large).
    multipart_threshold: int = 64 * 1024 * 1024
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    #: botocore's retry budget per request (adaptive mode: client-side rate limiting on throttling).
    max_attempts: int = 10


@dataclass(frozen=True)
class Transition:
    days: int
    storage_class: str


@dataclass(frozen=True)
class RetentionSettings:
    """How long archived objects are locked, and how they move to colder storage."""

    #: Object Lock mode; GOVERNANCE lets privileged users lift it, COMPLIANCE lets nobody.
    mode: LockMode = "COMPLIANCE"
    #: Each object is retained until its event date plus this many years.
    years: int = 7
    transitions: tuple[Transition, ...] = (Transition(90, "GLACIER_IR"), Transition(365, "DEEP_ARCHIVE"))


@dataclass(frozen=True)
class KeySettings:
    """The digest signing key pair, and the public keys an auditor trusts."""

    private: Path = DEFAULT_KEY_DIR / "digest-signing.pem"
    public: Path = DEFAULT_KEY_DIR / "digest-signing.pub.pem"
    #: More trusted public keys (earlier keys after a rotation).
    trusted: tuple[Path, ...] = ()


@dataclass(frozen=True)
class Config:
    path: Path | None = None
    engine: Engine = "polars"
    validation: ValidationSettings = field(default_factory=ValidationSettings)
    sources: Mapping[str, SourceConfig] = field(default_factory=dict)
    store: StoreSettings = field(default_factory=lambda: StoreSettings())
    retention: RetentionSettings = field(default_factory=lambda: RetentionSettings())
    keys: KeySettings = field(default_factory=lambda: KeySettings())

    def source(self, name: str) -> SourceConfig:
        """The named source's settings; an unconfigured name gets the global defaults."""
        return self.sources.get(name) or SourceConfig(name=name, validation=self.validation)


def load_config(path: Path | None = None, environ: Mapping[str, str] = os.environ) -> Config:
    """Read ``path``, else ``$PROXYVAULT_CONFIG``, else the built-in defaults."""
    if path is None and environ.get(CONFIG_ENV):
        path = Path(environ[CONFIG_ENV])
    if path is None:
        return Config()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror}); check --config or ${CONFIG_ENV}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax") from None
    return parse_config(data, path)


def parse_config(data: Mapping[str, Any], path: Path | None = None) -> Config:
    """Build a :class:`Config` from parsed TOML, checking every key.

    >>> parse_config({"validation": {"policy": "quarantine"}}).source("x").validation.policy
    'quarantine'
    """
    where = str(path) if path else "config"
    _known_keys(data, ("validation", "sources", "store", "retention", "keys"), where, "")
    validation_table = _table(data.get("validation", {}), where, "validation")
    engine = validation_table.get("engine", "polars")
    if engine not in ENGINES:
        raise ConfigError(f"{where}: validation.engine: '{engine}' is not one of {', '.join(ENGINES)}; fix the value")
    defaults = _validation({k: v for k, v in validation_table.items() if k != "engine"}, ValidationSettings(), where, "validation")
    sources: dict[str, SourceConfig] = {}
    for name, table in _table(data.get("sources", {}), where, "sources").items():
        key = f"sources.{name}"
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
            raise ConfigError(f"{where}: {key}: a source name may hold letters, digits, '.', '_' and '-' only; rename it")
        table = _table(table, where, key)
        _known_keys(table, ("format", "logformat", "tz", "proxy_host", "validation"), where, key + ".")
        strings = {k: _string(table[k], where, f"{key}.{k}") for k in ("format", "logformat", "tz", "proxy_host") if k in table}
        sources[name] = SourceConfig(
            name=name,
            validation=_validation(_table(table.get("validation", {}), where, key + ".validation"), defaults, where, key + ".validation"),
            **strings,
        )
    base = path.parent if path else Path()
    return Config(
        path=path,
        engine=cast(Engine, engine),
        validation=defaults,
        sources=sources,
        store=_store(_table(data.get("store", {}), where, "store"), base, where),
        retention=_retention(_table(data.get("retention", {}), where, "retention"), where),
        keys=_keys(_table(data.get("keys", {}), where, "keys"), base, where),
    )


def _store(table: Mapping[str, Any], base: Path, where: str) -> StoreSettings:
    """``[store]``: kind = "local" (path) or "s3" (endpoint_url, region, bucket, prefix, aws_conn_id)."""
    known = (
        "kind",
        "path",
        "endpoint_url",
        "region",
        "bucket",
        "prefix",
        "aws_conn_id",
        "multipart_threshold_mb",
        "connect_timeout",
        "read_timeout",
        "max_attempts",
    )
    _known_keys(table, known, where, "store.")
    kind = table.get("kind", "local")
    if kind not in STORE_KINDS:
        raise ConfigError(f"{where}: store.kind: '{kind}' is not one of {', '.join(STORE_KINDS)}; fix the value")
    strings = {
        k: _string(table[k], where, f"store.{k}") if k in table else None for k in ("endpoint_url", "region", "bucket", "aws_conn_id")
    }
    settings = StoreSettings(
        kind=kind,
        endpoint_url=strings["endpoint_url"],
        region=strings["region"],
        bucket=strings["bucket"],
        aws_conn_id=strings["aws_conn_id"],
    )
    if "path" in table:
        settings = replace(settings, path=base / _string(table["path"], where, "store.path"))
    if "prefix" in table:
        prefix = _string(table["prefix"], where, "store.prefix").strip("/")
        settings = replace(settings, prefix=prefix)
    if kind == "s3" and not settings.bucket:
        raise ConfigError(f'{where}: store.bucket: required when store.kind = "s3"; add bucket = "my-proxy-archive"')
    if settings.bucket is not None and len(settings.bucket) < 3:
        raise ConfigError(f"{where}: store.bucket: '{settings.bucket}' is too short; S3 bucket names have 3 to 63 characters")
    numbers = {"multipart_threshold_mb": 5, "connect_timeout": 0.1, "read_timeout": 0.1, "max_attempts": 1}
    for name, minimum in numbers.items():
        if name not in table:
            continue
        value = table[name]
        if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
            raise ConfigError(f"{where}: store.{name}: {value!r} is not a number ≥ {minimum}; fix the value")
        if name == "multipart_threshold_mb":
            settings = replace(settings, multipart_threshold=int(value * 1024 * 1024))
        elif name == "max_attempts":
            settings = replace(settings, max_attempts=int(value))
        elif name == "connect_timeout":
            settings = replace(settings, connect_timeout=float(value))
        else:
            settings = replace(settings, read_timeout=float(value))
    return settings


def _retention(table: Mapping[str, Any], where: str) -> RetentionSettings:
    """``[retention]``: mode, years, and ``[[retention.transitions]]`` (days, storage_class)."""
    _known_keys(table, ("mode", "years", "transitions"), where, "retention.")
    settings = RetentionSettings()
    if "mode" in table:
        if table["mode"] not in LOCK_MODES:
            raise ConfigError(f"{where}: retention.mode: '{table['mode']}' is not one of {', '.join(LOCK_MODES)}; fix the value")
        settings = replace(settings, mode=table["mode"])
    if "years" in table:
        years = table["years"]
        if isinstance(years, bool) or not isinstance(years, int) or not 1 <= years <= 100:
            raise ConfigError(f"{where}: retention.years: {years!r} is not a whole number of years from 1 to 100; fix the value")
        settings = replace(settings, years=years)
    if "transitions" in table:
        items = table["transitions"]
        if not isinstance(items, list):
            raise ConfigError(f"{where}: retention.transitions: expected [[retention.transitions]] tables; fix the file")
        transitions = []
        for i, item in enumerate(items):
            key = f"retention.transitions[{i}]"
            item = _table(item, where, key)
            _known_keys(item, ("days", "storage_class"), where, key + ".")
            days = item.get("days")
            if isinstance(days, bool) or not isinstance(days, int) or days < 0:
                raise ConfigError(f"{where}: {key}.days: {days!r} is not a number of days; give e.g. days = 90")
            transitions.append(Transition(days, _string(item.get("storage_class"), where, f"{key}.storage_class")))
        if [t.days for t in transitions] != sorted({t.days for t in transitions}):
            raise ConfigError(f"{where}: retention.transitions: days must increase from one transition to the next; reorder them")
        settings = replace(settings, transitions=tuple(transitions))
    return settings


def _keys(table: Mapping[str, Any], base: Path, where: str) -> KeySettings:
    """``[keys]``: private, public (the signing pair) and trusted (more public keys)."""
    _known_keys(table, ("private", "public", "trusted"), where, "keys.")
    settings = KeySettings()
    if "private" in table:
        settings = replace(settings, private=base / _string(table["private"], where, "keys.private"))
    if "public" in table:
        settings = replace(settings, public=base / _string(table["public"], where, "keys.public"))
    if "trusted" in table:
        trusted = table["trusted"]
        if not isinstance(trusted, list):
            raise ConfigError(f'{where}: keys.trusted: expected a list of paths, e.g. ["keys/2025.pub.pem"]; fix the value')
        settings = replace(settings, trusted=tuple(base / _string(t, where, "keys.trusted") for t in trusted))
    return settings


def _validation(table: Mapping[str, Any], base: ValidationSettings, where: str, key: str) -> ValidationSettings:
    _known_keys(table, ("policy", "clock_skew", "start_time_allowance", "mostly"), where, key + ".")
    settings = base
    if "policy" in table:
        if table["policy"] not in POLICIES:
            raise ConfigError(f"{where}: {key}.policy: '{table['policy']}' is not one of {', '.join(POLICIES)}; fix the value")
        settings = replace(settings, policy=table["policy"])
    if "clock_skew" in table:
        settings = replace(settings, clock_skew=parse_duration(table["clock_skew"], where, f"{key}.clock_skew"))
    if "start_time_allowance" in table:
        allowance = parse_duration(table["start_time_allowance"], where, f"{key}.start_time_allowance")
        settings = replace(settings, start_time_allowance=allowance)
    if "mostly" in table:
        mostly = dict(settings.mostly)
        for column, value in _table(table["mostly"], where, key + ".mostly").items():
            if column not in REQUIRED_FIELDS:
                raise ConfigError(f"{where}: {key}.mostly.{column}: not a required field; use one of {', '.join(REQUIRED_FIELDS)}")
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ConfigError(f"{where}: {key}.mostly.{column}: {value!r} is not a fraction; give a number from 0 to 1")
            mostly[column] = float(value)
        settings = replace(settings, mostly=mostly)
    return settings


def parse_duration(value: object, where: str = "config", key: str = "duration") -> timedelta:
    """``"90s"``, ``"5m"``, ``"2h"``, ``"1d"`` or a number of seconds.

    >>> parse_duration("5m")
    datetime.timedelta(seconds=300)
    """
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return timedelta(seconds=value)
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", value) if isinstance(value, str) else None
    if not match:
        raise ConfigError(f'{where}: {key}: {value!r} is not a duration; write e.g. "90s", "5m", "2h" or "1d"')
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match[2]]
    return timedelta(**{unit: float(match[1])})


def _table(value: object, where: str, key: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: {key}: expected a table ([{key}]), got {type(value).__name__}; fix the file")
    return value


def _string(value: object, where: str, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: {key}: expected a non-empty string, got {value!r}; quote the value")
    return value


def _known_keys(table: Mapping[str, Any], known: tuple[str, ...], where: str, prefix: str) -> None:
    for name in table:
        if name not in known:
            raise ConfigError(f"{where}: {prefix}{name}: unknown key; the keys here are {', '.join(known)}")
