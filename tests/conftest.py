"""Test tiers are folders: tests/unit, tests/integration, tests/conformance get their marker here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
