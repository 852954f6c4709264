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


@dataclass(frozen=True)
class Config:
    path: Path | None = None
    engine: Engine = "polars"
    validation: ValidationSettings = field(default_factory=ValidationSettings)
    sources: Mapping[str, SourceConfig] = field(default_factory=dict)

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
    _known_keys(data, ("validation", "sources"), where, "")
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
    return Config(path=path, engine=cast(Engine, engine), validation=defaults, sources=sources)


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
