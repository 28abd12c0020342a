"""The scored-recording figure: compressed montaged EEG over the per-second probability trace.

:class:`Envelope` compresses a montaged recording chunk by chunk into a min/max envelope per
channel and pixel column (what an EEG reviewer's overview strip shows), so a 24-hour
recording costs ``n_channels x n_columns`` numbers, never the signal itself.
:func:`plot_scored_recording` draws that envelope on top, and below it the per-second
probabilities (and their smoothed version, the one the threshold is applied to), the
threshold line, the detected events shaded across both panels and, when the recording has
an annotation sidecar, the reference seizures as a bar above the trace.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from seizure.events import Event
from seizure.postprocess import OperatingPoint, smooth

N_COLUMNS = 1600
LANE_FACTOR = 1.2


class Envelope:
    """Per channel, the minimum and maximum of the signal in each of ``n_columns`` equal time
    columns covering ``[0, n_seconds)``; fed chunk by chunk with :meth:`add`.

    Fewer columns are used when the recording has fewer samples than ``n_columns``.
    """

    def __init__(self, channels: Sequence[str], n_seconds: int, fs_hz: float, n_columns: int = N_COLUMNS,
                 mask: np.ndarray | None = None):
        if n_seconds < 1 or fs_hz <= 0 or n_columns < 1:
            raise ValueError(f"need n_seconds >= 1, fs_hz > 0 and n_columns >= 1; got {n_seconds}, {fs_hz}, "
                             f"{n_columns}")
        self.channels = list(channels)
        self.n_seconds = int(n_seconds)
        self.fs_hz = float(fs_hz)
        self.n_samples = int(math.floor(n_seconds * fs_hz + 1e-6))
        self.n_columns = int(min(n_columns, self.n_samples))
        self.mask = np.ones(len(self.channels), bool) if mask is None else np.asarray(mask, dtype=bool)
        self.lo = np.full((len(self.channels), self.n_columns), np.inf, dtype=np.float32)
        self.hi = np.full((len(self.channels), self.n_columns), -np.inf, dtype=np.float32)

    @property
    def column_s(self) -> float:
        """Seconds per column."""
        return self.n_seconds / self.n_columns

    def columns_of(self, first_sample: int, n: int) -> np.ndarray:
        """The column of each sample ``first_sample .. first_sample + n - 1``."""
        k = np.arange(first_sample, first_sample + n, dtype=np.int64)
        return np.minimum(k * self.n_columns // self.n_samples, self.n_columns - 1)

    def add(self, start_s: float, data: np.ndarray) -> None:
        """Fold in ``data`` (n_channels, n) whose first sample lies at ``start_s`` seconds."""
        data = np.asarray(data)
        if data.ndim != 2 or data.shape[0] != len(self.channels):
            raise ValueError(f"data must be ({len(self.channels)}, n_samples), got shape {data.shape}")
        first = int(round(start_s * self.fs_hz))
        n = min(data.shape[1], self.n_samples - first)
        if n <= 0:
            return
        cols = self.columns_of(first, n)
        starts = np.concatenate(([0], np.flatnonzero(np.diff(cols)) + 1))
        idx = cols[starts]
        part = data[:, :n]
        self.lo[:, idx] = np.minimum(self.lo[:, idx], np.minimum.reduceat(part, starts, axis=1))
        self.hi[:, idx] = np.maximum(self.hi[:, idx], np.maximum.reduceat(part, starts, axis=1))

    def filled(self) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi) with never-filled columns set to 0."""
        lo = np.where(np.isfinite(self.lo), self.lo, 0.0)
        hi = np.where(np.isfinite(self.hi), self.hi, 0.0)
        return lo, hi


def _time_unit(duration_s: float) -> tuple[float, str]:
    if duration_s >= 3 * 3600:
        return 3600.0, "hours"
    if duration_s >= 180:
        return 60.0, "minutes"
    return 1.0, "seconds"


def lane_uv(envelope: Envelope) -> float:
    """Vertical spacing between channels: :data:`LANE_FACTOR` times the median, over usable
    channels, of the spread between the 5th percentile of the column minima and the 95th of
    the column maxima (at least 1 uV). Ordinary background then fills most of its lane, in a
    compressed day-long view as in a few seconds drawn sample by sample."""
    lo, hi = envelope.filled()
    rows = np.flatnonzero(envelope.mask)
    if rows.size == 0:
        return 1.0
    spread = np.percentile(hi[rows], 95, axis=1) - np.percentile(lo[rows], 5, axis=1)
    return float(max(1.0, LANE_FACTOR * np.median(spread)))


def plot_scored_recording(path: str | Path, envelope: Envelope, probs_per_s: np.ndarray, op: OperatingPoint,
                          events: Sequence[Event], ref_events: Sequence[Event] | None = None,
                          title: str = "") -> Path:
    """Write the PNG (atomically) and return its path.

    ``probs_per_s``: one probability per whole second; ``events``: the detections at ``op``;
    ``ref_events``: reference seizures (None: no annotation sidecar, nothing drawn).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from seizure.fsutil import save_figure

    probs = np.asarray(probs_per_s, dtype=np.float64)
    n_seconds = envelope.n_seconds
    unit, unit_name = _time_unit(n_seconds)
    fig, (ax_eeg, ax_p) = plt.subplots(2, 1, figsize=(13, 8.5), dpi=110, sharex=True,
                                       gridspec_kw={"height_ratios": [3.2, 1.3], "hspace": 0.06})

    lane = lane_uv(envelope)
    lo, hi = envelope.filled()
    x = (np.arange(envelope.n_columns) + 0.5) * envelope.column_s / unit
    n_ch = len(envelope.channels)
    for i, name in enumerate(envelope.channels):
        offset = -i * lane
        if envelope.mask[i]:
            half = lane / 2
            a, b = np.clip(lo[i], -half, half) + offset, np.clip(hi[i], -half, half) + offset
            ax_eeg.fill_between(x, a, b, color="0.2", linewidth=0, step="mid")
            ax_eeg.plot(x, (a + b) / 2, color="0.2", linewidth=0.4)  # visible where a column is one sample
        else:
            ax_eeg.axhline(offset, color="0.75", linewidth=0.6, linestyle=":")
    ax_eeg.set_yticks([-i * lane for i in range(n_ch)])
    ax_eeg.set_yticklabels([c if m else f"{c} (masked)" for c, m in zip(envelope.channels, envelope.mask)],
                           fontsize=6.5)
    for label, m in zip(ax_eeg.get_yticklabels(), envelope.mask):
        if not m:
            label.set_color("0.55")
    ax_eeg.set_ylim(-(n_ch - 0.4) * lane, 0.6 * lane)
    ax_eeg.set_ylabel(f"montaged EEG: min/max per {envelope.column_s:.3g} s; {lane:.0f} uV per lane", fontsize=8)
    fig.suptitle(title, fontsize=10)

    edges = np.arange(probs.size + 1) / unit  # second k covers [k, k + 1)
    shown = smooth(probs, op.smooth_s)
    if shown is not probs:
        ax_p.stairs(probs, edges, color="tab:blue", alpha=0.3, linewidth=0.6, label="probability",
                    baseline=None)
        ax_p.stairs(shown, edges, color="tab:blue", linewidth=1.0, baseline=None,
                    label=f"smoothed over {op.smooth_s:g} s (thresholded)")
    else:
        ax_p.stairs(probs, edges, color="tab:blue", linewidth=0.9, baseline=None, label="probability")
    ax_p.axhline(op.threshold, color="tab:red", linestyle="--", linewidth=1,
                 label=f"threshold {op.threshold:.3g}")
    for ev in events:
        for ax in (ax_eeg, ax_p):
            ax.axvspan(ev.start_s / unit, ev.stop_s / unit, color="tab:orange", alpha=0.28, linewidth=0)
    handles, labels = ax_p.get_legend_handles_labels()
    handles.append(Patch(color="tab:orange", alpha=0.4))
    labels.append(f"detected ({len(events)})")
    if ref_events is not None:
        for ev in ref_events:
            ax_eeg.axvspan(ev.start_s / unit, ev.stop_s / unit, color="tab:green", alpha=0.1, linewidth=0)
            ax_p.plot([ev.start_s / unit, ev.stop_s / unit], [1.09, 1.09], color="tab:green", linewidth=5,
                      solid_capstyle="butt")
        handles.append(Patch(color="tab:green"))
        labels.append(f"reference ({len(ref_events)})")
    ax_p.set_ylim(-0.03, 1.16)
    ax_p.set_ylabel("seizure probability")
    ax_p.set_xlabel(f"time ({unit_name})")
    ax_p.set_xlim(0, n_seconds / unit)
    ax_p.grid(True, alpha=0.3)
    ax_p.legend(handles, labels, loc="upper center", fontsize=7.5, ncol=5, frameon=False,
                bbox_to_anchor=(0.5, -0.3))
    fig.subplots_adjust(left=0.09, right=0.985, top=0.95, bottom=0.11)
    return save_figure(fig, path)
