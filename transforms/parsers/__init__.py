"""The parser table: every supported log format, one row each, no discovery magic.

Adding a format means one module, its golden files under ``tests/golden/<name>/``,
and one row here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from transforms.parsers import clf, elff, squid, squid_logformat, umbrella_csv, zscaler_nss
from transforms.parsers.base import FormatError, LineParser, ParseResult, ParserOptions


@dataclass(frozen=True)
class FormatEntry:
    name: str
    summary: str
    build: Callable[[ParserOptions], LineParser]
    #: Whether the logged time is when the request *started* (written at its end, so a
    #: long request appears late in the file with an early time) or when it completed.
    logs_start_time: bool = True


PARSERS: dict[str, FormatEntry] = {
    entry.name: entry
    for entry in (
        FormatEntry("squid", "Squid native access.log (logformat squid)", squid.build, logs_start_time=False),
        FormatEntry(
            "squid-logformat",
            "Squid access.log written with any logformat spec (--logformat or --squid-conf)",
            squid_logformat.build,
            logs_start_time=False,  # every %t code is the time the entry was logged
        ),
        FormatEntry("elff", "W3C extended log format: BlueCoat/Symantec ProxySG, IIS (#Fields: directives or --logformat)", elff.build),
        FormatEntry("clf", "NCSA common log format: Apache/nginx common, Squid logformat common", clf.build_clf),
        FormatEntry("combined", "NCSA combined log format: Apache/nginx combined, Squid logformat combined", clf.build_combined),
        FormatEntry("umbrella-csv", "Cisco Umbrella web (proxy) logs, CSV as exported to S3 (UTC)", umbrella_csv.build),
        FormatEntry("zscaler-nss", "Zscaler ZIA NSS web feed, JSON records (needs --tz: the feed's zone)", zscaler_nss.build),
    )
}


def build_parser(name: str, options: ParserOptions) -> LineParser:
    """Build the parser registered as ``name``; unknown names raise with the list of choices."""
    try:
        entry = PARSERS[name]
    except KeyError:
        raise FormatError(f"unknown format '{name}'; choose one of: {', '.join(PARSERS)}") from None
    return entry.build(options)


__all__ = ["PARSERS", "FormatEntry", "FormatError", "LineParser", "ParseResult", "ParserOptions", "build_parser"]
