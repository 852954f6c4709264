"""What to change at the proxy so that a source logs the required fields it lacks.

An auditor's finding is only useful with its fix: "format squid does not log user_agent
...: use logformat ...". The proxy-side settings quoted here are the ones
``docs/formats.md`` documents and the tests check.
"""

from __future__ import annotations

from collections.abc import Sequence

from transforms.parsers.elff import DIRECT_FIELDS
from transforms.parsers.squid_logformat import RECOMMENDED
from transforms.parsers.zscaler_nss import ALIASES

#: The Squid logformat code that logs each required field (squid.conf.documented).
SQUID_CODES: dict[str, str] = {
    "event_time": "%ts.%03tu",
    "http_version": "%rv",
    "http_method": "%rm",
    "content_type": "%mt",
    "user_agent": '"%{User-Agent}>h"',
    "referer": '"%{Referer}>h"',
    "response_bytes": "%<st",
    "username": "%[un",
    "client_ip": "%>a",
    "client_port": "%>p",
    "server_ip": "%<a",
    "server_port": "%<p",
    "url_host": "%ru",
    "url": "%ru",
    "status_code": "%>Hs",
    "duration_ms": "%tr",
    "proxy_action": "%Ss",
}

_HEADER_CASE = {"(content-type)": "(Content-Type)", "(user-agent)": "(User-Agent)", "(referer)": "(Referer)"}


def _proxysg_name(field: str) -> str:
    """The parser matches ELFF names case-blind; ProxySG writes header names capitalized."""
    for lower, proper in _HEADER_CASE.items():
        field = field.replace(lower, proper)
    return field


#: The ELFF field that logs each required field (ProxySG names, as in #Fields: lines).
ELFF_FIELDS: dict[str, str] = {
    "event_time": "date time",
    "url_host": "cs-host",
    "url": "cs-uri-scheme cs-host cs-uri-port cs-uri-path cs-uri-query",
    **{column: _proxysg_name(names[0]) for column, names in DIRECT_FIELDS.items()},
}

SEE = "(see docs/formats.md)"


def advice(source_format: str, not_logged: Sequence[str], never_filled: Sequence[str] = ()) -> str | None:
    """One line: which required fields the format lacks, or never fills, and what would log them.

    ``never_filled`` are fields the format can carry but no row of the batch has (a feed
    template or logformat that leaves them out, or always writes ``-``).

    >>> print(advice("squid", ["user_agent", "referer"]))  # doctest: +ELLIPSIS
    format squid does not log user_agent, referer: use logformat vault '%ts.%03tu ...' ... (see docs/formats.md)
    >>> print(advice("zscaler-nss", [], ["http_version", "client_port"]))  # doctest: +ELLIPSIS
    this zscaler-nss source never filled http_version, client_port: add reqversion, clt_sport to the NSS feed ...
    >>> advice("squid", []) is None
    True
    """
    missing = _not_logged_advice(source_format, not_logged)
    unfilled = _never_filled_advice(source_format, never_filled)
    if missing and unfilled:
        return f"{missing.removesuffix(' ' + SEE)}; {unfilled}"
    return missing or unfilled


def _never_filled_advice(source_format: str, fields: Sequence[str]) -> str | None:
    if not fields:
        return None
    lacks = f"this {source_format} source never filled {', '.join(fields)}"
    if source_format == "zscaler-nss":
        keys = ", ".join(ALIASES[f][0] for f in fields if f in ALIASES)
        return f"{lacks}: add {keys} to the NSS feed output format {SEE}"
    if source_format in ("squid-logformat", "elff"):
        return f"{lacks}: its logformat has them but every value was '-'; check the proxy's settings (authentication, headers) {SEE}"
    return f"{lacks}: check the proxy's log settings {SEE}"


def _not_logged_advice(source_format: str, not_logged: Sequence[str]) -> str | None:
    if not not_logged:
        return None
    fields = ", ".join(not_logged)
    lacks = f"format {source_format} does not log {fields}"
    if source_format == "squid":
        return (
            f"{lacks}: use logformat vault '{RECOMMENDED}' with 'access_log <path> vault' in squid.conf "
            f"and read it with --format squid-logformat --logformat vault {SEE}"
        )
    if source_format == "squid-logformat":
        codes = " ".join(dict.fromkeys(SQUID_CODES[f] for f in not_logged if f in SQUID_CODES))
        return f"{lacks}: add {codes} to the logformat, or use the recommended logformat vault {SEE}"
    if source_format == "elff":
        names = " ".join(dict.fromkeys(ELFF_FIELDS[f] for f in not_logged if f in ELFF_FIELDS))
        return f"{lacks}: add {names} to the ProxySG access log format, or use the recommended field list {SEE}"
    if source_format in ("clf", "combined"):
        gained = [f for f in ("referer", "user_agent") if f in not_logged]
        rest = [f for f in not_logged if f not in gained]
        parts = []
        if source_format == "clf" and gained:
            parts.append(f"log in the combined format to gain {', '.join(gained)}")
        if rest:
            parts.append(
                f"NCSA formats cannot carry {', '.join(rest)}: for a Squid, use the recommended logformat vault "
                "(--format squid-logformat); for a ProxySG, the recommended ELFF field list"
            )
        return f"{lacks}: {'; '.join(parts)} {SEE}"
    if source_format == "umbrella-csv":
        return f"{lacks}: Cisco's CSV export has no such columns and no setting adds them; record the gap {SEE}"
    if source_format == "zscaler-nss":
        extra = " (NSS's stime/ctime are kept in extra)" if "duration_ms" in not_logged else ""
        return f"{lacks}: the NSS web feed has no field proxyvault maps to it{extra}; record the gap {SEE}"
    return f"{lacks} {SEE}"
