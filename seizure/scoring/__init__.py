"""Scoring: NEDC OVLP, TAES and epoch scoring, SzCORE event and sample scoring, DET sweeps.

Each method module has ``score(ref_events, hyp_events, duration_s) -> Counts``. The one
table of methods, :data:`METHOD_TABLE`, says for each name its function, its tradition
(``nedc`` or ``szcore``) and whether the DET sweep draws it; :data:`METHODS`,
:data:`NEDC_METHODS`, :data:`SZCORE_METHODS` and :data:`DET_METHODS` derive from it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from seizure.events import Event
from seizure.registry import pick
from seizure.scoring import epoch, ovlp, szcore, taes
from seizure.scoring.counts import Counts, pool, prepare



@dataclass(frozen=True)
class Method:
    name: str
    score: Callable[[Iterable[Event], Iterable[Event], float], Counts]
    tradition: str   # "nedc" | "szcore"
    det: bool        # drawn by the DET sweep (seizure.scoring.det)


METHOD_TABLE: tuple[Method, ...] = (
    Method("ovlp", ovlp.score, "nedc", det=True),
    Method("taes", taes.score, "nedc", det=False),
    Method("epoch", epoch.score, "nedc", det=False),
    Method("szcore", szcore.score, "szcore", det=True),
    Method("szcore_sample", szcore.score_samples, "szcore", det=False),
)
METHODS: dict[str, Callable[[Iterable[Event], Iterable[Event], float], Counts]] = {
    m.name: m.score for m in METHOD_TABLE}
NEDC_METHODS: tuple[str, ...] = tuple(m.name for m in METHOD_TABLE if m.tradition == "nedc")
SZCORE_METHODS: tuple[str, ...] = tuple(m.name for m in METHOD_TABLE if m.tradition == "szcore")
DET_METHODS: tuple[str, ...] = tuple(m.name for m in METHOD_TABLE if m.det)


def score(method: str, ref_events: Iterable[Event], hyp_events: Iterable[Event], duration_s: float) -> Counts:
    """Score one recording with the named method."""
    return pick(METHODS, method, "scoring method")(list(ref_events), list(hyp_events), duration_s)


__all__ = ["DET_METHODS", "METHODS", "METHOD_TABLE", "NEDC_METHODS", "SZCORE_METHODS", "Counts", "Method", "pool",
           "prepare", "score"]
