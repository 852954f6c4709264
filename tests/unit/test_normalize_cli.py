"""`proxyvault normalize` end to end on files: inputs, outputs, reconciliation, exit codes."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
import zstandard

from proxyvault.cli import main
from proxyvault.normalize import Provenance, normalize_file
from proxyvault.sample import write_sample
from transforms.parsers import ParserOptions, build_parser
from transforms.schema import SCHEMA_METADATA_KEY, SCHEMA_VERSION


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object] | None, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else None), err


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    return write_sample(tmp_path / "in" / "access.log", "squid", 2000, seed=3, damaged_every=500)


def test_summary_reconciles_and_files_exist(tmp_path: Path, sample: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, summary, _ = _run(
        capsys, "normalize", "--format", "squid", "--source", "edge-1", "--proxy-host", "p1", "--out", str(tmp_path / "o"), str(sample)
    )
    assert code == 0 and summary is not None
    (entry,) = summary["files"]  # type: ignore[misc]
    assert entry["lines_in"] == 2000 and entry["rejects_out"] == 4 and entry["rows_out"] == 1996 and entry["reconciled"]
    assert entry["source_file_sha256"] == hashlib.sha256(sample.read_bytes()).hexdigest()
    events = pl.read_parquet(entry["events_path"])
    assert events.height == 1996
    assert set(events["source"]) == {"edge-1"} and set(events["proxy_host"]) == {"p1"} and set(events["source_format"]) == {"squid"}
    rejects = pl.read_parquet(entry["rejects_path"])
    assert rejects["source_line"].to_list() == [500, 1000, 1500, 2000]
    raw_lines = sample.read_text(encoding="utf-8").splitlines()
    assert rejects["raw_line"].to_list() == [raw_lines[n - 1] for n in (500, 1000, 1500, 2000)]
    assert pq.read_schema(entry["events_path"]).metadata[SCHEMA_METADATA_KEY] == SCHEMA_VERSION.encode()


def test_same_input_same_bytes_and_paths(tmp_path: Path, sample: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outputs = []
    for run in ("a", "b"):
        _, summary, _ = _run(capsys, "normalize", "--format", "squid", "--out", str(tmp_path / run), str(sample))
        assert summary is not None
        (entry,) = summary["files"]  # type: ignore[misc]
        outputs.append((Path(entry["events_path"]).relative_to(tmp_path / run), Path(entry["events_path"]).read_bytes()))
    assert outputs[0] == outputs[1]


def test_gzip_and_zstd_inputs_give_the_same_rows(tmp_path: Path, sample: Path) -> None:
    data = sample.read_bytes()
    gz = tmp_path / "access.log.gz"
    gz.write_bytes(gzip.compress(data))
    zst = tmp_path / "access.log.1"  # the name says nothing: the magic bytes decide
    zst.write_bytes(zstandard.ZstdCompressor().compress(data))
    parser = build_parser("squid", ParserOptions())
    frames = []
    for i, path in enumerate((sample, gz, zst)):
        summary = normalize_file(path, parser, Provenance("s", "squid", None), tmp_path / f"o{i}")
        assert summary.source_file_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        frames.append(pl.read_parquet(summary.events_path).drop("source_file_sha256"))
    assert frames[0].equals(frames[1]) and frames[0].equals(frames[2])


def test_small_chunks_give_the_same_output(tmp_path: Path, sample: Path) -> None:
    parser = build_parser("squid", ParserOptions())
    whole = normalize_file(sample, parser, Provenance("s", "squid", None), tmp_path / "whole")
    chunked = normalize_file(sample, parser, Provenance("s", "squid", None), tmp_path / "chunked", chunk_bytes=4096)
    assert pl.read_parquet(whole.events_path).equals(pl.read_parquet(chunked.events_path))
    assert pl.read_parquet(whole.rejects_path).equals(pl.read_parquet(chunked.rejects_path))


def test_crlf_blank_lines_bad_utf8_and_unterminated_last_line(tmp_path: Path) -> None:
    good = b"1790000000.1 5 10.0.0.1 TCP_MISS/200 1 GET http://x/ - HIER_NONE/- -"
    latin1 = b"1790000000.2 5 10.0.0.1 TCP_MISS/200 1 GET http://x/caf\xe9 - HIER_NONE/- -"
    path = tmp_path / "mixed.log"
    path.write_bytes(good + b"\r\n\r\n" + latin1 + b"\n   \n" + good[:30])
    summary = normalize_file(path, build_parser("squid", ParserOptions()), Provenance("s", "squid", None), tmp_path / "o")
    assert (summary.lines_in, summary.rows_out, summary.rejects_out, summary.skipped) == (5, 2, 1, 2)
    assert summary.reencoded_lines == 1 and summary.last_line_unterminated
    rows = pl.read_parquet(summary.events_path)
    assert rows["url"].to_list() == ["http://x/", "http://x/caf\\xe9"]
    assert pl.read_parquet(summary.rejects_path)["source_line"].to_list() == [5]


def test_squid_conf_logformat(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "squid.conf"
    conf.write_text('logformat vault %ts.%03tu %>a %rm %ru "%{User-Agent}>h"\n')
    log = tmp_path / "access.log"
    log.write_text('1790000000.001 10.0.0.1 GET http://x/ "curl/8"\n')
    code, summary, _ = _run(
        capsys,
        "normalize",
        "--format",
        "squid-logformat",
        "--squid-conf",
        str(conf),
        "--logformat-name",
        "vault",
        "--out",
        str(tmp_path / "o"),
        str(log),
    )
    assert code == 0 and summary is not None
    assert summary["totals"]["rows_out"] == 1  # type: ignore[index]
    assert "user_agent" in summary["carried_columns"]  # type: ignore[operator]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["--format", "squid", "missing.log"], "missing.log: no such file", id="missing file"),
        pytest.param(["--format", "bluecoat", "x.log"], "invalid choice: 'bluecoat'", id="unknown format"),
        pytest.param(["--format", "squid-logformat", "--logformat", "%ts %bogus", "x.log"], "unknown logformat code", id="bad spec"),
        pytest.param(["--format", "squid-logformat", "x.log"], "needs --logformat", id="no spec"),
        pytest.param(["--format", "squid", "--logformat", "%ts", "x.log"], "apply to --format squid-logformat", id="spec for native"),
        pytest.param(["--format", "squid-logformat", "--logformat", "%{%H:%M}tl %>a", "x.log"], "--tz", id="local time without zone"),
    ],
)
def test_usage_errors_exit_2_with_one_line(argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "x.log").write_text("")
    argv = [a if not a.endswith(".log") else str(tmp_path / a) for a in argv]
    with pytest.raises(SystemExit) as exited:
        raise SystemExit(main(["normalize", "--out", str(tmp_path / "o"), *argv]))
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
