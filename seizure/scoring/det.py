"""DET sweep: sensitivity against false alarms per 24 h as the detection threshold varies.

:func:`sweep` turns per-second probabilities into events at every threshold exactly as
:func:`seizure.postprocess.probs_to_events` does (smoothing once per recording) and scores
them with OVLP (NEDC, pooled over recordings) and SzCORE event scoring (pooled, and the
per-subject mean when ``subjects`` are given) -- the same counts as calling the scorers
threshold by threshold, but vectorised over thresholds: all thresholds of a recording are
laid side by side on one integer axis (times replaced by their exact ranks for OVLP, by
10 Hz sample indices for SzCORE), so no comparison or rounding changes.

:func:`operating_point` picks the threshold for a false-alarm budget;
:func:`operating_points` reads sensitivity at 1, 2, 6, 10 FA/24h *at achieved points* (no
interpolation: the best sensitivity among thresholds whose FA/24h is at or below the
target); :func:`plot_det` draws several systems on one log-FA plot with the paper's point
(6 FA/24h) marked.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seizure.events import Event
from seizure.postprocess import OperatingPoint, check_probs, merge_and_filter, smooth
from seizure.registry import pick
from seizure.scoring import DET_METHODS, szcore
from seizure.scoring.counts import SECONDS_PER_DAY, prepare

log = logging.getLogger(__name__)

PAPER_FA_PER_24H = 6.0


@dataclass
class MethodCurve:
    """One scoring method along the thresholds (arrays of the thresholds' length)."""

    sensitivity: np.ndarray
    precision: np.ndarray
    f1: np.ndarray
    fa_per_24h: np.ndarray
    hits: np.ndarray | None = None
    false_alarms: np.ndarray | None = None
    n_ref: float = 0.0
    duration_s: float = 0.0
    tradition: str = "nedc"

    def to_dict(self) -> dict:
        out = {k: _json_list(getattr(self, k)) for k in ("sensitivity", "precision", "f1", "fa_per_24h")}
        if self.hits is not None:
            out["hits"] = _json_list(self.hits)
            out["false_alarms"] = _json_list(self.false_alarms)
        out.update(n_ref=self.n_ref, duration_s=self.duration_s, tradition=self.tradition)
        return out


@dataclass
class DetCurve:
    """A threshold sweep: ``thresholds`` and one :class:`MethodCurve` per method."""

    thresholds: np.ndarray
    ovlp: MethodCurve
    szcore: MethodCurve
    szcore_subject_mean: MethodCurve | None = None
    smooth_s: float = 0.0
    min_duration_s: float = 0.0
    merge_gap_s: float = 0.0
    n_recordings: int = 0
    duration_s: float = 0.0

    def method(self, name: str) -> MethodCurve:
        """The curve of ``name`` (``ovlp``, ``szcore`` or ``szcore_subject_mean``)."""
        valid = {"ovlp": self.ovlp, "szcore": self.szcore}
        if self.szcore_subject_mean is not None:
            valid["szcore_subject_mean"] = self.szcore_subject_mean
        return pick(valid, name, "DET method")

    def to_dict(self) -> dict:
        out = {
            "thresholds": _json_list(self.thresholds),
            "postprocess": {"smooth_s": self.smooth_s, "min_duration_s": self.min_duration_s,
                            "merge_gap_s": self.merge_gap_s},
            "n_recordings": self.n_recordings, "duration_s": self.duration_s,
            "ovlp": self.ovlp.to_dict(), "szcore": self.szcore.to_dict(),
        }
        if self.szcore_subject_mean is not None:
            out["szcore_subject_mean"] = self.szcore_subject_mean.to_dict()
        return out


def _json_list(arr: np.ndarray | None) -> list | None:
    if arr is None:
        return None
    return [None if isinstance(v, float) and math.isnan(v) else v for v in np.asarray(arr, dtype=float).tolist()]


HIGH_THRESHOLDS = (0.997, 0.998, 0.999, 0.9995, 0.9998, 0.9999)  # a confident model's low-FA end


def default_thresholds(n: int = 100) -> np.ndarray:
    """``n`` thresholds evenly inside (0, 1), ``(k + 0.5) / n``, then :data:`HIGH_THRESHOLDS`
    above the last of them: a well-trained model puts much of its output above 0.995, and
    the curve's low false-alarm end lies there."""
    even = (np.arange(n) + 0.5) / n
    return np.concatenate([even, [t for t in HIGH_THRESHOLDS if t > even[-1]]])


def _measures(hits: np.ndarray, fas: np.ndarray, n_ref: float, duration_s: float, tradition: str) -> dict[str, np.ndarray]:
    """Vectorised :class:`~seizure.scoring.counts.Counts` ratios (same formulas, same 0/NaN)."""
    hits = np.asarray(hits, dtype=np.float64)
    fas = np.asarray(fas, dtype=np.float64)
    undefined = 0.0 if tradition == "nedc" else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        sens = hits / n_ref if n_ref > 0 else np.full(hits.shape, undefined)
        prec = np.where(hits + fas > 0, hits / (hits + fas), undefined)
        if tradition == "szcore":
            f1 = np.where(n_ref + fas == 0, np.nan, 2 * hits / (2 * hits + fas + (n_ref - hits)))
        else:
            f1 = np.where(prec + sens > 0, 2 * prec * sens / (prec + sens), 0.0)
        fa = fas * SECONDS_PER_DAY / duration_s if duration_s > 0 else np.full(hits.shape, undefined)
    return {"sensitivity": sens, "precision": prec, "f1": f1, "fa_per_24h": fa}


def _threshold_events(p: np.ndarray, thresholds: np.ndarray, duration_s: float, merge_gap_s: float,
                      min_duration_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(threshold index, start, stop) of every event at every threshold, sorted, clipped."""
    mask = p[None, :] >= thresholds[:, None]
    padded = np.zeros((thresholds.size, p.size + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    edges = np.diff(padded, axis=1)
    rows, cols = np.nonzero(edges)
    rising = edges[rows, cols] > 0  # per row: rise, fall, rise, fall, ...
    starts, stops, t_idx = merge_and_filter(
        cols[rising].astype(np.float64), cols[~rising].astype(np.float64), merge_gap_s, min_duration_s, rows[rising]
    )
    stops = np.minimum(stops, duration_s)  # scorers clip to the recording
    keep = stops > starts
    return t_idx[keep], starts[keep], stops[keep]


def _ovlp_counts(ref: tuple[np.ndarray, np.ndarray], t_idx, hs, he, n_thr: int) -> tuple[np.ndarray, np.ndarray]:
    """OVLP hits and false alarms per threshold, on exact integer ranks."""
    rs, re = ref
    values = np.unique(np.concatenate((rs, re, hs, he)))
    block = values.size + 1
    r_s = np.searchsorted(values, rs)
    r_e = np.searchsorted(values, re)
    h_s = np.searchsorted(values, hs) + t_idx * block
    h_e = np.searchsorted(values, he) + t_idx * block
    offsets = (np.arange(n_thr) * block)[:, None]
    q_s = (r_s[None, :] + offsets).ravel()  # references repeated for every threshold
    q_e = (r_e[None, :] + offsets).ravel()
    hits = np.zeros(n_thr)
    if h_s.size and q_s.size:
        j = np.searchsorted(h_e, q_s, side="right")
        ok = j < h_s.size
        hit = np.zeros(q_s.size, dtype=bool)
        hit[ok] = h_s[j[ok]] < q_e[ok]
        hits = hit.reshape(n_thr, -1).sum(axis=1).astype(np.float64)
    overlapped = np.zeros(h_s.size, dtype=bool)
    if h_s.size and q_s.size:
        k = np.searchsorted(q_e, h_s, side="right")
        ok = k < q_s.size
        overlapped[ok] = q_s[k[ok]] < h_e[ok]
    fas = np.bincount(t_idx[~overlapped], minlength=n_thr).astype(np.float64)
    return hits, fas


def _szcore_counts(win: szcore.RefWindows, t_idx, hs, he, n_thr: int) -> tuple[np.ndarray, np.ndarray]:
    """SzCORE true and false positives per threshold (timescoring semantics)."""
    params = szcore.DEFAULT
    starts, stops, groups = szcore.merge_close(hs, he, params.merge_gap_s, t_idx)
    starts, stops, groups = szcore.split_long(starts, stops, params.max_event_s, groups)
    block = win.n10 + 1
    h_lo = np.minimum(szcore.to_index(starts), win.n10) + groups * block
    h_hi = np.minimum(szcore.to_index(stops), win.n10) + groups * block
    offsets = (np.arange(n_thr) * block)[:, None]
    w_lo = (win.lo[None, :] + offsets).ravel()
    w_hi = (win.hi[None, :] + offsets).ravel()
    w_len = np.tile(win.length_s, n_thr)
    detected, false_pos = szcore.tp_fp(w_lo, w_hi, w_len, h_lo, h_hi, params.min_overlap)
    tp = detected.reshape(n_thr, -1).sum(axis=1).astype(np.float64) if win.n_ref else np.zeros(n_thr)
    fp = np.bincount(groups[false_pos], minlength=n_thr).astype(np.float64)
    return tp, fp


def sweep(
    probs: list[np.ndarray],
    refs: list[list[Event]],
    durations_s: list[float],
    *,
    smooth_s: float = 0.0,
    min_duration_s: float = 0.0,
    merge_gap_s: float = 0.0,
    thresholds: np.ndarray | Sequence[float] | None = None,
    subjects: list[str] | None = None,
) -> DetCurve:
    """Sweep the threshold over recordings (per-second ``probs``, reference events, durations).

    Returns OVLP and SzCORE curves pooled over recordings, and the SzCORE per-subject mean
    when ``subjects`` (one id per recording) is given.
    """
    OperatingPoint(0.5, smooth_s, min_duration_s, merge_gap_s)  # validates the parameters
    thr = default_thresholds() if thresholds is None else np.asarray(thresholds, dtype=np.float64)
    if thr.ndim != 1 or thr.size == 0 or np.any(~np.isfinite(thr)) or np.any((thr < 0) | (thr > 1)):
        raise ValueError("thresholds must be a non-empty 1-D sequence of numbers in [0, 1]")
    if not (len(probs) == len(refs) == len(durations_s)):
        raise ValueError(
            f"probs, refs and durations_s must have one entry per recording, got {len(probs)}, {len(refs)}, {len(durations_s)}"
        )
    if subjects is not None and len(subjects) != len(probs):
        raise ValueError(f"subjects must have one id per recording, got {len(subjects)} for {len(probs)}")
    n_thr = thr.size
    ov_hits, ov_fas = np.zeros(n_thr), np.zeros(n_thr)
    sz_tp, sz_fp = np.zeros(n_thr), np.zeros(n_thr)
    ov_ref = sz_ref = total_s = sz_total_s = 0.0
    per_subject: dict[str, list] = {}
    for i, (p, ref_events, duration) in enumerate(zip(probs, refs, durations_s)):
        p = smooth(check_probs(p, f"probs[{i}]"), smooth_s)
        ref = prepare(ref_events, float(duration))
        t_idx, hs, he = _threshold_events(p, thr, float(duration), merge_gap_s, min_duration_s)
        hits, fas = _ovlp_counts(ref, t_idx, hs, he, n_thr)
        win = szcore.ref_windows(ref, float(duration))
        tp, fp = _szcore_counts(win, t_idx, hs, he, n_thr)
        ov_hits += hits
        ov_fas += fas
        sz_tp += tp
        sz_fp += fp
        ov_ref += ref[0].size
        sz_ref += win.n_ref
        total_s += float(duration)
        sz_total_s += win.n10 / szcore.FS_EVENT_HZ
        if subjects is not None:
            acc = per_subject.setdefault(subjects[i], [np.zeros(n_thr), np.zeros(n_thr), 0.0, 0.0])
            acc[0] += tp
            acc[1] += fp
            acc[2] += win.n_ref
            acc[3] += win.n10 / szcore.FS_EVENT_HZ
    ovlp = MethodCurve(**_measures(ov_hits, ov_fas, ov_ref, total_s, "nedc"), hits=ov_hits,
                       false_alarms=ov_fas, n_ref=ov_ref, duration_s=total_s, tradition="nedc")
    sz = MethodCurve(**_measures(sz_tp, sz_fp, sz_ref, sz_total_s, "szcore"), hits=sz_tp,
                     false_alarms=sz_fp, n_ref=sz_ref, duration_s=sz_total_s, tradition="szcore")
    mean = None
    if subjects is not None:
        rows = [_measures(tp, fp, n_ref, dur, "szcore") for tp, fp, n_ref, dur in per_subject.values()]
        if rows:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # a column of NaN stays NaN
                avg = {k: np.nanmean(np.stack([r[k] for r in rows]), axis=0) for k in rows[0]}
            mean = MethodCurve(**avg, n_ref=sz_ref, duration_s=sz_total_s, tradition="szcore")
    return DetCurve(thr, ovlp, sz, mean, float(smooth_s), float(min_duration_s), float(merge_gap_s),
                    len(probs), total_s)


def _best_index(curve: DetCurve, target: float, method: str) -> int | None:
    mc = curve.method(method)
    fa = mc.fa_per_24h
    sens = np.nan_to_num(mc.sensitivity, nan=-1.0)
    ok = np.flatnonzero(np.isfinite(fa) & (fa <= target))
    if ok.size == 0:
        return None
    # highest sensitivity; ties: fewer false alarms, then the higher threshold
    order = np.lexsort((-curve.thresholds[ok], fa[ok], -sens[ok]))
    return int(ok[order[0]])


def operating_point(curve: DetCurve, target_fa_per_24h: float = PAPER_FA_PER_24H, method: str = "ovlp") -> OperatingPoint:
    """The threshold with the highest sensitivity whose FA/24h is at most the target (ties:
    fewer false alarms, then the higher threshold), with the sweep's post-processing.

    When no threshold reaches the target, the one with the fewest false alarms is returned
    (ties: higher sensitivity, then higher threshold) and a warning is logged.
    """
    pick(dict.fromkeys(DET_METHODS), method, "DET method")
    idx = _best_index(curve, target_fa_per_24h, method)
    if idx is None:
        mc = curve.method(method)
        fa = np.where(np.isfinite(mc.fa_per_24h), mc.fa_per_24h, np.inf)
        sens = np.nan_to_num(mc.sensitivity, nan=-1.0)
        idx = int(np.lexsort((-curve.thresholds, -sens, fa))[0])
        log.warning(
            "no threshold reaches %.3g FA/24h (%s); using the fewest false alarms: threshold %.3f at %.3g FA/24h",
            target_fa_per_24h, method, curve.thresholds[idx], mc.fa_per_24h[idx],
        )
    return OperatingPoint(float(curve.thresholds[idx]), curve.smooth_s, curve.min_duration_s, curve.merge_gap_s)


def operating_points(
    curve: DetCurve, fa_targets: Sequence[float] = (1, 2, 6, 10), method: str = "ovlp"
) -> dict[float, dict]:
    """Sensitivity at each FA/24h target, read at the best *achieved* point (no
    interpolation): the highest sensitivity among thresholds whose FA/24h <= target.
    ``reached`` is False (and the values None) when no threshold gets that low."""
    pick(dict.fromkeys(DET_METHODS), method, "DET method")
    mc = curve.method(method)
    out = {}
    for target in fa_targets:
        idx = _best_index(curve, float(target), method)
        if idx is None:
            out[float(target)] = {"reached": False, "threshold": None, "sensitivity": None, "fa_per_24h": None}
        else:
            out[float(target)] = {
                "reached": True, "threshold": float(curve.thresholds[idx]),
                "sensitivity": float(mc.sensitivity[idx]), "fa_per_24h": float(mc.fa_per_24h[idx]),
            }
    return out


def frontier(curve: DetCurve, method: str = "ovlp") -> tuple[np.ndarray, np.ndarray]:
    """The achievable trade-off: for each FA/24h reached, the best sensitivity at or below it
    (FA ascending; sensitivity non-decreasing). Points with undefined values are left out."""
    mc = curve.method(method)
    ok = np.isfinite(mc.fa_per_24h) & np.isfinite(mc.sensitivity)
    fa, sens = mc.fa_per_24h[ok], mc.sensitivity[ok]
    order = np.lexsort((-sens, fa))
    fa, best = fa[order], np.maximum.accumulate(sens[order])
    keep = np.concatenate((fa[1:] != fa[:-1], [True]))  # one point per FA value, its best
    return fa[keep], best[keep]


def plot_det(curves: dict[str, DetCurve], path: str | Path, method: str = "ovlp", title: str | None = None) -> Path:
    """Write a PNG of sensitivity (%) against FA/24h (log axis) for each named system.

    Each system shows every threshold (dots joined in threshold order, faint: low thresholds
    can merge events and lower the false-alarm count) and, bold, its achievable frontier
    (:func:`frontier`). The paper's operating point, 6 FA/24h, is a dashed line; each curve's
    best point within it is circled. Points with no false alarm are drawn at the axis floor
    (half the smallest non-zero rate, at most 0.1)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from seizure.fsutil import save_figure

    if not curves:
        raise ValueError("plot_det needs at least one curve")
    pick(dict.fromkeys(DET_METHODS), method, "DET method")
    positive = [fa for c in curves.values() for fa in c.method(method).fa_per_24h if np.isfinite(fa) and fa > 0]
    floor = min(0.1, min(positive) / 2) if positive else 0.1
    tradition = "NEDC OVLP, pooled over recordings" if method == "ovlp" else "SzCORE event scoring, pooled"
    fig, ax = plt.subplots(figsize=(7.5, 5.0), dpi=120)
    for name, curve in curves.items():
        mc = curve.method(method)
        fa = np.maximum(mc.fa_per_24h, floor)
        sens = 100 * mc.sensitivity
        idx = _best_index(curve, PAPER_FA_PER_24H, method)
        if idx is not None and not mc.sensitivity[idx] > 0:
            idx = None
        label = name if idx is not None else f"{name} (nothing detected within 6 FA/24h)"
        (line,) = ax.plot(fa, sens, marker=".", markersize=3, linewidth=0.6, alpha=0.35)
        f_fa, f_sens = frontier(curve, method)
        ax.plot(np.maximum(f_fa, floor), 100 * f_sens, drawstyle="steps-post", linewidth=2,
                color=line.get_color(), label=label)
        if idx is not None:
            ax.plot(fa[idx], sens[idx], marker="o", markersize=10, markerfacecolor="none",
                    markeredgewidth=2, color=line.get_color())
            ax.annotate(f"{sens[idx]:.1f}% at {mc.fa_per_24h[idx]:.2g} FA/24h (threshold {curve.thresholds[idx]:.6g})",
                        (fa[idx], sens[idx]), textcoords="offset points", xytext=(10, 6), fontsize=8,
                        color=line.get_color(), bbox={"boxstyle": "round", "fc": "white", "ec": "none", "alpha": 0.8})
    ax.axvline(PAPER_FA_PER_24H, color="0.4", linestyle="--", linewidth=1)
    ax.text(PAPER_FA_PER_24H * 1.06, 2, "6 FA/24h\n(paper's operating point)", fontsize=8, color="0.3")
    ax.set_xscale("log")
    ax.set_ylim(0, 100)
    ax.set_xlabel(f"False alarms per 24 h ({tradition})")
    ax.set_ylabel("Sensitivity (%)")
    ax.set_title(title or "DET: sensitivity against false alarms, threshold swept", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)
