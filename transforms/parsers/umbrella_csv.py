"""Cisco Umbrella web (proxy) logs, the CSV that Umbrella exports to S3 (``proxylogs/``).

Field order: Cisco, "Web Log Formats"
(https://docs.umbrella.com/umbrella-user-guide/docs/web-log-formats) and "Log Formats and
Versioning" (https://docs.umbrella.com/deployment-umbrella/docs/log-formats-and-versioning).

    "2026-09-21 14:13:20","alice (alice@example.com)","10.1.2.3","203.0.113.9","198.51.100.7","text/html","ALLOWED",
    "https://www.example.com/a?b=c","","Mozilla/5.0 ...","200","562","1489","1200","","Search Engines",...

Every field is double-quoted, ``""`` is a quote inside a field, fields are separated by
commas (Cisco's own example puts a space after some commas; a space before the first
quote is seen too, and spaces or tabs around a separator are accepted), and there is no
header row (but see below). The schema only ever grew at the end, so a line's column count
says its version: 23, 32, 35, 37 and 49 columns are the documented ones (Cisco's field
list and examples; Elastic's and SEKOIA's samples have 23, 32, 35 and 49); any other count
is a reject that names them.

Choices:

- Time: Cisco documents the timestamp as UTC (``2015-01-16 17:48:41``), so no ``--tz`` is
  needed; a given zone is checked and then unused.
- Canonical columns: Internal Client IP -> ``client_ip``, Destination IP -> ``server_ip``,
  Content Type, Action (``ALLOWED``/``BLOCKED``) -> ``proxy_action``, URL (``url_*`` and
  ``server_port`` derived from it), Referer, User Agent, Status Code, Request Size ->
  ``request_bytes``, Request Method (32 columns and more) -> ``http_method``.
- ``response_bytes`` is Response Size, the whole response: the canonical column counts
  headers too (Squid's ``%<st``), and Response Body Size would under-count. Response Body
  Size is kept in ``extra``.
- ``username`` is the Policy Identity Label only when the Policy Identity Type is
  ``AD Users``: the label is "the identity that made the request", which is as often a
  computer, a network or a site. Identities (a comma-separated list whose names may
  themselves contain commas) stay in ``extra`` only.
- Every other field (External Client IP, SHA256, Categories, AV Detections, Identities,
  Identity Types, Blocked Categories, Rule ID, ...) is kept in ``extra`` under Cisco's
  documented name, the Policy Identity Label and Type included. Empty and whitespace-only
  fields (Umbrella writes ``" "`` for a missing user agent) are null.
- A first line whose first column is ``Timestamp`` or ``Time`` is the optional header row
  that the S3 export adds when "Include Optional Log Headers" is on; it is counted as a
  directive. (Cisco documents the header row, not its exact wording for web logs.)
- A record with a line break inside a field cannot be read line by line: its pieces are
  rejects (their raw text is kept).

Speed: nearly every line splits exactly on ``","`` (every quote in it is a field
boundary, which the count of quotes proves); the others (escaped quotes, broken quoting)
take a regex path that validates the whole line. ``tests/unit/test_umbrella_csv.py``
checks both paths against a plain reference reader.
"""

from __future__ import annotations

import polars as pl

from transforms.normalize import TimeSpec, check_zone, normalize_fields, null_if_dash, pack_extra
from transforms.parsers.base import ParseResult, ParserOptions, split_rejects

FORMAT_NAME = "umbrella-csv"
TIME = TimeSpec("strftime", "%Y-%m-%d %H:%M:%S", utc=True)

#: Cisco's field names, in column order; a version is a prefix of this list.
FIELDS: tuple[str, ...] = (
    "Timestamp",
    "Policy Identity Label",
    "Internal Client IP",
    "External Client IP",
    "Destination IP",
    "Content Type",
    "Action",
    "URL",
    "Referer",
    "User Agent",
    "Status Code",
    "Request Size",
    "Response Size",
    "Response Body Size",
    "SHA256",
    "Categories",
    "AV Detections",
    "PUAs",
    "AMP Disposition",
    "AMP Malware Name",
    "AMP Score",
    "Policy Identity Type",
    "Blocked Categories",
    "Identities",
    "Identity Types",
    "Request Method",
    "DLP Status",
    "Certificate Errors",
    "File Name",
    "Ruleset ID",
    "Rule ID",
    "Destination List IDs",
    "Isolate Action",
    "File Action",
    "Warn Status",
    "Forwarding Method",
    "Producer",
    "MSP Organization ID",
    "Geo Location of Blocked Destination Countries",
    "Application IDs",
    "Hostname",
    "Data Center",
    "Egress",
    "Server Name",
    "Time Based Rule",
    "Security Overridden",
    "Detected Response File Type",
    "Warn Categories",
    "Organization ID",
)

#: Column counts of the published versions (each one a prefix of :data:`FIELDS`).
VERSIONS: tuple[int, ...] = (23, 32, 35, 37, 49)

#: Field -> canonical column (``_time`` is the event time).
CANONICAL: dict[str, str] = {
    "Timestamp": "_time",
    "Internal Client IP": "client_ip",
    "Destination IP": "server_ip",
    "Content Type": "content_type",
    "Action": "proxy_action",
    "URL": "url",
    "Referer": "referer",
    "User Agent": "user_agent",
    "Status Code": "status_code",
    "Request Size": "request_bytes",
    "Response Size": "response_bytes",
    "Request Method": "http_method",
}

#: Policy Identity Type whose label is a user (see the module docstring).
USER_IDENTITY_TYPE = "AD Users"

CARRIED = frozenset(
    {c for c in CANONICAL.values() if not c.startswith("_")}
    | {"event_time", "username", "url_scheme", "url_host", "url_path", "url_query", "server_port", "extra"}
)

_EXPECTED = f"expected {', '.join(map(str, VERSIONS[:-1]))} or {VERSIONS[-1]} columns"
_BROKEN = 'broken quoting: expected comma-separated fields in double quotes ("" for a quote inside a field)'
# One whole valid line: quoted fields, commas, optional spaces around them.
_QUOTED = r'"(?:[^"]|"")*"'
_VALID = rf"^\s*{_QUOTED}(?:\s*,\s*{_QUOTED})*\s*$"


class UmbrellaCsvParser:
    """Parses Umbrella proxy-log CSV lines of any published version."""

    format_name = FORMAT_NAME

    def __init__(self, options: ParserOptions) -> None:
        check_zone(options.tz)  # times are UTC by Cisco's documentation: a zone is accepted and unused
        self._at_file_start = True

    @property
    def carried_columns(self) -> frozenset[str]:
        return CARRIED

    def start_file(self) -> None:
        self._at_file_start = True

    def parse(self, lines: pl.DataFrame) -> ParseResult:
        directives = 0
        if self._at_file_start and lines.height:
            self._at_file_start = False
            first = lines["line"][0].lstrip(' "').split('"', 1)[0].lower()
            if first in ("timestamp", "time"):
                lines, directives = lines.slice(1), 1
        result = self._parse_lines(lines)
        return ParseResult(result.rows, result.rejects, directives)

    def _parse_lines(self, lines: pl.DataFrame) -> ParseResult:
        pieces, simple = quick_split(lines["line"])
        if simple.all():
            return self._parse_fields(lines, pieces, quoted=True)
        fast = self._parse_fields(lines.filter(simple), pieces.filter(simple), quoted=True)
        rest = lines.filter(~simple)
        slow = self._parse_fields(rest, regex_fields(rest["line"]), quoted=False)
        return ParseResult(
            rows=pl.concat([fast.rows, slow.rows], how="diagonal_relaxed").sort("source_line"),
            rejects=pl.concat([fast.rejects, slow.rejects]).sort("source_line"),
        )

    def _parse_fields(self, lines: pl.DataFrame, fields: pl.Series, *, quoted: bool) -> ParseResult:
        """Rows from each line's field list (null: broken quoting); ``quoted`` lists still
        carry the first field's opening and the last field's closing quote."""
        count = fields.list.len()
        known = max((v for v in VERSIONS if (count == v).any()), default=0)
        names = FIELDS[: max(known, FIELDS.index("Request Method") + 1)]
        values: dict[str, pl.Expr] = {}
        for i, name in enumerate(names):
            value = pl.col("_f").list.get(i, null_on_oob=True)
            if quoted and i == 0:
                value = value.str.strip_prefix('"')
            if quoted and i + 1 in VERSIONS:
                value = pl.when(pl.col("_n") == i + 1).then(value.str.strip_suffix('"')).otherwise(value)
            values[name] = null_if_dash(value)
        identity_type, label = values["Policy Identity Type"], values["Policy Identity Label"]
        staged = (
            pl.DataFrame({"source_line": lines["source_line"], "_f": fields, "_n": count})
            .lazy()
            .select(
                pl.col("source_line"),
                *[expr.alias(CANONICAL.get(name, f"_x{i}")) for i, (name, expr) in enumerate(values.items())],
                pl.when(identity_type == USER_IDENTITY_TYPE).then(label).alias("username"),
                pl.when(pl.col("_n").is_null())
                .then(pl.lit(_BROKEN))
                .when(~pl.col("_n").is_in(VERSIONS))
                .then(pl.format(_EXPECTED + ", got {}", pl.col("_n")))
                .alias("_shape"),
            )
            .collect()
        )
        extra = {name: f"_x{i}" for i, name in enumerate(names) if name not in CANONICAL}
        # Fields empty in the whole chunk would be left out of every row anyway.
        unused = [column for column in extra.values() if staged[column].null_count() == staged.height]
        extra = {name: column for name, column in extra.items() if column not in unused}
        raw = pack_extra(staged.drop("_shape", *unused), extra)
        parsed = normalize_fields(raw, TIME)
        parsed = parsed.with_columns(pl.coalesce(staged["_shape"], pl.col("_reason")).alias("_reason"))
        return split_rejects(parsed, lines)


def quick_split(text: pl.Series) -> tuple[pl.Series, pl.Series]:
    """Split the (tidied) lines on ``","``; the split is exact where ``simple`` is true.

    The pieces still carry the first field's opening and the last field's closing quote.

    >>> pieces, simple = quick_split(pl.Series(['"a","b,c",""', '",","b"', '"x""y"']))
    >>> pieces.to_list(), simple.to_list()
    ([['"a', 'b,c', '"'], ['', ',"b"'], ['"x""y"']], [True, False, False])
    """
    text = tidy_lines(text)
    pieces = text.str.split('","')
    # n pieces hold 2n quotes: 2(n-1) in the separators, so exactly two in the pieces.
    # When those are the first piece's opening and the last piece's closing quote, no
    # field holds a quote and the split is exact. (A first field that is a lone comma, or
    # an escaped quote before the last separator, puts them elsewhere.) The rest of the
    # lines take the regex path.
    simple = (
        (text.str.count_matches('"', literal=True) == 2 * pieces.list.len())
        & pieces.list.first().str.starts_with('"')
        & pieces.list.last().str.ends_with('"')
        & (text.str.len_bytes() >= 2)
    )
    return pieces, simple


def tidy_lines(text: pl.Series) -> pl.Series:
    """Remove the spaces Umbrella (and hand edits) put around separators and the line, and
    empty whitespace-only fields, in the lines that have any; the others are returned as is.

    Only a line whose every quote is then a field boundary is split on ``","`` (see
    ``UmbrellaCsvParser._parse_lines``); the rest are read from their original text.

    >>> tidy_lines(pl.Series([' "a", "b" ,"c"," "', '"a","b"'])).to_list()
    ['"a","b","c",""', '"a","b"']
    """
    untidy = (
        text.str.starts_with(" ")
        | text.str.ends_with(" ")
        | text.str.contains('" ', literal=True)
        | text.str.contains(', "', literal=True)
        | text.str.contains('"\t', literal=True)
    )
    if not untidy.any():
        return text
    where = untidy.arg_true()
    fixed = text.gather(where).str.strip_chars().str.replace_all(r'"\s*,\s*"', '","').str.replace_all(r'"\s+"', '""')
    return text.clone().scatter(where, fixed)  # scatter works in place: leave the caller's lines alone


def regex_fields(text: pl.Series) -> pl.Series:
    """Each line's fields, unquoted, read with a regex that validates the whole line; null
    for a line whose quoting is broken. Whitespace-only fields are empty.

    >>> regex_fields(pl.Series(['"a", "b,c","say ""hi"" now"," "', '"a"b"'])).to_list()
    [['a', 'b,c', 'say "hi" now', ''], None]
    """
    unquote = pl.element().str.slice(1, pl.element().str.len_chars() - 2).str.replace_all('""', '"', literal=True)
    blank = unquote.str.strip_chars() == ""
    return (
        pl.DataFrame({"_text": text})
        .select(
            pl.when(pl.col("_text").str.contains(_VALID)).then(
                pl.col("_text").str.extract_all(_QUOTED).list.eval(pl.when(blank).then(pl.lit("")).otherwise(unquote))
            )
        )
        .to_series()
    )


def build(options: ParserOptions) -> UmbrellaCsvParser:
    """Registry entry point."""
    return UmbrellaCsvParser(options)
