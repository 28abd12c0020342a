"""Signal steps of a recipe: zero-phase band-pass and notch filters, and resampling.

Each filter is the IIR design scipy makes (``butter``: Butterworth band-pass of order
:data:`BANDPASS_ORDER`; ``iirnotch``: notch of quality :data:`NOTCH_QUALITY`). Its
zero-phase response is ``|H(f)|^2`` (in closed form, :func:`zero_phase_gain`), which is
exactly what ``scipy.signal.sosfiltfilt`` applies away from the signal's edges. Rather
than running the recursions forwards and backwards, all filter steps and the resampling
step are applied in one pass in the frequency domain: one ``rfft`` of float32 data, one
multiplication by the product of the ``|H|^2`` gains, and one ``irfft`` whose length sets
the output rate (band-limited resampling at an exact rational ratio, e.g. 256 -> 250 Hz is
125/128). The anti-alias filter is a raised-cosine roll-off from 90 % of the lower of the
two Nyquist frequencies to zero at it (a smooth edge rings far less than a brick wall).

This costs a fraction of sosfiltfilt + resample_poly (``benchmarks/bench_preprocess.py``),
equals sosfiltfilt to ~1e-5 of the signal's scale away from the edges, and resamples
band-limited tones exactly where resample_poly errs by ~1e-3 (``tests/test_signal.py``).

Edges: the signal is extended by its mirror image turned upside down about its mean over
the last second (:func:`extend`: this keeps the level, so the high-pass sees no false step,
and continues a drift) before the transform, and the extension is cut off afterwards. The
chunked pipeline extends each chunk with real neighbouring samples instead, so chunks join
seamlessly.

Band edges and the input's Nyquist frequency (``fs_in / 2``):

* a low-pass edge or a notch frequency at or above Nyquist cannot be designed, and the
  input holds nothing there anyway: the step is skipped and a warning is recorded
  (a 100 Hz file with a 70 Hz low-pass gets only its high-pass);
* a high-pass edge at or above Nyquist would leave no signal: :class:`SignalQualityError`.

Gains are cached per (rate, parameters, length).
"""

from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import scipy.fft

from seizure.errors import ConfigError, SignalQualityError

log = logging.getLogger(__name__)

BANDPASS_ORDER = 4
NOTCH_QUALITY = 30.0
EDGE_PAD_S = 10.0  # edge extension used by the array functions below
MAX_RATIO_TERM = 10_000  # largest numerator/denominator accepted for a resampling ratio
ANTIALIAS_START = 0.9  # resampling keeps [0, 0.9 x the lower Nyquist) intact, rolls off to 0 at it
STEP_NAMES = ("bandpass", "feature", "montage", "normalize", "notch", "resample")


@dataclass(frozen=True)
class FilterSpec:
    """One zero-phase filter: ``kind`` is ``"bandpass"`` (params ``(low_hz, high_hz)``,
    either may be None) or ``"notch"`` (params ``(freq_hz, quality)``), designed at ``fs_hz``."""

    kind: str
    params: tuple[float | None, ...]
    fs_hz: float


@dataclass(frozen=True)
class SignalPlan:
    """The signal steps of a recipe resolved for one input rate."""

    fs_in_hz: float
    fs_out_hz: float
    up: int  # output samples per `down` input samples
    down: int
    filters: tuple[FilterSpec, ...]
    band_limit_hz: float  # when resampling: the anti-alias roll-off reaches zero here
    warnings: tuple[str, ...] = ()

    @property
    def granule_s(self) -> int:
        """Smallest whole number of seconds that is a whole number of samples at both rates."""
        return math.lcm(_rational(self.fs_in_hz).denominator, _rational(self.fs_out_hz).denominator)

    def out_len(self, n_in: int) -> int:
        """Output samples for ``n_in`` input samples (times ``k / fs_out`` before the end)."""
        return -(-n_in * self.up // self.down)

    def apply(self, x: np.ndarray, mix: Any = None) -> np.ndarray:
        """Filter and resample ``x`` (channels, n) whose length is a multiple of ``down``.

        Circular: the caller pads both ends (real neighbours or a reflection). ``mix``, an
        object with ``channels`` and ``apply(spectra, out=)`` such as a
        :class:`~seizure.preprocess.montage.MontagePlan`, combines the input rows linearly between the
        forward and the inverse transform (a montage of 19 electrodes into 22 channels then
        costs 19 forward transforms instead of 22).
        """
        n_in = x.shape[-1]
        if n_in % self.down:
            raise ValueError(f"length {n_in} is not a multiple of the resampling block {self.down}")
        n_out = n_in * self.up // self.down
        gain = _gain(n_in, n_out, self.fs_in_hz, self.filters, self.band_limit_hz)
        spec = scipy.fft.rfft(np.asarray(x, dtype=np.float32), axis=-1)
        keep, n_bins = gain.shape[0], n_out // 2 + 1
        if mix is not None:
            out = np.empty((len(mix.channels), n_bins), dtype=spec.dtype)
            mix.apply(spec[..., :keep], out=out[..., :keep])
        elif n_bins <= spec.shape[-1]:  # same rate or fewer samples: work in place
            out = spec[..., :n_bins]
        else:
            out = np.empty(spec.shape[:-1] + (n_bins,), dtype=spec.dtype)
            out[..., :keep] = spec[..., :keep]
        out[..., :keep] *= gain
        out[..., keep:] = 0
        return scipy.fft.irfft(out, n=n_out, axis=-1).astype(np.float32, copy=False)


def plan_steps(steps: list[dict[str, Any]], fs_in_hz: float) -> SignalPlan:
    """Resolve the ``bandpass``/``notch``/``resample`` steps (``Recipe.steps()``) for one rate.

    ``montage``, ``feature`` and ``normalize`` steps are handled elsewhere and skipped here.
    """
    if not fs_in_hz > 0:
        raise SignalQualityError(f"sampling rate must be positive, got {fs_in_hz} Hz")
    fs = float(fs_in_hz)
    filters: list[FilterSpec] = []
    warnings: list[str] = []
    limit = fs / 2
    for step in steps:
        kind = step.get("step")
        if kind in ("montage", "feature", "normalize"):
            continue
        nyq = fs / 2
        if kind == "bandpass":
            low, high = step.get("low_hz"), step.get("high_hz")
            if low is not None and low >= nyq:
                raise SignalQualityError(
                    f"high-pass edge {low:g} Hz is at or above the Nyquist frequency {nyq:g} Hz of "
                    f"the {fs:g} Hz signal; nothing would be left")
            if high is not None and high >= nyq:
                warnings.append(f"low-pass {high:g} Hz skipped: at or above the Nyquist frequency "
                                f"{nyq:g} Hz of the {fs:g} Hz signal, which holds nothing above it")
                high = None
            if low is not None or high is not None:
                filters.append(FilterSpec("bandpass", (low, high), fs))
        elif kind == "notch":
            f0 = float(step["freq_hz"])
            quality = float(step.get("quality", NOTCH_QUALITY))
            if f0 >= nyq:
                warnings.append(f"notch {f0:g} Hz skipped: at or above the Nyquist frequency "
                                f"{nyq:g} Hz of the {fs:g} Hz signal")
            else:
                filters.append(FilterSpec("notch", (f0, quality), fs))
        elif kind == "resample":
            fs = float(step["fs_hz"])
            limit = min(limit, fs / 2)
        else:
            raise ConfigError(f"unknown signal step {kind!r}; valid steps: {', '.join(STEP_NAMES)}")
    ratio = _rational(fs) / _rational(fs_in_hz)
    if max(ratio.numerator, ratio.denominator) > MAX_RATIO_TERM:
        raise SignalQualityError(
            f"cannot resample {fs_in_hz:g} Hz to {fs:g} Hz: the ratio {ratio} has no small rational form")
    for spec in filters:
        _check_design(spec)  # fail early on an impossible design
    return SignalPlan(float(fs_in_hz), fs, ratio.numerator, ratio.denominator, tuple(filters), limit,
                      tuple(warnings))


def apply_steps(x: np.ndarray, fs_hz: float, recipe: Any) -> tuple[np.ndarray, float]:
    """Apply a recipe's signal steps in order to a whole array; returns ``(y, fs_out_hz)``.

    ``recipe`` is a :class:`~seizure.preprocess.recipe.Recipe` or its ``steps()`` list. Warnings
    (skipped steps) are logged.
    """
    steps = recipe.steps() if hasattr(recipe, "steps") else list(recipe)
    plan = plan_steps(steps, fs_hz)
    for text in plan.warnings:
        log.warning("%s", text)
    return run_plan(x, plan), plan.fs_out_hz


def run_plan(x: np.ndarray, plan: SignalPlan, edge_pad_s: float = EDGE_PAD_S) -> np.ndarray:
    """Apply ``plan`` to an array of any length, extending both ends (:func:`extend`)."""
    arr = np.asarray(x, dtype=np.float32)
    one_d = arr.ndim == 1
    arr = np.atleast_2d(arr)
    if arr.ndim != 2:
        raise ValueError(f"expected (channels, samples) data, got shape {np.shape(x)}")
    n = arr.shape[-1]
    if n == 0:
        raise SignalQualityError("cannot filter an empty signal")
    q = plan.down
    pad = max(1, int(round(edge_pad_s * plan.fs_in_hz)))
    left = -(-pad // q) * q
    right = pad + (-(left + n + pad)) % q
    y = plan.apply(extend(arr, left, right, int(round(plan.fs_in_hz))))
    start = left * plan.up // q
    y = y[:, start:start + plan.out_len(n)]
    return y[0] if one_d else y


def extend(x: np.ndarray, left: int, right: int, pivot_samples: int) -> np.ndarray:
    """Extend (channels, n) by ``left``/``right`` samples beyond its ends: the mirror image
    of the signal turned upside down about the mean of its first/last ``pivot_samples``
    samples. The extension keeps the local level (so a high-pass sees no false step) and
    continues a drift."""
    n = x.shape[1]
    if n == 1:
        return np.pad(x, ((0, 0), (left, right)), mode="edge")
    out = np.pad(x, ((0, 0), (left, right)), mode="reflect")
    k = max(1, min(pivot_samples, n))
    if left:
        out[:, :left] = 2 * x[:, :k].mean(axis=1, keepdims=True) - out[:, :left]
    if right:
        out[:, n + left:] = 2 * x[:, n - k:].mean(axis=1, keepdims=True) - out[:, n + left:]
    return out


def bandpass(x: np.ndarray, fs_hz: float, low_hz: float | None, high_hz: float | None) -> np.ndarray:
    """Zero-phase Butterworth band-pass (either edge may be None); float32 out."""
    plan = plan_steps([{"step": "bandpass", "low_hz": low_hz, "high_hz": high_hz}], fs_hz)
    _log_warnings(plan)
    return run_plan(x, plan)


def notch(x: np.ndarray, fs_hz: float, freq_hz: float, quality: float = NOTCH_QUALITY) -> np.ndarray:
    """Zero-phase IIR notch at ``freq_hz`` (bandwidth ``freq_hz / quality``); float32 out."""
    plan = plan_steps([{"step": "notch", "freq_hz": freq_hz, "quality": quality}], fs_hz)
    _log_warnings(plan)
    return run_plan(x, plan)


def resample(x: np.ndarray, fs_in_hz: float, fs_out_hz: float) -> np.ndarray:
    """Band-limited resampling at the exact rational ratio ``fs_out / fs_in``; float32 out."""
    if not fs_out_hz > 0:
        raise ConfigError(f"fs_out_hz must be positive, got {fs_out_hz}")
    return run_plan(x, plan_steps([{"step": "resample", "fs_hz": fs_out_hz}], fs_in_hz))


def _log_warnings(plan: SignalPlan) -> None:
    for text in plan.warnings:
        log.warning("%s", text)


def _rational(fs_hz: float) -> Fraction:
    frac = Fraction(fs_hz).limit_denominator(1000)
    if abs(float(frac) - fs_hz) > 1e-9 * max(1.0, fs_hz):
        raise SignalQualityError(f"sampling rate {fs_hz!r} Hz is not a whole number of samples per second "
                                 "(nor per 1000 s); it cannot be resampled exactly")
    return frac


def _describe(spec: FilterSpec) -> str:
    params = "/".join("-" if v is None else f"{v:g}" for v in spec.params)
    return f"{spec.kind} filter {params} at {spec.fs_hz:g} Hz"


def _check_design(spec: FilterSpec) -> None:
    """Refuse a filter that cannot be formed at its rate (a band edge or notch outside
    (0, Nyquist), an empty band, a quality factor <= 0) or whose response is not finite."""
    nyq = spec.fs_hz / 2
    if spec.kind == "bandpass":
        edges = [v for v in spec.params if v is not None]
        if not all(0 < v < nyq for v in edges):
            problem = f"band edges must lie strictly between 0 and the Nyquist frequency {nyq:g} Hz"
        elif len(edges) == 2 and edges[0] >= edges[1]:
            problem = "the low edge must be below the high edge"
        else:
            problem = ""
    else:
        f0, quality = spec.params
        if not 0 < f0 < nyq:
            problem = f"the notch frequency must lie strictly between 0 and the Nyquist frequency {nyq:g} Hz"
        elif not quality > 0:
            problem = "the quality factor must be positive"
        else:
            problem = ""
    if problem:
        raise SignalQualityError(f"cannot design the {_describe(spec)}: {problem}")
    response = zero_phase_gain(spec, np.linspace(0.0, nyq, 1025)).astype(np.float32)
    if not np.isfinite(response).all():
        raise SignalQualityError(f"the {_describe(spec)} has a non-finite response (NaN/Inf); refusing to filter")


def zero_phase_gain(spec: FilterSpec, freqs_hz: np.ndarray) -> np.ndarray:
    """``|H(f)|^2`` of one filter at the given frequencies (float64), in closed form.

    Band-pass: the digital Butterworth filter of order :data:`BANDPASS_ORDER` that
    ``scipy.signal.butter`` designs (bilinear transform with pre-warped edges), whose squared
    magnitude is ``1 / (1 + r^(2N))`` with ``r`` the prototype's frequency: ``w / wh``
    (low-pass), ``wl / w`` (high-pass) or ``(w^2 - wl wh) / (w (wh - wl))`` (band-pass), where
    ``w = tan(pi f / fs)``. Notch: the second-order notch of ``scipy.signal.iirnotch``,
    ``d / (d + b^2 sin^2 W)`` with ``d = (cos W - cos W0)^2``, ``W = 2 pi f / fs`` and
    ``b = tan(pi f0 / (fs Q))``. Both equal ``freqz`` of scipy's designs to ~1e-11
    (``tests/test_signal.py``); the closed forms keep ``scipy.signal`` (0.45 s to import) out
    of every worker process.
    """
    f = np.asarray(freqs_hz, dtype=np.float64)
    fs = spec.fs_hz
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        if spec.kind == "bandpass":
            low, high = spec.params
            w = np.tan(np.pi * f / fs)
            if low is not None and high is not None:
                wl, wh = math.tan(math.pi * low / fs), math.tan(math.pi * high / fs)
                r = (w * w - wl * wh) / (w * (wh - wl))
            elif low is not None:
                r = math.tan(math.pi * low / fs) / w
            else:
                r = w / math.tan(math.pi * high / fs)
            return 1.0 / (1.0 + r ** (2 * BANDPASS_ORDER))  # r = +-inf at 0 Hz: gain 0
        f0, quality = spec.params
        omega = 2 * np.pi * f / fs
        d = (np.cos(omega) - math.cos(2 * math.pi * f0 / fs)) ** 2
        b = math.tan(math.pi * f0 / (fs * quality))
        return d / (d + (b * np.sin(omega)) ** 2)


@functools.lru_cache(maxsize=16)
def _gain(n_in: int, n_out: int, fs_in_hz: float, filters: tuple[FilterSpec, ...],
          band_limit_hz: float) -> np.ndarray:
    """Product of the filters' zero-phase gains on the rfft grid below the band limit,
    scaled by ``n_out / n_in`` (so that the irfft at the new length keeps amplitudes)."""
    freqs = np.arange(n_in // 2 + 1) * (fs_in_hz / n_in)
    if n_in == n_out:  # no resampling: keep every bin, Nyquist included
        keep = freqs.shape[0]
        gain = np.full(keep, 1.0)
    else:  # anti-alias: raised-cosine roll-off from ANTIALIAS_START x band limit to 0 at it
        keep = min(int(np.searchsorted(freqs, band_limit_hz, side="left")), n_out // 2 + 1)
        start = ANTIALIAS_START * band_limit_hz
        ramp = np.clip((freqs[:keep] - start) / (band_limit_hz - start), 0.0, 1.0)
        gain = (0.5 + 0.5 * np.cos(np.pi * ramp)) * (n_out / n_in)
    for spec in filters:
        gain *= zero_phase_gain(spec, freqs[:keep])
    out = gain.astype(np.float32)
    out.setflags(write=False)
    return out
