"""Squid's native access.log format (``logformat squid``), the default of every Squid.

    %ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt

e.g. ``1157689320.327   2864 10.105.21.199 TCP_MISS/200 10182 GET http://www.goonernews.com/ badeyek DIRECT/175.16.199.61 text/html``.

Two trailers that common deployments append are understood as well: the request's
``"Referer" "User-Agent"`` (pfSense and many distributions), and the request and reply
headers in brackets that ``log_mime_hdrs on`` adds (matched, not archived: the raw
file keeps them). Anything else after the ten fields is a reject.

The compiled-logformat regex is correct for every line but costs a regex capture
per field. Nearly all lines have exactly ten space-separated tokens, so those take a
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

    def parse(self, lines: pl.DataFrame) -> ParseResult:
        tokens = lines["line"].str.split(" ").list.eval(pl.element().filter(pl.element() != ""))
        simple = tokens.list.len() == FIELD_COUNT
        fast = self._parse_tokens(lines.filter(simple), tokens.filter(simple))
        if bool(simple.all()):
            return fast
        slow = self._regex.parse(lines.filter(~simple))
        return ParseResult(
            rows=pl.concat([fast.rows, slow.rows], how="diagonal_relaxed").sort("source_line"),
            rejects=pl.concat([fast.rejects, slow.rejects]).sort("source_line"),
        )

    def _parse_tokens(self, lines: pl.DataFrame, tokens: pl.Series) -> ParseResult:
        t = pl.col("_t")
        code = t.list.get(3).str.split_exact("/", 1)
        hier = t.list.get(8).str.split_exact("/", 1)
        framed = lines.select("source_line").with_columns(tokens.alias("_t"))
        raw = framed.select(
            pl.col("source_line"),
            t.list.get(0).alias("_ts"),  # "1157689312.049": seconds and milliseconds
            t.list.get(1).alias("duration_ms"),
            t.list.get(2).alias("client_ip"),
            code.struct.field("field_0").alias("proxy_action"),
            code.struct.field("field_1").alias("status_code"),
            t.list.get(4).alias("response_bytes"),
            t.list.get(5).alias("http_method"),
            t.list.get(6).alias("url"),
            t.list.get(7).alias("username"),
            hier.struct.field("field_0").alias("proxy_hierarchy"),
            hier.struct.field("field_1").alias("server_ip"),
            t.list.get(9).alias("content_type"),
        )
        raw = decode_rows(raw, "username", "%", "percent")
        parsed = normalize_fields(raw, TimeSpec("epoch"))
        shape = framed.select(
            pl.when(code.struct.field("field_1").is_null())
            .then(pl.format("bad result/status '{}': expected CODE/NNN", t.list.get(3)))
            .when(hier.struct.field("field_1").is_null())
            .then(pl.format("bad hierarchy/peer '{}': expected HIER/HOST", t.list.get(8)))
            .otherwise(None)
            .alias("_shape")
        )
        parsed = parsed.with_columns(pl.coalesce(shape["_shape"], pl.col("_reason")).alias("_reason"))
        return split_rejects(parsed, lines)


def build(options: ParserOptions) -> SquidNativeParser:
    """Registry entry point."""
    return SquidNativeParser(options)
