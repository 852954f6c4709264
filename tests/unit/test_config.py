"""The sources config: defaults, per-source overrides, and errors that name file, key and fix."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path

import pytest

from infra.config import (
    ALLOWLIST_NAMES,
    DEFAULT_MOSTLY,
    ROTATION_METHODS,
    Config,
    ConfigError,
    PipelineSettings,
    RotationSettings,
    SourceConfig,
    load_config,
    parse_config,
    parse_duration,
)
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
    config = load_config(path, environ={})
    assert set(config.sources) == {"edge-squid", "gateway", "proxysg", "branch-office"}
    assert config.source("edge-squid").validation.mostly["username"] == 0.95
    assert config.source("branch-office").tz == "Europe/Brussels"
    methods = {source.rotation.method for source in config.sources.values()}
    assert methods == {*ROTATION_METHODS, None}
    edge = config.source("edge-squid").rotation
    assert edge.path == Path("/var/log/squid/access.log") and edge.squid_conf == Path("/etc/squid/squid.conf")
    assert config.source("gateway").rotation.path is not None and config.source("gateway").partial_last_line == "parse"
    assert config.source("proxysg").rotation.spool == "/var/spool/proxysg/*.log.gz"
    assert config.source("edge-squid").allowlists["clients"] == ("10.20.0.15",)
    assert config.source("proxysg").allowlists == config.allowlists and config.allowlists["ports"] == ("80", "443", "8080")
    assert config.pipeline == PipelineSettings(landing_days=30, seal_grace=timedelta(minutes=15), work_dir=Path("/var/tmp/proxyvault"))


def _load(tmp_path: Path, text: str, environ: Mapping[str, str] | None = None) -> Config:
    path = tmp_path / "proxyvault.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path, environ=environ or {})


def _error(tmp_path: Path, text: str, environ: Mapping[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as raised:
        _load(tmp_path, text, environ)
    message = str(raised.value)
    assert message.startswith(f"{tmp_path / 'proxyvault.toml'}: ") and "\n" not in message
    return message


# rotation -------------------------------------------------------------------------------


def test_rotation_defaults() -> None:
    source = Config().source("x")
    assert source.rotation == RotationSettings()
    assert (source.rotation.method, source.rotation.settle, source.rotation.reopen_timeout) == (
        None,
        timedelta(seconds=2),
        timedelta(seconds=60),
    )
    assert source.rotation.keep_rotated is False and source.partial_last_line == "reject" and source.allowlists == {}
    assert SourceConfig("x").rotation == RotationSettings()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            'rotation = "squid"\npath = "/var/log/squid/access.log"\nsquid_conf = "/etc/squid/squid.conf"',
            RotationSettings(method="squid", path=Path("/var/log/squid/access.log"), squid_conf=Path("/etc/squid/squid.conf")),
            id="squid",
        ),
        pytest.param(
            'rotation = "squid"\npath = "/l/a.log"\nsquid_conf = "/e/s.conf"\nsquid_binary = "/opt/squid/sbin/squid"',
            RotationSettings(
                method="squid", path=Path("/l/a.log"), squid_conf=Path("/e/s.conf"), squid_binary=Path("/opt/squid/sbin/squid")
            ),
            id="squid-binary",
        ),
        pytest.param('rotation = "rename"\npath = "/l/a.log"', RotationSettings(method="rename", path=Path("/l/a.log")), id="rename"),
        pytest.param('rotation = "spool"\nspool = "/s/*.log.gz"', RotationSettings(method="spool", spool="/s/*.log.gz"), id="spool"),
        pytest.param(
            'rotation = "rename"\npath = "/l/a.log"\nsettle = "10s"\nreopen_timeout = "2m"\nkeep_rotated = true',
            RotationSettings(
                method="rename",
                path=Path("/l/a.log"),
                settle=timedelta(seconds=10),
                reopen_timeout=timedelta(minutes=2),
                keep_rotated=True,
            ),
            id="tuning",
        ),
        pytest.param("settle = 5\nkeep_rotated = false", RotationSettings(settle=timedelta(seconds=5)), id="tuning-without-method"),
        pytest.param('format = "squid"', RotationSettings(), id="none"),
    ],
)
def test_rotation_keys(tmp_path: Path, text: str, expected: RotationSettings) -> None:
    assert _load(tmp_path, f"[sources.a]\n{text}").source("a").rotation == expected


@pytest.mark.parametrize("value", ["reject", "parse"])
def test_partial_last_line(tmp_path: Path, value: str) -> None:
    assert _load(tmp_path, f'[sources.a]\npartial_last_line = "{value}"').source("a").partial_last_line == value


@pytest.mark.parametrize(
    ("text", "message", "fix"),
    [
        pytest.param(
            'rotation = "logrotate"', "sources.a.rotation: 'logrotate' is not one of squid, rename, spool", "fix the value", id="method"
        ),
        pytest.param("rotation = 1", "sources.a.rotation: 1 is not one of", "fix the value", id="method-type"),
        pytest.param(
            'rotation = "squid"\nsquid_conf = "/s.conf"', 'sources.a.path: required with rotation = "squid"', "add path = ", id="squid-path"
        ),
        pytest.param(
            'rotation = "squid"\npath = "/a.log"',
            "sources.a.squid_conf: required",
            'add squid_conf = "/etc/squid/squid.conf"',
            id="squid-conf",
        ),
        pytest.param('rotation = "rename"', 'sources.a.path: required with rotation = "rename"', "add path = ", id="rename-path"),
        pytest.param('rotation = "spool"', 'sources.a.spool: required with rotation = "spool"', 'add spool = "', id="spool-glob"),
        pytest.param(
            'rotation = "spool"\nspool = "/s/*"\npath = "/a.log"',
            'sources.a.path: not used with rotation = "spool"',
            "remove path",
            id="spool-path",
        ),
        pytest.param(
            'rotation = "rename"\npath = "/a.log"\nsquid_conf = "/s.conf"',
            'sources.a.squid_conf: not used with rotation = "rename"',
            "remove squid_conf",
            id="rename-squid-conf",
        ),
        pytest.param(
            'rotation = "spool"\nspool = "/s/*"\nsquid_binary = "/sbin/squid"',
            "sources.a.squid_binary: not used",
            "remove squid_binary",
            id="spool-binary",
        ),
        pytest.param(
            'rotation = "rename"\npath = "/a.log"\nspool = "/s/*"',
            'sources.a.spool: not used with rotation = "rename"',
            "remove spool",
            id="rename-spool",
        ),
        pytest.param('path = "/a.log"', "sources.a.path: set without rotation", 'add rotation = "squid" or "rename"', id="path-alone"),
        pytest.param('spool = "/s/*"', "sources.a.spool: set without rotation", 'add rotation = "spool"', id="spool-alone"),
        pytest.param('squid_conf = "/s.conf"', "sources.a.squid_conf: set without rotation", 'add rotation = "squid"', id="conf-alone"),
        pytest.param(
            'squid_binary = "/sbin/squid"', "sources.a.squid_binary: set without rotation", 'add rotation = "squid"', id="binary-alone"
        ),
        pytest.param('rotation = "rename"\npath = ""', "sources.a.path: expected a non-empty string", "quote the value", id="path-empty"),
        pytest.param(
            'rotation = "spool"\nspool = 3', "sources.a.spool: expected a non-empty string, got 3", "quote the value", id="spool-type"
        ),
        pytest.param('settle = "soon"', "sources.a.settle: 'soon' is not a duration", 'write e.g. "90s"', id="settle"),
        pytest.param("reopen_timeout = -1", "sources.a.reopen_timeout: -1 is not a duration", 'write e.g. "90s"', id="reopen-timeout"),
        pytest.param(
            'keep_rotated = "yes"', "sources.a.keep_rotated: expected true or false, got 'yes'", "write keep_rotated = true", id="keep-str"
        ),
        pytest.param(
            "keep_rotated = 1", "sources.a.keep_rotated: expected true or false, got 1", "write keep_rotated = true", id="keep-int"
        ),
        pytest.param(
            'partial_last_line = "drop"', "sources.a.partial_last_line: 'drop' is not one of reject, parse", "fix the value", id="partial"
        ),
        pytest.param('rotaton = "squid"', "sources.a.rotaton: unknown key", "the keys here are", id="typo"),
    ],
)
def test_rotation_errors(tmp_path: Path, text: str, message: str, fix: str) -> None:
    error = _error(tmp_path, f"[sources.a]\n{text}")
    assert message in error and fix in error


def test_relative_paths_follow_the_file(tmp_path: Path) -> None:
    text = """
[sources.sq]
rotation = "squid"
path = "logs/access.log"
squid_conf = "squid.conf"
squid_binary = "bin/squid"

[sources.relative-spool]
rotation = "spool"
spool = "spool/*.log.gz"

[sources.absolute-spool]
rotation = "spool"
spool = "/var/spool/x/access.log.*"

[pipeline]
work_dir = "scratch"
"""
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "proxyvault.toml").write_text(text, encoding="utf-8")
    config = load_config(etc / "proxyvault.toml", environ={})
    squid = config.source("sq").rotation
    assert (squid.path, squid.squid_conf, squid.squid_binary) == (etc / "logs/access.log", etc / "squid.conf", etc / "bin/squid")
    assert config.source("relative-spool").rotation.spool == f"{etc}/spool/*.log.gz"
    assert config.source("absolute-spool").rotation.spool == "/var/spool/x/access.log.*"
    assert config.pipeline.work_dir == etc / "scratch"


def test_relative_config_path_keeps_relative_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("conf").mkdir()
    Path("conf/pv.toml").write_text('[sources.a]\nrotation = "spool"\nspool = "in/*.gz"\n', encoding="utf-8")
    assert load_config(Path("conf/pv.toml"), environ={}).source("a").rotation.spool == "conf/in/*.gz"


# allowlists -----------------------------------------------------------------------------


def test_allowlists_union(tmp_path: Path) -> None:
    text = """
[allowlists]
hosts = ["a.example", "b.example", "a.example"]
ports = [443, "8080"]
user_agents = []

[sources.one.allowlists]
hosts = ["c.example", "a.example", "d.example"]
methods = ["PROPFIND"]

[sources.two]
format = "squid"
"""
    config = _load(tmp_path, text)
    assert config.allowlists == {"user_agents": (), "hosts": ("a.example", "b.example"), "ports": ("443", "8080")}
    one = config.source("one").allowlists
    assert one["hosts"] == ("a.example", "b.example", "c.example", "d.example")
    assert one["methods"] == ("PROPFIND",) and one["ports"] == ("443", "8080")
    assert tuple(one) == tuple(n for n in ALLOWLIST_NAMES if n in one)  # the known order
    assert config.source("two").allowlists == config.allowlists
    assert config.source("not-configured").allowlists == config.allowlists


def test_every_allowlist_name_is_accepted(tmp_path: Path) -> None:
    body = "\n".join(f'{name} = ["x", 1]' for name in ALLOWLIST_NAMES)
    config = _load(tmp_path, f"[allowlists]\n{body}\n[sources.a.allowlists]\n{body}")
    assert config.allowlists == dict.fromkeys(ALLOWLIST_NAMES, ("x", "1")) == config.source("a").allowlists


@pytest.mark.parametrize(
    ("text", "message", "fix"),
    [
        pytest.param(
            '[allowlists]\nagents = ["x"]', "allowlists.agents: unknown key", "the keys here are " + ", ".join(ALLOWLIST_NAMES), id="name"
        ),
        pytest.param('[sources.a.allowlists]\nhost = ["x"]', "sources.a.allowlists.host: unknown key", "hosts", id="source-name"),
        pytest.param(
            '[allowlists]\nhosts = "a.example"', "allowlists.hosts: expected a list, got 'a.example'", "write e.g. hosts = [", id="not-list"
        ),
        pytest.param(
            "[allowlists]\nports = [443, 1.5]",
            "allowlists.ports[1]: 1.5 is not a non-empty string or a whole number",
            "fix the entry",
            id="float",
        ),
        pytest.param("[allowlists]\nports = [true]", "allowlists.ports[0]: True is not", "fix the entry", id="bool"),
        pytest.param('[allowlists]\nhosts = [""]', "allowlists.hosts[0]: '' is not", "fix the entry", id="empty"),
        pytest.param("[sources.a]\nallowlists = 3", "sources.a.allowlists: expected a table", "fix the file", id="table"),
    ],
)
def test_allowlist_errors(tmp_path: Path, text: str, message: str, fix: str) -> None:
    error = _error(tmp_path, text)
    assert message in error and fix in error


# pipeline -------------------------------------------------------------------------------


def test_pipeline_settings(tmp_path: Path) -> None:
    assert Config().pipeline == PipelineSettings(landing_days=30, seal_grace=timedelta(minutes=15), work_dir=None)
    config = _load(tmp_path, '[pipeline]\nlanding_days = 3650\nseal_grace = "1h"\nwork_dir = "/var/tmp/pv"')
    assert config.pipeline == PipelineSettings(landing_days=3650, seal_grace=timedelta(hours=1), work_dir=Path("/var/tmp/pv"))
    assert _load(tmp_path, "[pipeline]\nlanding_days = 1").pipeline.landing_days == 1


@pytest.mark.parametrize(
    ("text", "message", "fix"),
    [
        pytest.param(
            "landing_days = 0", "pipeline.landing_days: 0 is not a whole number of days from 1 to 3650", "fix the value", id="zero"
        ),
        pytest.param("landing_days = 3651", "pipeline.landing_days: 3651 is not", "fix the value", id="too-many"),
        pytest.param("landing_days = 1.5", "pipeline.landing_days: 1.5 is not", "fix the value", id="fraction"),
        pytest.param("landing_days = true", "pipeline.landing_days: True is not", "fix the value", id="bool"),
        pytest.param('landing_days = "30"', "pipeline.landing_days: '30' is not", "fix the value", id="string"),
        pytest.param('seal_grace = "later"', "pipeline.seal_grace: 'later' is not a duration", 'write e.g. "90s"', id="seal-grace"),
        pytest.param("work_dir = 3", "pipeline.work_dir: expected a non-empty string, got 3", "quote the value", id="work-dir"),
        pytest.param("landing = 30", "pipeline.landing: unknown key", "landing_days, seal_grace, work_dir", id="typo"),
    ],
)
def test_pipeline_errors(tmp_path: Path, text: str, message: str, fix: str) -> None:
    error = _error(tmp_path, f"[pipeline]\n{text}")
    assert message in error and fix in error


def test_pipeline_must_be_a_table(tmp_path: Path) -> None:
    assert "pipeline: expected a table ([pipeline]), got int" in _error(tmp_path, "pipeline = 3")


# environment overrides ------------------------------------------------------------------

SOURCES = """
[store]
kind = "s3"
bucket = "from-file"

[sources.edge-squid]
format = "squid"

[sources."branch.office"]
format = "squid"

[sources.core_proxy]
format = "squid"

[sources.Upper-Case]
format = "squid"
"""


@pytest.mark.parametrize(
    ("name", "value", "read"),
    [
        pytest.param("PROXYVAULT__STORE__BUCKET", "pv-archive", lambda c: c.store.bucket == "pv-archive", id="string"),
        pytest.param("PROXYVAULT__STORE__BUCKET", '"12345"', lambda c: c.store.bucket == "12345", id="quoted"),
        pytest.param("PROXYVAULT__RETENTION__YEARS", "10", lambda c: c.retention.years == 10, id="int"),
        pytest.param("PROXYVAULT__STORE__CONNECT_TIMEOUT", "2.5", lambda c: c.store.connect_timeout == 2.5, id="float"),
        pytest.param("PROXYVAULT__PIPELINE__SEAL_GRACE", "20m", lambda c: c.pipeline.seal_grace == timedelta(minutes=20), id="duration"),
        pytest.param("PROXYVAULT__PIPELINE__LANDING_DAYS", "90", lambda c: c.pipeline.landing_days == 90, id="landing-days"),
        pytest.param(
            "PROXYVAULT__SOURCES__EDGE_SQUID__KEEP_ROTATED", "true", lambda c: c.source("edge-squid").rotation.keep_rotated, id="bool"
        ),
        pytest.param("PROXYVAULT__ALLOWLISTS__HOSTS", '["a", "b"]', lambda c: c.allowlists["hosts"] == ("a", "b"), id="list"),
        pytest.param("PROXYVAULT__VALIDATION__MOSTLY__USERNAME", "0.5", lambda c: c.validation.mostly["username"] == 0.5, id="nested"),
        pytest.param("proxyvault__store__bucket", "ignored", lambda c: c.store.bucket == "from-file", id="prefix-is-upper-case"),
        pytest.param("PROXYVAULT__store__Bucket", "mixed-case", lambda c: c.store.bucket == "mixed-case", id="segments-any-case"),
        pytest.param("PROXYVAULT__STORE__BUCKET", "2024-01-01", lambda c: c.store.bucket == "2024-01-01", id="date-stays-string"),
        pytest.param("PROXYVAULT__STORE__BUCKET", "07:32:00", lambda c: c.store.bucket == "07:32:00", id="time-stays-string"),
        pytest.param(
            "PROXYVAULT__STORE__BUCKET", "1979-05-27T07:32:00Z", lambda c: c.store.bucket == "1979-05-27T07:32:00Z", id="datetime-stays"
        ),
        pytest.param("PROXYVAULT__STORE__PREFIX", "a = 1", lambda c: c.store.prefix == "a = 1", id="not-a-value"),
        pytest.param("PROXYVAULT__STORE__PREFIX", "1\nb = 2", lambda c: c.store.prefix == "1\nb = 2", id="no-injection"),
    ],
)
def test_env_override_types(tmp_path: Path, name: str, value: str, read: Callable[[Config], bool]) -> None:
    config = _load(tmp_path, SOURCES, {name: value})
    assert read(config)
    assert config.overrides == ((name,) if name.startswith("PROXYVAULT__") else ())


def test_env_dates_stay_strings_inside_lists(tmp_path: Path) -> None:
    error = _error(tmp_path, SOURCES, {"PROXYVAULT__ALLOWLISTS__HOSTS": "[2024-01-01]"})
    assert "allowlists.hosts (from $PROXYVAULT__ALLOWLISTS__HOSTS): expected a list, got '[2024-01-01]'" in error


@pytest.mark.parametrize(
    ("segment", "source"),
    [
        pytest.param("EDGE_SQUID", "edge-squid", id="dash"),
        pytest.param("edge_squid", "edge-squid", id="lower"),
        pytest.param("BRANCH_OFFICE", "branch.office", id="dot"),
        pytest.param("CORE_PROXY", "core_proxy", id="underscore"),
        pytest.param("UPPER_CASE", "Upper-Case", id="case"),
    ],
)
def test_env_source_names(tmp_path: Path, segment: str, source: str) -> None:
    name = f"PROXYVAULT__SOURCES__{segment}__TZ"
    config = _load(tmp_path, SOURCES, {name: "Europe/Brussels"})
    assert config.source(source).tz == "Europe/Brussels"
    assert [s.name for s in config.sources.values() if s.tz] == [source]


def test_env_source_with_double_underscore_in_its_name(tmp_path: Path) -> None:
    config = _load(tmp_path, '[sources.a__b]\nformat = "squid"', {"PROXYVAULT__SOURCES__A__B__TZ": "UTC"})
    assert config.source("a__b").tz == "UTC"


def test_env_source_path_and_rotation(tmp_path: Path) -> None:
    environ = {
        "PROXYVAULT__SOURCES__EDGE_SQUID__ROTATION": "squid",
        "PROXYVAULT__SOURCES__EDGE_SQUID__PATH": "/var/log/squid/access.log",
        "PROXYVAULT__SOURCES__EDGE_SQUID__SQUID_CONF": "/etc/squid/squid.conf",
        "PROXYVAULT__SOURCES__EDGE_SQUID__SETTLE": "5s",
        "PROXYVAULT_CONFIG": "not-an-override.toml",
    }
    config = _load(tmp_path, SOURCES, environ)
    assert config.source("edge-squid").rotation == RotationSettings(
        method="squid", path=Path("/var/log/squid/access.log"), squid_conf=Path("/etc/squid/squid.conf"), settle=timedelta(seconds=5)
    )
    assert config.overrides == tuple(sorted(n for n in environ if n != "PROXYVAULT_CONFIG"))


def test_env_unknown_source(tmp_path: Path) -> None:
    error = _error(tmp_path, SOURCES, {"PROXYVAULT__SOURCES__EDGE__PATH": "/a.log"})
    assert "$PROXYVAULT__SOURCES__EDGE__PATH: no source matches EDGE" in error
    assert "edge-squid, branch.office, core_proxy, Upper-Case" in error and "define the source in the file" in error


def test_env_ambiguous_source(tmp_path: Path) -> None:
    text = '[sources.edge-squid]\nformat = "squid"\n[sources."edge.squid"]\nformat = "squid"'
    error = _error(tmp_path, text, {"PROXYVAULT__SOURCES__EDGE_SQUID__TZ": "UTC"})
    assert "$PROXYVAULT__SOURCES__EDGE_SQUID__TZ: matches sources edge-squid, edge.squid; rename one" in error


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        pytest.param(
            {"PROXYVAULT__SOURCES": "x"}, "$PROXYVAULT__SOURCES: names no source; write PROXYVAULT__SOURCES__NAME__KEY", id="no-source"
        ),
        pytest.param({"PROXYVAULT__STORE____BUCKET": "x"}, "$PROXYVAULT__STORE____BUCKET: an empty name between '__'", id="empty-part"),
        pytest.param({"PROXYVAULT__": "x"}, "$PROXYVAULT__: an empty name", id="empty-name"),
        pytest.param(
            {"PROXYVAULT__STORE__BUCKET": "a", "PROXYVAULT__store__bucket": "b"},
            "$PROXYVAULT__store__bucket: sets store.bucket like $PROXYVAULT__STORE__BUCKET; unset one of them",
            id="twice",
        ),
        pytest.param(
            {"PROXYVAULT__STORE__BUCKET__NAME": "a"},
            "$PROXYVAULT__STORE__BUCKET__NAME: store.bucket is not a table, so it has no key name; set store.bucket itself",
            id="not-a-table",
        ),
    ],
)
def test_env_variable_errors(tmp_path: Path, environ: dict[str, str], message: str) -> None:
    assert message in _error(tmp_path, SOURCES, environ)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        pytest.param(
            {"PROXYVAULT__RETENTION__YEARS": "0"},
            "proxyvault.toml: retention.years (from $PROXYVAULT__RETENTION__YEARS): "
            "0 is not a whole number of years from 1 to 100; fix the value",
            id="years",
        ),
        pytest.param(
            {"PROXYVAULT__PIPELINE__SEAL_GRACE": "soon"},
            "pipeline.seal_grace (from $PROXYVAULT__PIPELINE__SEAL_GRACE): 'soon' is not a duration",
            id="duration",
        ),
        pytest.param({"PROXYVAULT__STORE__BUKET": "x"}, "store.buket (from $PROXYVAULT__STORE__BUKET): unknown key", id="unknown-key"),
        pytest.param({"PROXYVAULT__STOER__BUCKET": "x"}, "stoer (from $PROXYVAULT__STOER__BUCKET): unknown key", id="unknown-table"),
        pytest.param({"PROXYVAULT__CONFIG": "x.toml"}, "config (from $PROXYVAULT__CONFIG): unknown key", id="not-the-config-path"),
        pytest.param(
            {"PROXYVAULT__SOURCES__EDGE_SQUID__ROTATION": "squid"},
            "sources.edge-squid.path (from $PROXYVAULT__SOURCES__EDGE_SQUID__ROTATION): required",
            id="related-key",
        ),
        pytest.param(
            {"PROXYVAULT__VALIDATION__MOSTLY": "{username = 2}"},
            "validation.mostly.username (from $PROXYVAULT__VALIDATION__MOSTLY): 2 is not a fraction",
            id="inline-table",
        ),
        pytest.param(
            {"PROXYVAULT__STORE__BUCKET": ""}, "store.bucket (from $PROXYVAULT__STORE__BUCKET): expected a non-empty string", id="empty"
        ),
        pytest.param(
            {"PROXYVAULT__STORE__KIND": "gcs"}, "store.kind (from $PROXYVAULT__STORE__KIND): 'gcs' is not one of local, s3", id="choice"
        ),
    ],
)
def test_env_errors_name_the_variable(tmp_path: Path, environ: dict[str, str], message: str) -> None:
    assert message in _error(tmp_path, SOURCES, environ)


def test_file_errors_name_no_variable(tmp_path: Path) -> None:
    error = _error(tmp_path, "[retention]\nyears = 0", {"PROXYVAULT__STORE__BUCKET": "pv-archive"})
    assert "retention.years: 0 is not" in error and "$" not in error


def test_env_inline_table_merges_with_the_file(tmp_path: Path) -> None:
    text = "[validation.mostly]\nuser_agent = 0.5\nreferer = 0.5"
    config = _load(tmp_path, text, {"PROXYVAULT__VALIDATION__MOSTLY": "{username = 0.7, referer = 0.1}"})
    assert (config.validation.mostly["user_agent"], config.validation.mostly["referer"], config.validation.mostly["username"]) == (
        0.5,
        0.1,
        0.7,
    )


def test_env_paths_are_relative_to_the_working_directory(tmp_path: Path) -> None:
    text = '[store]\npath = "from-file"\n[keys]\nprivate = "k.pem"\n'
    text += '[sources.a]\nrotation = "spool"\nspool = "f/*"\n[sources.b]\nformat = "squid"'
    environ = {
        "PROXYVAULT__STORE__PATH": "from-env",
        "PROXYVAULT__SOURCES__A__SPOOL": "in/*.gz",
        "PROXYVAULT__SOURCES__B__ROTATION": "rename",
        "PROXYVAULT__SOURCES__B__PATH": "logs/access.log",
        "PROXYVAULT__PIPELINE__WORK_DIR": "scratch",
        "PROXYVAULT__KEYS__TRUSTED": '["old.pub.pem"]',
    }
    config = _load(tmp_path, text, environ)
    assert config.store.path == Path("from-env") and config.pipeline.work_dir == Path("scratch")
    assert config.source("a").rotation.spool == "in/*.gz" and config.source("b").rotation.path == Path("logs/access.log")
    assert config.keys.trusted == (Path("old.pub.pem"),)
    assert config.keys.private == tmp_path / "k.pem"  # still from the file


def test_env_without_a_file() -> None:
    environ = {"PROXYVAULT__STORE__KIND": "s3", "PROXYVAULT__STORE__BUCKET": "pv-archive", "PROXYVAULT__RETENTION__YEARS": "10"}
    config = load_config(None, environ=environ)
    assert (config.path, config.store.kind, config.store.bucket, config.retention.years) == (None, "s3", "pv-archive", 10)
    assert config.overrides == ("PROXYVAULT__RETENTION__YEARS", "PROXYVAULT__STORE__BUCKET", "PROXYVAULT__STORE__KIND")
    assert config.source("x").validation == Config().validation
    assert load_config(None, environ={}) == Config() and Config().overrides == ()


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        pytest.param({"PROXYVAULT__STORE__KIND": "s3"}, "environment: store.bucket (from $PROXYVAULT__STORE__KIND): required", id="key"),
        pytest.param(
            {"PROXYVAULT__SOURCES__EDGE__PATH": "/a.log"},
            "environment: $PROXYVAULT__SOURCES__EDGE__PATH: no source matches EDGE; the file defines no source; "
            "define the source in the file",
            id="source",
        ),
    ],
)
def test_env_errors_without_a_file(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(None, environ=environ)
    assert str(raised.value).startswith(message)


def test_env_with_the_config_variable(tmp_path: Path) -> None:
    path = tmp_path / "proxyvault.toml"
    path.write_text(SOURCES, encoding="utf-8")
    config = load_config(None, environ={"PROXYVAULT_CONFIG": str(path), "PROXYVAULT__STORE__BUCKET": "pv-archive"})
    assert (config.path, config.store.bucket, config.overrides) == (path, "pv-archive", ("PROXYVAULT__STORE__BUCKET",))


def test_parse_config_takes_no_environment_by_default() -> None:
    data = {"store": {"bucket": "from-data"}}
    assert parse_config(data).store.bucket == "from-data"
    assert parse_config(data, environ={"PROXYVAULT__STORE__BUCKET": "from-env"}).store.bucket == "from-env"
    assert data == {"store": {"bucket": "from-data"}}  # the caller's data is left alone
