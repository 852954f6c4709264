"""docs/formats.md says, per format, which required fields it cannot carry: keep it true.

The table is generated from each parser's ``carried_columns``; a format whose columns
depend on its configuration appears once per configuration the docs discuss.
``PROXYVAULT_WRITE_DOCS=1`` rewrites the generated part.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import polars as pl

from proxyvault.normalize import Provenance, normalize_file
from tests.conftest import REPO
from transforms.parsers import PARSERS, ParserOptions, build_parser
from transforms.parsers.elff import RECOMMENDED_FIELDS
from transforms.parsers.squid_logformat import RECOMMENDED
from transforms.schema import REQUIRED_FIELDS as REQUIRED

DOC = REPO / "docs" / "formats.md"
BEGIN, END = "<!-- BEGIN GENERATED: tests/unit/test_formats_doc.py -->", "<!-- END GENERATED -->"


#: (row label, format, options) for every row of the table.
CONFIGURATIONS: tuple[tuple[str, str, ParserOptions], ...] = (
    ("`squid`", "squid", ParserOptions()),
    ("`squid-logformat` with the recommended spec", "squid-logformat", ParserOptions(logformat=RECOMMENDED)),
    ("`squid-logformat` with `common`", "squid-logformat", ParserOptions(logformat="common")),
    ("`clf`", "clf", ParserOptions()),
    ("`combined`", "combined", ParserOptions()),
    ("`elff` with ProxySG's default `bcreportermain_v1`", "elff", ParserOptions(logformat="bcreportermain_v1")),
    ("`elff` with the recommended field list", "elff", ParserOptions(logformat=RECOMMENDED_FIELDS)),
    ("`umbrella-csv`", "umbrella-csv", ParserOptions()),
    ("`zscaler-nss`", "zscaler-nss", ParserOptions(tz="UTC")),
)


def render_table() -> str:
    lines = ["| format | required fields it cannot carry |", "|---|---|"]
    for label, name, options in CONFIGURATIONS:
        carried = build_parser(name, options).carried_columns
        missing = [f"`{c}`" for c in REQUIRED if c not in carried]
        lines.append(f"| {label} | {', '.join(missing) if missing else 'none: every required field'} |")
    return "\n".join(lines)


def test_every_format_is_in_the_table() -> None:
    assert set(PARSERS) == {name for _, name, _ in CONFIGURATIONS}


def test_docs_table_matches_the_parsers() -> None:
    text = DOC.read_text(encoding="utf-8")
    before, rest = text.split(BEGIN)
    _, after = rest.split(END)
    expected = f"{before}{BEGIN}\n{render_table()}\n{END}{after}"
    if os.environ.get("PROXYVAULT_WRITE_DOCS") == "1":
        DOC.write_text(expected, encoding="utf-8")
    assert text == expected, "docs/formats.md is out of date: run PROXYVAULT_WRITE_DOCS=1 pytest tests/unit/test_formats_doc.py"


def _code_blocks() -> list[str]:
    parts = DOC.read_text(encoding="utf-8").split("```")
    return [block.strip() for block in parts[1::2]]


def test_documented_proxy_configs_are_the_tested_ones() -> None:
    blocks = _code_blocks()
    assert f"logformat vault {RECOMMENDED}" in blocks[1], "the Squid logformat in docs/formats.md is not RECOMMENDED"
    assert RECOMMENDED_FIELDS in blocks, "the ProxySG field list in docs/formats.md is not elff.RECOMMENDED_FIELDS"


def test_documented_nss_template_logs_every_field_it_can(tmp_path: Path) -> None:
    """Fill the NSS template of the docs as NSS would and check every required field but duration arrives."""
    template = next(b for b in _code_blocks() if "zscalernss-web" in b)
    values = {
        "time": "Mon Oct 16 22:55:48 2023",
        "epochtime": "1697496948",
        "cip": "10.1.2.3",
        "sip": "203.0.113.9",
        "eurl": "www.example.com/a?b=c",
        "proto": "HTTP",
        "reqmethod": "GET",
        "reqversion": "1.1",
        "contenttype": "text/html",
        "eua": "Mozilla/5.0%20(X11)",
        "ereferer": "http://ref.example/",
        "respcode": "200",
        "action": "Allowed",
        "elogin": "alice%40example.com",
    }
    line = re.sub(r"%\d*[sd]\{(\w+)\}", lambda m: values.get(m.group(1), "7" if "%d" in m.group(0) else "x"), template)
    line = line.replace("\\{", "{").replace("\\}", "}")
    log = tmp_path / "nss.json"
    log.write_text(line + "\n", encoding="utf-8")
    summary = normalize_file(log, build_parser("zscaler-nss", ParserOptions(tz="UTC")), Provenance("z", "zscaler-nss", None), tmp_path)
    assert summary.rows_out == 1, summary.reject_reasons
    row = pl.read_parquet(summary.events_path).row(0, named=True)
    assert [c for c in REQUIRED if row[c] is None] == ["duration_ms"]
