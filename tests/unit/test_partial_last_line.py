"""A half-written last line (no newline at end of file) under ``partial_last_line="reject"`` and ``"parse"``.

``reject``: the line never reaches the parser; it is one reject, with its raw text and the line
number the parser would have given it, and every other line comes out exactly as without it.
``parse`` (the default): the line is parsed like any other, as before.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import polars as pl
import pytest
import zstandard
from polars.testing import assert_frame_equal

from proxyvault.normalize import (
    PARTIAL_LAST_LINE_REASON,
    FileSummary,
    PartialLastLine,
    Provenance,
    normalize_detected,
    normalize_file,
    normalize_files,
)
from transforms.parsers import ParserOptions, build_parser

ELFF_HEADER = "#Version: 1.0\n#Fields: date time c-ip sc-status cs-method cs-uri-scheme cs-host cs-uri-path\n"


def _squid(i: int) -> str:
    return (
        f"{1790000000 + i}.{i % 1000:03d}    {5 + i} 10.0.0.{i % 250} TCP_MISS/200 {100 + i} GET "
        f"http://h{i % 7}.example.test/p{i} - HIER_DIRECT/192.0.2.{i % 250} text/html"
    )


def _combined(i: int) -> str:
    return (
        f'10.0.0.{i % 250} - - [10/Oct/2026:13:{i // 60 % 60:02d}:{i % 60:02d} +0000] "GET /p{i} HTTP/1.1" 200 {i} "http://ref/" "UA {i}"'
    )


def _elff(i: int) -> str:
    return f"2026-10-10 10:{i // 60 % 60:02d}:{i % 60:02d} 10.0.0.{i % 250} 200 GET http h{i % 7}.example /p{i}"


LINE = {"squid": _squid, "combined": _combined, "elff": _elff}
#: A writer cut off mid-line: each is the start of a good line. The squid one even parses (a
#: content type of "text/ht"): under "parse" a truncated row would pass for a real one.
TAIL = {"squid": _squid(999)[:-2], "combined": _combined(999)[:-9], "elff": _elff(999)[:-6]}


def _body(fmt: str, count: int = 24) -> str:
    """``count`` good lines with a junk line, a blank line and a CRLF line among them; ends with a newline."""
    lines = [LINE[fmt](i) for i in range(count)]
    lines[7] = "this is not a log line"
    lines[12] = ""
    lines[20] += "\r"
    return (ELFF_HEADER if fmt == "elff" else "") + "\n".join(lines) + "\n"


def _write(path: Path, data: bytes, compression: str) -> Path:
    if compression == "gz":
        data = gzip.compress(data, mtime=0)
    elif compression == "zst":
        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)
    return path


def _normalize(
    path: Path, fmt: str, out: Path, mode: PartialLastLine | None = None, chunk_bytes: int = 1 << 20
) -> tuple[FileSummary, pl.DataFrame, pl.DataFrame]:
    """Normalize; returns the summary, events and rejects without ``source_file_sha256`` (it names the input)."""
    parser = build_parser(fmt, ParserOptions())
    provenance = Provenance("t", fmt, None)
    if mode is None:  # the caller that does not know the option: the default
        summary = normalize_file(path, parser, provenance, out, chunk_bytes)
    else:
        summary = normalize_file(path, parser, provenance, out, chunk_bytes, partial_last_line=mode)
    assert summary.reconciled
    events = pl.read_parquet(summary.events_path).drop("source_file_sha256")
    rejects = pl.read_parquet(summary.rejects_path).drop("source_file_sha256")
    return summary, events, rejects


FORMATS = [pytest.param("squid", id="squid"), pytest.param("combined", id="combined"), pytest.param("elff", id="elff-fields")]
COMPRESSIONS = [pytest.param("plain", id="plain"), pytest.param("gz", id="gz"), pytest.param("zst", id="zst")]
#: ``boundary``: chunk_bytes is the body's length, so the last chunk holds the partial line alone.
CHUNKS = [
    pytest.param("whole", id="one-chunk"),
    pytest.param("tiny", id="tiny-chunks"),
    pytest.param("boundary", id="chunk-ends-before-it"),
]


def _chunk_bytes(kind: str, body: bytes) -> int:
    return {"whole": 1 << 20, "tiny": 16, "boundary": len(body)}[kind]


@pytest.mark.parametrize("chunks", CHUNKS)
@pytest.mark.parametrize("compression", COMPRESSIONS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_reject_keeps_the_partial_line_as_one_reject(tmp_path: Path, fmt: str, compression: str, chunks: str) -> None:
    body = _body(fmt).encode()
    tail = TAIL[fmt]
    chunk_bytes = _chunk_bytes(chunks, body)
    cut = _write(tmp_path / "cut.log", body + tail.encode(), compression)
    whole = _write(tmp_path / "body.log", body, compression)
    line_number = body.count(b"\n") + 1

    summary, events, rejects = _normalize(cut, fmt, tmp_path / "reject", "reject", chunk_bytes)
    expected, expected_events, expected_rejects = _normalize(whole, fmt, tmp_path / "body", "parse", chunk_bytes)

    # every other line comes out as if the partial line were not there, numbered as before
    assert_frame_equal(events, expected_events)
    partial = pl.DataFrame(
        {"source": ["t"], "source_line": [line_number], "raw_line": [tail], "reason": [PARTIAL_LAST_LINE_REASON]},
        schema=rejects.schema,
    )
    assert_frame_equal(rejects, pl.concat([expected_rejects, partial]))
    assert summary.last_line_unterminated and not expected.last_line_unterminated
    assert (summary.lines_in, summary.rows_out, summary.rejects_out, summary.skipped, summary.directives) == (
        expected.lines_in + 1,
        expected.rows_out,
        expected.rejects_out + 1,
        expected.skipped,
        expected.directives,
    )
    assert summary.reject_reasons == {**expected.reject_reasons, PARTIAL_LAST_LINE_REASON: 1}
    assert expected.rejects_out == 1 and expected.skipped == 1  # the junk line and the blank line
    assert summary.directives == (2 if fmt == "elff" else 0)


@pytest.mark.parametrize("chunks", CHUNKS)
@pytest.mark.parametrize("compression", COMPRESSIONS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_parse_gives_the_partial_line_to_the_parser_as_before(tmp_path: Path, fmt: str, compression: str, chunks: str) -> None:
    """The default: the partial line is parsed as if it ended with a newline (what normalize always did)."""
    body = _body(fmt).encode()
    tail = TAIL[fmt].encode()
    chunk_bytes = _chunk_bytes(chunks, body)
    cut = _write(tmp_path / "cut.log", body + tail, compression)
    terminated = _write(tmp_path / "terminated.log", body + tail + b"\n", compression)

    default, default_events, default_rejects = _normalize(cut, fmt, tmp_path / "default", None, chunk_bytes)
    parsed, events, rejects = _normalize(cut, fmt, tmp_path / "parse", "parse", chunk_bytes)
    expected, expected_events, expected_rejects = _normalize(terminated, fmt, tmp_path / "terminated", "parse", chunk_bytes)

    assert_frame_equal(events, expected_events)
    assert_frame_equal(rejects, expected_rejects)
    assert_frame_equal(default_events, events)
    assert_frame_equal(default_rejects, rejects)
    assert Path(default.events_path).read_bytes() == Path(parsed.events_path).read_bytes()
    assert Path(default.rejects_path).read_bytes() == Path(parsed.rejects_path).read_bytes()
    assert parsed.last_line_unterminated and default.last_line_unterminated
    assert PARTIAL_LAST_LINE_REASON not in parsed.reject_reasons
    counts = ("lines_in", "rows_out", "rejects_out", "skipped", "directives", "reject_reasons")
    assert {k: getattr(parsed, k) for k in counts} == {k: getattr(expected, k) for k in counts}


def test_a_truncated_squid_line_that_parses_is_not_passed_off_as_a_row(tmp_path: Path) -> None:
    log = _write(tmp_path / "cut.log", (_body("squid") + TAIL["squid"]).encode(), "plain")
    _, parsed, _ = _normalize(log, "squid", tmp_path / "parse", "parse")
    _, rejected, rejects = _normalize(log, "squid", tmp_path / "reject", "reject")
    assert parsed["source_line"][-1] == 25 and parsed["content_type"][-1] == "text/ht"  # the danger
    assert rejected["source_line"][-1] == 24 and rejected.height == parsed.height - 1
    assert rejects.row(-1, named=True) == {
        "source": "t",
        "source_line": 25,
        "raw_line": TAIL["squid"],
        "reason": PARTIAL_LAST_LINE_REASON,
    }


@pytest.mark.parametrize("compression", COMPRESSIONS)
@pytest.mark.parametrize(
    ("fmt", "text", "directives"),
    [
        pytest.param("squid", TAIL["squid"], 0, id="squid"),
        pytest.param("combined", TAIL["combined"], 0, id="combined"),
        pytest.param("elff", "#Fields: date time c-ip sc-status cs-me", 1, id="elff-cut-fields-directive"),
    ],
)
def test_the_partial_line_is_the_only_line(tmp_path: Path, fmt: str, text: str, directives: int, compression: str) -> None:
    log = _write(tmp_path / "only.log", text.encode(), compression)
    for chunk_bytes in (1 << 20, 8):
        summary, events, rejects = _normalize(log, fmt, tmp_path / f"reject-{chunk_bytes}", "reject", chunk_bytes)
        assert (summary.lines_in, summary.rows_out, summary.rejects_out, summary.skipped, summary.directives) == (1, 0, 1, 0, 0)
        assert events.height == 0 and summary.last_line_unterminated
        assert rejects.select("source_line", "raw_line", "reason").rows() == [(1, text, PARTIAL_LAST_LINE_REASON)]
    # parsed, the cut directive is read as a directive (and its field list would apply): what "reject" avoids
    parsed, _, _ = _normalize(log, fmt, tmp_path / "parse", "parse")
    assert (parsed.lines_in, parsed.directives, parsed.rows_out + parsed.rejects_out) == (1, directives, 1 - directives)


@pytest.mark.parametrize("compression", COMPRESSIONS)
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("mode", [pytest.param("reject", id="reject"), pytest.param("parse", id="parse")])
def test_a_blank_unterminated_tail_is_skipped_not_rejected(tmp_path: Path, fmt: str, compression: str, mode: PartialLastLine) -> None:
    body = _body(fmt).encode()
    log = _write(tmp_path / "blank-tail.log", body + b"  \t ", compression)
    summary, events, rejects = _normalize(log, fmt, tmp_path / "out", mode, chunk_bytes=len(body))
    expected, expected_events, expected_rejects = _normalize(_write(tmp_path / "body.log", body, compression), fmt, tmp_path / "body")
    assert summary.last_line_unterminated
    assert (summary.lines_in, summary.skipped, summary.rejects_out) == (expected.lines_in + 1, expected.skipped + 1, expected.rejects_out)
    assert_frame_equal(events, expected_events)
    assert_frame_equal(rejects, expected_rejects)


@pytest.mark.parametrize("compression", COMPRESSIONS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_terminated_file_gives_the_same_bytes_under_reject(tmp_path: Path, fmt: str, compression: str) -> None:
    log = _write(tmp_path / "whole.log", _body(fmt).encode(), compression)
    for chunk_bytes in (1 << 20, 16):
        outputs = []
        for mode in ("parse", "reject"):
            summary = normalize_file(
                log, build_parser(fmt, ParserOptions()), Provenance("t", fmt, None), tmp_path / mode, chunk_bytes, partial_last_line=mode
            )
            assert not summary.last_line_unterminated and summary.reconciled
            outputs.append((Path(summary.events_path).read_bytes(), Path(summary.rejects_path).read_bytes()))
        assert outputs[0] == outputs[1]


def test_the_partial_line_number_counts_blank_lines_and_bad_utf8(tmp_path: Path) -> None:
    log = tmp_path / "cut.log"
    log.write_bytes((_squid(1) + "\n\n\r\n   \n").encode() + b"1790000001.5 5 10.0.0.1 TCP_MISS/200 1 GET http://x/caf\xe9")
    summary, events, rejects = _normalize(log, "squid", tmp_path / "out", "reject", chunk_bytes=8)
    assert (summary.lines_in, summary.rows_out, summary.skipped, summary.rejects_out, summary.reencoded_lines) == (5, 1, 3, 1, 1)
    assert events["source_line"].to_list() == [1]
    assert rejects.select("source_line", "raw_line").rows() == [(5, "1790000001.5 5 10.0.0.1 TCP_MISS/200 1 GET http://x/caf\\xe9")]


def test_archive_layout_rejects_the_partial_line_too(tmp_path: Path) -> None:
    log = _write(tmp_path / "cut.log", (_body("squid") + TAIL["squid"]).encode(), "plain")
    summary = normalize_file(
        log,
        build_parser("squid", ParserOptions()),
        Provenance("t", "squid", None),
        tmp_path / "out",
        layout="archive",
        partial_last_line="reject",
    )
    assert summary.reconciled and summary.rejects_out == 2
    rejects = pl.read_parquet(summary.rejects_path)
    assert rejects["source_line"].to_list() == [8, 25] and rejects["reason"][-1] == PARTIAL_LAST_LINE_REASON


def test_normalize_files_and_detected_pass_the_option_on(tmp_path: Path) -> None:
    log = _write(tmp_path / "cut.log", (_body("squid") + TAIL["squid"]).encode(), "plain")
    parser = build_parser("squid", ParserOptions())
    provenance = Provenance("t", "squid", None)
    for mode, expected in (("parse", 1), ("reject", 2)):
        listed = normalize_files([log], parser, provenance, tmp_path / f"files-{mode}", partial_last_line=mode)  # type: ignore[arg-type]
        detected = normalize_detected([log], ParserOptions(), None, None, tmp_path / f"auto-{mode}", partial_last_line=mode)  # type: ignore[arg-type]
        for run in (listed, detected):
            files = run["files"]
            assert isinstance(files, list) and len(files) == 1
            entry = files[0]
            assert entry["rejects_out"] == expected and entry["reconciled"] and entry["last_line_unterminated"]
            assert "partial_last_line" not in entry  # the summary's keys are as they were
    assert normalize_files([log], parser, provenance, tmp_path / "default")["totals"]["rejects_out"] == 1  # type: ignore[index]


def test_an_unknown_mode_is_refused(tmp_path: Path) -> None:
    log = _write(tmp_path / "a.log", _squid(1).encode(), "plain")
    with pytest.raises(ValueError, match="partial_last_line must be one of reject, parse, not 'drop'"):
        normalize_file(log, build_parser("squid", ParserOptions()), Provenance("t", "squid", None), tmp_path, partial_last_line="drop")  # type: ignore[arg-type]
