"""``--format auto``: the right format for every golden file, a refusal on ties and misfits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proxyvault.cli import main
from proxyvault.normalize import sample_lines
from tests.conftest import TESTS
from transforms.parsers import PARSERS, ParserOptions
from transforms.parsers.detect import CANDIDATES, DetectionError, detect_format

GOLDEN = TESTS / "golden"
DETECTABLE = {name for name, _ in CANDIDATES}


def _options(log: Path) -> ParserOptions:
    file = log.with_suffix(".options.json")
    options = json.loads(file.read_text()) if file.exists() else {}
    return ParserOptions(tz=options.get("tz"), ambiguous=options.get("ambiguous", "raise"))


def _cases() -> list[object]:
    cases = []
    for log in sorted(GOLDEN.glob("*/*.log")):
        fmt = log.parent.name
        options_file = log.with_suffix(".options.json")
        explicit = json.loads(options_file.read_text()).get("logformat") if options_file.exists() else None
        if fmt not in DETECTABLE or log.stem in ("invalid", "empty") or (explicit and fmt != "squid-logformat"):
            continue  # damaged or header-only samples, and field lists given on the command line
        if fmt == "squid-logformat" and log.stem != "recommended":
            continue  # only the recommended spec is detected; other specs need --format
        cases.append(pytest.param(log, fmt, id=f"{fmt}/{log.stem}"))
    return cases


@pytest.mark.parametrize(("log", "expected"), _cases())
def test_golden_file_is_detected_as_its_format(log: Path, expected: str) -> None:
    assert detect_format(sample_lines(log), _options(log), where=log.name).format_name == expected


def test_every_detectable_format_has_a_detected_golden_case() -> None:
    detected = {p.values[1] for p in _cases()}  # type: ignore[attr-defined]
    assert DETECTABLE & set(PARSERS) <= detected


CLF_LINE = '10.0.0.1 - - [10/Oct/2026:13:55:36 +0000] "GET http://a.example/ HTTP/1.1" 200 10'
COMBINED_LINE = CLF_LINE + ' "-" "curl/8.14.1"'


def test_a_tie_is_refused_with_both_names() -> None:
    with pytest.raises(
        DetectionError, match=r"mixed\.log: cannot tell the format: (clf and combined|combined and clf) both parse 1 of the first 2"
    ):
        detect_format([CLF_LINE, COMBINED_LINE], ParserOptions(), where="mixed.log")


def test_no_fit_is_refused_with_the_first_line() -> None:
    with pytest.raises(DetectionError, match=r"no supported format parses any of the first 1 lines \(first line: 'hello world'\)"):
        detect_format(["hello world"], ParserOptions())


def test_a_zone_in_the_sample_needs_tz() -> None:
    lines = ["#Date: 2026-07-01 00:00:00 +0200", "#Fields: date time c-ip cs-uri", "2026-07-01 10:00:00 10.0.0.1 http://a/"]
    with pytest.raises(DetectionError, match=r"looks like elff, but .*give the proxy's zone with --tz"):
        detect_format(lines, ParserOptions())
    assert detect_format(lines, ParserOptions(tz="Europe/Brussels")).format_name == "elff"


def test_cli_auto_says_what_it_chose_and_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clf, combined = tmp_path / "a.log", tmp_path / "b.log"
    clf.write_text(CLF_LINE + "\n")
    combined.write_text(COMBINED_LINE + "\n")
    assert main(["normalize", "--format", "auto", "--out", str(tmp_path / "out"), str(clf), str(combined)]) == 0
    out = capsys.readouterr()
    assert f"{clf}: format clf (1 of the first 1 lines parse as clf; next best" in out.err
    assert f"{combined}: format combined (1 of the first 1 lines parse as combined; next best" in out.err
    summary = json.loads(out.out)
    assert [f["format"] for f in summary["files"]] == ["clf", "combined"]
    assert summary["source_format"] == "clf,combined"
    assert all(f["detected"] for f in summary["files"])


def test_cli_auto_refusal_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mixed = tmp_path / "mixed.log"
    mixed.write_text(CLF_LINE + "\n" + COMBINED_LINE + "\n")
    assert main(["normalize", "--format", "auto", "--out", str(tmp_path / "out"), str(mixed)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "cannot tell the format" in err and "give --format" in err


def test_cli_auto_with_logformat_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "a.log"
    log.write_text(CLF_LINE + "\n")
    assert main(["normalize", "--format", "auto", "--logformat", "squid", "--out", str(tmp_path), str(log)]) == 2
    assert "give the format explicitly" in capsys.readouterr().err
