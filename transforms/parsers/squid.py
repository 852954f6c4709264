"""Squid's native access.log format (``logformat squid``), the default of every Squid.

    %ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt

e.g. ``1157689320.327   2864 10.105.21.199 TCP_MISS/200 10182 GET http://www.goonernews.com/ badeyek DIRECT/175.16.199.61 text/html``.

Two trailers that common deployments append are understood as well: the request's
``"Referer" "User-Agent"`` (pfSense and many distributions), and the request and reply
headers in brackets that ``log_mime_hdrs on`` adds (matched, not archived: the raw
file keeps them). Anything else after the ten fields is a reject.

The compiled-logformat regex is correct for every line but costs a regex capture
per field. Nearly all lines have exactly ten space-separated fields, so those take a
split-based fast path; the others (trailers, content types with spaces, damage) go
through the regex. ``tests/unit/test_squid_native.py`` checks both paths agree.
"""

from __future__ import annotations

import dataclasses

import polars as pl

from transforms.normalize import TimeSpec, check_zone, decode_rows, normalize_fields
from transforms.parsers.base import ParseResult, ParserOptions, split_rejects
from transforms.parsers.squid_logformat import PREDEFINED, SquidLogformatParser

FORMAT_NAME = "squid"
SPEC = PREDEFINED["squid"]
FIELD_COUNT = 10

# Optional trailers after %mt: "referer" "user agent", then log_mime_hdrs' [request] [reply].
_TRAILER = r'(?: +"((?:[^"\\]|\\.)*)" +"((?:[^"\\]|\\.)*)")?(?: +\[([^\]]*)\] +\[([^\]]*)\])?'


class SquidNativeParser:
    """Parses Squid's native format, with the optional trailers described above."""

    format_name = FORMAT_NAME

    def __init__(self, options: ParserOptions) -> None:
        check_zone(options.tz)  # native times are UTC epochs; a zone is accepted and unused
        self._regex = SquidLogformatParser(SPEC, options, format_name=FORMAT_NAME)
        compiled = self._regex.compiled
        trailer_groups = (("referer", 0, "backslash"), ("user_agent", 0, "backslash"), ("_unused_req", 0, ""), ("_unused_resp", 0, ""))
        self._regex.compiled = dataclasses.replace(
            compiled,
            pattern=compiled.pattern.removesuffix(" *$") + _TRAILER + " *$",
            groups=compiled.groups + trailer_groups,
        )

    @property
    def carried_columns(self) -> frozenset[str]:
        """Referer and user agent are only there when the trailer is: not counted as carried."""
        return self._regex.carried_columns

    def start_file(self) -> None:
        """Stateless: every line stands alone."""

    def parse(self, lines: pl.DataFrame) -> ParseResult:
        # Runs of spaces become one, then at most 11 pieces: a tenth piece and no eleventh
        # means exactly ten fields, the fast path.
        pieces = lines["line"].str.strip_chars(" ").str.replace_all(" {2,}", " ").str.splitn(" ", FIELD_COUNT + 1)
        simple = pieces.struct.field(f"field_{FIELD_COUNT - 1}").is_not_null() & pieces.struct.field(f"field_{FIELD_COUNT}").is_null()
        fast = self._parse_fields(lines.filter(simple), pieces.filter(simple))
        if bool(simple.all()):
            return fast
        slow = self._regex.parse(lines.filter(~simple))
        return ParseResult(
            rows=pl.concat([fast.rows, slow.rows], how="diagonal_relaxed").sort("source_line"),
            rejects=pl.concat([fast.rejects, slow.rejects]).sort("source_line"),
        )

    def _parse_fields(self, lines: pl.DataFrame, pieces: pl.Series) -> ParseResult:
        f = [pl.col("_p").struct.field(f"field_{i}") for i in range(FIELD_COUNT)]
        split = (
            lines.lazy()
            .select("source_line", pieces.alias("_p"))
            .with_columns(_code=f[3].str.split_exact("/", 1), _hier=f[8].str.split_exact("/", 1))
        )
        code, hier = pl.col("_code").struct, pl.col("_hier").struct
        staged = split.select(
            pl.col("source_line"),
            f[0].alias("_ts"),  # "1157689312.049": seconds and milliseconds
            f[1].alias("duration_ms"),
            f[2].alias("client_ip"),
            code.field("field_0").alias("proxy_action"),
            code.field("field_1").alias("status_code"),
            f[4].alias("response_bytes"),
            f[5].alias("http_method"),
            f[6].alias("url"),
            f[7].alias("username"),
            hier.field("field_0").alias("proxy_hierarchy"),
            hier.field("field_1").alias("server_ip"),
            f[9].alias("content_type"),
            pl.when(code.field("field_1").is_null())
            .then(pl.format("bad result/status '{}': expected CODE/NNN", f[3]))
            .when(hier.field("field_1").is_null())
            .then(pl.format("bad hierarchy/peer '{}': expected HIER/HOST", f[8]))
            .otherwise(None)
            .alias("_shape"),
        ).collect()
        raw = decode_rows(staged.drop("_shape"), "username", "%", "percent")
        parsed = normalize_fields(raw, TimeSpec("epoch"))
        parsed = parsed.with_columns(pl.coalesce(staged["_shape"], pl.col("_reason")).alias("_reason"))
        return split_rejects(parsed, lines)


def build(options: ParserOptions) -> SquidNativeParser:
    """Registry entry point."""
    return SquidNativeParser(options)
