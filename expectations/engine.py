"""Two ways to run a :class:`~expectations.suites.Suite` on a batch, with the same result.

``great_expectations``
    great-expectations 1.x itself: its pandas execution engine, one metric pass per
    expectation. The reference, and what Data Docs are built from.

``polars``
    The same expectations, each translated to a polars expression and evaluated in one
    ``select`` over the batch's Parquet (only the columns the suite reads; multi-threaded;
    no pandas copy; no 4 s import). The default: on 2 M rows it adds 7-14 % to the time
    of normalizing them, great-expectations 60-109 % (``benchmarks/validate.py``).

Both return great-expectations' validation result shape (``results[].expectation_config``,
``.success``, ``.result`` with ``element_count``, ``unexpected_count``,
``unexpected_percent``, ``partial_unexpected_list``, ``missing_count``, ...), so a result
reads the same whichever engine made it. ``tests/unit/test_expectations.py`` runs both on
every crafted batch and asserts that they agree.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import polars as pl

from expectations.suites import Suite
from transforms.schema import CANONICAL_COLUMNS

#: Unexpected values kept per expectation, as great-expectations' BASIC result format does.
PARTIAL_UNEXPECTED = 20

Frame = pl.DataFrame | pl.LazyFrame
SuiteResult = dict[str, Any]


Finish = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class _Plan:
    """How one expectation is evaluated: per-row columns computed once (``rows``, e.g.
    the mask of unexpected values), aggregates over them, and the result from those."""

    rows: list[pl.Expr]
    aggregates: list[pl.Expr]
    finish: Finish


def run_suite_polars(suite: Suite, frame: Frame) -> SuiteResult:
    """Evaluate every expectation of ``suite`` on ``frame`` in one polars query."""
    lazy = frame.lazy().select(suite.columns) if suite.columns else frame.lazy()
    plans = [_POLARS[e.type](i, e.kwargs) for i, e in enumerate(suite.expectations)]
    row_columns = [expr for plan in plans for expr in plan.rows]
    aggregates = [pl.len().alias("n"), *(expr for plan in plans for expr in plan.aggregates)]
    row = lazy.with_columns(row_columns).select(aggregates).collect().row(0, named=True)
    results = []
    for e, plan in zip(suite.expectations, plans, strict=True):
        outcome = plan.finish(row)
        results.append({"expectation_config": e.to_json(), "success": outcome.pop("success"), "result": outcome})
    return _suite_result(suite, results)


def _not_null(i: int, kwargs: Mapping[str, Any]) -> _Plan:
    col = pl.col(kwargs["column"])

    def finish(row: dict[str, Any]) -> dict[str, Any]:
        n, nulls = row["n"], row[f"u{i}"]
        return {
            "success": n == 0 or _mostly(n, nulls, kwargs.get("mostly", 1.0)),
            "element_count": n,
            "unexpected_count": nulls,
            "unexpected_percent": nulls / n * 100 if n else None,
            "partial_unexpected_list": [None] * min(nulls, PARTIAL_UNEXPECTED),
        }

    return _Plan([], [col.null_count().alias(f"u{i}")], finish)


def _map(condition: Callable[[pl.Expr, Mapping[str, Any]], pl.Expr]) -> Callable[[int, Mapping[str, Any]], _Plan]:
    """A column map expectation: nulls are missing, not unexpected (great-expectations' rule)."""

    def build(i: int, kwargs: Mapping[str, Any]) -> _Plan:
        col = pl.col(kwargs["column"])
        bad = pl.col(f"_bad{i}")
        aggregates = [
            col.null_count().alias(f"m{i}"),
            bad.sum().alias(f"u{i}"),
            col.filter(bad).head(PARTIAL_UNEXPECTED).implode().alias(f"p{i}"),
        ]
        mask = (col.is_not_null() & ~condition(col, kwargs).fill_null(False)).alias(f"_bad{i}")
        return _Plan([mask], aggregates, lambda row: _map_result(row, i, kwargs))

    return build


def _compound_unique(i: int, kwargs: Mapping[str, Any]) -> _Plan:
    cols = list(kwargs["column_list"])
    # great-expectations' default ignore_row_if="all_values_are_missing"
    present = pl.any_horizontal([pl.col(c).is_not_null() for c in cols])
    # strings as categoricals: hashing the 64-character file hash per row costs twice as much
    key = pl.struct([pl.col(c).cast(pl.Categorical) if c in _STRING_KEYS else pl.col(c) for c in cols])
    # an all-missing row can only equal another all-missing row, so masking them afterwards is exact
    mask = (present & key.is_duplicated()).alias(f"_bad{i}")
    bad = pl.col(f"_bad{i}")
    aggregates = [
        (~present).sum().alias(f"m{i}"),
        bad.sum().alias(f"u{i}"),
        pl.struct(cols).filter(bad).head(PARTIAL_UNEXPECTED).implode().alias(f"p{i}"),
    ]
    return _Plan([mask], aggregates, lambda row: _map_result(row, i, kwargs))


#: Columns of compound keys that are strings in the canonical schema.
_STRING_KEYS = frozenset(name for name, dtype in CANONICAL_COLUMNS.items() if dtype == pl.String())


def _map_result(row: dict[str, Any], i: int, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    n, missing, unexpected = row["n"], row[f"m{i}"], row[f"u{i}"]
    considered = n - missing
    return {
        "success": considered == 0 or _mostly(considered, unexpected, kwargs.get("mostly", 1.0)),
        "element_count": n,
        "unexpected_count": unexpected,
        "unexpected_percent": unexpected / considered * 100 if considered else None,
        "partial_unexpected_list": [json_value(v) for v in row[f"p{i}"]],
        "missing_count": missing,
        "missing_percent": missing / n * 100 if n else None,
        "unexpected_percent_total": unexpected / n * 100 if n else None,
        "unexpected_percent_nonmissing": unexpected / considered * 100 if considered else None,
    }


def _between(col: pl.Expr, kwargs: Mapping[str, Any]) -> pl.Expr:
    inside = pl.lit(True)
    if kwargs.get("min_value") is not None:
        inside &= (col > kwargs["min_value"]) if kwargs.get("strict_min") else (col >= kwargs["min_value"])
    if kwargs.get("max_value") is not None:
        inside &= (col < kwargs["max_value"]) if kwargs.get("strict_max") else (col <= kwargs["max_value"])
    return inside


_POLARS: dict[str, Callable[[int, Mapping[str, Any]], _Plan]] = {
    "expect_column_values_to_not_be_null": _not_null,
    "expect_column_values_to_be_in_set": _map(lambda col, kw: col.is_in(list(kw["value_set"]))),
    "expect_column_values_to_be_between": _map(_between),
    "expect_column_values_to_match_regex": _map(lambda col, kw: col.cast(pl.String).str.contains(kw["regex"])),
    "expect_compound_columns_to_be_unique": _compound_unique,
}


def _mostly(considered: int, unexpected: int, mostly: float) -> bool:
    """great-expectations' rule, float for float (``_mostly_success``)."""
    return (float(considered) - float(unexpected)) / float(considered) >= mostly


def run_suite_gx(suite: Suite, frame: Frame) -> SuiteResult:
    """Evaluate ``suite`` with great-expectations (pandas engine) on ``frame``."""
    import great_expectations as gx

    from expectations.suites import to_gx_suite

    data = frame.lazy().select(suite.columns).collect() if suite.columns else frame.lazy().collect()
    # great-expectations compares only int64/float64 columns vectorized (int32 goes value
    # by value in Python) and hashes whole frames: give it plain 64-bit numbers.
    data = data.with_columns(pl.col(pl.Int32, pl.Int16, pl.Int8).cast(pl.Int64))
    context = gx.get_context(mode="ephemeral")
    batch = (
        context.data_sources.add_pandas("proxyvault")
        .add_dataframe_asset(suite.name)
        .add_batch_definition_whole_dataframe("batch")
        .get_batch(batch_parameters={"dataframe": data.to_pandas()})
    )
    gx_suite = context.suites.add(to_gx_suite(suite))
    ids = [e.id for e in gx_suite.expectations]
    validation = batch.validate(gx_suite, result_format={"result_format": "BASIC", "partial_unexpected_count": PARTIAL_UNEXPECTED})
    by_id = {r.expectation_config.id: r for r in validation.results if r.expectation_config is not None}
    results = []
    for e, gx_id in zip(suite.expectations, ids, strict=True):
        r = by_id[gx_id]
        raised = r.exception_info.get("raised_exception") if isinstance(r.exception_info, dict) else False
        if raised:
            raise RuntimeError(
                f"great-expectations could not evaluate {e.type} on {e.columns}: {r.exception_info.get('exception_message')}"
            )
        result = {k: json_value(v) for k, v in r.result.items()}
        results.append({"expectation_config": e.to_json(), "success": bool(r.success), "result": result})
    return _suite_result(suite, results, {"great_expectations_version": gx.__version__})


def _suite_result(suite: Suite, results: list[dict[str, Any]], meta: dict[str, Any] | None = None) -> SuiteResult:
    failed = [r for r in results if not r["success"]]
    critical_failed = [r for r in failed if r["expectation_config"]["severity"] == "critical"]
    return {
        "suite_name": suite.name,
        "success": not critical_failed,  # info and warning expectations report, they do not fail
        "statistics": {
            "evaluated_expectations": len(results),
            "successful_expectations": len(results) - len(failed),
            "unsuccessful_expectations": len(failed),
            "success_percent": (len(results) - len(failed)) / len(results) * 100 if results else 100.0,
        },
        "results": results,
        "meta": {**dict(suite.meta), **(meta or {})},
    }


def json_value(value: Any) -> Any:
    """A result value as JSON: times in ISO 8601 UTC, NaN as null, structs as objects."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return json_value(value.item())
    if hasattr(value, "isoformat"):  # pandas Timestamp
        return json_value(value.to_pydatetime()) if hasattr(value, "to_pydatetime") else value.isoformat()
    return value


ENGINES: dict[str, Callable[[Suite, Frame], SuiteResult]] = {"polars": run_suite_polars, "great_expectations": run_suite_gx}
