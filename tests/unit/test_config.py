"""The sources config: defaults, per-source overrides, and errors that name file, key and fix."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from infra.config import DEFAULT_MOSTLY, ConfigError, load_config, parse_duration
from transforms.schema import REQUIRED_FIELDS

EXAMPLE = """
[validation]
engine = "great_expectations"
policy = "quarantine"
clock_skew = "2m"

[validation.mostly]
user_agent = 0.95

[sources.edge-squid]
format = "squid"
tz = "UTC"
proxy_host = "proxy-1"

[sources.edge-squid.validation]
policy = "fail"
start_time_allowance = "30m"

[sources.edge-squid.validation.mostly]
username = 0.9
"""


def test_defaults_without_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(None, environ={})
    settings = config.source("anything").validation
    assert (config.engine, settings.policy, settings.clock_skew) == ("polars", "archive_and_alert", timedelta(minutes=5))
    assert tuple(settings.mostly) == REQUIRED_FIELDS and settings.mostly == DEFAULT_MOSTLY


def test_sources_inherit_and_override(tmp_path: Path) -> None:
    path = tmp_path / "proxyvault.toml"
    path.write_text(EXAMPLE, encoding="utf-8")
    config = load_config(None, environ={"PROXYVAULT_CONFIG": str(path)})
    edge = config.source("edge-squid")
    assert (edge.format, edge.tz, edge.proxy_host) == ("squid", "UTC", "proxy-1")
    assert edge.validation.policy == "fail"
    assert edge.validation.clock_skew == timedelta(minutes=2)  # from [validation]
    assert edge.validation.start_time_allowance == timedelta(minutes=30)
    assert edge.validation.mostly["user_agent"] == 0.95 and edge.validation.mostly["username"] == 0.9
    other = config.source("other")
    assert other.validation.policy == "quarantine" and other.validation.mostly["username"] == DEFAULT_MOSTLY["username"]
    assert config.engine == "great_expectations"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            '[validation]\npolicy = "drop"', "validation.policy: 'drop' is not one of archive_and_alert, quarantine, fail", id="policy"
        ),
        pytest.param('[validation]\nengine = "spark"', "validation.engine: 'spark' is not one of polars, great_expectations", id="engine"),
        pytest.param('[validation]\nclock_skew = "soon"', "validation.clock_skew: 'soon' is not a duration", id="duration"),
        pytest.param("[validation.mostly]\nuser_agent = 1.5", "validation.mostly.user_agent: 1.5 is not a fraction", id="fraction"),
        pytest.param("[validation.mostly]\nuseragent = 0.9", "validation.mostly.useragent: not a required field", id="field"),
        pytest.param('[sources.a]\nformt = "squid"', "sources.a.formt: unknown key", id="typo"),
        pytest.param('[sources."a b"]\nformat = "squid"', "sources.a b: a source name may hold", id="name"),
        pytest.param("[sources.a]\nformat = 3", "sources.a.format: expected a non-empty string", id="type"),
        pytest.param("[validation\n", "not valid TOML", id="syntax"),
    ],
)
def test_errors_name_file_key_and_fix(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "proxyvault.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read .*check --config or \$PROXYVAULT_CONFIG"):
        load_config(tmp_path / "nope.toml")


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("5m", 300), ("1.5h", 5400), ("1d", 86400), (30, 30)])
def test_durations(text: str | int, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds


def test_documented_example_loads(tmp_path: Path) -> None:
    doc = (Path(__file__).parents[2] / "docs" / "configuration.md").read_text(encoding="utf-8")
    example = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "proxyvault.toml"
    path.write_text(example, encoding="utf-8")
    config = load_config(path)
    assert set(config.sources) == {"edge-squid", "branch-office"}
    assert config.source("edge-squid").validation.mostly["username"] == 0.95
    assert config.source("branch-office").tz == "Europe/Brussels"
