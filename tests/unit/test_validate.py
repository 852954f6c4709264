"""Validation in `proxyvault normalize` and `proxyvault completeness`: reports, policies, advice."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from proxyvault.cli import main
from proxyvault.sample import write_sample

LINES = 1000
BAD_LINE = 400


@pytest.fixture
def clean_log(tmp_path: Path) -> Path:
    return write_sample(tmp_path / "in" / "clean.log", "squid", LINES, seed=11)


@pytest.fixture
def bad_log(tmp_path: Path) -> Path:
    """A Squid log whose line 400 has the impossible status 999 (it parses; it is not valid)."""
    path = write_sample(tmp_path / "in" / "bad.log", "squid", LINES, seed=11)
    lines = path.read_text(encoding="utf-8").splitlines()
    action, rest = lines[BAD_LINE - 1].split("/", 1)
    lines[BAD_LINE - 1] = f"{action}/999{rest[3:]}"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _config(tmp_path: Path, policy: str) -> Path:
    path = tmp_path / f"{policy}.toml"
    path.write_text(f'[sources.edge]\nformat = "squid"\n\n[sources.edge.validation]\npolicy = "{policy}"\n', encoding="utf-8")
    return path


def _normalize(capsys: pytest.CaptureFixture[str], out: Path, *argv: str) -> tuple[int, dict[str, Any] | None, str]:
    capsys.readouterr()
    code = main(["normalize", "--out", str(out), *argv])
    stdout, stderr = capsys.readouterr()
    return code, (json.loads(stdout) if code == 0 else None), stderr


def test_clean_batch_passes_and_report_lies_beside_it(tmp_path: Path, clean_log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, summary, stderr = _normalize(capsys, tmp_path / "o", "--format", "squid", "--source", "edge", str(clean_log))
    assert code == 0 and summary is not None and "ALERT" not in stderr
    (entry,) = summary["files"]
    validation = entry["validation"]
    assert (validation["status"], validation["action"], validation["failures"]) == ("passed", "archive", [])
    report_path = Path(validation["report_path"])
    assert report_path == tmp_path / "o" / "validation" / "source=edge" / f"part-{entry['source_file_sha256'][:16]}.json"
    assert hashlib.sha256(report_path.read_bytes()).hexdigest() == validation["report_sha256"]
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["batch"]["rows"] == entry["rows_out"] and report["status"] == "passed"
    assert report["not_logged_by_this_source"] == ["http_version", "user_agent", "referer", "client_port"]
    assert summary["totals"]["validation_failed"] == 0


def test_report_is_deterministic(tmp_path: Path, clean_log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reports = []
    for run in ("a", "b"):
        _, summary, _ = _normalize(capsys, tmp_path / run, "--format", "squid", "--source", "edge", str(clean_log))
        assert summary is not None
        reports.append(Path(summary["files"][0]["validation"]["report_path"]).read_bytes())
    assert reports[0] == reports[1]


def test_archive_and_alert_keeps_the_batch_and_says_so(tmp_path: Path, bad_log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, summary, stderr = _normalize(
        capsys, tmp_path / "o", "--config", str(_config(tmp_path, "archive_and_alert")), "--source", "edge", str(bad_log)
    )
    assert code == 0 and summary is not None
    validation = summary["files"][0]["validation"]
    assert (validation["status"], validation["action"]) == ("failed", "archive_and_alert")
    assert validation["failures"] == ["proxy_events: status_code: 1 of 1,000 values are not 0 (no reply) or a status 100-599; e.g. 999"]
    assert stderr.count("ALERT") == 1 and str(bad_log) in stderr and "status_code" in stderr
    assert pl.read_parquet(summary["files"][0]["events_path"]).height == LINES  # nothing dropped
    assert summary["totals"]["validation_failed"] == 1


def test_quarantine_moves_the_batch_and_a_rerun_does_not_duplicate(
    tmp_path: Path, bad_log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o"
    code, summary, _ = _normalize(capsys, out, "--config", str(_config(tmp_path, "quarantine")), "--source", "edge", str(bad_log))
    assert code == 0 and summary is not None
    entry = summary["files"][0]
    assert entry["validation"]["action"] == "quarantine"
    assert Path(entry["events_path"]).parent == out / "quarantine" / "source=edge"
    assert list((out / "events").rglob("*.parquet")) == []
    assert pl.read_parquet(entry["events_path"]).height == LINES
    # judged again under another policy, the batch is in exactly one place
    code, summary, _ = _normalize(capsys, out, "--config", str(_config(tmp_path, "archive_and_alert")), "--source", "edge", str(bad_log))
    assert code == 0 and summary is not None
    assert list((out / "quarantine").rglob("*.parquet")) == [] and len(list((out / "events").rglob("*.parquet"))) == 1


def test_fail_policy_exits_3_with_one_line(tmp_path: Path, bad_log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o"
    code, _, stderr = _normalize(capsys, out, "--config", str(_config(tmp_path, "fail")), "--source", "edge", str(bad_log))
    assert code == 3
    assert stderr.count("\n") == 1
    assert stderr.startswith(f"proxyvault normalize: {bad_log}: source 'edge' failed validation (policy fail): proxy_events: status_code")
    assert "report: " in stderr
    (report,) = (out / "validation").rglob("*.json")
    assert json.loads(report.read_text(encoding="utf-8"))["status"] == "failed"
    assert len(list((out / "events").rglob("*.parquet"))) == 1  # kept for inspection, not archived


def test_clock_window_from_the_command_line(tmp_path: Path, clean_log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the sample starts at 2026-09-21T14:13:20Z: a window an hour later flags every event
    argv = ["--format", "squid", "--window-start", "2026-09-21T16:30:00+01:00", "--window-end", "2026-09-21T16:45:00+01:00", str(clean_log)]
    code, summary, _ = _normalize(capsys, tmp_path / "o", *argv)
    assert code == 0 and summary is not None
    validation = summary["files"][0]["validation"]
    assert [f["check"] for f in validation["clock_flags"]] == ["outside_window"]
    assert any(f.startswith("proxy_events: event_time: ") for f in validation["failures"])


def test_completeness_table_and_advice(clean_log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["completeness", "--format", "squid", "--source", "edge", str(clean_log)]) == 0
    text = capsys.readouterr().out
    assert f"edge (squid, {LINES:,} rows): PASSED" in text
    assert "  user_agent       no               -          -  not logged" in text
    assert "  event_time       yes         100.0%       100%  ok" in text
    assert "  advice: format squid does not log http_version, user_agent, referer, client_port: use logformat vault" in text


def test_completeness_json_reports_failures_and_exits_1(bad_log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["completeness", "--json", "--format", "squid", str(bad_log)]) == 1
    (report,) = json.loads(capsys.readouterr().out)
    assert report["input"] == str(bad_log) and report["status"] == "failed"
    assert [row["field"] for row in report["completeness"]][:3] == ["event_time", "http_version", "http_method"]
    assert report["failures"][0].startswith("proxy_events: status_code")


def test_great_expectations_engine_gives_the_same_verdict(tmp_path: Path, bad_log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reports = {}
    for engine in ("polars", "great_expectations"):
        code, summary, _ = _normalize(capsys, tmp_path / engine, "--format", "squid", "--engine", engine, str(bad_log))
        assert code == 0 and summary is not None
        reports[engine] = json.loads(Path(summary["files"][0]["validation"]["report_path"]).read_text(encoding="utf-8"))
    for key in ("status", "failures", "notices", "completeness", "clock"):
        assert reports["polars"][key] == reports["great_expectations"][key], key


def test_no_validate(tmp_path: Path, clean_log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, summary, _ = _normalize(capsys, tmp_path / "o", "--format", "squid", "--no-validate", str(clean_log))
    assert code == 0 and summary is not None
    assert summary["files"][0]["validation"] is None and not (tmp_path / "o" / "validation").exists()


def test_format_comes_from_the_config(tmp_path: Path, clean_log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, summary, _ = _normalize(capsys, tmp_path / "o", "--config", str(_config(tmp_path, "fail")), "--source", "edge", str(clean_log))
    assert code == 0 and summary is not None and summary["source_format"] == "squid"
    capsys.readouterr()
    assert main(["normalize", "--out", str(tmp_path / "p"), "--source", "unknown", str(clean_log)]) == 2
    assert "--format is required" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("source_format", "missing", "expected"),
    [
        pytest.param("squid-logformat", ["user_agent", "client_port"], 'add "%{User-Agent}>h" %>p to the logformat', id="logformat"),
        pytest.param("elff", ["http_version", "user_agent"], "add cs-version cs(User-Agent) to the ProxySG access log format", id="elff"),
        pytest.param(
            "clf", ["referer", "user_agent", "duration_ms"], "log in the combined format to gain referer, user_agent; NCSA", id="clf"
        ),
        pytest.param("umbrella-csv", ["client_port"], "no setting adds them", id="umbrella"),
        pytest.param("zscaler-nss", ["duration_ms"], "(NSS's stime/ctime are kept in extra)", id="nss"),
    ],
)
def test_advice_names_the_fix(source_format: str, missing: list[str], expected: str) -> None:
    from expectations.advice import advice

    text = advice(source_format, missing)
    assert text is not None and text.startswith(f"format {source_format} does not log {', '.join(missing)}: ")
    assert expected in text and text.endswith("(see docs/formats.md)")


def test_a_field_the_feed_never_fills_gets_its_own_advice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the generated NSS feed's template has no reqversion or clt_sport keys
    log = write_sample(tmp_path / "nss.json", "zscaler-nss", 200, seed=4)
    capsys.readouterr()
    assert main(["completeness", "--json", "--format", "zscaler-nss", "--tz", "UTC", str(log)]) == 1
    (report,) = json.loads(capsys.readouterr().out)
    assert report["not_logged_by_this_source"] == ["duration_ms"]
    assert report["never_filled"] == ["http_version", "client_port"]
    assert report["advice"].endswith(
        "; this zscaler-nss source never filled http_version, client_port: add reqversion, clt_sport to the NSS feed output format"
        " (see docs/formats.md)"
    )
