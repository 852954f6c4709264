"""docs/formats.md says, per format, which required fields it cannot carry: keep it true.

The table is generated from each parser's ``carried_columns``; a format whose columns
depend on its configuration appears once per configuration the docs discuss.
``PROXYVAULT_WRITE_DOCS=1`` rewrites the generated part.
"""

from __future__ import annotations

import os

from tests.conftest import REPO
from transforms.parsers import PARSERS, ParserOptions, build_parser
from transforms.parsers.elff import RECOMMENDED_FIELDS
from transforms.parsers.squid_logformat import RECOMMENDED

DOC = REPO / "docs" / "formats.md"
BEGIN, END = "<!-- BEGIN GENERATED: tests/unit/test_formats_doc.py -->", "<!-- END GENERATED -->"

#: The required fields of ../shared/design/MISSION.md, as canonical columns, in its order.
REQUIRED = (
    "event_time",
    "http_version",
    "http_method",
    "content_type",
    "user_agent",
    "referer",
    "response_bytes",
    "username",
    "client_ip",
    "client_port",
    "server_ip",
    "server_port",
    "url_host",
    "url",
    "status_code",
    "duration_ms",
    "proxy_action",
)

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
