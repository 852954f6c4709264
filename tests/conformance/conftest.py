"""Print the conformance agreement table at the end of the run (also without ``-s``)."""

from __future__ import annotations

import pytest

from tests.conformance.summary import SUMMARY_KEY


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    table = config.stash.get(SUMMARY_KEY, None)
    if table:
        terminalreporter.section("Conformance: agreement with other parsers")
        terminalreporter.write_line(table)
