"""Shared fixtures and paths for the test suite."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Real EDF headers with white-noise signals from public epilepsy datasets (TUSZ, CHB-MIT,
# Siena, SeizeIT; via epilepsy2bids, MIT licence): see tests/fixtures/real-headers/README.md.
REAL_HEADERS = ROOT / "tests" / "fixtures" / "real-headers"


@pytest.fixture(scope="session")
def real_headers() -> Path:
    assert REAL_HEADERS.is_dir(), f"test fixtures missing: {REAL_HEADERS}"
    return REAL_HEADERS
