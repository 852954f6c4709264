"""The sources config: one TOML file (``proxyvault.toml``), found via ``--config`` or
``PROXYVAULT_CONFIG``, with ``PROXYVAULT__TABLE__KEY`` environment variables on top.
Every error names the file, the key (and the variable that set it) and the fix.

What a source says about itself (format, zone, how its files are taken) and how its
batches are judged (completeness thresholds, clock skew, failure policy) lives here, so
that the CLI, the DAGs and the tests read the same settings::

    [validation]                      # defaults for every source
    engine = "polars"                 # or "great_expectations"
    policy = "archive_and_alert"      # or "quarantine", "fail"
    clock_skew = "5m"

    [sources.edge-squid]
    format = "squid"
    rotation = "squid"                # or "rename", "spool"
    path = "/var/log/squid/access.log"
    squid_conf = "/etc/squid/squid.conf"

    [sources.edge-squid.validation.mostly]
    username = 0.9                    # this proxy authenticates everyone

See ``docs/configuration.md`` for every key.
"""

from __future__ import annotations

import copy
import datetime as dt
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
#: ``PROXYVAULT__STORE__BUCKET=pv-archive`` overrides ``bucket`` of ``[store]``.
OVERRIDE_PREFIX = "PROXYVAULT__"

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

RotationMethod = Literal["squid", "rename", "spool"]
PartialLastLine = Literal["reject", "parse"]
ROTATION_METHODS: tuple[str, ...] = get_args(RotationMethod)
PARTIAL_LAST_LINE: tuple[str, ...] = get_args(PartialLastLine)
#: The allowlists a statistics run consults (``[allowlists]`` and ``[sources.NAME.allowlists]``).
ALLOWLIST_NAMES: tuple[str, ...] = ("user_agents", "http10_user_agents", "hosts", "clients", "ports", "methods", "content_types")


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
class RotationSettings:
    """How proxyvault takes a source's log files from the proxy."""

    #: None: proxyvault does not take this source's files itself (CLI archive only).
    method: RotationMethod | None = None
    #: squid/rename: the active log file the proxy writes.
    path: Path | None = None
    #: spool: a glob of files rotated by others, e.g. "/var/log/squid/access.log.*"
    #: (absolute or relative to the config file's dir, kept as a str)
    spool: str | None = None
    #: squid: the squid.conf passed to `squid -k rotate -f CONF`.
    squid_conf: Path | None = None
    #: squid: the squid binary (None: find it on PATH or /usr/sbin/squid).
    squid_binary: Path | None = None
    #: a taken file is handed off once no process holds it open and its size has not changed for this long.
    settle: timedelta = timedelta(seconds=2)
    #: squid/rename: how long to wait for the writer to let go of a renamed file before leaving it for the next run.
    reopen_timeout: timedelta = timedelta(seconds=60)
    #: squid/rename: keep the renamed file after its hand-off is verified (default: remove it).
    keep_rotated: bool = False


@dataclass(frozen=True)
class SourceConfig:
    name: str
    format: str | None = None
    logformat: str | None = None
    tz: str | None = None
    proxy_host: str | None = None
    validation: ValidationSettings = field(default_factory=ValidationSettings)
    rotation: RotationSettings = field(default_factory=RotationSettings)
    #: A file's last line without its newline: "reject" it (with a reason), or "parse" it
    #: (for feeds that omit the final newline).
    partial_last_line: PartialLastLine = "reject"
    #: The global allowlists plus the source's own (global entries first, no duplicates).
    allowlists: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


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
class PipelineSettings:
    """How the pipeline's tasks hold files between taking and sealing them."""

    #: Days a landed (taken, not yet archived) file is locked in the store's landing/ area before it may expire.
    landing_days: int = 30
    #: An hour is sealed once this long has passed after its end (late data gets a backfill digest).
    seal_grace: timedelta = timedelta(minutes=15)
    #: Local scratch directory for tasks (None: the system temp dir); relative to the config file's dir.
    work_dir: Path | None = None


@dataclass(frozen=True)
class Config:
    path: Path | None = None
    engine: Engine = "polars"
    validation: ValidationSettings = field(default_factory=ValidationSettings)
    sources: Mapping[str, SourceConfig] = field(default_factory=dict)
    store: StoreSettings = field(default_factory=lambda: StoreSettings())
    retention: RetentionSettings = field(default_factory=lambda: RetentionSettings())
    keys: KeySettings = field(default_factory=lambda: KeySettings())
    #: The global ``[allowlists]`` (each source's carry these plus its own).
    allowlists: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    pipeline: PipelineSettings = field(default_factory=lambda: PipelineSettings())
    #: The ``PROXYVAULT__*`` environment variables applied, sorted.
    overrides: tuple[str, ...] = ()

    def source(self, name: str) -> SourceConfig:
        """The named source's settings; an unconfigured name gets the global defaults."""
        return self.sources.get(name) or SourceConfig(name=name, validation=self.validation, allowlists=self.allowlists)


def load_config(path: Path | None = None, environ: Mapping[str, str] = os.environ) -> Config:
    """Read ``path``, else ``$PROXYVAULT_CONFIG``, else the built-in defaults; then apply
    the ``PROXYVAULT__*`` variables of ``environ`` on top (see :func:`parse_config`)."""
    if path is None and environ.get(CONFIG_ENV):
        path = Path(environ[CONFIG_ENV])
    if path is None:
        if not any(name.startswith(OVERRIDE_PREFIX) for name in environ):
            return Config()
        return _parse({}, None, "environment", environ)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror}); check --config or ${CONFIG_ENV}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax") from None
    return _parse(data, path, str(path), environ)


def parse_config(data: Mapping[str, Any], path: Path | None = None, *, environ: Mapping[str, str] | None = None) -> Config:
    """Build a :class:`Config` from parsed TOML, checking every key; the ``PROXYVAULT__*``
    variables of ``environ`` (none by default) apply on top of ``data`` first.

    >>> parse_config({"validation": {"policy": "quarantine"}}).source("x").validation.policy
    'quarantine'
    >>> parse_config({}, environ={"PROXYVAULT__RETENTION__YEARS": "10"}).retention.years
    10
    """
    return _parse(data, path, str(path) if path else "config", environ or {})


@dataclass(frozen=True)
class _Context:
    """Where the data came from: the file (``where``, ``base``) or, key by key, a variable."""

    where: str
    #: The config file's directory: what relative paths in the file are relative to.
    base: Path
    #: Dotted key -> the variable that set it (or created its table).
    origins: Mapping[str, str]

    def origin(self, key: str) -> str | None:
        """The variable that set ``key`` or a table or list holding it."""
        while True:
            if key in self.origins:
                return self.origins[key]
            cut = max(key.rfind("."), key.rfind("["))
            if cut <= 0:
                return None
            key = key[:cut]

    def name(self, key: str, *related: str) -> str:
        """``key``, with ``(from $VAR)`` when it (or a ``related`` key the error is about) came from the environment."""
        found = [v for v in (self.origin(k) for k in (key, *related)) if v]
        return f"{key} (from {', '.join(f'${v}' for v in dict.fromkeys(found))})" if found else key

    def at(self, key: str, *related: str) -> str:
        """The start of an error message: ``where: key``."""
        return f"{self.where}: {self.name(key, *related)}"

    def base_for(self, key: str) -> Path:
        """What a relative path at ``key`` is relative to: the file's directory, or the working directory for a variable."""
        return Path() if self.origin(key) else self.base


def _parse(data: Mapping[str, Any], path: Path | None, where: str, environ: Mapping[str, str]) -> Config:
    merged, origins = _apply_overrides(data, environ, where)
    ctx = _Context(where, path.parent if path else Path(), origins)
    _known_keys(merged, ("validation", "sources", "store", "retention", "keys", "allowlists", "pipeline"), ctx, "")
    validation_table = _table(merged.get("validation", {}), ctx, "validation")
    engine = validation_table.get("engine", "polars")
    if engine not in ENGINES:
        raise ConfigError(f"{ctx.at('validation.engine')}: {engine!r} is not one of {', '.join(ENGINES)}; fix the value")
    defaults = _validation({k: v for k, v in validation_table.items() if k != "engine"}, ValidationSettings(), ctx, "validation")
    allowlists = _allowlists(_table(merged.get("allowlists", {}), ctx, "allowlists"), ctx, "allowlists")
    sources: dict[str, SourceConfig] = {}
    for name, table in _table(merged.get("sources", {}), ctx, "sources").items():
        sources[name] = _source(name, table, defaults, allowlists, ctx)
    return Config(
        path=path,
        engine=cast(Engine, engine),
        validation=defaults,
        sources=sources,
        store=_store(_table(merged.get("store", {}), ctx, "store"), ctx),
        retention=_retention(_table(merged.get("retention", {}), ctx, "retention"), ctx),
        keys=_keys(_table(merged.get("keys", {}), ctx, "keys"), ctx),
        allowlists=allowlists,
        pipeline=_pipeline(_table(merged.get("pipeline", {}), ctx, "pipeline"), ctx),
        overrides=tuple(sorted(set(origins.values()))),
    )


_SOURCE_STRINGS = ("format", "logformat", "tz", "proxy_host")
_ROTATION_KEYS = ("rotation", "path", "spool", "squid_conf", "squid_binary", "settle", "reopen_timeout", "keep_rotated")
#: The location keys each rotation method needs (first) and accepts.
_ROTATION_NEEDS: Mapping[str | None, tuple[str, ...]] = {
    "squid": ("path", "squid_conf"),
    "rename": ("path",),
    "spool": ("spool",),
    None: (),
}
_ROTATION_TAKES: Mapping[str | None, tuple[str, ...]] = {**_ROTATION_NEEDS, "squid": ("path", "squid_conf", "squid_binary")}
_EXAMPLES = {
    "path": '"/var/log/squid/access.log"',
    "spool": '"/var/spool/proxysg/*.log.gz"',
    "squid_conf": '"/etc/squid/squid.conf"',
}


def _source(
    name: str, value: object, defaults: ValidationSettings, allowlists: Mapping[str, tuple[str, ...]], ctx: _Context
) -> SourceConfig:
    """``[sources.NAME]``: what the source is, how its files are taken and judged."""
    key = f"sources.{name}"
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise ConfigError(f"{ctx.at(key)}: a source name may hold letters, digits, '.', '_' and '-' only; rename it")
    table = _table(value, ctx, key)
    _known_keys(table, (*_SOURCE_STRINGS, *_ROTATION_KEYS, "partial_last_line", "allowlists", "validation"), ctx, key + ".")
    strings = {k: _string(table[k], ctx, f"{key}.{k}") for k in _SOURCE_STRINGS if k in table}
    partial = table.get("partial_last_line", "reject")
    if partial not in PARTIAL_LAST_LINE:
        raise ConfigError(f"{ctx.at(key + '.partial_last_line')}: {partial!r} is not one of {', '.join(PARTIAL_LAST_LINE)}; fix the value")
    own = _allowlists(_table(table.get("allowlists", {}), ctx, key + ".allowlists"), ctx, key + ".allowlists")
    return SourceConfig(
        name=name,
        validation=_validation(_table(table.get("validation", {}), ctx, key + ".validation"), defaults, ctx, key + ".validation"),
        rotation=_rotation(table, ctx, key),
        partial_last_line=cast(PartialLastLine, partial),
        allowlists=_union(allowlists, own),
        **strings,
    )


def _rotation(table: Mapping[str, Any], ctx: _Context, key: str) -> RotationSettings:
    """A source's ``rotation`` (the method) and the keys that go with it."""
    method = table.get("rotation")
    method_key = f"{key}.rotation"
    if method is not None and method not in ROTATION_METHODS:
        raise ConfigError(f"{ctx.at(method_key)}: {method!r} is not one of {', '.join(ROTATION_METHODS)}; fix the value")
    for name in ("path", "spool", "squid_conf", "squid_binary"):
        if name in table and method is None:
            fits = " or ".join(f'"{m}"' for m in ROTATION_METHODS if name in _ROTATION_TAKES[m])
            raise ConfigError(f"{ctx.at(f'{key}.{name}')}: set without rotation; add rotation = {fits} (or remove {name})")
    for name in _ROTATION_NEEDS[method]:
        if name not in table:
            raise ConfigError(f'{ctx.at(f"{key}.{name}", method_key)}: required with rotation = "{method}"; add {name} = {_EXAMPLES[name]}')
    for name in ("path", "spool", "squid_conf", "squid_binary"):
        if name in table and name not in _ROTATION_TAKES[method]:
            raise ConfigError(f'{ctx.at(f"{key}.{name}", method_key)}: not used with rotation = "{method}"; remove {name}')
    defaults = RotationSettings()

    def path(name: str) -> Path | None:
        return ctx.base_for(f"{key}.{name}") / _string(table[name], ctx, f"{key}.{name}") if name in table else None

    def duration(name: str, default: timedelta) -> timedelta:
        return parse_duration(table[name], ctx.where, ctx.name(f"{key}.{name}")) if name in table else default

    spool = None
    if "spool" in table:
        pattern = _string(table["spool"], ctx, f"{key}.spool")
        base = ctx.base_for(f"{key}.spool")
        spool = pattern if os.path.isabs(pattern) or base == Path() else os.path.join(base, pattern)
    keep = table.get("keep_rotated", defaults.keep_rotated)
    if not isinstance(keep, bool):
        raise ConfigError(f"{ctx.at(key + '.keep_rotated')}: expected true or false, got {keep!r}; write keep_rotated = true or false")
    return RotationSettings(
        method=cast(RotationMethod | None, method),
        path=path("path"),
        spool=spool,
        squid_conf=path("squid_conf"),
        squid_binary=path("squid_binary"),
        settle=duration("settle", defaults.settle),
        reopen_timeout=duration("reopen_timeout", defaults.reopen_timeout),
        keep_rotated=keep,
    )


def _allowlists(table: Mapping[str, Any], ctx: _Context, key: str) -> dict[str, tuple[str, ...]]:
    """``[allowlists]``: each known list a list of strings or whole numbers, kept as strings in order, without duplicates."""
    _known_keys(table, ALLOWLIST_NAMES, ctx, key + ".")
    lists: dict[str, tuple[str, ...]] = {}
    for name in ALLOWLIST_NAMES:
        if name not in table:
            continue
        items = table[name]
        if not isinstance(items, list):
            raise ConfigError(f'{ctx.at(f"{key}.{name}")}: expected a list, got {items!r}; write e.g. {name} = ["value", 443]')
        entries: list[str] = []
        for i, item in enumerate(items):
            if isinstance(item, bool) or not isinstance(item, str | int) or item == "":
                raise ConfigError(f"{ctx.at(f'{key}.{name}[{i}]')}: {item!r} is not a non-empty string or a whole number; fix the entry")
            entries.append(str(item))
        lists[name] = tuple(dict.fromkeys(entries))
    return lists


def _union(first: Mapping[str, tuple[str, ...]], second: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """The lists of both, ``first``'s entries first, then ``second``'s new ones."""
    return {
        name: tuple(dict.fromkeys((*first.get(name, ()), *second.get(name, ()))))
        for name in ALLOWLIST_NAMES
        if name in first or name in second
    }


def _pipeline(table: Mapping[str, Any], ctx: _Context) -> PipelineSettings:
    """``[pipeline]``: landing_days, seal_grace, work_dir."""
    _known_keys(table, ("landing_days", "seal_grace", "work_dir"), ctx, "pipeline.")
    settings = PipelineSettings()
    if "landing_days" in table:
        days = table["landing_days"]
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3650:
            raise ConfigError(f"{ctx.at('pipeline.landing_days')}: {days!r} is not a whole number of days from 1 to 3650; fix the value")
        settings = replace(settings, landing_days=days)
    if "seal_grace" in table:
        settings = replace(settings, seal_grace=parse_duration(table["seal_grace"], ctx.where, ctx.name("pipeline.seal_grace")))
    if "work_dir" in table:
        work_dir = ctx.base_for("pipeline.work_dir") / _string(table["work_dir"], ctx, "pipeline.work_dir")
        settings = replace(settings, work_dir=work_dir)
    return settings


def _store(table: Mapping[str, Any], ctx: _Context) -> StoreSettings:
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
    _known_keys(table, known, ctx, "store.")
    kind = table.get("kind", "local")
    if kind not in STORE_KINDS:
        raise ConfigError(f"{ctx.at('store.kind')}: {kind!r} is not one of {', '.join(STORE_KINDS)}; fix the value")
    strings = {k: _string(table[k], ctx, f"store.{k}") if k in table else None for k in ("endpoint_url", "region", "bucket", "aws_conn_id")}
    settings = StoreSettings(
        kind=kind,
        endpoint_url=strings["endpoint_url"],
        region=strings["region"],
        bucket=strings["bucket"],
        aws_conn_id=strings["aws_conn_id"],
    )
    if "path" in table:
        settings = replace(settings, path=ctx.base_for("store.path") / _string(table["path"], ctx, "store.path"))
    if "prefix" in table:
        prefix = _string(table["prefix"], ctx, "store.prefix").strip("/")
        settings = replace(settings, prefix=prefix)
    if kind == "s3" and not settings.bucket:
        raise ConfigError(f'{ctx.at("store.bucket", "store.kind")}: required when store.kind = "s3"; add bucket = "my-proxy-archive"')
    if settings.bucket is not None and len(settings.bucket) < 3:
        raise ConfigError(f"{ctx.at('store.bucket')}: '{settings.bucket}' is too short; S3 bucket names have 3 to 63 characters")
    numbers = {"multipart_threshold_mb": 5, "connect_timeout": 0.1, "read_timeout": 0.1, "max_attempts": 1}
    for name, minimum in numbers.items():
        if name not in table:
            continue
        value = table[name]
        if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
            raise ConfigError(f"{ctx.at(f'store.{name}')}: {value!r} is not a number ≥ {minimum}; fix the value")
        if name == "multipart_threshold_mb":
            settings = replace(settings, multipart_threshold=int(value * 1024 * 1024))
        elif name == "max_attempts":
            settings = replace(settings, max_attempts=int(value))
        elif name == "connect_timeout":
            settings = replace(settings, connect_timeout=float(value))
        else:
            settings = replace(settings, read_timeout=float(value))
    return settings


def _retention(table: Mapping[str, Any], ctx: _Context) -> RetentionSettings:
    """``[retention]``: mode, years, and ``[[retention.transitions]]`` (days, storage_class)."""
    _known_keys(table, ("mode", "years", "transitions"), ctx, "retention.")
    settings = RetentionSettings()
    if "mode" in table:
        if table["mode"] not in LOCK_MODES:
            raise ConfigError(f"{ctx.at('retention.mode')}: {table['mode']!r} is not one of {', '.join(LOCK_MODES)}; fix the value")
        settings = replace(settings, mode=table["mode"])
    if "years" in table:
        years = table["years"]
        if isinstance(years, bool) or not isinstance(years, int) or not 1 <= years <= 100:
            raise ConfigError(f"{ctx.at('retention.years')}: {years!r} is not a whole number of years from 1 to 100; fix the value")
        settings = replace(settings, years=years)
    if "transitions" in table:
        items = table["transitions"]
        if not isinstance(items, list):
            raise ConfigError(f"{ctx.at('retention.transitions')}: expected [[retention.transitions]] tables; fix the file")
        transitions = []
        for i, item in enumerate(items):
            key = f"retention.transitions[{i}]"
            item = _table(item, ctx, key)
            _known_keys(item, ("days", "storage_class"), ctx, key + ".")
            days = item.get("days")
            if isinstance(days, bool) or not isinstance(days, int) or days < 0:
                raise ConfigError(f"{ctx.at(key + '.days')}: {days!r} is not a number of days; give e.g. days = 90")
            transitions.append(Transition(days, _string(item.get("storage_class"), ctx, f"{key}.storage_class")))
        if [t.days for t in transitions] != sorted({t.days for t in transitions}):
            raise ConfigError(f"{ctx.at('retention.transitions')}: days must increase from one transition to the next; reorder them")
        settings = replace(settings, transitions=tuple(transitions))
    return settings


def _keys(table: Mapping[str, Any], ctx: _Context) -> KeySettings:
    """``[keys]``: private, public (the signing pair) and trusted (more public keys)."""
    _known_keys(table, ("private", "public", "trusted"), ctx, "keys.")
    settings = KeySettings()
    if "private" in table:
        settings = replace(settings, private=ctx.base_for("keys.private") / _string(table["private"], ctx, "keys.private"))
    if "public" in table:
        settings = replace(settings, public=ctx.base_for("keys.public") / _string(table["public"], ctx, "keys.public"))
    if "trusted" in table:
        trusted = table["trusted"]
        if not isinstance(trusted, list):
            raise ConfigError(f'{ctx.at("keys.trusted")}: expected a list of paths, e.g. ["keys/2025.pub.pem"]; fix the value')
        base = ctx.base_for("keys.trusted")
        settings = replace(settings, trusted=tuple(base / _string(t, ctx, "keys.trusted") for t in trusted))
    return settings


def _validation(table: Mapping[str, Any], base: ValidationSettings, ctx: _Context, key: str) -> ValidationSettings:
    _known_keys(table, ("policy", "clock_skew", "start_time_allowance", "mostly"), ctx, key + ".")
    settings = base
    if "policy" in table:
        if table["policy"] not in POLICIES:
            raise ConfigError(f"{ctx.at(key + '.policy')}: {table['policy']!r} is not one of {', '.join(POLICIES)}; fix the value")
        settings = replace(settings, policy=table["policy"])
    if "clock_skew" in table:
        settings = replace(settings, clock_skew=parse_duration(table["clock_skew"], ctx.where, ctx.name(f"{key}.clock_skew")))
    if "start_time_allowance" in table:
        allowance = parse_duration(table["start_time_allowance"], ctx.where, ctx.name(f"{key}.start_time_allowance"))
        settings = replace(settings, start_time_allowance=allowance)
    if "mostly" in table:
        mostly = dict(settings.mostly)
        for column, value in _table(table["mostly"], ctx, key + ".mostly").items():
            if column not in REQUIRED_FIELDS:
                raise ConfigError(f"{ctx.at(f'{key}.mostly.{column}')}: not a required field; use one of {', '.join(REQUIRED_FIELDS)}")
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ConfigError(f"{ctx.at(f'{key}.mostly.{column}')}: {value!r} is not a fraction; give a number from 0 to 1")
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


def _apply_overrides(data: Mapping[str, Any], environ: Mapping[str, str], where: str) -> tuple[dict[str, Any], dict[str, str]]:
    """``data`` with every ``PROXYVAULT__A__B=value`` of ``environ`` set (sorted by name,
    so a whole table comes before its keys), and the dotted key each variable set."""
    merged = copy.deepcopy(dict(data))
    origins: dict[str, str] = {}
    leaves: dict[str, str] = {}
    for var in sorted(v for v in environ if v.startswith(OVERRIDE_PREFIX)):
        segments = var[len(OVERRIDE_PREFIX) :].split("__")
        if not all(segments):
            raise ConfigError(f"{where}: ${var}: an empty name between '__'; write e.g. {OVERRIDE_PREFIX}STORE__BUCKET")
        keys = [s.lower() for s in segments]
        if keys[0] == "sources":
            keys = ["sources", *_match_source(segments[1:], merged.get("sources"), var, where)]
        key = ".".join(keys)
        if key in leaves:
            raise ConfigError(f"{where}: ${var}: sets {key} like ${leaves[key]}; unset one of them")
        table = merged
        for depth, name in enumerate(keys[:-1]):
            if name not in table:
                table[name] = {}
                origins.setdefault(".".join(keys[: depth + 1]), var)
            table = table[name]
            if not isinstance(table, dict):
                parent = ".".join(keys[: depth + 1])
                raise ConfigError(f"{where}: ${var}: {parent} is not a table, so it has no key {keys[depth + 1]}; set {parent} itself")
        value = _env_value(environ[var])
        if isinstance(value, dict) and isinstance(table.get(keys[-1]), dict):
            _merge(table[keys[-1]], value)
        else:
            table[keys[-1]] = value
        origins[key] = leaves[key] = var
    return merged, origins


def _match_source(segments: list[str], sources: object, var: str, where: str) -> list[str]:
    """``[name, *keys]`` for the source of the file that ``segments`` start with: case and
    ``-``, ``.``, ``_`` aside (all three are ``_`` in a variable's name)."""
    if not segments:
        raise ConfigError(f"{where}: ${var}: names no source; write {OVERRIDE_PREFIX}SOURCES__NAME__KEY")
    names = list(sources) if isinstance(sources, dict) else []

    def fold(text: str) -> str:
        return re.sub(r"[-._]", "_", text.lower())

    matches = [(name, n) for n in range(1, len(segments) + 1) for name in names if fold(name) == fold("__".join(segments[:n]))]
    if not matches:
        known = f"the file's sources are {', '.join(names)}" if names else "the file defines no source"
        raise ConfigError(
            f"{where}: ${var}: no source matches {segments[0]}; {known}; define the source in the file ([sources.NAME]) first"
        )
    if len(matches) > 1:
        raise ConfigError(
            f"{where}: ${var}: matches sources {', '.join(m for m, _ in matches)}; rename one in the file so that they differ"
        )
    name, n = matches[0]
    return [name, *(s.lower() for s in segments[n:])]


def _env_value(text: str) -> object:
    """A TOML value (``10``, ``true``, ``["a", "b"]``, ``"quoted"``) when ``text`` is one,
    except dates and times; otherwise ``text`` itself."""
    try:
        parsed = tomllib.loads(f"value = {text}")
    except tomllib.TOMLDecodeError:
        return text
    if list(parsed) != ["value"] or _holds_datetime(parsed["value"]):
        return text
    return parsed["value"]


def _holds_datetime(value: object) -> bool:
    if isinstance(value, dt.date | dt.time):
        return True
    if isinstance(value, dict):
        return any(_holds_datetime(v) for v in value.values())
    return isinstance(value, list) and any(_holds_datetime(v) for v in value)


def _merge(table: dict[str, Any], other: Mapping[str, Any]) -> None:
    for key, value in other.items():
        if isinstance(value, dict) and isinstance(table.get(key), dict):
            _merge(table[key], value)
        else:
            table[key] = value


def _table(value: object, ctx: _Context, key: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{ctx.at(key)}: expected a table ([{key}]), got {type(value).__name__}; fix the file")
    return value


def _string(value: object, ctx: _Context, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{ctx.at(key)}: expected a non-empty string, got {value!r}; quote the value")
    return value


def _known_keys(table: Mapping[str, Any], known: tuple[str, ...], ctx: _Context, prefix: str) -> None:
    for name in table:
        if name not in known:
            raise ConfigError(f"{ctx.at(prefix + name)}: unknown key; the keys here are {', '.join(known)}")
