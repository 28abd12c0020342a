"""Random-process primitives: spectrally shaped noise, smooth envelopes, wave shapes.

Everything is vectorised (one FFT per batch of rows) and driven by an explicit
``numpy.random.Generator`` so a seed fixes every sample.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import fft as sfft
from scipy import signal
from scipy import special

SpectrumFn = Callable[[np.ndarray], np.ndarray]


def shaped_noise(rng: np.random.Generator, n_rows: int, n: int, fs_hz: float,
                 amplitude: SpectrumFn | np.ndarray) -> np.ndarray:
    """Gaussian noise rows whose amplitude spectrum is ``amplitude(f)``, unit variance per row.

    ``amplitude`` is a function of frequency (Hz) returning ``(n_freqs,)`` or
    ``(n_rows, n_freqs)``, or such an array. Each row is normalised to unit variance
    (the expected variance; the realisation varies), so callers scale in microvolts.
    Returns float32 ``(n_rows, n)`` (synthesised at a fast FFT length, then cropped).
    """
    n_out, n = n, sfft.next_fast_len(max(n, 2), real=True)
    freqs = np.fft.rfftfreq(n, 1.0 / fs_hz)
    amp = amplitude(freqs) if callable(amplitude) else amplitude
    amp = np.broadcast_to(np.asarray(amp, dtype=np.float64), (n_rows, freqs.size)).copy()
    amp[:, 0] = 0.0  # no DC offset
    # Expected variance of irfft output: (2*sum|A|^2 - |A0|^2 - |A_nyq|^2) / n^2 per unit
    # complex Gaussian coefficient of variance 1 per part -> normalise analytically.
    power = 2.0 * np.sum(amp**2, axis=1)
    if n % 2 == 0:
        power -= amp[:, -1] ** 2
    scale = np.where(power > 0, n / np.sqrt(np.maximum(power, 1e-300)), 0.0)
    amp *= scale[:, None]
    spec = rng.standard_normal((n_rows, freqs.size, 2), dtype=np.float32).view(np.complex64)[..., 0]
    spec *= (amp / np.sqrt(2.0)).astype(np.float32)
    if n % 2 == 0:
        spec[:, -1] = spec[:, -1].real * np.sqrt(2.0)
    return sfft.irfft(spec, n=n, axis=1)[:, :n_out].astype(np.float32, copy=False)


def pink(exponent: float, knee_hz: float = 1.0) -> SpectrumFn:
    """Amplitude spectrum of 1/f^exponent power, flattening below ``knee_hz``."""

    def amp(f: np.ndarray) -> np.ndarray:
        return (knee_hz + f) ** (-exponent / 2.0)

    return amp


def band(center_hz: float, width_hz: float) -> SpectrumFn:
    """Gaussian band around ``center_hz`` (``width_hz`` is the standard deviation)."""

    def amp(f: np.ndarray) -> np.ndarray:
        return np.exp(-0.5 * ((f - center_hz) / width_hz) ** 2)

    return amp


def bandpass_shape(low_hz: float, high_hz: float, order: float = 4.0) -> SpectrumFn:
    """Smooth band-pass amplitude (Butterworth-like magnitude) between ``low_hz`` and ``high_hz``."""

    def amp(f: np.ndarray) -> np.ndarray:
        hp = 1.0 / np.sqrt(1.0 + (low_hz / np.maximum(f, 1e-9)) ** (2 * order))
        lp = 1.0 / np.sqrt(1.0 + (f / high_hz) ** (2 * order))
        return hp * lp

    return amp


def smooth_walk(rng: np.random.Generator, duration_s: float, step_s: float, sigma: float,
                mean: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Knots of a smooth random process: times and values (a low-passed AR(1) walk)."""
    n = int(np.ceil(duration_s / step_s)) + 2
    times = np.arange(n) * step_s
    rho = 0.8
    eps = rng.standard_normal(n) * sigma * np.sqrt(1 - rho**2)
    eps[0] = rng.standard_normal() * sigma
    vals = signal.lfilter([1.0], [1.0, -rho], eps)
    return times, vals + mean


def interp(times_s: np.ndarray, knot_times: np.ndarray, knot_values: np.ndarray) -> np.ndarray:
    """Piecewise-linear interpolation of knots at ``times_s`` (held constant outside)."""
    return np.interp(times_s, knot_times, knot_values)


def vonmises_wave(phase: np.ndarray, kappa: np.ndarray | float) -> np.ndarray:
    """Periodic pulse ``exp(kappa*(cos(phase)-1))`` with zero mean and unit peak-to-peak.

    ``kappa`` near 0 gives a sinusoid; large ``kappa`` gives sharp spikes (one per cycle).
    """
    kappa = np.maximum(np.asarray(kappa, dtype=np.float64), 1e-3)
    pulse = np.exp(kappa * (np.cos(phase) - 1.0))
    mean = special.i0e(kappa)
    ptp = 1.0 - np.exp(-2.0 * kappa)
    return (pulse - mean) / ptp


def smoothstep(x: np.ndarray) -> np.ndarray:
    """0 below 0, 1 above 1, a smooth cubic in between."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def phase_from_freq(freq_hz: np.ndarray, fs_hz: float, phase0: float = 0.0) -> np.ndarray:
    """Instantaneous phase (radians) of a signal with instantaneous frequency ``freq_hz``."""
    return phase0 + 2.0 * np.pi * np.cumsum(freq_hz) / fs_hz
