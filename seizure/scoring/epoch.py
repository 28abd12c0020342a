"""NEDC epoch scoring: both timelines sampled at the midpoints of 0.25 s epochs.

Samples are at ``t_k = 0.125 + 0.25 k`` for every ``t_k <= duration_s`` (NEDC samples up
to and including the end). A sample is seizure when ``start <= t_k <= stop`` for some
seizure event (NEDC's inclusive test). Counts are epochs of the seiz/bckg confusion
matrix: hits = seizure in both, misses = reference only, false alarms = hypothesis only,
``n_ref`` = reference seizure epochs. NEDC's "FA per 24 h" for this method is
false-alarm *time* per day: false-alarm epochs x 0.25 s x 86400 / duration
(``fa_scale = 0.25``). Undefined ratios are 0.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from seizure.events import Event
from seizure.scoring.counts import Counts, prepare

EPOCH_S = 0.25


def n_epochs(duration_s: float, epoch_s: float = EPOCH_S) -> int:
    """Number of epoch midpoints ``epoch_s/2 + k*epoch_s`` at or before ``duration_s``."""
    return int(np.floor((duration_s - epoch_s / 2) / epoch_s)) + 1 if duration_s >= epoch_s / 2 else 0


def _count(lo: np.ndarray, hi: np.ndarray, n: int, epoch_s: float = EPOCH_S) -> int:
    """Midpoints inside the closed intervals ``[lo, hi]`` (exact: the grid is binary)."""
    k_lo = np.maximum(np.ceil((lo - epoch_s / 2) / epoch_s), 0)
    k_hi = np.minimum(np.floor((hi - epoch_s / 2) / epoch_s), n - 1)
    return int(np.maximum(k_hi - k_lo + 1, 0).sum())


def _intersections(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Closed intersections of two sorted, disjoint interval lists."""
    first = np.searchsorted(b[1], a[0], side="left")  # b ending at or after a's start
    last = np.searchsorted(b[0], a[1], side="right")  # b starting at or before a's end
    n = np.maximum(last - first, 0)
    ia = np.repeat(np.arange(a[0].size), n)
    ib = np.repeat(first, n) + np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    return np.maximum(a[0][ia], b[0][ib]), np.minimum(a[1][ia], b[1][ib])


def score(ref_events: Iterable[Event], hyp_events: Iterable[Event], duration_s: float) -> Counts:
    """Epoch counts for one recording (counted on the intervals, no per-epoch arrays)."""
    n = n_epochs(duration_s)
    ref = prepare(ref_events, duration_s)
    hyp = prepare(hyp_events, duration_s)
    n_ref = _count(ref[0], ref[1], n)
    hits = _count(*_intersections(ref, hyp), n)
    fas = _count(hyp[0], hyp[1], n) - hits
    return Counts(hits, n_ref - hits, fas, n_ref, float(duration_s), "nedc", EPOCH_S)
