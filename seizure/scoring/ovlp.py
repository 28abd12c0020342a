"""NEDC any-overlap (OVLP) event scoring.

Two events overlap when ``a.stop > b.start and a.start < b.stop`` (strict, no guard band).
A reference seizure is a hit when any hypothesis seizure overlaps it (misses = references -
hits); a hypothesis seizure that overlaps no reference is a false alarm. One long
hypothesis over N references gives N hits and no false alarm. Undefined ratios are 0.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from seizure.events import Event
from seizure.scoring.counts import Counts, prepare


def overlapped(starts: np.ndarray, stops: np.ndarray, other_starts: np.ndarray, other_stops: np.ndarray) -> np.ndarray:
    """For each interval, whether any of the *other* (sorted, disjoint) intervals overlaps it."""
    if other_starts.size == 0:
        return np.zeros(starts.size, dtype=bool)
    j = np.searchsorted(other_stops, starts, side="right")  # first other ending after our start
    inside = j < other_starts.size
    out = np.zeros(starts.size, dtype=bool)
    out[inside] = other_starts[j[inside]] < stops[inside]
    return out


def count(ref: tuple[np.ndarray, np.ndarray], hyp: tuple[np.ndarray, np.ndarray]) -> tuple[int, int]:
    """(hits, false alarms) for prepared reference and hypothesis intervals."""
    hits = int(overlapped(ref[0], ref[1], hyp[0], hyp[1]).sum())
    fas = int((~overlapped(hyp[0], hyp[1], ref[0], ref[1])).sum())
    return hits, fas


def score(ref_events: Iterable[Event], hyp_events: Iterable[Event], duration_s: float) -> Counts:
    """OVLP counts for one recording."""
    ref = prepare(ref_events, duration_s)
    hyp = prepare(hyp_events, duration_s)
    hits, fas = count(ref, hyp)
    n_ref = ref[0].size
    return Counts(hits, n_ref - hits, fas, n_ref, float(duration_s), "nedc")
