"""Where the conformance test leaves its agreement table for the terminal summary."""

from __future__ import annotations

import pytest

#: The rendered agreement table (Markdown), set by ``test_corpus.py``.
SUMMARY_KEY = pytest.StashKey[str]()
