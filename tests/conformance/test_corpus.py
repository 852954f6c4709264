"""Field-by-field agreement of our output with other parsers' expected output, every format.

For each peer test file (Elastic, Datadog, SEKOIA.IO, Microsoft Sentinel; see
``squid_peers.py`` and ``proxy_peers.py`` for the mapping of their fields onto our
columns) the raw records are normalized with our use case (``normalize_files``, Parquet
out) and every compared column is checked against the peer's value. Each disagreement
must be listed, with its reason, in :data:`DOCUMENTED_DIFFERENCES`; each record we
reject must be listed in :data:`DOCUMENTED_REJECTS`. Anything else fails, naming source,
record, field, ours and theirs; a listed entry that no longer happens fails too (the
table stays true).

Raw-only files (no peer output) are normalized and checked on their own terms: every line
accounted for (``lines_in == rows_out + rejects_out + skipped + directives``), and fields
spot-checked against the line's own tokens or JSON.

The corpus is read in place (``tests/conftest.py`` ``CORPUS``) and never copied here;
the tests skip when it is absent, and a source whose format is not registered yet skips
with the format's name. ``pytest -s`` prints the agreement table, as does the terminal
summary. ``PROXYVAULT_WRITE_CONFORMANCE=1`` rewrites the generated part of
``docs/conformance.md``.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from proxyvault.normalize import Provenance, normalize_files, reason_class
from tests.conformance import proxy_peers, squid_peers
from tests.conformance.peer import EXTRA_PREFIX, PeerSource, Value, instant
from tests.conformance.summary import SUMMARY_KEY
from tests.conftest import CORPUS, REPO
from transforms.parsers import PARSERS, FormatError, LineParser, ParserOptions, build_parser

MIN_AGREEMENT = 0.995
DOC = REPO / "docs" / "conformance.md"
BEGIN, END = "<!-- BEGIN GENERATED: tests/conformance/test_corpus.py -->", "<!-- END GENERATED -->"

#: Every peer source, in table order.
LOADERS: dict[str, Callable[[Path], PeerSource]] = {
    "elastic-native": squid_peers.elastic_native,
    "elastic-extensive": squid_peers.elastic_extensive,
    "datadog": squid_peers.datadog,
    "sekoia": squid_peers.sekoia,
    "sekoia-squid-clf": proxy_peers.sekoia_squid_clf,
    "elastic-umbrella": proxy_peers.elastic_umbrella,
    "sekoia-umbrella": proxy_peers.sekoia_umbrella,
    "sekoia-zscaler": proxy_peers.sekoia_zscaler,
    "sentinel-proxysg": proxy_peers.sentinel_proxysg,
}

_EXTRA_QUOTED = (
    "has one more quoted field than the other 9 lines of the file (Elastic maps it to tls.client.server_name, "
    "i.e. %ssl::>sni); one file has one logformat, so a line that does not fit it is a reject, not a guess"
)
_CACHE_LOG = "a cache.log line (Squid's debug log), not an access.log line; Datadog parses both in one pipeline"
_NOT_SQUID_TIME = (
    "CLF-like line with a non-Squid time '[05/02/2025 11:30:29]' (no zone, numeric month): "
    "not written by any Squid logformat (%tl is '%d/%b/%Y:%H:%M:%S %z'), so not our format"
)
_NOT_CLF_TIME = (
    "time '[05/02/2025 11:30:29]' is not CLF's '%d/%b/%Y:%H:%M:%S %z': no zone, so the instant is unknown, and a numeric "
    "day/month whose order is a guess (SEKOIA reads May 2; Olfeo, whose lines have this shape, writes day first)"
)
_NOT_CLF_TRAILER = (
    "four fields after %b ('- 1000 Business Services', the shape of Olfeo gateway lines) and the zone-less time of "
    "common_log_format_2: not CLF or combined; the first mismatch is what the reject names"
)
_OTHER_ZSCALER_FEED = "a Zscaler NSS {feed} record, not a web (proxy) record: another feed with other fields, not our format"
_PRETTY = (
    "; the test also pretty-prints it over many lines, which a one-record-per-line reader takes apart: each line is a "
    "reject (not a JSON object), its raw text kept"
)


def _zscaler_feed(feed: str, pretty: bool = False) -> str:
    return _OTHER_ZSCALER_FEED.format(feed=feed) + (_PRETTY if pretty else "")


#: Records we reject, by (source, case id): they are not in the format the peer file is read as.
DOCUMENTED_REJECTS: dict[tuple[str, str], str] = {
    ("elastic-extensive", "line 10"): _EXTRA_QUOTED,
    ("elastic-extensive", "line 11"): _EXTRA_QUOTED,
    ("datadog", "test 11"): _CACHE_LOG,
    ("datadog", "test 12"): _CACHE_LOG,
    ("datadog", "test 13"): _CACHE_LOG,
    ("sekoia", "common_log_format_1"): _NOT_SQUID_TIME,
    ("sekoia", "common_log_format_2"): _NOT_SQUID_TIME,
    ("sekoia-squid-clf", "common_log_format_1"): _NOT_CLF_TRAILER,
    ("sekoia-squid-clf", "common_log_format_2"): _NOT_CLF_TIME,
    ("sekoia-umbrella", "2"): (
        "21 columns: no Umbrella version has 21 (23, 32, 35, 37 and 49 are the documented ones); the test record is "
        "cut short by hand (its URL is a JSON fragment 'url{...}]'), and a count that names no version is a reject"
    ),
    ("sekoia-umbrella", "3"): (
        "the record is wrapped over 8 lines inside quoted fields (the time, the URL after 'htt', the user agent and "
        "the SHA256 are cut); read line by line, each piece is a reject with broken quoting and its raw text is kept"
    ),
    ("sekoia-zscaler", "test_event_audit1"): _zscaler_feed("admin audit (zscalernss-audit)"),
    ("sekoia-zscaler", "test_event_audit2"): _zscaler_feed("admin audit (zscalernss-audit)"),
    ("sekoia-zscaler", "test_event_audit3"): _zscaler_feed("admin audit (zscalernss-audit)"),
    ("sekoia-zscaler", "test_event_casb"): _zscaler_feed("CASB (zscalernss-casb)"),
    ("sekoia-zscaler", "test_saas_security_event"): _zscaler_feed("SaaS security / CASB (zscalernss-casb)", pretty=True),
    ("sekoia-zscaler", "test_event_dns"): _zscaler_feed("DNS (zscalernss-dns)"),
    ("sekoia-zscaler", "test_event_firewall"): _zscaler_feed("firewall (zscalernss-fw)"),
    ("sekoia-zscaler", "test_tunnel_gre"): _zscaler_feed("tunnel (zscalernss-tunnel)", pretty=True),
    ("sekoia-zscaler", "test_tunnel_ipsev_ikev1"): _zscaler_feed("tunnel (zscalernss-tunnel)", pretty=True),
    ("sekoia-zscaler", "test_tunnel_ipsev_ikev2"): _zscaler_feed("tunnel (zscalernss-tunnel)", pretty=True),
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
    **{
        ("elastic-umbrella", f"line {n}", "url_query"): (
            "Elastic's uri_parts %-decodes url.query once (%255b -> %5b); we keep the query as logged, as url is"
        )
        for n in (9, 10, 11)
    },
    **{
        ("sekoia-zscaler", case, "url_path"): (
            "NSS logs the URL without a scheme (host/path?query); SEKOIA parses it as a relative reference, so its "
            "url.path is the whole host/path without the leading '/' (and the host alone for a bare host) while its "
            "url.domain is the host; we split host and path ('/path', null for a bare host)"
        )
        for case in ("test_event_web", "test_event_web2", "test_event_web3")
    },
    **{
        ("sekoia-zscaler", case, "content_type"): (
            "NSS writes 'Other' when it has no media type for the response; SEKOIA keeps the word as "
            "http.response.mime_type, we store a content type only when it is a media type (type/subtype)"
        )
        for case in ("test_event_web", "test_event_web2")
    },
    ("sekoia-zscaler", "test_event_web3", "user_agent"): (
        "NSS %-encodes the user agent ('Mozilla/5.0%20(Windows...'); SEKOIA keeps it encoded, we decode it to the "
        "header's text, as every other format stores user_agent"
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
    #: Records that came out neither as one row nor as rejects only (a record split into rows).
    problems: list[str] = field(default_factory=list)
    #: Why the source was not compared (its format is not registered yet).
    skipped: str | None = None


def _not_registered(fmt: str) -> str | None:
    if fmt in PARSERS:
        return None
    return f"format '{fmt}' is not registered in transforms/parsers PARSERS yet"


def _extra(value: Any) -> dict[str, str]:
    """Our ``extra`` map as read back from Parquet: a dict (polars with a Map type) or key/value structs."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    return {e["key"]: e["value"] for e in value}


def _ours(row: Mapping[str, Any], name: str) -> Value:
    if name.startswith(EXTRA_PREFIX):
        return _extra(row["extra"]).get(name.removeprefix(EXTRA_PREFIX))
    value = row[name]
    if isinstance(value, datetime):
        return instant(value)
    return value  # type: ignore[no-any-return]


def _record_reject(reasons: list[str], lines: int) -> str:
    if lines == 1 and len(reasons) == 1:
        return reasons[0]
    if not reasons:
        return "no row: only blank or directive lines"
    return f"{lines} physical lines, {len(reasons)} rejects: {_reasons(Counter(reason_class(r) for r in reasons), markdown=False)}"


def _normalize(paths: list[Path], parser: LineParser, source: str, fmt: str, out: Path) -> dict[str, Any]:
    summary = normalize_files(paths, parser, Provenance(source, fmt, None), out)
    files: list[dict[str, Any]] = summary["files"]  # type: ignore[assignment]
    return files[0]


def compare_source(source: PeerSource, work: Path) -> Outcome:
    """Normalize the peer's raw records with our use case and compare each field."""
    outcome = Outcome(source, agree=dict.fromkeys(source.fields, 0), compared=dict.fromkeys(source.fields, 0))
    outcome.skipped = _not_registered(source.parser)
    if outcome.skipped:
        return outcome
    raw = work / f"{source.name}.log"
    raw.write_text("".join(f"{case.line}\n" for case in source.cases), encoding="utf-8")
    summary = _normalize([raw], build_parser(source.parser, source.options), source.name, source.parser, work / "out")
    physical = sum(case.physical_lines for case in source.cases)
    assert summary["lines_in"] == physical and summary["reconciled"], f"{source.name}: {summary}"
    rows = {r["source_line"]: r for r in pl.read_parquet(summary["events_path"]).to_dicts()}
    rejects = {r["source_line"]: r["reason"] for r in pl.read_parquet(summary["rejects_path"]).to_dicts()}

    first = 1
    for case in source.cases:
        span = range(first, first + case.physical_lines)
        first = span.stop
        case_rows = [rows[n] for n in span if n in rows]
        case_rejects = [rejects[n] for n in span if n in rejects]
        if not case_rows:
            outcome.rejects[case.case_id] = _record_reject(case_rejects, len(span))
            continue
        if len(case_rows) > 1 or case_rejects:
            outcome.problems.append(
                f"{source.name} {case.case_id}: a record of {len(span)} physical lines gave {len(case_rows)} rows "
                f"(lines {[r['source_line'] for r in case_rows]}) and {len(case_rejects)} rejects"
            )
            continue
        row = case_rows[0]
        for name in source.fields:
            if name not in case.expected:  # the peer states nothing for this record (see not_compared)
                continue
            ours, theirs = _ours(row, name), case.expected[name]
            outcome.compared[name] += 1
            if ours == theirs:
                outcome.agree[name] += 1
            else:
                outcome.disagreements.append(Disagreement(source.name, case.case_id, name, ours, theirs))
    return outcome


def _require_corpus() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS} (set PROXYVAULT_CORPUS to the shared corpus)")


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    _require_corpus()
    return {name: compare_source(load(CORPUS), tmp_path_factory.mktemp(name)) for name, load in LOADERS.items()}


@pytest.mark.parametrize("name", [pytest.param(name, id=name) for name in LOADERS])
def test_every_difference_is_documented(outcomes: dict[str, Outcome], name: str) -> None:
    outcome = outcomes[name]
    if outcome.skipped:
        pytest.skip(f"{name}: {outcome.skipped}")
    problems = list(outcome.problems)
    problems += [f"undocumented disagreement: {d}" for d in outcome.disagreements if d.key not in DOCUMENTED_DIFFERENCES]
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


def test_documented_entries_name_known_sources() -> None:
    """A typo in a source name would make an entry silently unused."""
    unknown = {key[0] for key in (*DOCUMENTED_DIFFERENCES, *DOCUMENTED_REJECTS)} - set(LOADERS)
    assert not unknown


# --- raw-only files --------------------------------------------------------------------------


@dataclass
class RawCheck:
    """A raw-only file normalized with one format: the line accounting and what was checked."""

    name: str
    file: Path
    fmt: str
    summary: dict[str, Any] = field(default_factory=dict)
    #: Spot-checked values: agreeing / compared.
    agree: int = 0
    compared: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None

    @property
    def counts(self) -> str:
        s = self.summary
        return f"{s['lines_in']} = {s['rows_out']} rows + {s['rejects_out']} rejects + {s['skipped']} blank + {s['directives']} directives"


def _spot_check(check: RawCheck, where: str, row: Mapping[str, Any], expected: Mapping[str, Value]) -> None:
    for name, theirs in expected.items():
        ours = _ours(row, name)
        check.compared += 1
        if ours == theirs:
            check.agree += 1
        else:
            check.problems.append(f"{check.name} {where} {name}: ours={ours!r} line says {theirs!r}")


def _accounting(check: RawCheck) -> None:
    s = check.summary
    if s["lines_in"] != s["rows_out"] + s["rejects_out"] + s["skipped"] + s["directives"] or not s["reconciled"]:
        check.problems.append(f"{check.name}: lines lost or double counted: {check.counts}")
    empty = [r for r in pl.read_parquet(s["rejects_path"]).to_dicts() if not (r["reason"] or "").strip()]
    check.problems += [f"{check.name} line {r['source_line']}: reject without a reason" for r in empty]


def check_gchq_bluecoat(work: Path) -> RawCheck:
    """Every record of a real ProxySG ELFF file (``#Fields`` directives, CRLF) is a row; fields match the line."""
    path = CORPUS / proxy_peers.GCHQ_BLUECOAT
    check = RawCheck("gchq-bluecoat", proxy_peers.GCHQ_BLUECOAT, "elff", skipped=_not_registered("elff"))
    if check.skipped:
        return check
    check.summary = _normalize([path], build_parser("elff", ParserOptions()), check.name, check.fmt, work)
    _accounting(check)
    records = proxy_peers.elff_records(path.read_text(encoding="utf-8"))
    directives = sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("#"))
    s = check.summary
    if (s["rows_out"], s["rejects_out"], s["directives"]) != (len(records), 0, directives):
        check.problems.append(f"{check.name}: expected {len(records)} rows, 0 rejects, {directives} directives: {check.counts}")
    rows = {r["source_line"]: r for r in pl.read_parquet(s["events_path"]).to_dicts()}
    for number, record in records:
        if number in rows:
            _spot_check(check, f"line {number}", rows[number], proxy_peers.elff_expected(record))
    return check


def check_zscaler_web(work: Path) -> RawCheck:
    """Elastic's NSS web sample: every line a row or a reject with a reason; rows agree with the line's JSON."""
    path = CORPUS / proxy_peers.ELASTIC_ZSCALER_WEB
    check = RawCheck("elastic-zscaler-web", proxy_peers.ELASTIC_ZSCALER_WEB, "zscaler-nss", skipped=_not_registered("zscaler-nss"))
    if check.skipped:
        return check
    check.summary = _normalize([path], build_parser("zscaler-nss", ParserOptions(tz="UTC")), check.name, check.fmt, work)
    _accounting(check)
    lines = path.read_text(encoding="utf-8").splitlines()
    for row in pl.read_parquet(check.summary["events_path"]).to_dicts():
        number = row["source_line"]
        expected = proxy_peers.zscaler_expected(proxy_peers.zscaler_event(lines[number - 1]))
        unfilled = sorted(name for name in expected if row[name] is None)
        if unfilled:
            check.notes.append(f"line {number}: null although the JSON has a value: {', '.join(unfilled)}")
        _spot_check(check, f"line {number}", row, {k: v for k, v in expected.items() if row[k] is not None})
    return check


def _fortiproxy_options(fmt: str) -> ParserOptions | None:
    """The options a format is built with for a file of unknown format; None if none will do."""
    for options in (proxy_peers.DEFAULT_OPTIONS.get(fmt, ParserOptions()), ParserOptions(tz="UTC")):
        try:
            build_parser(fmt, options)
        except FormatError:
            continue
        return options
    return None


def check_fortiproxy(work: Path) -> list[RawCheck]:
    """FortiProxy is no format of ours: every registered format must still account for every line."""
    path = CORPUS / proxy_peers.ELASTIC_FORTIPROXY
    checks = []
    for fmt in PARSERS:
        check = RawCheck(f"fortiproxy as {fmt}", proxy_peers.ELASTIC_FORTIPROXY, fmt)
        options = _fortiproxy_options(fmt)
        if options is None:
            check.skipped = f"format '{fmt}' cannot be built without a source-specific option"
        else:
            check.summary = _normalize([path], build_parser(fmt, options), f"fortiproxy-{fmt}", fmt, work / fmt)
            _accounting(check)
            if check.summary["rows_out"]:
                check.notes.append(f"{check.summary['rows_out']} FortiProxy lines were accepted as {fmt} rows")
        checks.append(check)
    return checks


@pytest.fixture(scope="module")
def raw_checks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[RawCheck]]:
    _require_corpus()
    return {
        "gchq-bluecoat": [check_gchq_bluecoat(tmp_path_factory.mktemp("gchq"))],
        "elastic-zscaler-web": [check_zscaler_web(tmp_path_factory.mktemp("zscaler"))],
        "elastic-fortiproxy": check_fortiproxy(tmp_path_factory.mktemp("fortiproxy")),
    }


@pytest.mark.parametrize("name", ["gchq-bluecoat", "elastic-zscaler-web", "elastic-fortiproxy"])
def test_raw_file_is_accounted_for(raw_checks: dict[str, list[RawCheck]], name: str) -> None:
    checks = [c for c in raw_checks[name] if not c.skipped]
    if not checks:
        pytest.skip("; ".join(f"{c.name}: {c.skipped}" for c in raw_checks[name]))
    problems = [p for c in checks for p in c.problems]
    assert not problems, "\n".join(problems)


# --- the table and the doc ---------------------------------------------------------------------


def test_overall_agreement(outcomes: dict[str, Outcome], raw_checks: dict[str, list[RawCheck]], request: pytest.FixtureRequest) -> None:
    table = render_table(outcomes)
    print("\n" + table)
    request.config.stash[SUMMARY_KEY] = table
    if os.environ.get("PROXYVAULT_WRITE_CONFORMANCE") == "1":
        write_doc(outcomes, raw_checks)
    agree = sum(sum(o.agree.values()) for o in outcomes.values())
    compared = sum(sum(o.compared.values()) for o in outcomes.values())
    assert compared > 0
    assert agree / compared >= MIN_AGREEMENT, f"overall agreement {agree}/{compared} = {agree / compared:.2%} < {MIN_AGREEMENT:.1%}"


def _line(outcome: Outcome, case_id: str) -> str:
    return next(c.line for c in outcome.source.cases if c.case_id == case_id)


def _pct(agree: int, compared: int) -> str:
    return f"{agree / compared:.1%}" if compared else "n/a"


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", "\\n")


def _short(value: Value, limit: int = 100) -> str:
    text = repr(value)
    return _cell(text if len(text) <= limit else text[: limit - 1] + "…")


def render_table(outcomes: dict[str, Outcome]) -> str:
    """Markdown: one row per (source, field), a total per source and overall."""
    out = ["| source | field | agree / compared | % |", "|---|---|---|---|"]
    total_agree = total_compared = 0
    for name, o in outcomes.items():
        if o.skipped:
            out.append(f"| **{name}** | **skipped**: {o.skipped} | | |")
            continue
        for f in o.source.fields:
            out.append(f"| {name} | {f} | {o.agree[f]} / {o.compared[f]} | {_pct(o.agree[f], o.compared[f])} |")
        agree, compared = sum(o.agree.values()), sum(o.compared.values())
        total_agree += agree
        total_compared += compared
        records = f"{len(o.source.cases) - len(o.rejects)} of {len(o.source.cases)} records parsed"
        out.append(f"| **{name}** | **all** ({records}) | **{agree} / {compared}** | **{_pct(agree, compared)}** |")
    out.append(f"| **overall** | | **{total_agree} / {total_compared}** | **{_pct(total_agree, total_compared)}** |")
    fields = [(o, f) for o in outcomes.values() if not o.skipped for f in o.source.fields if not f.startswith(EXTRA_PREFIX)]
    canonical_agree, canonical_compared = sum(o.agree[f] for o, f in fields), sum(o.compared[f] for o, f in fields)
    out.append(
        f"| overall, canonical columns only (without `extra:`) | | {canonical_agree} / {canonical_compared} "
        f"| {_pct(canonical_agree, canonical_compared)} |"
    )
    return "\n".join(out)


def _reasons(counts: Mapping[str, int], markdown: bool = True) -> str:
    """Reject reasons grouped without their numbers too: ``expected 10 fields, got N`` ×31."""
    grouped: Counter[str] = Counter()
    for reason, n in counts.items():
        grouped[re.sub(r"\b\d+\b", "N", reason)] += n
    quote = "`" if markdown else ""
    return "; ".join(f"{quote}{_cell(k) if markdown else k}{quote} ×{v}" for k, v in grouped.most_common()) or "none"


def render_raw(raw_checks: dict[str, list[RawCheck]]) -> list[str]:
    parts = ["| file | format | lines in = rows + rejects + blank + directives | reject reasons | checked | notes |"]
    parts.append("|---|---|---|---|---|---|")
    for checks in raw_checks.values():
        for c in checks:
            if c.skipped:
                parts.append(f"| `{c.file.name}` | `{c.fmt}` | skipped: {c.skipped} | | | |")
                continue
            reasons = _reasons(c.summary["reject_reasons"])
            checked = f"{c.agree} / {c.compared} values" if c.compared else "accounting only"
            notes = "; ".join(_cell(n) for n in c.notes) or ""
            parts.append(f"| `{c.file.name}` | `{c.fmt}` | {c.counts} | {reasons} | {checked} | {notes} |")
    return parts


def render_generated(outcomes: dict[str, Outcome], raw_checks: dict[str, list[RawCheck]]) -> str:
    parts = [BEGIN, "", "### Agreement", "", render_table(outcomes), "", "### Documented differences", ""]
    parts += ["| source | case | field | ours | theirs | reason |", "|---|---|---|---|---|---|"]
    for o in outcomes.values():
        for d in o.disagreements:
            reason = DOCUMENTED_DIFFERENCES.get(d.key, "**UNDOCUMENTED**")
            parts.append(f"| {d.source} | {d.case_id} | {d.field} | `{_short(d.ours)}` | `{_short(d.theirs)}` | {reason} |")
    parts += ["", "### Records we reject", "", "| source | case | our reject reason | why |", "|---|---|---|---|"]
    for name, o in outcomes.items():
        for case_id, reason in o.rejects.items():
            why = DOCUMENTED_REJECTS.get((name, case_id), "**UNDOCUMENTED**")
            parts.append(f"| {name} | {case_id} | `{_cell(reason)}` | {why} |")
    parts += ["", "### Fields not compared", "", "| source | field | why |", "|---|---|---|"]
    for name, o in outcomes.items():
        parts += [f"| {name} | {f} | {why} |" for f, why in o.source.not_compared.items()]
    parts += ["", "### Raw-only files", "", *render_raw(raw_checks), "", END]
    return "\n".join(parts)


def write_doc(outcomes: dict[str, Outcome], raw_checks: dict[str, list[RawCheck]]) -> None:
    text = DOC.read_text(encoding="utf-8")
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    DOC.write_text(head + render_generated(outcomes, raw_checks) + tail, encoding="utf-8")
