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


@pytest.fixture(scope="session")
def train_store(tmp_path_factory):
    """The training tests' tiny store (:func:`feature_stores.make_store`), built once per session."""
    from feature_stores import make_store

    return make_store(tmp_path_factory.mktemp("train_store"))


@pytest.fixture(scope="session")
def study_store(tmp_path_factory):
    """The study tests' tiny store: train 3 patients, dev 1, eval 2, every recording whole."""
    from feature_stores import make_store

    return make_store(tmp_path_factory.mktemp("study_store"), splits=(("train", 3), ("dev", 1), ("eval", 2)),
                      varied=False)
