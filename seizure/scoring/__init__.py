"""Scoring: NEDC OVLP, TAES and epoch scoring, SzCORE event and sample scoring, DET sweeps.

Each method module has ``score(ref_events, hyp_events, duration_s) -> Counts``; the
registry :data:`METHODS` maps the report's method names to them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from seizure.events import Event
from seizure.scoring import epoch, ovlp, szcore, taes
from seizure.scoring.counts import Counts, pool, prepare

METHODS: dict[str, Callable[[Iterable[Event], Iterable[Event], float], Counts]] = {
    "ovlp": ovlp.score,
    "taes": taes.score,
    "epoch": epoch.score,
    "szcore": szcore.score,
    "szcore_sample": szcore.score_samples,
}


def score(method: str, ref_events: Iterable[Event], hyp_events: Iterable[Event], duration_s: float) -> Counts:
    """Score one recording with the named method."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    return METHODS[method](list(ref_events), list(hyp_events), duration_s)


__all__ = ["METHODS", "Counts", "pool", "prepare", "score"]
