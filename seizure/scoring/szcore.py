"""SzCORE scoring with the semantics of the ``timescoring`` package (its reference implementation).

Event scoring (``timescoring.scoring.EventScoring`` with default parameters), exactly:

1. the recording is a 10 Hz mask of ``n10 = round(duration_s * 10)`` samples; an event
   ``[s, e)`` covers samples ``round(10 s) .. round(10 e) - 1`` (Python rounding);
2. events separated by less than 90 s are merged, then events longer than 300 s are split
   into 300 s pieces (the remainder last) -- references and hypotheses alike;
3. each reference piece is extended to ``[max(0, s - 30), min(n10 / 10, e + 60))``; it is
   detected when the hypothesis mask covers more than ``min_overlap`` (0) of it;
4. a hypothesis piece is a false positive when none of its samples lies in the extended
   window of a detected reference (a piece too short to cover a sample counts as one);
5. sensitivity = TP / reference pieces, precision = TP / (TP + FP), F1 = 2TP / (2TP + FP +
   FN), FP rate per 24 h over ``n10 / 10`` seconds; NaN where undefined.

Sample scoring (``SampleScoring``, 1 Hz): ``n1 = round(n10 / 10)`` samples, an event covers
samples ``round(s) .. round(e) - 1``; counts are seconds (TP, FP, reference-positive).

Inputs are first prepared like every scorer's (seizures only, clipped, sorted, merged), so
this equals ``timescoring`` fed those prepared events. All arithmetic is on index arrays:
no per-sample masks, so a day-long recording costs no more than a short one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from seizure.events import Event
from seizure.scoring.counts import Counts, prepare

FS_EVENT_HZ = 10


@dataclass(frozen=True)
class Params:
    """``timescoring.scoring.EventScoring.Parameters`` (defaults = SzCORE's)."""

    tolerance_start_s: float = 30.0
    tolerance_end_s: float = 60.0
    min_overlap: float = 0.0
    max_event_s: float = 300.0
    merge_gap_s: float = 90.0


DEFAULT = Params()


def n_samples(duration_s: float) -> int:
    """Samples of the 10 Hz event mask for a recording."""
    return int(round(duration_s * FS_EVENT_HZ))


def to_index(times: np.ndarray) -> np.ndarray:
    """Sample index of times at 10 Hz, rounded half to even like Python's ``round``."""
    return np.rint(np.asarray(times, dtype=np.float64) * FS_EVENT_HZ).astype(np.int64)


def merge_close(
    starts: np.ndarray, stops: np.ndarray, gap_s: float, groups: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Merge sorted, disjoint events separated by less than ``gap_s`` (timescoring's rule);
    events of different ``groups`` (e.g. DET thresholds) never merge."""
    if starts.size == 0:
        return starts, stops, groups
    new = starts[1:] - stops[:-1] >= gap_s
    if groups is not None:
        new |= groups[1:] != groups[:-1]
    first = np.flatnonzero(np.concatenate(([True], new)))
    last = np.concatenate((first[1:] - 1, [starts.size - 1]))
    return starts[first], stops[last], None if groups is None else groups[first]


def split_long(
    starts: np.ndarray, stops: np.ndarray, max_s: float, groups: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Split events longer than ``max_s`` into ``max_s`` pieces with timescoring's float
    arithmetic (piece starts ``s, s + max, (s + max) + max, ...``); pieces keep the order of
    their events."""
    cur = starts.astype(np.float64, copy=True)
    piece_s, piece_e, piece_of = [], [], []
    active = np.flatnonzero(stops - cur > max_s)
    while active.size:
        piece_s.append(cur[active])
        piece_e.append(cur[active] + max_s)
        piece_of.append(active)
        cur[active] = cur[active] + max_s
        active = active[stops[active] - cur[active] > max_s]
    if not piece_s:
        return starts, stops, groups
    owner = np.concatenate([*piece_of, np.arange(starts.size)])
    order = np.argsort(owner, kind="stable")  # by event, then piece number
    all_s = np.concatenate([*piece_s, cur])[order]
    all_e = np.concatenate([*piece_e, stops])[order]
    return all_s, all_e, None if groups is None else groups[owner[order]]


def pieces(starts: np.ndarray, stops: np.ndarray, params: Params = DEFAULT) -> tuple[np.ndarray, np.ndarray]:
    """Events after timescoring's merge (< 90 s apart) and split (> 300 s long)."""
    starts, stops, _ = merge_close(starts, stops, params.merge_gap_s)
    starts, stops, _ = split_long(starts, stops, params.max_event_s)
    return starts, stops


@dataclass(frozen=True)
class RefWindows:
    """The reference side of event scoring, independent of the hypothesis."""

    n10: int
    lo: np.ndarray  # extended window, first sample (clipped to [0, n10])
    hi: np.ndarray  # extended window, end sample (exclusive, clipped)
    length_s: np.ndarray  # extended window length in seconds (float, as timescoring divides)

    @property
    def n_ref(self) -> int:
        return int(self.lo.size)


def ref_windows(ref: tuple[np.ndarray, np.ndarray], duration_s: float, params: Params = DEFAULT) -> RefWindows:
    """Extended windows of the reference pieces of one recording."""
    n10 = n_samples(duration_s)
    starts, stops = pieces(ref[0], ref[1], params)
    file_s = n10 / FS_EVENT_HZ
    ext_s = np.maximum(0.0, starts - params.tolerance_start_s)
    ext_e = np.minimum(file_s, stops + params.tolerance_end_s)
    lo = np.clip(to_index(ext_s), 0, n10)
    hi = np.clip(to_index(ext_e), 0, n10)
    return RefWindows(n10, lo, hi, ext_e - ext_s)


def _union(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Union of index intervals sorted by start (empty ones ignored)."""
    keep = hi > lo
    lo, hi = lo[keep], hi[keep]
    if lo.size == 0:
        return lo, hi
    hi = np.maximum.accumulate(hi)
    new = np.concatenate(([True], lo[1:] > hi[:-1]))
    first = np.flatnonzero(new)
    last = np.concatenate((first[1:] - 1, [lo.size - 1]))
    return lo[first], hi[last]


def covered(union: tuple[np.ndarray, np.ndarray], x: np.ndarray) -> np.ndarray:
    """Number of samples of a (sorted, disjoint) union below each index ``x``."""
    lo, hi = union
    if lo.size == 0:
        return np.zeros(np.shape(x), dtype=np.int64)
    cum = np.concatenate(([0], np.cumsum(hi - lo)))
    j = np.searchsorted(lo, x, side="right") - 1
    jj = np.maximum(j, 0)
    inside = np.minimum(x, hi[jj]) - lo[jj]
    return np.where(j >= 0, cum[jj] + inside, 0)


def tp_fp(
    win_lo: np.ndarray, win_hi: np.ndarray, win_len_s: np.ndarray,
    hyp_lo: np.ndarray, hyp_hi: np.ndarray, min_overlap: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Per reference window: detected?  Per hypothesis piece: false positive?

    All indices already clipped to their recording (and, in the DET sweep, offset so that
    several recordings or thresholds lie side by side without touching).
    """
    n_win = win_lo.size
    below = covered(_union(hyp_lo, hyp_hi), np.concatenate((win_hi, win_lo)))
    hits = below[:n_win] - below[n_win:]
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = (hits / FS_EVENT_HZ) / win_len_s
    detected = relative > min_overlap + 1e-6
    below = covered(_union(win_lo[detected], win_hi[detected]), np.concatenate((hyp_hi, hyp_lo)))
    touched = below[: hyp_lo.size] - below[hyp_lo.size :]
    false_pos = (hyp_hi <= hyp_lo) | (touched == 0)
    return detected, false_pos


def hyp_index(hyp: tuple[np.ndarray, np.ndarray], n10: int, params: Params = DEFAULT) -> tuple[np.ndarray, np.ndarray]:
    """Hypothesis pieces as clipped 10 Hz index intervals."""
    starts, stops = pieces(hyp[0], hyp[1], params)
    return np.minimum(to_index(starts), n10), np.minimum(to_index(stops), n10)


def score(ref_events: Iterable[Event], hyp_events: Iterable[Event], duration_s: float, params: Params = DEFAULT) -> Counts:
    """SzCORE event-scoring counts for one recording."""
    ref = prepare(ref_events, duration_s)
    hyp = prepare(hyp_events, duration_s)
    win = ref_windows(ref, duration_s, params)
    h_lo, h_hi = hyp_index(hyp, win.n10, params)
    detected, false_pos = tp_fp(win.lo, win.hi, win.length_s, h_lo, h_hi, params.min_overlap)
    tp = int(detected.sum())
    return Counts(tp, win.n_ref - tp, int(false_pos.sum()), win.n_ref, win.n10 / FS_EVENT_HZ, "szcore")


def score_samples(ref_events: Iterable[Event], hyp_events: Iterable[Event], duration_s: float) -> Counts:
    """SzCORE 1 Hz sample-scoring counts (seconds) for one recording."""
    n1 = int(round(n_samples(duration_s) / FS_EVENT_HZ))
    ref = prepare(ref_events, duration_s)
    hyp = prepare(hyp_events, duration_s)
    r = _union(np.clip(np.rint(ref[0]), 0, n1).astype(np.int64), np.clip(np.rint(ref[1]), 0, n1).astype(np.int64))
    h = _union(np.clip(np.rint(hyp[0]), 0, n1).astype(np.int64), np.clip(np.rint(hyp[1]), 0, n1).astype(np.int64))
    ref_true = int((r[1] - r[0]).sum())
    below = covered(r, np.concatenate((h[1], h[0])))
    tp = int((below[: h[0].size] - below[h[0].size :]).sum())
    fp = int((h[1] - h[0]).sum()) - tp
    return Counts(tp, ref_true - tp, fp, ref_true, float(n1), "szcore")
