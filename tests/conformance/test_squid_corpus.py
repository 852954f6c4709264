"""Field-by-field agreement of our Squid output with other parsers' expected output.

For each peer test file (Elastic, Datadog, SEKOIA.IO; see ``squid_peers.py`` for the
mapping of their fields onto our columns) the raw lines are normalized with our
use case (``normalize_files``, Parquet out) and every compared column is checked
against the peer's value. Each disagreement must be listed, with its reason, in
:data:`DOCUMENTED_DIFFERENCES`; each line we reject must be listed in
:data:`DOCUMENTED_REJECTS`. Anything else fails, naming source, line, field, ours
and theirs; a listed entry that no longer happens fails too (the table stays true).

The corpus is read in place (``tests/conftest.py`` ``CORPUS``) and never copied here;
the test skips when it is absent. ``pytest -s`` prints the agreement table, as does
the terminal summary. ``PROXYVAULT_WRITE_CONFORMANCE=1`` rewrites the generated part
of ``docs/conformance.md``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from proxyvault.normalize import Provenance, normalize_files
from tests.conformance.squid_peers import LOADERS, PeerSource, Value, instant
from tests.conformance.summary import SUMMARY_KEY
from tests.conftest import CORPUS, REPO
from transforms.parsers import ParserOptions, build_parser

MIN_AGREEMENT = 0.995
DOC = REPO / "docs" / "conformance.md"
BEGIN, END = "<!-- BEGIN GENERATED: tests/conformance/test_squid_corpus.py -->", "<!-- END GENERATED -->"

_EXTRA_QUOTED = (
    "has one more quoted field than the other 9 lines of the file (Elastic maps it to tls.client.server_name, "
    "i.e. %ssl::>sni); one file has one logformat, so a line that does not fit it is a reject, not a guess"
)
_CACHE_LOG = "a cache.log line (Squid's debug log), not an access.log line; Datadog parses both in one pipeline"
_NOT_SQUID_TIME = (
    "CLF-like line with a non-Squid time '[05/02/2025 11:30:29]' (no zone, numeric month): "
    "not written by any Squid logformat (%tl is '%d/%b/%Y:%H:%M:%S %z'), so not our format"
)

#: Lines we reject, by (source, case id): they are not in the format the peer file is read as.
DOCUMENTED_REJECTS: dict[tuple[str, str], str] = {
    ("elastic-extensive", "line 10"): _EXTRA_QUOTED,
    ("elastic-extensive", "line 11"): _EXTRA_QUOTED,
    ("datadog", "test 11"): _CACHE_LOG,
    ("datadog", "test 12"): _CACHE_LOG,
    ("datadog", "test 13"): _CACHE_LOG,
    ("sekoia", "common_log_format_1"): _NOT_SQUID_TIME,
    ("sekoia", "common_log_format_2"): _NOT_SQUID_TIME,
}

_PORT_WITHOUT_SERVER = (
    "cache hit (HIER_NONE/-, %<p logged '-'): Elastic leaves destination.port empty; "
    "we keep the request's destination port, the URL's effective port 80 (docs/formats.md, server_port)"
)

#: Every known disagreement, by (source, case id, field), with the reason.
DOCUMENTED_DIFFERENCES: dict[tuple[str, str, str], str] = {
    ("elastic-extensive", "line 5", "server_port"): _PORT_WITHOUT_SERVER,
    ("elastic-extensive", "line 6", "server_port"): _PORT_WITHOUT_SERVER,
    ("datadog", "test 4", "status_code"): (
        "status 000 (aborted before a reply): Datadog leaves http.status_code empty; we store 0 as logged"
    ),
    ("sekoia", "error", "url"): (
        "Squid's error:transaction-end-before-headers pseudo-URL: SEKOIA moves it to event.reason and leaves url empty; "
        "we store the URL field as logged (without a url_host)"
    ),
}


@dataclass(frozen=True)
class Disagreement:
    source: str
    case_id: str
    field: str
    ours: Value
    theirs: Value

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.source, self.case_id, self.field)

    def __str__(self) -> str:
        return f"{self.source} {self.case_id} {self.field}: ours={self.ours!r} theirs={self.theirs!r}"


@dataclass
class Outcome:
    """One peer source compared: per-field tallies, disagreements and our rejects."""

    source: PeerSource
    agree: dict[str, int] = field(default_factory=dict)
    compared: dict[str, int] = field(default_factory=dict)
    disagreements: list[Disagreement] = field(default_factory=list)
    rejects: dict[str, str] = field(default_factory=dict)


def _ours(value: Any) -> Value:
    if isinstance(value, datetime):
        return instant(value)
    return value  # type: ignore[no-any-return]


def compare_source(source: PeerSource, work: Path) -> Outcome:
    """Normalize the peer's raw lines with our use case and compare each field."""
    raw = work / f"{source.name}.log"
    raw.write_text("".join(f"{case.line}\n" for case in source.cases), encoding="utf-8")
    parser = build_parser(source.parser, ParserOptions(logformat=source.logformat))
    summary = normalize_files([raw], parser, Provenance(source.name, source.parser, None), work / "out")
    files: list[dict[str, Any]] = summary["files"]  # type: ignore[assignment]
    # source_line N is case N only if every case is exactly one non-blank line
    assert (files[0]["lines_in"], files[0]["skipped"]) == (len(source.cases), 0), f"{source.name}: line count mismatch"
    rows = {r["source_line"]: r for r in pl.read_parquet(files[0]["events_path"]).to_dicts()}
    rejects = {r["source_line"]: r["reason"] for r in pl.read_parquet(files[0]["rejects_path"]).to_dicts()}

    outcome = Outcome(source, agree=dict.fromkeys(source.fields, 0), compared=dict.fromkeys(source.fields, 0))
    for number, case in enumerate(source.cases, start=1):
        if number in rejects:
            outcome.rejects[case.case_id] = rejects[number]
            continue
        row = rows[number]
        for name in source.fields:
            ours, theirs = _ours(row[name]), case.expected.get(name)
            outcome.compared[name] += 1
            if ours == theirs:
                outcome.agree[name] += 1
            else:
                outcome.disagreements.append(Disagreement(source.name, case.case_id, name, ours, theirs))
    return outcome


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS} (set PROXYVAULT_CORPUS to the shared corpus)")
    results = {}
    for name, load in LOADERS.items():
        results[name] = compare_source(load(CORPUS), tmp_path_factory.mktemp(name))
    return results


@pytest.mark.parametrize("name", [pytest.param(name, id=name) for name in LOADERS])
def test_every_difference_is_documented(outcomes: dict[str, Outcome], name: str) -> None:
    outcome = outcomes[name]
    problems = [f"undocumented disagreement: {d}" for d in outcome.disagreements if d.key not in DOCUMENTED_DIFFERENCES]
    problems += [
        f"undocumented reject: {name} {case_id}: {reason} | line: {_line(outcome, case_id)}"
        for case_id, reason in outcome.rejects.items()
        if (name, case_id) not in DOCUMENTED_REJECTS
    ]
    seen = {d.key for d in outcome.disagreements}
    problems += [
        f"documented difference no longer happens (remove it): {key}"
        for key in DOCUMENTED_DIFFERENCES
        if key[0] == name and key not in seen
    ]
    problems += [
        f"documented reject is no longer rejected (remove it): {key}"
        for key in DOCUMENTED_REJECTS
        if key[0] == name and key[1] not in outcome.rejects
    ]
    assert not problems, "\n".join(problems)


def test_overall_agreement(outcomes: dict[str, Outcome], request: pytest.FixtureRequest) -> None:
    table = render_table(outcomes)
    print("\n" + table)
    request.config.stash[SUMMARY_KEY] = table
    if os.environ.get("PROXYVAULT_WRITE_CONFORMANCE") == "1":
        write_doc(outcomes)
    agree = sum(sum(o.agree.values()) for o in outcomes.values())
    compared = sum(sum(o.compared.values()) for o in outcomes.values())
    assert compared > 0
    assert agree / compared >= MIN_AGREEMENT, f"overall agreement {agree}/{compared} = {agree / compared:.2%} < {MIN_AGREEMENT:.1%}"


def _line(outcome: Outcome, case_id: str) -> str:
    return next(c.line for c in outcome.source.cases if c.case_id == case_id)


def _pct(agree: int, compared: int) -> str:
    return f"{agree / compared:.1%}" if compared else "n/a"


def render_table(outcomes: dict[str, Outcome]) -> str:
    """Markdown: one row per (source, field), a total per source and overall."""
    out = ["| source | field | agree / compared | % |", "|---|---|---|---|"]
    total_agree = total_compared = 0
    for name, o in outcomes.items():
        for f in o.source.fields:
            out.append(f"| {name} | {f} | {o.agree[f]} / {o.compared[f]} | {_pct(o.agree[f], o.compared[f])} |")
        agree, compared = sum(o.agree.values()), sum(o.compared.values())
        total_agree += agree
        total_compared += compared
        lines = f"{len(o.source.cases) - len(o.rejects)} of {len(o.source.cases)} lines parsed"
        out.append(f"| **{name}** | **all** ({lines}) | **{agree} / {compared}** | **{_pct(agree, compared)}** |")
    out.append(f"| **overall** | | **{total_agree} / {total_compared}** | **{_pct(total_agree, total_compared)}** |")
    return "\n".join(out)


def render_generated(outcomes: dict[str, Outcome]) -> str:
    parts = [BEGIN, "", "### Agreement", "", render_table(outcomes), "", "### Documented differences", ""]
    parts += ["| source | case | field | ours | theirs | reason |", "|---|---|---|---|---|---|"]
    for o in outcomes.values():
        for d in o.disagreements:
            reason = DOCUMENTED_DIFFERENCES.get(d.key, "**UNDOCUMENTED**")
            parts.append(f"| {d.source} | {d.case_id} | {d.field} | `{d.ours!r}` | `{d.theirs!r}` | {reason} |")
    parts += ["", "### Lines we reject", "", "| source | case | our reject reason | why |", "|---|---|---|---|"]
    for name, o in outcomes.items():
        for case_id, reason in o.rejects.items():
            why = DOCUMENTED_REJECTS.get((name, case_id), "**UNDOCUMENTED**")
            parts.append(f"| {name} | {case_id} | `{reason}` | {why} |")
    parts += ["", "### Fields not compared", "", "| source | field | why |", "|---|---|---|"]
    for name, o in outcomes.items():
        parts += [f"| {name} | {f} | {why} |" for f, why in o.source.not_compared.items()]
    parts += ["", END]
    return "\n".join(parts)


def write_doc(outcomes: dict[str, Outcome]) -> None:
    text = DOC.read_text(encoding="utf-8")
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    DOC.write_text(head + render_generated(outcomes) + tail, encoding="utf-8")
