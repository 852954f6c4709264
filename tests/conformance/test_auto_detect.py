"""``proxyvault normalize --format auto`` picks the right format for every corpus file we support,
and refuses, with a reason, the files of formats we do not read.

Whole files are given to the CLI as they are; the peers' per-test messages (SEKOIA, Datadog)
are each written to a file of their own first, since that is how a log would arrive.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proxyvault.cli import main
from tests.conftest import CORPUS

ELASTIC = Path("elastic-integrations/packages")

#: Corpus file -> the format auto must choose (None: it must refuse).
FILES: dict[str, str | None] = {
    f"{ELASTIC}/squid/data_stream/log/_dev/test/pipeline/test-access.log": "squid",
    f"{ELASTIC}/cisco_umbrella/data_stream/log/_dev/test/pipeline/test-umbrella-proxylogs.log": "umbrella-csv",
    f"{ELASTIC}/zscaler_zia/data_stream/web/_dev/test/pipeline/test-web.log": "zscaler-nss",
    "gchq-stroom-docs/assets/files/HOWTOs/EventFeeds/ProcessingHowTo/sampleBluecoat.log": "elff",
    "netdata-go.d.plugin/modules/squidlog/testdata/access.log": "squid",
    "netdata-go.d.plugin/modules/squidlog/testdata/unknown.log": "clf",
    # Needs its logformat: a custom spec is never guessed.
    f"{ELASTIC}/squid/data_stream/log/_dev/test/pipeline/test-access-extensive.log": None,
    # FortiOS key=value logs: not a format we read.
    f"{ELASTIC}/fortinet_fortiproxy/data_stream/log/_dev/test/pipeline/test-example.log": None,
    # 5 squidGuard redirector lines, then 7 native access.log lines: squid fits best; the
    # squidGuard lines become rejects with their reason.
    "u-siem-usiem-squid/docker/logs.log": "squid",
}

#: SEKOIA test directories whose messages are in one of our formats, with that format.
SEKOIA: dict[str, str] = {
    "Squid/squid": "squid",
    "Umbrella/umbrella-proxy": "umbrella-csv",
    "Zscaler/zscaler-zia": "zscaler-nss",
}
#: SEKOIA messages that are not a record of the directory's format (see docs/conformance.md).
SEKOIA_NOT_OURS = {
    "Squid/squid/common_log_format_1.json",  # zone-less numeric date: not CLF, not Squid
    "Squid/squid/common_log_format_2.json",
    "Squid/squid/cache_log.json",
    "Umbrella/umbrella-proxy/2.json",  # 21 columns: no Umbrella version
    "Umbrella/umbrella-proxy/3.json",  # one record wrapped over 8 lines
}


def _auto(paths: list[Path], out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(["normalize", "--format", "auto", "--tz", "UTC", "--out", str(out), *map(str, paths)])
    captured = capsys.readouterr()
    if code != 0:
        return code, [captured.err.strip()]
    return code, [f["format"] for f in json.loads(captured.out)["files"]]


@pytest.fixture(autouse=True)
def _corpus() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS} (set PROXYVAULT_CORPUS to the shared corpus)")


@pytest.mark.parametrize(("relative", "expected"), [pytest.param(k, v, id=Path(k).name) for k, v in FILES.items()])
def test_corpus_file(relative: str, expected: str | None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, result = _auto([CORPUS / relative], tmp_path, capsys)
    if expected is None:
        assert code == 2 and ("no supported format parses" in result[0] or "cannot tell" in result[0]), result
    else:
        assert (code, result) == (0, [expected])


@pytest.mark.parametrize(("directory", "expected"), [pytest.param(k, v, id=k) for k, v in SEKOIA.items()])
def test_sekoia_messages(directory: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tests = sorted((CORPUS / "sekoia-intake-formats" / directory / "tests").glob("*.json"))
    chosen: dict[str, str] = {}
    for number, test in enumerate(tests):
        relative = f"{directory}/{test.name}"
        message = json.loads(test.read_text(encoding="utf-8"))["input"]["message"]
        if relative in SEKOIA_NOT_OURS or (expected == "zscaler-nss" and '"zscalernss-web"' not in message.replace(" ", "")):
            continue  # other Zscaler feeds (DNS, firewall, ...) are not web logs
        log = tmp_path / f"{number}.log"
        log.write_text(message + "\n", encoding="utf-8")
        code, result = _auto([log], tmp_path / f"out{number}", capsys)
        chosen[test.name] = result[0] if code == 0 else f"refused: {result[0]}"
    assert chosen, f"no {directory} message was tried"
    assert {name: fmt for name, fmt in chosen.items() if fmt != expected} == {}
