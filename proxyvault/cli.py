"""The ``proxyvault`` command line: thin fronts over the use-case modules."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from infra.rawfile import InputError
from proxyvault import __version__
from proxyvault.normalize import Provenance, ReconciliationError, normalize_detected, normalize_files, stderr_progress
from transforms.normalize import TimeZoneError
from transforms.parsers import PARSERS, FormatError, ParserOptions, build_parser
from transforms.parsers.elff import PREDEFINED as ELFF_PREDEFINED
from transforms.parsers.squid_logformat import PREDEFINED, logformat_from_squid_conf

EXIT_USAGE = 2


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _add_normalize(sub: argparse._SubParsersAction[_Parser]) -> None:
    p = sub.add_parser(
        "normalize",
        help="raw proxy logs -> canonical Parquet + rejects, with a JSON summary on stdout",
        description="Normalize raw proxy log files (plain, .gz or .zst) to canonical Parquet under "
        "OUT/events/ and OUT/rejects/, and print a JSON summary. Every line is accounted for: "
        "lines_in == rows_out + rejects_out + skipped + directives.",
    )
    p.add_argument(
        "--format",
        required=True,
        choices=[*PARSERS, "auto"],
        help="log format of the inputs; 'auto' detects it per file from its first lines and says why",
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
    p.add_argument("--source", metavar="NAME", help="configured source name (default: the format name)")
    p.add_argument("--proxy-host", metavar="NAME", help="which proxy wrote the logs")
    p.add_argument("--out", metavar="DIR", required=True, type=Path, help="output directory")
    p.add_argument("inputs", metavar="INPUT", nargs="+", type=Path, help="raw log files")
    p.set_defaults(run=_run_normalize)


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


def _run_normalize(args: argparse.Namespace) -> int:
    options = ParserOptions(tz=args.tz, ambiguous=args.ambiguous, logformat=_resolve_logformat(args))
    missing = [p for p in args.inputs if not p.is_file()]
    if args.format == "auto":
        if missing:
            raise UsageError(f"{missing[0]}: no such file; check the path (inputs may be plain, .gz or .zst)")
        summary = normalize_detected(
            args.inputs, options, args.source, args.proxy_host, args.out, progress=stderr_progress, announce=_announce
        )
    else:
        parser = build_parser(args.format, options)
        if missing:
            raise UsageError(f"{missing[0]}: no such file; check the path (inputs may be plain, .gz or .zst)")
        provenance = Provenance(source=args.source or args.format, source_format=args.format, proxy_host=args.proxy_host)
        summary = normalize_files(args.inputs, parser, provenance, args.out, progress=stderr_progress)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    return 0


def _announce(message: str) -> None:
    print(f"proxyvault normalize: {message}", file=sys.stderr, flush=True)


#: The demo's sources: (source name, sample kind, --tz of the feed, seed).
DEMO_SOURCES: tuple[tuple[str, str, str | None, int], ...] = (
    ("edge-squid", "squid", None, 1),
    ("edge-squid-full", "squid-recommended", None, 2),
    ("apache-reverse", "combined", None, 3),
    ("apache-legacy", "clf", None, 7),
    ("bluecoat-sg", "elff", None, 4),
    ("umbrella", "umbrella-csv", None, 5),
    ("zscaler", "zscaler-nss", "UTC", 6),  # the NSS feed writes GMT without an offset
)
DEMO_DAMAGED_EVERY = 5000


def _add_demo(sub: argparse._SubParsersAction[_Parser]) -> None:
    p = sub.add_parser(
        "demo",
        help="run the pipeline on generated logs in a local directory",
        description="Generate one log file per source (Squid native and full logformat, Apache combined and common, "
        "ProxySG ELFF, Umbrella CSV, Zscaler NSS JSON; a few damaged lines each), normalize them "
        "with --format auto, and print where the outputs are.",
    )
    p.add_argument("--out", metavar="DIR", type=Path, help="work directory (default: a new temporary one)")
    p.add_argument("--lines", type=int, default=20_000, help="lines per generated file (default 20000)")
    p.set_defaults(run=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from proxyvault.sample import write_sample

    out = args.out or Path(tempfile.mkdtemp(prefix="proxyvault-demo-"))
    raw = out / "raw"
    report: dict[str, object] = {}
    for source, kind, tz, seed in DEMO_SOURCES:
        path = write_sample(raw / source / "access.log", kind, args.lines, seed=seed, damaged_every=DEMO_DAMAGED_EVERY)
        summary = normalize_detected([path], ParserOptions(tz=tz), source, "demo-proxy", out / "normalized")
        files, totals = summary["files"], summary["totals"]
        assert isinstance(files, list) and isinstance(totals, dict)
        file: dict[str, object] = files[0]
        report[source] = {"format": file["format"], "detected": file["detected"], **totals, "reject_reasons": file["reject_reasons"]}
        counts = {k: totals[k] for k in ("lines_in", "rows_out", "rejects_out", "directives", "reconciled")}
        print(f"{source:15} {kind:18} -> {file['format']:16} {json.dumps(counts)}")
    summary_path = out / "demo-summary.json"
    summary_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"raw logs:        {raw}")
    print(f"canonical rows:  {out / 'normalized' / 'events'}")
    print(f"rejects:         {out / 'normalized' / 'rejects'}")
    print(f"summary:         {summary_path}")
    return 0


def build_arg_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="proxyvault", description="Archive proxy logs for years: complete, in UTC, provably untouched.")
    parser.add_argument("--version", action="version", version=f"proxyvault {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_normalize(sub)
    _add_demo(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_arg_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (UsageError, FormatError, TimeZoneError, InputError) as exc:
        print(f"proxyvault {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ReconciliationError as exc:
        print(f"proxyvault {args.command}: internal error, lines do not reconcile: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
