"""The ``proxyvault`` command line: thin fronts over the use-case modules."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal, NoReturn

from infra.config import Config, ConfigError, ValidationSettings, load_config
from infra.integrity import SigningKeyError
from infra.rawfile import InputError
from infra.store import StoreError
from proxyvault import __version__
from proxyvault.normalize import (
    Provenance,
    ReconciliationError,
    ValidationRun,
    normalize_detected,
    normalize_files,
    stderr_progress,
)
from proxyvault.validate import ValidationFailed, render_completeness
from transforms.normalize import TimeZoneError
from transforms.parsers import PARSERS, FormatError, ParserOptions, build_parser
from transforms.parsers.elff import PREDEFINED as ELFF_PREDEFINED
from transforms.parsers.squid_logformat import PREDEFINED, logformat_from_squid_conf

EXIT_USAGE = 2
EXIT_VALIDATION = 3


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def add_config_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", type=Path, help="config (default: $PROXYVAULT_CONFIG, else built-in defaults)")


def _add_source_options(p: argparse.ArgumentParser) -> None:
    """Options that say what the inputs are; a configured ``--source`` supplies defaults."""
    p.add_argument(
        "--format",
        choices=[*PARSERS, "auto"],
        help="log format of the inputs ('auto' detects it per file from its first lines and says why); "
        "default: the configured source's format",
    )
    p.add_argument(
        "--logformat",
        metavar="SPEC",
        help=f"squid-logformat: a squid.conf logformat spec or a built-in name ({', '.join(PREDEFINED)}); "
        f"elff: the field list of files without '#Fields:' lines, or {', '.join(ELFF_PREDEFINED)}",
    )
    p.add_argument("--squid-conf", metavar="FILE", type=Path, help="read the spec from this squid.conf (with --logformat-name)")
    p.add_argument("--logformat-name", metavar="NAME", help="name of the logformat line in --squid-conf, or a built-in name")
    p.add_argument("--tz", metavar="ZONE", help="IANA zone of times written without a UTC offset (e.g. Europe/Brussels)")
    p.add_argument(
        "--ambiguous",
        choices=["raise", "earliest", "latest"],
        default="raise",
        help="what a local time in a DST overlap means (default: reject it)",
    )
    p.add_argument("--source", metavar="NAME", help="source name; a source in the config brings its format, zone and thresholds")
    p.add_argument("--proxy-host", metavar="NAME", help="which proxy wrote the logs")
    add_config_option(p)
    p.add_argument(
        "--engine",
        choices=["polars", "great_expectations"],
        help="run the expectation suites with polars (fast, the default) or great-expectations itself",
    )
    p.add_argument("--received-at", metavar="TIME", type=_utc_time, help="when the files were received (default: their mtime)")
    p.add_argument("--window-start", metavar="TIME", type=_utc_time, help="start of the files' rotation window (ISO 8601 with offset)")
    p.add_argument("--window-end", metavar="TIME", type=_utc_time, help="end of the files' rotation window")
    p.add_argument("inputs", metavar="INPUT", nargs="+", type=Path, help="raw log files (plain, .gz or .zst)")


def _add_normalize(sub: argparse._SubParsersAction[_Parser]) -> None:
    p = sub.add_parser(
        "normalize",
        help="raw proxy logs -> canonical Parquet + rejects + validation, with a JSON summary on stdout",
        description="Normalize raw proxy log files (plain, .gz or .zst) to canonical Parquet under "
        "OUT/events/ and OUT/rejects/, validate each file's batch (report in OUT/validation/, "
        "policy from the source config), and print a JSON summary. Every line is accounted for: "
        "lines_in == rows_out + rejects_out + skipped + directives. Exit 3 when a batch fails "
        "validation under the policy 'fail'.",
    )
    _add_source_options(p)
    p.add_argument("--out", metavar="DIR", required=True, type=Path, help="output directory")
    p.add_argument("--no-validate", action="store_true", help="skip validation (no report, no policy)")
    p.set_defaults(run=_run_normalize)


def _add_completeness(sub: argparse._SubParsersAction[_Parser]) -> None:
    p = sub.add_parser(
        "completeness",
        help="which required fields each input carries, how complete they are, and what would fix the gaps",
        description="Normalize and validate the inputs in a scratch directory and print, per file, a table of "
        "the required fields: carried by the format?, share of rows that have it, the source's threshold, "
        "status; then what the format does not log and the proxy setting that would log it. "
        "Exit 1 when a file fails validation.",
    )
    _add_source_options(p)
    p.add_argument("--json", action="store_true", help="print the reports as JSON instead of tables")
    p.set_defaults(run=_run_completeness)


def _utc_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an ISO 8601 time; write e.g. 2026-11-22T09:00:00Z") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"'{text}' has no UTC offset; add Z or +01:00")
    return value.astimezone(UTC)


def _resolve_logformat(args: argparse.Namespace) -> str | None:
    if args.format == "elff":
        if args.squid_conf or args.logformat_name:
            raise UsageError("--squid-conf/--logformat-name apply to --format squid-logformat; for elff give --logformat 'date time ...'")
        return str(args.logformat) if args.logformat else None
    if args.format != "squid-logformat":
        if args.logformat or args.squid_conf or args.logformat_name:
            raise UsageError(
                f"--logformat/--squid-conf/--logformat-name apply to --format squid-logformat or elff, not '{args.format}'"
                + ("; give the format explicitly" if args.format == "auto" else "")
            )
        return None
    if args.squid_conf:
        if not args.logformat_name:
            raise UsageError("--squid-conf needs --logformat-name NAME (the name on the 'logformat NAME ...' line)")
        try:
            text = args.squid_conf.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"{args.squid_conf}: cannot read ({exc.strerror}); check the --squid-conf path") from None
        spec = logformat_from_squid_conf(text, args.logformat_name)
    elif args.logformat_name:
        if args.logformat_name not in PREDEFINED:
            raise UsageError(f"no built-in logformat '{args.logformat_name}'; use one of {', '.join(PREDEFINED)} or add --squid-conf FILE")
        spec = PREDEFINED[args.logformat_name]
    elif args.logformat:
        spec = args.logformat  # a spec, or the name of a built-in format
    else:
        raise UsageError("--format squid-logformat needs --logformat 'SPEC' or --squid-conf FILE --logformat-name NAME")
    return str(spec)


@dataclass(frozen=True)
class SourceContext:
    """What the source options and the config say about the inputs."""

    config: Config
    options: ParserOptions
    proxy_host: str | None
    validation: ValidationRun | None


def source_context(args: argparse.Namespace, validate: Literal["no", "pipeline", "report"]) -> SourceContext:
    """Resolve ``--source``/``--format``/... against the config; validation as a pipeline
    step (the source's policy applies) or for a report (nothing moves, nothing fails)."""
    config = load_config(args.config)
    source = config.source(args.source) if args.source else None
    args.format = args.format or (source.format if source else None)
    if args.format is None:
        hint = f"source '{args.source}' has no format in the config" if args.source else "no --source from the config gives one"
        raise UsageError(f"--format is required: {hint}; give --format NAME or --format auto")
    if source and source.logformat and not (args.logformat or args.squid_conf or args.logformat_name):
        args.logformat = source.logformat
    options = ParserOptions(tz=args.tz or (source.tz if source else None), ambiguous=args.ambiguous, logformat=_resolve_logformat(args))
    proxy_host = args.proxy_host or (source.proxy_host if source else None)
    # an unconfigured --source (or none) gets the global defaults
    settings = source.validation if source else config.validation
    validation = (
        None if validate == "no" else _validation_for(settings, args.engine or config.engine, args, report_only=validate == "report")
    )
    missing = [p for p in args.inputs if not p.is_file()]
    if missing:
        raise UsageError(f"{missing[0]}: no such file; check the path (inputs may be plain, .gz or .zst)")
    return SourceContext(config, options, proxy_host, validation)


def _normalize_inputs(args: argparse.Namespace, out: Path, validate: Literal["no", "pipeline", "report"]) -> dict[str, object]:
    """Normalize ``args.inputs`` into ``out`` as the source options say, and validate them."""
    context = source_context(args, validate)
    if args.format == "auto":
        return normalize_detected(
            args.inputs,
            context.options,
            args.source,
            context.proxy_host,
            out,
            progress=stderr_progress,
            announce=_announcer(args),
            validation=context.validation,
        )
    parser = build_parser(args.format, context.options)
    provenance = Provenance(source=args.source or args.format, source_format=args.format, proxy_host=context.proxy_host)
    return normalize_files(args.inputs, parser, provenance, out, progress=stderr_progress, validation=context.validation)


def _validation_for(settings: ValidationSettings, engine: str, args: argparse.Namespace, report_only: bool) -> ValidationRun:
    return ValidationRun(
        # a report moves nothing and fails nothing, whatever the source's policy
        settings=replace(settings, policy="archive_and_alert") if report_only else settings,
        engine=engine,
        received_at=args.received_at,
        window_start=args.window_start,
        window_end=args.window_end,
        alert=None if report_only else _stderr_line,
    )


def _run_normalize(args: argparse.Namespace) -> int:
    summary = _normalize_inputs(args, args.out, "no" if args.no_validate else "pipeline")
    if sys.stderr.isatty():
        print(file=sys.stderr)
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    return 0


def _run_completeness(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="proxyvault-completeness-") as scratch:
        summary = _normalize_inputs(args, Path(scratch), "report")
        files = summary["files"]
        assert isinstance(files, list)
        reports = [json.loads(Path(f["validation"]["report_path"]).read_text(encoding="utf-8")) for f in files]
    if sys.stderr.isatty():
        print(file=sys.stderr)
    if args.json:
        out = [{"input": f["input"], **completeness_view(r)} for f, r in zip(files, reports, strict=True)]
        print(json.dumps(out, indent=2, ensure_ascii=False))
    else:
        for f, report in zip(files, reports, strict=True):
            print(f"{f['input']}")
            print(render_completeness(report))
    return 1 if any(r["status"] == "failed" for r in reports) else 0


def completeness_view(report: dict[str, object]) -> dict[str, object]:
    """The parts of a validation report that ``completeness --json`` prints."""
    keys = ("batch", "status", "completeness", "not_logged_by_this_source", "never_filled", "advice", "failures", "notices")
    return {k: report[k] for k in keys}


def _announcer(args: argparse.Namespace) -> Callable[[str], None]:
    def announce(message: str) -> None:
        print(f"proxyvault {args.command}: {message}", file=sys.stderr, flush=True)

    return announce


def _stderr_line(message: str) -> None:
    print(f"proxyvault: {message}", file=sys.stderr, flush=True)


def _add_demo(sub: argparse._SubParsersAction[_Parser]) -> None:
    from proxyvault.demo import DEFAULT_START

    p = sub.add_parser(
        "demo",
        help="a week of three proxies' traffic through the real DAGs, on the embedded default",
        description="Generate a week of traffic for three sources (Squid native in UTC, Squid with a full logformat "
        "in local time with its offset, ProxySG ELFF files in a spool; damaged lines, one file three days late, one "
        "log taken mid-line), run proxy_rotate and proxy_archive for each day with dag.test() on SQLite metadata and "
        "the local store under HOME, then proxy_daily_stats and proxy_audit, verify the whole archive, and print "
        "a summary and where everything is. Running it again on the same HOME changes nothing: every file was taken before.",
    )
    p.add_argument("--home", metavar="DIR", type=Path, help="demo home: config, logs, Airflow, archive (default: a new temporary one)")
    p.add_argument("--days", type=int, default=7, help="days of traffic (default 7)")
    p.add_argument("--start", type=date.fromisoformat, default=DEFAULT_START, help=f"first day, UTC (default {DEFAULT_START})")
    p.set_defaults(run=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from proxyvault.demo import run_demo

    if args.days < 1:
        raise UsageError(f"--days {args.days}: give at least 1 day")
    home = args.home or Path(tempfile.mkdtemp(prefix="proxyvault-demo-"))

    def say(line: str) -> None:
        print(line, flush=True)

    return run_demo(home, args.days, args.start, say)


def build_arg_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="proxyvault", description="Archive proxy logs for years: complete, in UTC, provably untouched.")
    parser.add_argument("--version", action="version", version=f"proxyvault {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_normalize(sub)
    _add_completeness(sub)
    _add_demo(sub)
    from proxyvault import cli_archive  # it builds on this module's helpers

    cli_archive.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_arg_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (UsageError, FormatError, TimeZoneError, InputError, ConfigError) as exc:
        print(f"proxyvault {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ValidationFailed as exc:
        print(f"proxyvault {args.command}: {exc}", file=sys.stderr)
        return EXIT_VALIDATION
    except (StoreError, SigningKeyError) as exc:
        print(f"proxyvault {args.command}: {exc}", file=sys.stderr)
        return 1
    except ReconciliationError as exc:
        print(f"proxyvault {args.command}: internal error, lines do not reconcile: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
