"""great-expectations Data Docs (a static HTML site) from validation reports, without re-validating.

A report (:func:`proxyvault.validate.validate_batch`) already holds both suites' results in
great-expectations' validation-result shape. :func:`build_data_docs` turns each into an
``ExpectationSuiteValidationResult``, puts it and its suite into an in-memory (ephemeral)
data context's stores, and has great-expectations' own ``SiteBuilder`` render the site.
The batch data are not needed and nothing is evaluated again.

Layout under ``site_dir``::

    index.html                                         every suite and validation result
    expectations/<source>/<suite>.html                 the suite a source's batches are judged by
    validations/<source>/<suite>/<source>/<run time>/<sha256 prefix>.html
    static/                                            great-expectations' CSS, JS, fonts

Suites are named ``<source>.<suite>`` (``edge.completeness``): the completeness suite
differs by source (which fields its format carries, its thresholds), so one suite page per
name would show one source's suite for all. great-expectations splits names on ``.`` into
folders. A suite page shows the suite of the source's last report given; each validation
page shows the expectations exactly as its batch ran them (its own event-time window).

Each validation result is identified by the batch alone: run name = the source, run time
= the batch's receipt time (else its window's end or start, else 1970-01-01), batch id =
the first 16 hex digits of the raw file's SHA-256. No wall-clock time goes in: the HTML is
rendered by views that leave out the build time great-expectations adds to its logo's URL
and number the collapsible sections of a page instead of giving them random UUIDs, so the
same reports give the same bytes.

An expectation's ``meta["check"]`` is its text on both kinds of page (GX's
``description``, shown instead of its own sentence, which would list all 500 status codes
or the 600-character IP regex), with its severity when that is not critical; the suite
pages keep the exact kwargs as the expectation's notes. A suite result's ``meta`` (the
event-time window, the fields the format does not log) is under "Show more info" on its
validation page, as are the batch's format, SHA-256 and row count.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from great_expectations.data_context.store.store import DataDocsSiteConfigTypedDict

SITE_NAME = "proxyvault"
#: Where a batch without any known time is put on the site's time line.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Hex digits of the raw file's SHA-256 in a batch id.
SHA_PREFIX = 16


def build_data_docs(reports: Sequence[Mapping[str, Any]], site_dir: Path) -> Path:
    """Build the Data Docs site of ``reports`` in ``site_dir``; return its ``index.html``.

    Pages of results not among ``reports`` (from an earlier build into the same folder) are
    removed from the site and its index.
    """
    import great_expectations as gx
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResult,
        ExpectationValidationResult,
    )
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration
    from great_expectations.expectations.metadata_types import FailureSeverity

    site_dir = site_dir.resolve()
    context = gx.get_context(mode="ephemeral")
    for name in list(context.list_data_docs_sites()):
        context.delete_data_docs_site(name)  # the default site, in a temporary folder
    # GX's TypedDict for a site lacks keys its SiteBuilder takes (site_section_builders, ...)
    context.add_data_docs_site(SITE_NAME, cast("DataDocsSiteConfigTypedDict", _site_config(site_dir)))

    def configuration(expectation: Mapping[str, Any]) -> Any:
        kwargs = dict(expectation["kwargs"])
        if kwargs.get("mostly") == 1.0:
            # GX's default; GX 1.24 renders an explicit 1.0 as "at least $mostly_pct % of the time"
            del kwargs["mostly"]
        return ExpectationConfiguration(
            type=expectation["type"],
            kwargs=kwargs,
            meta=dict(expectation.get("meta") or {}),
            severity=FailureSeverity(expectation.get("severity", "critical")),
            **_description(expectation),
        )

    suites: dict[str, Any] = {}
    for report in reports:
        batch = report["batch"]
        run_id = RunIdentifier(run_name=batch["source"], run_time=_run_time(report))
        for result in report["suites"].values():
            name = f"{batch['source']}.{result['suite_name']}"
            configs = [configuration(r["expectation_config"]) for r in result["results"]]
            suite = gx.ExpectationSuite(
                name=name,
                meta=dict(result["meta"]),
            )
            for config in configs:
                suite.add_expectation(config.to_domain_obj())  # appends (two value sets on http_method)
            suites[name] = suite
            validation = ExpectationSuiteValidationResult(
                success=bool(result["success"]),
                results=[
                    ExpectationValidationResult(success=bool(r["success"]), expectation_config=config, result=dict(r["result"]))
                    for r, config in zip(result["results"], configs, strict=True)
                ],
                suite_name=name,
                statistics=dict(result["statistics"]),
                meta={
                    "run_id": run_id.to_json_dict(),
                    "great_expectations_version": report.get("engine", {}).get("great_expectations", gx.__version__),
                    "batch_spec": {
                        "data_asset_name": batch["source"],
                        "source_format": batch["source_format"],
                        "source_file_sha256": batch["source_file_sha256"],
                        "rows": batch["rows"],
                        "report_status": report.get("status"),
                        "engine": report.get("engine", {}).get("name"),
                    },
                    "batch_markers": dict(result["meta"]),
                },
            )
            key = ValidationResultIdentifier(
                expectation_suite_identifier=ExpectationSuiteIdentifier(name=name),
                run_id=run_id,
                batch_identifier=batch["source_file_sha256"][:SHA_PREFIX],
            )
            context.validation_results_store.set(key, validation)
    for suite in suites.values():
        context.suites.add(suite)
    context.build_data_docs(site_names=[SITE_NAME])
    _remove_empty_folders(site_dir)
    return site_dir / "index.html"


def _remove_empty_folders(site_dir: Path) -> None:
    """GX removes the pages of results no longer given, but not their (now empty) folders."""
    for section in ("validations", "expectations"):
        for folder in sorted((site_dir / section).rglob("*"), key=lambda p: len(p.parts), reverse=True):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()


def _description(expectation: Mapping[str, Any]) -> dict[str, Any]:
    """An expectation's ``check`` as its Data Docs text, and its exact kwargs as its notes.

    great-expectations shows a ``description`` instead of its own sentence for the
    expectation type, which lists whole value sets (500 status codes) and regexes (the
    IP address one is 600 characters). Notes are shown on the suite pages only.
    """
    check = (expectation.get("meta") or {}).get("check")
    if not check:
        return {}
    kwargs = expectation["kwargs"]
    where = kwargs.get("column") or ", ".join(kwargs.get("column_list", []))
    text = f"{where} values must be {check}"
    severity = expectation.get("severity", "critical")
    if severity != "critical":
        text += f"; severity {severity}, which does not fail the suite"
    notes = [f"`{expectation['type']}`"] + [f"`{key}`: `{json.dumps(value, ensure_ascii=False)}`" for key, value in kwargs.items()]
    return {"description": text + ".", "notes": notes}


def _run_time(report: Mapping[str, Any]) -> datetime:
    window = report.get("clock", {}).get("window") or {}
    for key in ("received_at", "end", "start"):
        if window.get(key):
            return datetime.fromisoformat(window[key]).astimezone(UTC)
    return EPOCH


def _site_config(site_dir: Path) -> dict[str, Any]:
    view = {"module_name": __name__, "class_name": "StablePageView"}
    return {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(site_dir)},
        "site_index_builder": {
            "class_name": "DefaultSiteIndexBuilder",
            "view": {"module_name": __name__, "class_name": "StableIndexPageView"},
        },
        "site_section_builders": {
            "expectations": {"view": view},
            # every run name: the default leaves out those containing "profiling"
            "validations": {"view": view, "run_name_filter": {"matches_regex": "^"}},
            "profiling": "None",
        },
    }


@cache
def _views() -> dict[str, type]:
    """great-expectations' page views, minus the build time and the random element ids."""
    from great_expectations.render.view.view import DefaultJinjaIndexPageView, DefaultJinjaPageView

    def stable(base: type) -> type:
        class Stable(base):  # type: ignore[misc]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                self._ids = itertools.count(1)
                self.env.filters["add_data_context_id_to_url"] = lambda url, add_datetime=True: url
                self.env.filters["generate_html_element_uuid"] = self._element_id

            def _element_id(self, prefix: str | None = None) -> str:
                return f"{prefix or ''}{next(self._ids)}"

            def render(self, document: Any, template: Any = None, **kwargs: Any) -> Any:
                self._ids = itertools.count(1)  # numbered per page
                return super().render(document, template, **kwargs)

        Stable.__name__ = Stable.__qualname__ = f"Stable{base.__name__.removeprefix('DefaultJinja')}"
        return Stable

    return {"StablePageView": stable(DefaultJinjaPageView), "StableIndexPageView": stable(DefaultJinjaIndexPageView)}


def __getattr__(name: str) -> type:
    """The view classes, made on first use so that importing this module does not import GX."""
    if name in ("StablePageView", "StableIndexPageView"):
        return _views()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
