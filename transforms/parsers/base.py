"""What every parser promises: lines in, canonical rows and rejects out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import polars as pl

from transforms.normalize import Ambiguous

#: The frame a parser receives: one row per non-blank input line.
LINES_SCHEMA = {"source_line": pl.Int64(), "line": pl.String()}


class FormatError(ValueError):
    """A format cannot be built as asked (bad logformat spec, missing zone, ...).

    The message is one line that names the problem and the fix.
    """


@dataclass(frozen=True)
class ParserOptions:
    """Per-source settings a parser may need."""

    tz: str | None = None
    ambiguous: Ambiguous = "raise"
    logformat: str | None = None


@dataclass(frozen=True)
class ParseResult:
    """Rows carry ``source_line`` and the canonical data columns the format has;
    rejects carry ``source_line``, ``raw_line`` and ``reason``; ``directives`` counts
    header lines (ELFF ``#Fields:``, CSV headers) that were read as instructions, not data.

    Every line given to ``parse`` is exactly one of: a row, a reject, a directive."""

    rows: pl.DataFrame
    rejects: pl.DataFrame
    directives: int = 0


class LineParser(Protocol):
    """A parser for one log format, built for one source's options."""

    format_name: str

    @property
    def carried_columns(self) -> frozenset[str]:
        """Canonical data columns this format can fill (the rest are "not logged")."""
        ...

    def start_file(self) -> None:
        """Forget what earlier files declared (ELFF ``#Fields:``); called before each file."""
        ...

    def parse(self, lines: pl.DataFrame) -> ParseResult:
        """Parse ``lines`` (``LINES_SCHEMA``, no blank lines) into rows and rejects.

        Chunks of one file arrive in order, so a parser may carry header state across them.
        """
        ...


def split_rejects(parsed: pl.DataFrame, lines: pl.DataFrame) -> ParseResult:
    """Separate rows with a ``_reason`` from good rows; rejects keep the raw line."""
    bad = parsed["_reason"].is_not_null()
    rejects = (
        pl.DataFrame(
            {
                "source_line": parsed["source_line"].filter(bad),
                "raw_line": lines["line"].filter(bad),
                "reason": parsed["_reason"].filter(bad),
            }
        )
        if bad.any()
        else empty_rejects()
    )
    rows = parsed.filter(~bad).drop("_reason")
    return ParseResult(rows=rows, rejects=rejects)


def empty_rejects() -> pl.DataFrame:
    return pl.DataFrame(schema={"source_line": pl.Int64(), "raw_line": pl.String(), "reason": pl.String()})
