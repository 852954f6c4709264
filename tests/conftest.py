"""Test tiers are folders: tests/unit, tests/integration, tests/conformance get their marker here."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from proxyvault.airflow_local import airflow_env

# Airflow reads its settings once, when first imported: point every test at a throwaway
# AIRFLOW_HOME (SQLite) before any test module can import it, never at ~/airflow.
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="proxyvault-test-airflow-"))
os.environ.update(airflow_env(_AIRFLOW_HOME))
for _name in [n for n in os.environ if n == "PROXYVAULT_CONFIG" or n.startswith("PROXYVAULT__")]:
    del os.environ[_name]  # the developer's own config must not leak into tests
atexit.register(shutil.rmtree, _AIRFLOW_HOME, ignore_errors=True)

TESTS = Path(__file__).parent
REPO = TESTS.parent
#: Third-party logs and other parsers' expected output, read in place, never copied here.
CORPUS = Path(os.environ.get("PROXYVAULT_CORPUS", REPO.parent / "shared" / "corpus"))

_TIERS = {"unit": pytest.mark.unit, "integration": pytest.mark.integration, "conformance": pytest.mark.conformance}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).relative_to(REPO).parts
        if len(parts) > 1 and parts[0] == "tests" and parts[1] in _TIERS:
            item.add_marker(_TIERS[parts[1]])
        elif parts[0] != "tests":  # doctests in the packages are unit tests
            item.add_marker(pytest.mark.unit)


@pytest.fixture(scope="session")
def airflow_dags() -> dict[str, object]:
    """The repository's DAGs, parsed, with the test AIRFLOW_HOME's metadata migrated (once per session, ~15 s)."""
    from proxyvault.airflow_local import load_dags, migrate

    migrate(airflow_env(_AIRFLOW_HOME))
    return load_dags()
