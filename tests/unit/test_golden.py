"""Golden files: ``tests/golden/<format>/<case>.log`` -> ``<case>.expected.jsonl``.

Each expected line is one output record in input order: a canonical row (every data
column, nulls included) or ``{"source_line": N, "reject": "reason"}``. Options for the
parser (logformat, tz, ambiguous) sit in ``<case>.options.json``.

The expected files are reviewed by hand. ``PROXYVAULT_UPDATE_GOLDEN=1 pytest
tests/unit/test_golden.py`` rewrites them from the current output, for review in git diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from proxyvault.normalize import Provenance, normalize_file
from tests.conftest import TESTS
from transforms.parsers import ParserOptions, build_parser
from transforms.schema import DATA_COLUMNS

GOLDEN = TESTS / "golden"
CASES = sorted(GOLDEN.glob("*/*.log"))


def _records(log: Path, out: Path) -> list[dict[str, Any]]:
    import polars as pl

    options_file = log.with_suffix(".options.json")
    options = json.loads(options_file.read_text()) if options_file.exists() else {}
    parser = build_parser(log.parent.name, ParserOptions(**options))
    summary = normalize_file(log, parser, Provenance("golden", log.parent.name, None), out)
    assert summary.reconciled
    rows = pl.read_parquet(summary.events_path).select("source_line", *DATA_COLUMNS)
    records: list[dict[str, Any]] = [{k: _json_value(k, v) for k, v in row.items()} for row in rows.to_dicts()]
    rejects = pl.read_parquet(summary.rejects_path)
    records += [{"source_line": r["source_line"], "reject": r["reason"]} for r in rejects.to_dicts()]
    return sorted(records, key=lambda r: int(r["source_line"]))


def _json_value(column: str, value: Any) -> Any:
    if column == "extra" and value is not None:  # a map, read back as key/value pairs
        return dict(value) if isinstance(value, dict) else {item[0]: item[1] for item in value}
    return value.isoformat() if hasattr(value, "isoformat") else value


@pytest.mark.parametrize("log", [pytest.param(p, id=f"{p.parent.name}/{p.stem}") for p in CASES])
def test_golden_case(log: Path, tmp_path: Path) -> None:
    expected_file = log.with_suffix(".expected.jsonl")
    actual = _records(log, tmp_path)
    if os.environ.get("PROXYVAULT_UPDATE_GOLDEN") == "1":
        expected_file.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in actual), encoding="utf-8")
    expected = [json.loads(line) for line in expected_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(actual) == len(expected), f"{log.name}: {len(actual)} records, expected {len(expected)}"
    for got, want in zip(actual, expected, strict=True):
        assert got == want, f"{log.name} line {want['source_line']}"


def test_every_registered_format_has_golden_cases() -> None:
    from transforms.parsers import PARSERS

    covered = {p.parent.name for p in CASES}
    assert set(PARSERS) <= covered, f"formats without golden files: {sorted(set(PARSERS) - covered)}"
