"""Numerical hygiene: what is wrong with a signal is detected and reported, never fed
silently to a model.

* NaN or Inf (e.g. after a filter that is unstable at an unusual sampling rate) raises
  :class:`~seizure.errors.SignalQualityError` naming the channels (:func:`check_finite`).
* A flat electrode (standard deviation below :data:`FLAT_STD_UV` over the recording)
  masks every bipolar channel that uses it, and a flat bipolar channel (after filtering;
  e.g. two bridged electrodes) is masked, each with a warning. Masked channels count
  against the recipe's ``min_channels``: too few usable channels raises.
* A clipped electrode (at least :data:`CLIP_FRACTION` of its samples at one extreme
  value: the digital minimum/maximum or any constant ceiling) is a warning.

Statistics are accumulated chunk by chunk (:class:`QualityMonitor`), so the checks cost
no extra pass over the file and no extra memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seizure.errors import SignalQualityError

FLAT_STD_UV = 0.5
CLIP_FRACTION = 0.001
CLIP_MIN_SAMPLES = 10
STRIDE = 8  # statistics use every 8th sample


def check_finite(x: np.ndarray, channels: list[str], where: str, path: str | Path | None = None) -> None:
    """Raise SignalQualityError if ``x`` (channels, ...) holds NaN or Inf."""
    finite = np.isfinite(x)
    if finite.all():
        return
    bad = [channels[i] for i in np.flatnonzero(~finite.reshape(finite.shape[0], -1).all(axis=1))]
    raise SignalQualityError(f"NaN/Inf {where} in channel(s) {', '.join(bad)}; refusing to use this signal", path)


class _Moments:
    """Per-channel count, mean, sum of squared deviations (Chan et al. merge) and, with
    ``extremes``, min, max and the number of samples at the running min and max, from every
    :data:`STRIDE`-th sample (an unbiased estimate of the variance and of the fraction of
    clipped samples, at a fraction of the cost). Per chunk the sums run in float32 (a few
    thousand samples per channel: relative error ~1e-6) and merge in float64."""

    def __init__(self, n_channels: int, extremes: bool = True):
        self.extremes = extremes
        self.n = 0
        self.mean = np.zeros(n_channels)
        self.m2 = np.zeros(n_channels)
        self.lo = np.full(n_channels, np.inf)
        self.hi = np.full(n_channels, -np.inf)
        self.n_lo = np.zeros(n_channels, dtype=np.int64)
        self.n_hi = np.zeros(n_channels, dtype=np.int64)

    def add(self, x: np.ndarray) -> None:
        x = np.ascontiguousarray(x[:, ::STRIDE])  # one strided pass, then contiguous ones
        k = x.shape[1]
        if k == 0:
            return
        mean32 = x.mean(axis=1, keepdims=True)
        dev = x - mean32
        m2 = np.einsum("ij,ij->i", dev, dev).astype(np.float64)
        mean = mean32[:, 0].astype(np.float64)
        total = self.n + k
        delta = mean - self.mean
        self.mean += delta * (k / total)
        self.m2 += m2 + delta ** 2 * (self.n * k / total)
        self.n = total
        if not self.extremes:
            return
        lo, hi = x.min(axis=1).astype(np.float64), x.max(axis=1).astype(np.float64)
        # samples at a chunk's extreme count only where it reaches the running extreme
        for value, running, count, new_wins in ((lo, self.lo, self.n_lo, lo < self.lo),
                                                (hi, self.hi, self.n_hi, hi > self.hi)):
            rows = np.flatnonzero(new_wins | (value == running))
            if rows.size:
                n_at = np.count_nonzero(x[rows] == value[rows, None].astype(x.dtype), axis=1)
                count[rows] = np.where(new_wins[rows], n_at, count[rows] + n_at)
        self.lo = np.minimum(self.lo, lo)
        self.hi = np.maximum(self.hi, hi)

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(self.m2 / max(self.n, 1))


@dataclass
class QualityReport:
    """Outcome of the checks: the final channel mask and what was found."""

    mask: np.ndarray
    flat_electrodes: list[str] = field(default_factory=list)
    flat_channels: list[str] = field(default_factory=list)  # bipolar channels masked as flat
    clipped: dict[str, float] = field(default_factory=dict)  # electrode -> fraction of samples
    warnings: list[str] = field(default_factory=list)


class QualityMonitor:
    """Accumulates statistics of one recording, chunk by chunk, then judges it.

    ``electrodes``: names of the input signals the montage reads; ``digital_limits``:
    their (min, max) physical values at the digital extremes (for the message only);
    ``uses``: bool (n_pairs, n_electrodes), which electrodes each bipolar channel uses.
    """

    def __init__(self, electrodes: list[str], channels: list[str], uses: np.ndarray,
                 digital_limits: list[tuple[float, float]] | None = None, path: str | Path | None = None):
        self.electrodes = list(electrodes)
        self.channels = list(channels)
        self.uses = np.asarray(uses, dtype=bool)
        self.limits = digital_limits
        self.path = path
        self._raw = _Moments(len(electrodes))
        self._montaged = _Moments(len(channels), extremes=False)  # only its std is judged

    def add_raw(self, x: np.ndarray) -> None:
        """Interior samples (each counted once) of the input signals, (n_electrodes, n)."""
        self._raw.add(x)

    def add_montaged(self, y: np.ndarray) -> None:
        """Interior samples of the filtered bipolar channels, (n_pairs, n)."""
        self._montaged.add(y)

    def report(self, mask: np.ndarray, min_channels: int) -> QualityReport:
        """Final mask (``mask`` minus flat channels) and warnings; raises if too few remain."""
        mask = np.asarray(mask, dtype=bool).copy()
        out = QualityReport(mask)
        raw_std = self._raw.std
        flat_e = raw_std < FLAT_STD_UV
        out.flat_electrodes = [e for e, f in zip(self.electrodes, flat_e) if f]
        via_electrode = self.uses[:, flat_e].any(axis=1) if flat_e.any() else np.zeros(len(self.channels), bool)
        flat_pair = self._montaged.std < FLAT_STD_UV
        newly = mask & (via_electrode | flat_pair)
        out.flat_channels = [c for c, f in zip(self.channels, newly) if f]
        mask &= ~newly
        if out.flat_electrodes:
            out.warnings.append(f"flat electrode(s) {', '.join(out.flat_electrodes)} (std < {FLAT_STD_UV:g} uV)")
        if out.flat_channels:
            out.warnings.append(f"flat channel(s) masked: {', '.join(out.flat_channels)}")
        n = self._raw.n  # (strided) samples seen
        for i, name in enumerate(self.electrodes):
            if flat_e[i] or n == 0:
                continue
            for count, value, side in ((self._raw.n_hi[i], self._raw.hi[i], 1), (self._raw.n_lo[i], self._raw.lo[i], 0)):
                if count >= max(CLIP_MIN_SAMPLES, CLIP_FRACTION * n):
                    frac = count / n
                    out.clipped[name] = max(out.clipped.get(name, 0.0), frac)
                    where = "digital maximum" if side else "digital minimum"
                    if self.limits is not None and not _near(value, self.limits[i][side]):
                        where = "a constant extreme"
                    out.warnings.append(f"clipped electrode {name}: {100 * frac:.2g}% of samples at "
                                        f"{value:g} uV ({where})")
        out.mask = mask
        usable = int(mask.sum())
        if usable < min_channels:
            flat = f" after masking flat channel(s) {', '.join(out.flat_channels)}" if out.flat_channels else ""
            raise SignalQualityError(f"only {usable} usable channel(s){flat}; the recipe needs "
                                     f"min_channels={min_channels}", self.path)
        return out


def _near(value: float, limit: float) -> bool:
    return abs(value - limit) <= 1e-4 * max(1.0, abs(limit))
