"""The archive commands of ``proxyvault``: archive, seal, verify, keys, provision, legal-hold."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infra.config import Config, load_config
from infra.integrity import fingerprint, generate_keypair, load_public_keys, load_signer, public_pem
from infra.layout import floor_hour, parse_utc, public_key_key
from infra.store import LocalStore, ObjectStore, open_store
from proxyvault.archive import ArchiveResult, archive_file
from proxyvault.cli import UsageError, _add_source_options, _Parser, _utc_time, add_config_option, source_context
from proxyvault.normalize import Provenance, sample_lines, stderr_progress
from proxyvault.seal import SealResult, seal
from proxyvault.verify import store_public_keys, verify_store
from transforms.parsers import build_parser
from transforms.parsers.detect import detect_format

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[_Parser]


def store_for(config: Config) -> ObjectStore:
    return open_store(config.store, config.retention.mode)


def add_commands(sub: Subparsers) -> None:
    _add_archive(sub)
    _add_seal(sub)
    _add_verify(sub)
    _add_keys(sub)
    _add_provision(sub)
    _add_legal_hold(sub)


# -- archive -----------------------------------------------------------------------------


def _add_archive(sub: Subparsers) -> None:
    p = sub.add_parser(
        "archive",
        help="normalize, validate and archive raw logs to the store (data first, manifest last)",
        description="Archive each input as one batch: events Parquet per UTC hour (zstd, sorted by event time), "
        "rejects, the validation report and the raw file (zstd), each upload checked by size and SHA-256, "
        "then the batch's manifest. A file archived before (same bytes, any name) is skipped. "
        "With --seal-until, closed hours are then sealed into the signed digest chain. "
        "Prints a JSON summary; exit 3 when a batch fails validation under the policy 'fail'.",
    )
    _add_source_options(p)
    p.add_argument("--seal-until", metavar="TIME", type=_utc_time, help="then seal every hour before TIME (and backfill late hours)")
    p.set_defaults(run=_run_archive)


def _run_archive(args: argparse.Namespace) -> int:
    context = source_context(args, "pipeline")
    assert context.validation is not None
    store = store_for(context.config)
    results: list[ArchiveResult] = []
    for path in args.inputs:
        options = context.options
        format_name = args.format
        if format_name == "auto":
            detection = detect_format(sample_lines(path), options, where=str(path))
            format_name, options = detection.format_name, detection.options
            print(f"proxyvault archive: {path}: format {format_name} ({detection.reason})", file=sys.stderr)
        parser = build_parser(format_name, options)
        provenance = Provenance(args.source or format_name, format_name, context.proxy_host)
        results.append(
            archive_file(path, parser, provenance, store, context.config.retention, context.validation, progress=stderr_progress)
        )
        if sys.stderr.isatty():
            print(file=sys.stderr)
    summary: dict[str, Any] = {"store": store.location, "batches": [asdict(r) for r in results]}
    if args.seal_until:
        hours = {parse_utc(h) for r in results for h in r.hours}
        summary["seal"] = asdict(_seal(context.config, store, args.seal_until, hours))
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    return 0


# -- seal --------------------------------------------------------------------------------


def _add_seal(sub: Subparsers) -> None:
    p = sub.add_parser(
        "seal",
        help="write the signed hourly digests of closed hours (and backfill digests of late data)",
        description="Extend the digest chain: one Ed25519-signed digest per UTC hour before --until that is not sealed "
        "yet (empty when nothing arrived), plus a backfill digest for each --recheck hour that received batches after "
        "it was sealed. Only one sealer may run per store.",
    )
    add_config_option(p)
    p.add_argument("--until", metavar="TIME", type=_utc_time, required=True, help="seal the hours that end at or before TIME")
    p.add_argument("--start", metavar="TIME", type=_utc_time, help="first hour of a new chain (default: the earliest hour with data)")
    p.add_argument("--recheck", metavar="HOUR", type=_utc_time, nargs="*", default=[], help="sealed hours that may have late batches")
    p.set_defaults(run=_run_seal)


def _seal(config: Config, store: ObjectStore, until: datetime, recheck: set[datetime], start: datetime | None = None) -> SealResult:
    signer = load_signer(config.keys.private)
    return seal(store, signer, until, config.retention, recheck=recheck, start=start)


def _run_seal(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    store = store_for(config)
    result = _seal(config, store, args.until, {floor_hour(h) for h in args.recheck}, args.start)
    print(json.dumps(asdict(result), indent=2))
    if result.uncommitted:
        print(
            f"proxyvault seal: {len(result.uncommitted)} objects in sealed hours belong to batches without a manifest "
            f"(first: {result.uncommitted[0]}); archive their files again, then seal with --recheck",
            file=sys.stderr,
        )
    return 0


# -- verify ------------------------------------------------------------------------------


def _add_verify(sub: Subparsers) -> None:
    p = sub.add_parser(
        "verify",
        help="check the digest chain, manifests and every object's bytes; name every bad object",
        description="Walk the digest chain over [--start, --end) (default: all of it): each digest's signature and its "
        "link to the previous digest, each manifest's hash, each object's bytes (re-hashed), hours without a digest "
        "(gap) and objects no manifest lists (unreferenced). Prints counts per status and every problem; exit 1 on any.",
    )
    add_config_option(p)
    p.add_argument("--start", metavar="TIME", type=_utc_time, help="first hour to verify (ISO 8601 with offset)")
    p.add_argument("--end", metavar="TIME", type=_utc_time, help="end of the range (exclusive)")
    p.add_argument("--source", metavar="NAME", action="append", default=[], help="only this source's manifests and objects")
    p.add_argument("--public-key", metavar="FILE", type=Path, action="append", default=[], help="trust this public key (repeatable)")
    p.add_argument("--offline", metavar="DIR", type=Path, help="verify a restored folder instead of the store, with the public key alone")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(run=_run_verify)


def _trusted_keys(config: Config, explicit: list[Path], store: ObjectStore) -> tuple[dict[str, Any], str]:
    if explicit:
        return load_public_keys(explicit), f"trusting {len(explicit)} key file(s) given with --public-key"
    configured = [p for p in (config.keys.public, *config.keys.trusted) if p.exists()]
    if configured:
        return load_public_keys(configured), f"trusting configured keys ({', '.join(str(p) for p in configured)})"
    keys = store_public_keys(store)
    if not keys:
        raise UsageError(
            f"no public key to verify with: give --public-key FILE, or set [keys] public (none in {store.location}/keys/ either)"
        )
    return (
        keys,
        f"WARNING: trusting the {len(keys)} public key(s) stored in {store.location}/keys/ (give --public-key for an independent check)",
    )


def _run_verify(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if args.offline:
        if not args.offline.is_dir():
            raise UsageError(f"{args.offline}: not a folder; give the directory a restore wrote")
        store: ObjectStore = LocalStore(args.offline)
    else:
        store = store_for(config)
    keys, trust = _trusted_keys(config, args.public_key, store)
    if args.start and args.end and args.end <= args.start:
        raise UsageError("--end must be after --start")
    report = verify_store(
        store,
        keys,
        start=args.start,
        end=args.end,
        sources=args.source,
        offline=args.offline is not None,
        trust=trust,
        progress=stderr_progress,
    )
    if sys.stderr.isatty():
        print(file=sys.stderr)
    print(json.dumps(report.to_json(), indent=2) if args.json else report.render())
    return 0 if report.ok else 1


# -- keys --------------------------------------------------------------------------------


def _add_keys(sub: Subparsers) -> None:
    p = sub.add_parser("keys", help="manage the digest signing key", description="Manage the Ed25519 key that signs digests.")
    keys_sub = p.add_subparsers(dest="keys_command", required=True, parser_class=_Parser)
    g = keys_sub.add_parser(
        "generate",
        help="create the signing key pair; store and print the public key",
        description="Write a new Ed25519 private key (mode 0600) and its public key to the [keys] paths (or --private/--public), "
        "put the public key in the store under keys/<fingerprint>.pub.pem, and print it for auditors. "
        "Refuses to overwrite an existing private key.",
    )
    add_config_option(g)
    g.add_argument("--private", metavar="FILE", type=Path, help="private key path (default: [keys] private)")
    g.add_argument("--public", metavar="FILE", type=Path, help="public key path (default: [keys] public)")
    g.add_argument("--no-store", action="store_true", help="do not put the public key in the store")
    g.set_defaults(run=_run_keys_generate)


def _run_keys_generate(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    private, public = args.private or config.keys.private, args.public or config.keys.public
    signer = generate_keypair(private, public)
    pem = public_pem(signer.public_key)
    where = "not stored (--no-store)"
    if not args.no_store:
        store = store_for(config)
        key = public_key_key(fingerprint(signer.public_key))
        store.put_bytes(key, pem)
        where = f"{store.location}/{key}"
    print(f"private key: {private} (mode 600: keep it secret, back it up)")
    print(f"public key:  {public}")
    print(f"in store:    {where}")
    print(f"fingerprint: {signer.fingerprint}")
    print(pem.decode().rstrip())
    return 0


# -- provision ---------------------------------------------------------------------------


def _add_provision(sub: Subparsers) -> None:
    p = sub.add_parser(
        "provision",
        help="configure the S3 bucket: versioning, Object Lock default retention, lifecycle, bucket policy",
        description="Create (if needed) and configure the configured S3 bucket: versioning; Object Lock default retention "
        "(mode and years from [retention]); lifecycle transitions; a bucket policy denying non-TLS access and deletes. "
        "Idempotent: prints each step as set or unchanged.",
    )
    add_config_option(p)
    p.add_argument("--no-create", action="store_true", help="fail instead of creating a missing bucket")
    p.add_argument("--no-bucket-policy", action="store_true", help="leave the bucket policy alone")
    p.set_defaults(run=_run_provision)


def _run_provision(args: argparse.Namespace) -> int:
    from infra.provision import provision_bucket

    config = load_config(args.config)
    if config.store.kind != "s3":
        config.store.path.mkdir(parents=True, exist_ok=True)
        print(
            f"local store {config.store.path}: nothing to provision; objects are made read-only and carry their "
            f"retention ({config.retention.mode}, {config.retention.years} years from their event date) in sidecar files"
        )
        return 0
    store = store_for(config)
    client = store.client  # type: ignore[attr-defined]
    assert config.store.bucket is not None
    report = provision_bucket(
        client,
        config.store.bucket,
        config.store.prefix,
        config.retention,
        create=not args.no_create,
        apply_bucket_policy=not args.no_bucket_policy,
    )
    print(report.render())
    return 0


# -- legal hold --------------------------------------------------------------------------


def _add_legal_hold(sub: Subparsers) -> None:
    p = sub.add_parser(
        "legal-hold",
        help="place or lift a legal hold on every object of a time range",
        description="Set (on) or clear (off) the legal hold of every archived object of the UTC hours in [--start, --end): "
        "events, quarantine, rejects, raw, validation reports and the batches' manifests, and the hours' digests.",
    )
    p.add_argument("state", choices=["on", "off"])
    add_config_option(p)
    p.add_argument("--start", metavar="TIME", type=_utc_time, required=True)
    p.add_argument("--end", metavar="TIME", type=_utc_time, required=True)
    p.add_argument("--source", metavar="NAME", action="append", default=[], help="only this source (repeatable)")
    p.set_defaults(run=_run_legal_hold)


def _run_legal_hold(args: argparse.Namespace) -> int:
    from proxyvault.legal_hold import set_legal_hold

    if args.end <= args.start:
        raise UsageError("--end must be after --start")
    config = load_config(args.config)
    result = set_legal_hold(store_for(config), args.start, args.end, args.source, args.state == "on", progress=stderr_progress)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    print(json.dumps(result, indent=2))
    return 0
