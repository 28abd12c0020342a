"""Per-second seizure probabilities -> seizure events.

One operating point (:class:`OperatingPoint`) says how: a centred moving average over
``smooth_s`` seconds, a threshold (second ``k`` is positive when its smoothed probability
is ``>= threshold``; it covers ``[k, k + 1)`` s), merging of events separated by gaps
shorter than ``merge_gap_s``, then dropping events shorter than ``min_duration_s``. Each
event's confidence is the mean of the input (unsmoothed) probabilities over its seconds,
merged gaps included. The DET sweep (:mod:`seizure.scoring.det`) uses the same helpers, so
a point on the curve is exactly what :func:`probs_to_events` gives at that threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from seizure.errors import ConfigError
from seizure.events import Event


@dataclass(frozen=True)
class OperatingPoint:
    """How probabilities become events (a TOML table ``[postprocess]``)."""

    threshold: float = 0.5
    smooth_s: float = 0.0
    min_duration_s: float = 0.0
    merge_gap_s: float = 0.0

    def __post_init__(self) -> None:
        rules = {
            "threshold": (lambda v: 0.0 <= v <= 1.0, "a number in [0, 1]"),
            "smooth_s": (lambda v: v >= 0.0, "a number of seconds >= 0"),
            "min_duration_s": (lambda v: v >= 0.0, "a number of seconds >= 0"),
            "merge_gap_s": (lambda v: v >= 0.0, "a number of seconds >= 0"),
        }
        for name, (ok, allowed) in rules.items():
            value = getattr(self, name)
            number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            if not number or not ok(value):
                raise ConfigError(f"postprocess.{name} must be {allowed}, got {value!r}")


def check_probs(probs_per_s: np.ndarray, name: str = "probs_per_s") -> np.ndarray:
    """A 1-D float64 copy of ``probs_per_s``; raises ``ValueError`` unless finite and in [0, 1]."""
    arr = np.asarray(probs_per_s, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one probability per second), got shape {arr.shape}")
    if arr.size and (not np.all(np.isfinite(arr)) or arr.min() < 0.0 or arr.max() > 1.0):
        raise ValueError(f"{name} must hold finite probabilities in [0, 1]")
    return arr


def smooth(probs: np.ndarray, smooth_s: float) -> np.ndarray:
    """Centred moving average over ``round(smooth_s)`` seconds (window 1 or less: unchanged).

    Second ``k`` averages ``[k - (w-1)//2, k + w//2]``; at the edges only the seconds that
    exist count, so the ends are not pulled towards zero.
    """
    width = int(round(smooth_s))
    if width <= 1 or probs.size == 0:
        return probs
    lo = np.arange(probs.size) - (width - 1) // 2
    hi = np.arange(probs.size) + width // 2 + 1
    lo = np.clip(lo, 0, probs.size)
    hi = np.clip(hi, 0, probs.size)
    csum = np.concatenate(([0.0], np.cumsum(probs)))
    return (csum[hi] - csum[lo]) / (hi - lo)


def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and stop indices (stop exclusive) of the runs of True in a 1-D mask."""
    padded = np.concatenate(([False], mask, [False]))
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return edges[0::2], edges[1::2]


def merge_and_filter(
    starts: np.ndarray, stops: np.ndarray, merge_gap_s: float, min_duration_s: float,
    groups: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Merge sorted, disjoint intervals separated by less than ``merge_gap_s`` (never across
    different ``groups``, e.g. DET thresholds); then drop those shorter than ``min_duration_s``."""
    if starts.size and merge_gap_s > 0:
        new = starts[1:] - stops[:-1] >= merge_gap_s
        if groups is not None:
            new |= groups[1:] != groups[:-1]
        first = np.flatnonzero(np.concatenate(([True], new)))
        last = np.concatenate((first[1:] - 1, [starts.size - 1]))
        starts, stops = starts[first], stops[last]
        groups = None if groups is None else groups[first]
    if min_duration_s > 0:
        keep = stops - starts >= min_duration_s
        starts, stops = starts[keep], stops[keep]
        groups = None if groups is None else groups[keep]
    return starts, stops, groups


def probs_to_events(probs_per_s: np.ndarray, op: OperatingPoint) -> list[Event]:
    """Seizure events (``seiz``, whole head) from per-second probabilities at ``op``."""
    probs = check_probs(probs_per_s)
    starts, stops = runs(smooth(probs, op.smooth_s) >= op.threshold)
    starts, stops, _ = merge_and_filter(starts, stops, op.merge_gap_s, op.min_duration_s)
    if starts.size == 0:
        return []
    csum = np.concatenate(([0.0], np.cumsum(probs)))
    conf = (csum[stops] - csum[starts]) / (stops - starts)
    return [
        Event(float(s), float(e), "seiz", float(c), "TERM")
        for s, e, c in zip(starts.tolist(), stops.tolist(), np.clip(conf, 0.0, 1.0).tolist())
    ]
