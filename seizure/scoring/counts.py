"""What every scorer returns (:class:`Counts`) and how events are prepared for scoring.

Two traditions for undefined ratios: NEDC reports 0 (its ``compute_performance`` guards
every division), SzCORE reports NaN (the ``timescoring`` package). Rates are per 24 h of
recording: ``false_alarms * fa_scale * 86400 / duration_s``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from seizure.events import Event

SECONDS_PER_DAY = 86400.0
TRADITIONS = ("nedc", "szcore")


@dataclass(frozen=True)
class Counts:
    """Counts of one scoring method over one recording or a pool of them.

    ``hits``, ``misses`` and ``false_alarms`` are floats (TAES counts fractions);
    ``n_ref`` is the number of reference units (events; epochs or samples for the epoch and
    sample methods) so ``hits + misses == n_ref``. ``duration_s`` is the scored duration.
    ``fa_scale`` turns a false-alarm count into what the rate counts: 1 for events, the
    epoch length (0.25 s) for NEDC epoch scoring, whose "FA/24h" is false-alarm time.
    """

    hits: float
    misses: float
    false_alarms: float
    n_ref: float
    duration_s: float
    tradition: str = "nedc"
    fa_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.tradition not in TRADITIONS:
            raise ValueError(f"tradition must be one of {list(TRADITIONS)}, got {self.tradition!r}")

    def _undefined(self) -> float:
        return 0.0 if self.tradition == "nedc" else math.nan

    @property
    def sensitivity(self) -> float:
        return self.hits / self.n_ref if self.n_ref > 0 else self._undefined()

    @property
    def precision(self) -> float:
        denom = self.hits + self.false_alarms
        return self.hits / denom if denom > 0 else self._undefined()

    @property
    def f1(self) -> float:
        if self.tradition == "szcore":  # timescoring: 2TP / (2TP + FP + FN), NaN without any event
            if self.n_ref + self.false_alarms == 0:
                return math.nan
            return 2 * self.hits / (2 * self.hits + self.false_alarms + (self.n_ref - self.hits))
        p, r = self.precision, self.sensitivity
        return 2 * p * r / (p + r) if p + r > 0 else 0.0

    @property
    def fa_per_24h(self) -> float:
        if self.duration_s <= 0:
            return self._undefined()
        return self.false_alarms * self.fa_scale * SECONDS_PER_DAY / self.duration_s

    def __add__(self, other: Counts) -> Counts:
        if (self.tradition, self.fa_scale) != (other.tradition, other.fa_scale):
            raise ValueError("cannot pool counts of different scoring methods")
        return Counts(
            self.hits + other.hits, self.misses + other.misses, self.false_alarms + other.false_alarms,
            self.n_ref + other.n_ref, self.duration_s + other.duration_s, self.tradition, self.fa_scale,
        )

    def measures(self) -> dict[str, float]:
        """Sensitivity, precision, F1 and FA/24h plus the counts (NaN stays NaN)."""
        return {
            "sensitivity": self.sensitivity, "precision": self.precision, "f1": self.f1,
            "fa_per_24h": self.fa_per_24h, "hits": self.hits, "misses": self.misses,
            "false_alarms": self.false_alarms, "n_ref": self.n_ref, "duration_s": self.duration_s,
        }


def pool(counts: Iterable[Counts]) -> Counts | None:
    """Sum counts (NEDC pooling); ``None`` for an empty iterable."""
    total = None
    for c in counts:
        total = c if total is None else total + c
    return total


def prepare(events: Iterable[Event], duration_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Seizure intervals ready to score: seizure labels only, clipped to ``[0, duration_s]``,
    sorted, overlapping or touching ones merged, empty ones dropped (float64 arrays)."""
    if not (math.isfinite(duration_s) and duration_s > 0):
        raise ValueError(f"duration_s must be a positive number of seconds, got {duration_s!r}")
    pairs = sorted(
        (max(e.start_s, 0.0), min(e.stop_s, duration_s)) for e in events if e.is_seizure
    )
    return merge_intervals([p for p in pairs if p[1] > p[0]])


def merge_intervals(pairs: Sequence[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    """Merge sorted (start, stop) pairs that overlap or touch."""
    if not pairs:
        return np.zeros(0), np.zeros(0)
    arr = np.asarray(pairs, dtype=np.float64)
    starts, stops = arr[:, 0], np.maximum.accumulate(arr[:, 1])
    new = np.concatenate(([True], starts[1:] > stops[:-1]))
    first = np.flatnonzero(new)
    last = np.concatenate((first[1:] - 1, [len(arr) - 1]))
    return starts[first], stops[last]
