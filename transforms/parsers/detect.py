"""``--format auto``: which registered format fits a file, judged by its first lines.

Every candidate parser is run on the same sample, and the one that turns the most
lines into rows wins. Using the real parsers means detection can never disagree with
parsing. Two formats that parse equally many lines are a tie: detection refuses and asks
for ``--format`` rather than guess. So does a sample no format can read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from transforms.normalize import TimeZoneError
from transforms.parsers import PARSERS, FormatError, LineParser, ParserOptions, build_parser
from transforms.parsers.base import LINES_SCHEMA
from transforms.parsers.squid_logformat import RECOMMENDED

#: Non-blank lines from the start of a file that detection looks at.
SAMPLE_LINES = 50

#: Candidates in a fixed order: (format, logformat). ``squid-logformat`` is only tried with
#: the logformat docs/formats.md recommends; other specs need an explicit ``--format``.
CANDIDATES: tuple[tuple[str, str | None], ...] = (
    ("squid", None),
    ("squid-logformat", RECOMMENDED),
    ("clf", None),
    ("combined", None),
    ("elff", None),
    ("umbrella-csv", None),
    ("zscaler-nss", None),
)

#: Stands in for a missing --tz while probing: only the shape of the lines is judged here;
#: the chosen parser is then built with the user's options and refuses a missing zone.
_PROBE_ZONE = "UTC"


class DetectionError(FormatError):
    """No format, or more than one equally, fits the sample."""


@dataclass(frozen=True)
class Detection:
    format_name: str
    options: ParserOptions
    reason: str


def _probe_parser(name: str, options: ParserOptions) -> LineParser:
    """The candidate as the user configured it; a format that refuses to build without a
    zone is probed with UTC (only the shape of its lines is judged here)."""
    try:
        return build_parser(name, options)
    except FormatError:
        if options.tz is not None:
            raise
        return build_parser(name, dataclasses.replace(options, tz=_PROBE_ZONE))


def _candidate_label(name: str, logformat: str | None) -> str:
    return f"{name} (recommended logformat)" if logformat else name


def detect_format(lines: Sequence[str], options: ParserOptions, where: str = "input") -> Detection:
    """Pick the format of ``lines`` (the first non-blank lines of one file).

    ``options`` are the user's (``tz``, ``ambiguous``); the detected format's own
    ``logformat`` is filled in. Raises :class:`DetectionError` on a tie or no fit.

    >>> detect_format(["1157689312.049   5006 10.105.21.199 TCP_MISS/200 19763 CONNECT login.yahoo.com:443 - DIRECT/209.73.177.115 -"],
    ...               ParserOptions()).format_name
    'squid'
    """
    sample = list(lines[:SAMPLE_LINES])
    if not sample:
        raise DetectionError(f"{where}: no non-blank line to detect the format from; give --format")
    frame = pl.DataFrame({"source_line": range(1, len(sample) + 1), "line": sample}, schema=LINES_SCHEMA)
    parsed: dict[str, int] = {}
    zone_errors: list[tuple[str, TimeZoneError]] = []
    for name, logformat in CANDIDATES:
        if name not in PARSERS:
            continue
        try:
            parser = _probe_parser(name, dataclasses.replace(options, logformat=logformat))
            parser.start_file()
            result = parser.parse(frame)
        except TimeZoneError as exc:  # the sample names a zone (ELFF #Date) that needs, or contradicts, --tz
            zone_errors.append((name, exc))
            parsed[_candidate_label(name, logformat)] = 0
            continue
        except (FormatError, ValueError, pl.exceptions.PolarsError):
            parsed[_candidate_label(name, logformat)] = 0
            continue
        parsed[_candidate_label(name, logformat)] = result.rows.height
    ranking = sorted(parsed.items(), key=lambda kv: -kv[1])
    (best, best_count), (second, second_count) = ranking[0], ranking[1]
    total = len(sample)
    if best_count == 0 and zone_errors:
        zone_format, zone_error = zone_errors[0]
        raise DetectionError(f"{where}: looks like {zone_format}, but {zone_error}")
    if best_count == 0:
        raise DetectionError(
            f"{where}: no supported format parses any of the first {total} lines "
            f"(first line: {_excerpt(sample[0])}); give --format (formats: {', '.join(PARSERS)})"
        )
    if best_count == second_count:
        raise DetectionError(
            f"{where}: cannot tell the format: {best} and {second} both parse {best_count} of the first {total} lines; give --format"
        )
    name, logformat = next((n, lf) for n, lf in CANDIDATES if _candidate_label(n, lf) == best)
    reason = f"{best_count} of the first {total} lines parse as {best}; next best {second} with {second_count}"
    return Detection(name, dataclasses.replace(options, logformat=logformat), reason)


def _excerpt(line: str, limit: int = 80) -> str:
    return repr(line if len(line) <= limit else line[:limit] + "…")
