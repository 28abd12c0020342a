"""Shared fixtures and paths for the test suite."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Real EDF headers with white-noise signals (see their README). Searched beside the
# checkout (developer layout) and inside it (CI layout may copy shared/ in).
_CANDIDATES = [ROOT.parent / "shared" / "fixtures" / "real-headers", ROOT / "shared" / "fixtures" / "real-headers"]
REAL_HEADERS = next((p for p in _CANDIDATES if p.is_dir()), _CANDIDATES[0])


@pytest.fixture(scope="session")
def real_headers() -> Path:
    if not REAL_HEADERS.is_dir():
        pytest.skip(f"real-header fixtures not found at {REAL_HEADERS}")
    return REAL_HEADERS
