"""``proxyvault demo``: a week of three proxies' traffic through the real DAGs, on the embedded default.

The home directory holds everything, so it opens in the Airflow UI afterwards::

    HOME/proxyvault.toml          the sources config (written on the first run)
    HOME/proxies/                 the proxies' logs: two active logs and a spool
    HOME/airflow/                 AIRFLOW_HOME: SQLite metadata, task logs
    HOME/archive/                 the local store: events, raw, manifests, digests, custody
    HOME/keys/                    the digest signing key pair
    HOME/reports/                 summary.json, Data Docs

Each simulated day the proxies write their logs, then ``proxy_rotate`` takes them and
``proxy_archive`` archives and seals them, each through ``dag.test()``. One file of the
ProxySG spool arrives three days late (its hours get backfill digests), one Squid log is
taken with a half-written last line (rejected with its reason), and every source has a
few damaged lines. Finally ``proxy_daily_stats`` and ``proxy_audit`` run, and the whole
store is verified.
"""

from __future__ import annotations

import gzip
import json
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from proxyvault.sample import LOCAL_TIME_LOGFORMAT, write_traffic

DEFAULT_START = date(2026, 11, 9)  # a Monday
#: The damaged-line rate of every generated log.
DAMAGED_EVERY = 1999
LATE_DAY, LATE_BY = 1, 3  # the ProxySG file of day 1 arrives on day 4
HALF_LINE_DAY = 2  # edge-squid's log of day 2 is taken mid-line
BRANCH_TZ = "Europe/Brussels"

Say = Callable[[str], None]


@dataclass(frozen=True)
class DemoSource:
    name: str
    kind: str  # proxyvault.sample kind
    per_hour: int
    seed: int


SOURCES = (
    DemoSource("edge-squid", "squid", 1200, 11),  # Squid native, UTC epoch times
    DemoSource("branch-squid", "squid-local", 600, 12),  # Squid logformat with %tl: local time with its offset
    DemoSource("proxysg", "elff", 500, 13),  # Blue Coat ProxySG ELFF, daily .gz files in a spool
)

CONFIG = f"""\
# Written by `proxyvault demo`: three proxies, the local store, keys beside it.
[validation]
policy = "archive_and_alert"

[sources.edge-squid]
format = "squid"
proxy_host = "edge-1.demo.example"
rotation = "rename"                  # a real Squid would use "squid" with squid_conf
path = "proxies/edge-squid/access.log"
settle = "0.1s"
reopen_timeout = "5s"

[sources.branch-squid]
format = "squid-logformat"
logformat = '{LOCAL_TIME_LOGFORMAT}'
proxy_host = "branch-1.demo.example"
rotation = "rename"
path = "proxies/branch-squid/access.log"
settle = "0.1s"
reopen_timeout = "5s"

[sources.proxysg]
format = "elff"
proxy_host = "sg-1.demo.example"
rotation = "spool"
spool = "proxies/proxysg/spool/SG_main_*.log.gz"
settle = "0s"

[store]
kind = "local"
path = "archive"

[keys]
private = "keys/digest-signing.pem"
public = "keys/digest-signing.pub.pem"
"""


def write_day(home: Path, day: date, index: int, days: int) -> list[str]:
    """The proxies' logs of ``day``; returns what was written, for the progress line."""
    start = datetime.combine(day, datetime.min.time(), UTC)
    end = start + timedelta(days=1)
    notes = []
    for source in SOURCES:
        if source.kind == "elff":
            continue
        path = home / "proxies" / source.name / "access.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        tz = BRANCH_TZ if source.kind == "squid-local" else None
        lines = write_traffic(
            path, source.kind, start, end, per_hour=source.per_hour, seed=source.seed, damaged_every=DAMAGED_EVERY, tz=tz, append=True
        )
        if source.name == "edge-squid" and index == HALF_LINE_DAY:
            with path.open("a", encoding="utf-8") as f:
                f.write(f"{end.timestamp() - 0.5:.3f}    12 10.1.2.3 TCP_MISS/200 5120 GET http://www.exa")  # cut mid-write
            notes.append("edge-squid ends mid-line")
        notes.append(f"{source.name} {lines:,}")
    late_arrives = min(LATE_DAY + LATE_BY, days - 1)  # a shorter demo gets it on its last day
    if index != LATE_DAY:
        notes.append(f"proxysg {_write_spool_file(home, day):,}")
    if index == late_arrives and days > LATE_DAY:
        late = day - timedelta(days=index - LATE_DAY)
        notes.append(f"proxysg {_write_spool_file(home, late):,} (the file of {late}, late)")
    return notes


def _write_spool_file(home: Path, day: date) -> int:
    source = next(s for s in SOURCES if s.kind == "elff")
    spool = home / "proxies" / source.name / "spool"
    spool.mkdir(parents=True, exist_ok=True)
    plain = spool / f".SG_main_{day:%Y%m%d}.log.tmp"
    start = datetime.combine(day, datetime.min.time(), UTC)
    lines = write_traffic(
        plain, source.kind, start, start + timedelta(days=1), per_hour=source.per_hour, seed=source.seed, damaged_every=DAMAGED_EVERY
    )
    target = spool / f"SG_main_{day:%Y%m%d}.log.gz"
    with plain.open("rb") as src, gzip.GzipFile(target.with_suffix(".gz.part"), "wb", mtime=0) as dst:  # mtime 0: same bytes every run
        dst.write(src.read())
    plain.unlink()
    target.with_suffix(".gz.part").replace(target)
    return lines


def run_demo(home: Path, days: int, first_day: date, say: Say) -> int:
    """Run the demo in ``home``; returns the exit code (1 when the final verify finds a problem)."""
    started = time.monotonic()
    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    config_path = home / "proxyvault.toml"
    if not config_path.exists():
        config_path.write_text(CONFIG, encoding="utf-8")
    import os

    os.environ["PROXYVAULT_CONFIG"] = str(config_path)
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")  # the task logs stay in HOME/airflow/logs
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")  # dag.test's in-process API
    from proxyvault.airflow_local import asset_extras, load_dags, migrate, prepare_airflow_home, run_dag, task_result

    env = prepare_airflow_home(home / "airflow")
    say(f"airflow: metadata in {home / 'airflow' / 'airflow.db'} (airflow db migrate)")
    migrate(env)

    from infra.config import load_config
    from infra.integrity import generate_keypair

    config = load_config(config_path)
    if not config.keys.private.exists():
        generate_keypair(config.keys.private, config.keys.public)
    dags = load_dags()
    say(f"airflow: {len(dags)} DAGs parsed ({', '.join(sorted(dags))})")
    totals: dict[str, Any] = {"days": []}
    for index in range(days):
        day = first_day + timedelta(days=index)
        notes = write_day(home, day, index, days)
        day_end = datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)
        rotate = run_dag(dags["proxy_rotate"], logical_date=day_end - timedelta(minutes=15))
        extras = asset_extras(rotate)
        receipts = extras[0]["receipts"] if extras else []
        taken = task_result(rotate, "check") or {}
        archived: dict[str, Any] = {}
        if receipts:
            archive = run_dag(dags["proxy_archive"], run_conf={"receipts": receipts})
            archived = task_result(archive, "seal") or {}
        say(
            f"{day} ({day:%a}): wrote {', '.join(notes)} | rotate: {taken.get('landed', 0)} landed, "
            f"{taken.get('already_taken', 0)} taken before | archive: {archived.get('archived', 0)} archived, "
            f"{archived.get('rows', 0):,} rows, {archived.get('rejects', 0)} rejects, sealed through {archived.get('sealed_through')}"
            + (f", {archived['backfill']} backfill digests" if archived.get("backfill") else "")
        )
        totals["days"].append({"day": day.isoformat(), "taken": taken, "archive": archived})
    last_end = datetime.combine(first_day + timedelta(days=days), datetime.min.time(), UTC)
    hourly = run_dag(dags["proxy_archive"], logical_date=last_end + timedelta(minutes=30))  # the hourly run seals the last hour
    say(f"hourly proxy_archive run: sealed through {(task_result(hourly, 'seal') or {}).get('sealed_through')}")
    for index in range(days):
        day = first_day + timedelta(days=index)
        run_dag(dags["proxy_daily_stats"], logical_date=_at(day + timedelta(days=1), hours=1.5))  # reports on ``day``
    audits = []
    monday = first_day + timedelta(days=-first_day.weekday() % 7)  # the first whole week's Monday
    while monday + timedelta(days=7) <= first_day + timedelta(days=days):
        audit = run_dag(dags["proxy_audit"], logical_date=_at(monday + timedelta(days=7), hours=4))  # verifies the week before
        audits.append(task_result(audit, "verify_week"))
        say(f"proxy_audit of the week from {monday}: {json.dumps(audits[-1]['counts'])}")
        monday += timedelta(days=7)
    return _report(home, config_path, totals, audits, started, say)


def _at(day: date, hours: float = 0) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=hours)


def _report(home: Path, config_path: Path, totals: dict[str, Any], audits: list[Any], started: float, say: Say) -> int:
    import logging

    from expectations.data_docs import build_data_docs
    from infra.config import load_config
    from infra.integrity import load_public_keys
    from infra.store import open_store
    from proxyvault.validate import render_completeness
    from proxyvault.verify import verify_store

    logging.getLogger("great_expectations").setLevel(logging.WARNING)  # Airflow's logging would print GX's info lines
    config = load_config(config_path)
    store = open_store(config.store, config.retention.mode)
    per_source: dict[str, dict[str, Any]] = {}
    reports: list[dict[str, Any]] = []
    for key in sorted(store.list_keys("manifests/")):
        manifest = json.loads(store.get_bytes(key))
        entry = per_source.setdefault(
            manifest["source"],
            {"format": manifest["source_format"], "batches": 0, "lines_in": 0, "rows": 0, "rejects": 0, "validation": {}},
        )
        entry["batches"] += 1
        entry["lines_in"] += manifest["counts"]["lines_in"]
        entry["rows"] += manifest["counts"]["rows_out"]
        entry["rejects"] += manifest["counts"]["rejects_out"]
        status = manifest["validation"]["status"]
        entry["validation"][status] = entry["validation"].get(status, 0) + 1
        reports.append(json.loads(store.get_bytes(manifest["validation"]["report_key"])))
    verified = verify_store(store, load_public_keys([config.keys.public]), trust=f"trusting {config.keys.public}")
    reports_dir = home / "reports"
    docs = build_data_docs(reports[-len(per_source) :], reports_dir / "data_docs")  # the last batch of each source
    summary = {"sources": per_source, "days": totals["days"], "audits": audits, "verify": verified.to_json()}
    (reports_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    say("")
    say(f"{'source':14} {'format':16} {'batches':>7} {'lines in':>10} {'rows':>10} {'rejects':>7}  validation")
    for name, entry in sorted(per_source.items()):
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(entry["validation"].items()))
        counts = f"{entry['batches']:>7} {entry['lines_in']:>10,} {entry['rows']:>10,} {entry['rejects']:>7}"
        say(f"{name:14} {entry['format']:16} {counts}  {statuses}")
    say("")
    say(render_completeness(reports[-1]))
    say(verified.render())
    say("")
    say(f"archive:      {config.store.path}  (query: duckdb -c \"from '{config.store.path}/events/**/*.parquet'\")")
    say(f"data docs:    {docs}")
    say(f"reports:      {reports_dir / 'summary.json'}")
    say(f"config:       {config_path}")
    say(f"airflow home: {home / 'airflow'}  (open it in the UI: see README, 'The demo in the Airflow UI')")
    say(f"verify again: PROXYVAULT_CONFIG={config_path} proxyvault verify")
    say(f"demo took {time.monotonic() - started:.0f} s")
    return 0 if verified.ok else 1
