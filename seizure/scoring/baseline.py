"""A classical baseline: a Gotman-style line-length / energy detector.

Per channel and per second: line length (mean absolute sample-to-sample difference) and
energy (mean square), both in log scale, each turned into a robust z-score against the
channel's background: median and MAD over the whole recording, or over the preceding
``background_s`` seconds (a causal running window, as in Gotman's detector). A channel's
score is the mean of its two z-scores; a second's score is the mean over the top quarter of
usable channels (seizures are often focal); that score is standardised once more over the
recording and squashed by a logistic centred at 6 robust standard deviations (slope 2.5),
so the default DET thresholds (0.005 to 0.9999) span z from about -7 to 29. No training:
the same per-second probabilities as a model, so a DET sweep can put both on one plot.
"""

from __future__ import annotations

import math

import numpy as np

from seizure.errors import SignalQualityError

Z_MID = 6.0  # combined robust z-score at probability 0.5
Z_SCALE = 2.5  # logistic slope (z units per e-fold of the odds): 0.005 at z = -7.2, 0.995 at z = 19.2
TOP_FRACTION = 0.25  # fraction of channels averaged per second
_MAD_TO_SD = 1.4826
_EPS = 1e-12


def _robust_z(x: np.ndarray, background_s: float | None) -> np.ndarray:
    """(x - median) / (1.4826 MAD) along the last axis; rows with no spread become NaN."""
    if background_s is None:
        med = np.median(x, axis=-1, keepdims=True)
        mad = np.median(np.abs(x - med), axis=-1, keepdims=True)
    else:
        from scipy.ndimage import median_filter

        width = max(1, int(round(background_s)))
        size = (1,) * (x.ndim - 1) + (width,)
        origin = (0,) * (x.ndim - 1) + ((width - 1) // 2,)  # the window ends at the current second
        med = median_filter(x, size=size, mode="reflect", origin=origin)
        mad = median_filter(np.abs(x - med), size=size, mode="reflect", origin=origin)
    scale = _MAD_TO_SD * mad
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(scale > _EPS, (x - med) / scale, np.nan)


def second_features(data: np.ndarray, fs_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Log line length and log energy per channel and second, ``(n_channels, n_seconds)``."""
    n_seconds = int(math.floor(data.shape[1] / fs_hz))
    bounds = np.round(np.arange(n_seconds + 1) * fs_hz).astype(np.int64)
    counts = np.diff(bounds).astype(np.float64)
    ll = np.empty((data.shape[0], n_seconds))
    energy = np.empty((data.shape[0], n_seconds))
    for c in range(data.shape[0]):  # one channel at a time: bounded memory
        x = np.asarray(data[c, : bounds[-1]], dtype=np.float64)
        step = np.abs(np.diff(x, append=x[-1:]))
        step[bounds[1:] - 1] = 0.0  # steps into the next second do not count
        ll[c] = np.add.reduceat(step, bounds[:-1]) / np.maximum(counts - 1, 1)
        energy[c] = np.add.reduceat(x * x, bounds[:-1]) / counts
    return np.log(ll + _EPS), np.log(energy + _EPS)


def line_length_probs(
    data: np.ndarray, fs_hz: float, mask: np.ndarray | None = None, *, background_s: float | None = None
) -> np.ndarray:
    """Per-second seizure probabilities in [0, 1], ``(floor(n_samples / fs_hz),)``.

    ``data``: ``(n_channels, n_samples)`` in microvolts (e.g. the TCP montage); ``mask``:
    ``(n_channels,)`` booleans, True for usable channels (default: all); flat channels are
    ignored. ``background_s``: None for a whole-recording background, else the length of the
    causal running window (the preceding seconds, current one included).
    """
    data = np.asarray(data)
    if data.ndim != 2:
        raise ValueError(f"data must be (n_channels, n_samples), got shape {data.shape}")
    if not (isinstance(fs_hz, (int, float)) and math.isfinite(fs_hz) and fs_hz > 0):
        raise ValueError(f"fs_hz must be a positive number, got {fs_hz!r}")
    if background_s is not None and not (background_s >= 1):
        raise ValueError(f"background_s must be None or at least 1 s, got {background_s!r}")
    usable = np.ones(data.shape[0], dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    if usable.shape != (data.shape[0],):
        raise ValueError(f"mask must have one entry per channel ({data.shape[0]}), got shape {usable.shape}")
    n_seconds = int(math.floor(data.shape[1] / fs_hz))
    if n_seconds == 0:
        return np.zeros(0)
    rows = np.flatnonzero(usable)
    if rows.size == 0:
        raise SignalQualityError("line-length baseline: no usable channel (the mask excludes every channel)")
    if not np.all(np.isfinite(data[rows])):
        raise SignalQualityError("line-length baseline: the signal holds NaN or infinite samples")
    log_ll, log_energy = second_features(data[rows], fs_hz)
    z = 0.5 * (_robust_z(log_ll, background_s) + _robust_z(log_energy, background_s))
    valid = ~np.isnan(z).all(axis=1)
    if not valid.any():
        raise SignalQualityError("line-length baseline: every usable channel is flat")
    z = np.nan_to_num(z[valid], nan=0.0)
    k = max(1, int(round(TOP_FRACTION * z.shape[0])))
    top = np.sort(z, axis=0)[-k:].mean(axis=0)
    zc = _robust_z(top[None, :], background_s)[0]
    zc = np.nan_to_num(zc, nan=0.0)
    return 1.0 / (1.0 + np.exp(-(zc - Z_MID) / Z_SCALE))
