"""The two expectation suites, built in code: ``proxy_events`` (structure) and ``completeness``.

A suite is kept here as plain data in great-expectations' own JSON shape (expectation
``type``, ``kwargs``, ``meta``, ``severity``), so that building one costs no import of
great-expectations (4 s). :func:`to_gx_suite` turns it into a ``gx.ExpectationSuite``;
both engines (:mod:`expectations.engine`) evaluate exactly these expectations, and
``tests/unit/test_expectations.py`` proves they agree.

Only expectation types both engines implement may appear here: :data:`EXPECTATION_TYPES`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from transforms.schema import REQUIRED_FIELDS

Severity = Literal["critical", "warning", "info"]

EXPECTATION_TYPES = (
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_be_between",
    "expect_column_values_to_match_regex",
    "expect_compound_columns_to_be_unique",
)

#: RFC 9110 methods plus PATCH (RFC 5789): what browsers and APIs send.
STANDARD_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH")
#: Extension methods a proxy legitimately sees: WebDAV (RFC 4918, 3253, 3648, 3744, 5323),
#: CalDAV/CardDAV, and Squid's ``NONE`` for requests that never had one (aborted
#: connections, ``error:`` entries). Known, so not failed; all but ``NONE`` are reported.
EXTENSION_METHODS = (
    "PROPFIND",
    "PROPPATCH",
    "MKCOL",
    "COPY",
    "MOVE",
    "LOCK",
    "UNLOCK",
    "SEARCH",
    "REPORT",
    "MKCALENDAR",
    "ACL",
    "BIND",
    "UNBIND",
    "REBIND",
    "MKACTIVITY",
    "CHECKOUT",
    "CHECKIN",
    "UNCHECKOUT",
    "VERSION-CONTROL",
    "MERGE",
    "LABEL",
    "UPDATE",
    "BASELINE-CONTROL",
    "MKWORKSPACE",
    "ORDERPATCH",
    "PRI",
    "PURGE",
    "NONE",
)
#: Status codes a proxy may log: 0 (Squid's ``000``, no reply) or an HTTP class 1xx-5xx.
STATUS_CODES = (0, *range(100, 600))

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
_H = r"[0-9A-Fa-f]{1,4}"
#: A valid IPv4 (dotted quad, no leading zeros) or IPv6 address (RFC 4291 text forms,
#: compressed or not, with an embedded IPv4 tail). Plain ``[0-9]`` rather than ``\\d``,
#: which would match other scripts' digits; the same syntax in Python and Rust regex.
IP_ADDRESS_REGEX = (
    rf"^(?:{_IPV4}"
    rf"|(?:{_H}:){{7}}{_H}"
    rf"|(?:{_H}:){{1,7}}:"
    rf"|(?:{_H}:){{1,6}}:{_H}"
    rf"|(?:{_H}:){{1,5}}(?::{_H}){{1,2}}"
    rf"|(?:{_H}:){{1,4}}(?::{_H}){{1,3}}"
    rf"|(?:{_H}:){{1,3}}(?::{_H}){{1,4}}"
    rf"|(?:{_H}:){{1,2}}(?::{_H}){{1,5}}"
    rf"|{_H}:(?::{_H}){{1,6}}"
    rf"|:(?:(?::{_H}){{1,7}}|:)"
    rf"|(?:{_H}:){{6}}{_IPV4}"
    rf"|::(?:[Ff]{{4}}(?::0{{1,4}})?:)?{_IPV4}"
    rf"|(?:{_H}:){{1,5}}:{_IPV4}"
    r")$"
)


@dataclass(frozen=True)
class Expectation:
    """One expectation, in great-expectations' configuration shape."""

    type: str
    kwargs: Mapping[str, Any]
    meta: Mapping[str, Any] = field(default_factory=dict)
    severity: Severity = "critical"

    @property
    def column(self) -> str | None:
        value = self.kwargs.get("column")
        return value if isinstance(value, str) else None

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns the expectation reads."""
        if "column_list" in self.kwargs:
            return tuple(self.kwargs["column_list"])
        return (self.kwargs["column"],)

    def to_json(self) -> dict[str, Any]:
        kwargs = {k: (_json_value(v)) for k, v in self.kwargs.items()}
        return {"type": self.type, "kwargs": kwargs, "meta": dict(self.meta), "severity": self.severity}


@dataclass(frozen=True)
class Suite:
    name: str
    expectations: tuple[Expectation, ...]
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c for e in self.expectations for c in e.columns))

    def to_json(self) -> dict[str, Any]:
        """The suite as great-expectations writes it (without its random ids)."""
        return {"name": self.name, "expectations": [e.to_json() for e in self.expectations], "meta": dict(self.meta)}


@dataclass(frozen=True)
class EventWindow:
    """When a batch's events may have happened: ``[start - skew, end + skew]``.

    ``end`` defaults to ``received_at`` (no event can be later than the file's receipt);
    formats that log the request's start also get ``start_allowance`` before ``start``.
    """

    start: datetime | None = None
    end: datetime | None = None
    received_at: datetime | None = None
    skew: timedelta = timedelta(minutes=5)
    start_allowance: timedelta = timedelta(0)

    @property
    def lower(self) -> datetime | None:
        return None if self.start is None else self.start - self.skew - self.start_allowance

    @property
    def upper(self) -> datetime | None:
        ends = [t for t in (self.end, self.received_at) if t is not None]
        return min(ends) + self.skew if ends else None


def proxy_events_suite(window: EventWindow = EventWindow()) -> Suite:
    """The structural suite of the ``proxy_events`` table, the same for every source.

    >>> [e.type for e in proxy_events_suite().expectations][:2]
    ['expect_column_values_to_not_be_null', 'expect_column_values_to_be_in_set']
    """
    checks: list[Expectation] = [Expectation("expect_column_values_to_not_be_null", {"column": "event_time"})]
    if window.lower is not None or window.upper is not None:
        bounds = {k: v for k, v in (("min_value", window.lower), ("max_value", window.upper)) if v is not None}
        checks.append(
            Expectation(
                "expect_column_values_to_be_between",
                {"column": "event_time", **bounds},
                {"check": "inside the batch's window, give or take the clock skew"},
            )
        )
    checks += [
        Expectation(
            "expect_column_values_to_be_in_set",
            {"column": "http_method", "value_set": [*STANDARD_METHODS, *EXTENSION_METHODS]},
            {"check": "a known HTTP method"},
        ),
        Expectation(
            "expect_column_values_to_be_in_set",
            {"column": "http_method", "value_set": [*STANDARD_METHODS, "NONE"]},
            {"check": "a standard method (extension and WebDAV methods are reported, not failed)"},
            severity="info",
        ),
        Expectation(
            "expect_column_values_to_be_in_set",
            {"column": "status_code", "value_set": list(STATUS_CODES)},
            {"check": "0 (no reply) or a status 100-599"},
        ),
    ]
    for column in ("client_port", "server_port"):
        checks.append(
            Expectation(
                "expect_column_values_to_be_between", {"column": column, "min_value": 1, "max_value": 65535}, {"check": "a port 1-65535"}
            )
        )
    for column in ("response_bytes", "request_bytes", "duration_ms"):
        checks.append(Expectation("expect_column_values_to_be_between", {"column": column, "min_value": 0}, {"check": "zero or more"}))
    for column in ("client_ip", "server_ip"):
        checks.append(
            Expectation(
                "expect_column_values_to_match_regex", {"column": column, "regex": IP_ADDRESS_REGEX}, {"check": "an IPv4 or IPv6 address"}
            )
        )
    checks.append(
        Expectation(
            "expect_compound_columns_to_be_unique",
            {"column_list": ["source_file_sha256", "source_line"]},
            {"check": "unique: each line of a source file gives at most one row"},
        )
    )
    return Suite("proxy_events", tuple(checks), {"window": _window_json(window)})


def completeness_suite(carried: Sequence[str], mostly: Mapping[str, float], source: str = "", source_format: str = "") -> Suite:
    """One non-null expectation per required field the format carries, at the source's threshold.

    Fields the format cannot carry are not expectations (their absence is not a fault of
    the data) but are listed in the suite's ``meta`` as ``not_logged_by_this_source``.

    >>> suite = completeness_suite(["event_time", "url"], {"event_time": 1.0, "url": 0.99})
    >>> [e.kwargs["mostly"] for e in suite.expectations], suite.meta["not_logged_by_this_source"][:2]
    ([1.0, 0.99], ['http_version', 'http_method'])
    """
    carried_set = set(carried)
    checks = tuple(
        Expectation("expect_column_values_to_not_be_null", {"column": name, "mostly": float(mostly[name])}, {"required_field": True})
        for name in REQUIRED_FIELDS
        if name in carried_set
    )
    not_logged = [name for name in REQUIRED_FIELDS if name not in carried_set]
    meta = {"source": source, "source_format": source_format, "not_logged_by_this_source": not_logged}
    return Suite("completeness", checks, meta)


def to_gx_suite(suite: Suite) -> Any:
    """The same suite as a ``great_expectations.ExpectationSuite`` (imports great-expectations)."""
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration
    from great_expectations.expectations.metadata_types import FailureSeverity

    gx_suite = gx.ExpectationSuite(name=suite.name, meta=dict(suite.meta))
    for e in suite.expectations:
        config = ExpectationConfiguration(type=e.type, kwargs=dict(e.kwargs), meta=dict(e.meta), severity=FailureSeverity(e.severity))
        # add_expectation appends; add_expectation_configuration would replace the
        # second expectation on a column (two value sets for http_method).
        gx_suite.add_expectation(config.to_domain_obj())
    return gx_suite


def _window_json(window: EventWindow) -> dict[str, Any]:
    return {
        "start": _json_value(window.start),
        "end": _json_value(window.end),
        "received_at": _json_value(window.received_at),
        "clock_skew_seconds": window.skew.total_seconds(),
        "start_allowance_seconds": window.start_allowance.total_seconds(),
    }


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value
