"""Counts of what the security suite checked, printed at the end of the run.

Tests add to ``security_counts`` (fuzz cases run, matrix cells checked, hostile cases); the
terminal summary prints the totals so a CI log shows how much was actually exercised.
"""

from __future__ import annotations

from collections import Counter

import pytest

COUNTS: Counter[str] = Counter()


@pytest.fixture
def security_counts() -> Counter[str]:
    return COUNTS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if COUNTS:
        terminalreporter.section("security counts")
        for name, count in sorted(COUNTS.items()):
            terminalreporter.write_line(f"{name}: {count}")
