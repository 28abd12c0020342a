"""Per-frame features of a montaged, filtered signal, chosen by name from :data:`FEATURES`.

Every feature maps ``x`` (channels, samples) at ``fs_hz`` to float32
``(n_frames, n_channels, n_features)`` with ``n_frames = (n_samples // fs_hz) *
frames_per_s``: whole seconds only, the trailing partial second is dropped. Frame ``k``
describes ``[k / frames_per_s, (k + 1) / frames_per_s)`` seconds; its analysis window is
centred on that interval (to within half a sample) and may reach past it, so the signal
is extended by reflection at its ends. The chunked pipeline gives each chunk real
neighbouring samples, so only the first and last frames of a file see the reflection.

* ``raw``: the waveform itself; ``frames_per_s = fs_hz``, 1 value per frame.
* ``lfcc``: linear-frequency cepstral coefficients as in Harati et al. 2015 and
  Golmohammadi et al. 2017: 0.1 s frames, 0.2 s Hamming windows, a linearly spaced
  triangular filter bank (not mel), log filter energies, DCT-II; cepstra c1..c7, the frame
  energy ``log(mean(x^2))`` and the differential energy (max - min of the frame energy
  over ``diff_energy_frames`` frames), their first derivatives, and second derivatives of
  all but the differential energy (TUH's convention): 9 + 9 + 8 = 26 values per channel.
  Derivatives are regression slopes over ``delta_frames`` / ``accel_frames`` frames. The
  papers fix the frame and window lengths, the 7 cepstra and the 26-value layout; the
  filter count (16, over 0-70 Hz), the 0.9 s differential-energy span and the derivative
  spans (9 and 3 frames) are our defaults, all parameters.
* ``spectrogram``: log power spectral density (uV^2/Hz) averaged in frequency bands
  (delta, theta, alpha, beta, gamma, split finer), Hann windows, ``frames_per_s`` frames.

Powers are floored at :data:`POWER_FLOOR` before the log, so silent (zero-filled or
flat) channels give finite constants.
"""

from __future__ import annotations

import abc
import functools
import json
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import scipy.fft
from numpy.lib.stride_tricks import as_strided, sliding_window_view
from threadpoolctl import ThreadpoolController

from seizure.errors import ConfigError
from seizure.registry import pick

POWER_FLOOR = 1e-6  # uV^2 (or uV^2/Hz): far below the quantisation noise of EEG EDF files
LFCC_BLOCK_BYTES = 2 * 2**20  # LFCC works on as many channels at once as keep its frames about this size

DEFAULT_BANDS = (
    (0.5, 2.0), (2.0, 4.0),                 # delta
    (4.0, 6.0), (6.0, 8.0),                 # theta
    (8.0, 10.0), (10.0, 13.0),              # alpha
    (13.0, 16.0), (16.0, 20.0), (20.0, 25.0), (25.0, 30.0),  # beta
    (30.0, 40.0), (40.0, 50.0), (50.0, 70.0),                # gamma
)


_RESOLVED: dict[tuple[str, str], dict[str, Any]] = {}  # (feature, params) -> checked parameters


class Feature(abc.ABC):
    """Base class: parameter validation, shapes and framing shared by all features."""

    name = ""
    defaults: Mapping[str, Any] = {}

    def resolve(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        """Defaults merged with ``params``; unknown names and wrong types raise ConfigError.
        Checked once per distinct ``params`` (a :class:`~seizure.preprocess.recipe.Recipe`
        resolves its own when built); later calls return a copy of the first answer."""
        key = (self.name, json.dumps(params or {}, sort_keys=True, default=repr))
        if key not in _RESOLVED:
            _RESOLVED[key] = self._check(params)
        return dict(_RESOLVED[key])

    def _check(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        params = dict(params or {})
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            valid = ", ".join(sorted(self.defaults)) or "(none)"
            raise ConfigError(f"unknown parameter {unknown[0]!r} for feature {self.name!r}; valid parameters: {valid}")
        out = dict(self.defaults)
        for key, value in params.items():
            out[key] = _check_type(self.name, key, value, self.defaults[key])
        self.validate(out)
        return out

    def validate(self, p: dict[str, Any]) -> None:
        """Check parameter values (subclasses)."""

    def frames_per_s(self, params: Mapping[str, Any] | None, fs_hz: float) -> int:
        return int(self.resolve(params)["frames_per_s"])

    @abc.abstractmethod
    def n_features(self, params: Mapping[str, Any] | None) -> int:
        """Values per channel per frame."""

    @abc.abstractmethod
    def context_s(self, params: Mapping[str, Any] | None) -> int:
        """Whole seconds of signal on each side that a frame's value depends on; frames that
        far from the ends of the given signal equal those of a longer signal."""

    @abc.abstractmethod
    def compute(self, x: np.ndarray, fs_hz: float, params: Mapping[str, Any] | None = None) -> np.ndarray:
        """Features of ``x`` (channels, samples): (frames, channels, n_features) float32."""

    @abc.abstractmethod
    def apply_gain(self, x: np.ndarray, gain_db: np.ndarray, params: Mapping[str, Any] | None = None) -> None:
        """In place: ``x`` (frames, channels, n_features) becomes the features of the same
        signal with each channel scaled by ``gain_db`` (channels,) decibels of amplitude."""


class Raw(Feature):
    """The montaged waveform, one frame per sample."""

    name = "raw"
    defaults: Mapping[str, Any] = {}

    def frames_per_s(self, params: Mapping[str, Any] | None, fs_hz: float) -> int:
        self.resolve(params)
        return _whole_hz(fs_hz)

    def n_features(self, params: Mapping[str, Any] | None) -> int:
        self.resolve(params)
        return 1

    def context_s(self, params: Mapping[str, Any] | None) -> int:
        self.resolve(params)
        return 0

    def compute(self, x: np.ndarray, fs_hz: float, params: Mapping[str, Any] | None = None) -> np.ndarray:
        self.resolve(params)
        x = _as_2d(x)
        fs = _whole_hz(fs_hz)
        n = (x.shape[1] // fs) * fs
        return np.ascontiguousarray(x[:, :n].T, dtype=np.float32)[:, :, None]

    def apply_gain(self, x: np.ndarray, gain_db: np.ndarray, params: Mapping[str, Any] | None = None) -> None:
        x *= (10.0 ** (np.asarray(gain_db, dtype=np.float32) / 20.0))[:, None]


class Lfcc(Feature):
    """Linear-frequency cepstral coefficients + energy + differential energy + derivatives."""

    name = "lfcc"
    defaults: Mapping[str, Any] = {
        "frames_per_s": 10,        # 0.1 s frames
        "window_s": 0.2,           # analysis window
        "n_cepstra": 7,            # c1..c7 (c0 is replaced by the frame energy)
        "n_filters": 16,           # triangular filters, linearly spaced
        "fmin_hz": 0.0,
        "fmax_hz": 70.0,
        "diff_energy_frames": 9,   # span of the max - min of the frame energy (0.9 s)
        "delta_frames": 9,         # span of the first-derivative regression
        "accel_frames": 3,         # span of the second-derivative regression
    }

    def validate(self, p: dict[str, Any]) -> None:
        _positive(self.name, p, "frames_per_s", "window_s", "n_cepstra", "n_filters")
        if p["window_s"] * p["frames_per_s"] < 1 - 1e-9:
            raise ConfigError(f"lfcc window_s ({p['window_s']}) must cover a frame (1/frames_per_s = "
                              f"{1 / p['frames_per_s']:g} s)")
        if p["n_cepstra"] >= p["n_filters"]:
            raise ConfigError(f"lfcc n_cepstra ({p['n_cepstra']}) must be below n_filters ({p['n_filters']})")
        if not 0 <= p["fmin_hz"] < p["fmax_hz"]:
            raise ConfigError(f"lfcc needs 0 <= fmin_hz < fmax_hz, got {p['fmin_hz']} and {p['fmax_hz']}")
        for key in ("diff_energy_frames", "delta_frames", "accel_frames"):
            if p[key] < 1 or p[key] % 2 == 0:
                raise ConfigError(f"lfcc {key} must be a positive odd number of frames, got {p[key]}")

    def n_features(self, params: Mapping[str, Any] | None) -> int:
        p = self.resolve(params)
        base = p["n_cepstra"] + 2
        return 2 * base + base - 1

    def context_s(self, params: Mapping[str, Any] | None) -> int:
        p = self.resolve(params)  # accel <- delta <- differential energy <- frame energies <- windows
        frames = p["diff_energy_frames"] // 2 + p["delta_frames"] // 2 + p["accel_frames"] // 2
        return _ceil_s(frames / p["frames_per_s"] + _overhang_s(p))

    def apply_gain(self, x: np.ndarray, gain_db: np.ndarray, params: Mapping[str, Any] | None = None) -> None:
        # Only the log frame energy moves: the cepstra c1.. are DCT terms orthogonal to a constant
        # log-spectrum offset, the differential energy and the derivatives are differences.
        nc = self.resolve(params)["n_cepstra"]
        x[..., nc] += np.asarray(gain_db, dtype=np.float32) * np.float32(_LOG_POWER_PER_DB)

    def compute(self, x: np.ndarray, fs_hz: float, params: Mapping[str, Any] | None = None) -> np.ndarray:
        # Many small matrix products: BLAS threads only contend (10x slower on a busy machine).
        with _single_blas_thread():
            return self._compute(x, fs_hz, params)

    def _compute(self, x: np.ndarray, fs_hz: float, params: Mapping[str, Any] | None) -> np.ndarray:
        p = self.resolve(params)
        x = _as_2d(x)
        fs = _whole_hz(fs_hz)
        if p["fmax_hz"] > fs / 2:
            raise ConfigError(f"lfcc fmax_hz ({p['fmax_hz']:g}) is above the Nyquist frequency {fs / 2:g} Hz "
                              f"of the {fs} Hz signal; lower recipe.feature_params.fmax_hz")
        win = max(2, int(round(p["window_s"] * fs)))
        n_ch, n_t = x.shape[0], n_frames_for(x.shape[1], fs, p["frames_per_s"])
        out = np.empty((n_t, n_ch, self.n_features(p)), dtype=np.float32)
        # a few channels at a time: each step's arrays stay in the CPU cache (~25% faster than
        # whole-chunk arrays, which go through main memory at every step)
        group = max(1, LFCC_BLOCK_BYTES // max(1, 4 * n_t * win))
        for c0 in range(0, n_ch, group):
            c1 = min(n_ch, c0 + group)
            self._channels(_frames(x[c0:c1], fs, p["frames_per_s"], win), fs, p, out[:, c0:c1])
        return out

    def _channels(self, frames: np.ndarray, fs: int, p: dict[str, Any], out: np.ndarray) -> None:
        """Features of a few channels' analysis windows (c, T, win) into ``out`` (T, c, n_features).

        The frame energy and the 9 base values go to time-padded buffers (edge frames
        repeated, as ``mode="nearest"`` filters do) whose time shifts are slices: the
        differential energy and the derivatives are a few whole-array operations (faster
        than ``scipy.ndimage`` filters on strided columns).
        """
        n_ch, n_t, win = frames.shape
        nc, b = p["n_cepstra"], p["n_cepstra"] + 2
        h = p["delta_frames"] // 2
        base = np.empty((n_ch, n_t + 2 * h, b), dtype=np.float32)
        mid = base[:, h:h + n_t]
        # cepstra: |Hamming-windowed DFT|^2 -> linear filter bank -> log -> DCT-II (c1..)
        n_fft = 1 << (win - 1).bit_length()
        dft, bank = _lfcc_matrices(win, n_fft, fs, p["n_filters"], p["fmin_hz"], p["fmax_hz"])
        spectrum = frames @ dft  # [re | im]
        np.square(spectrum, out=spectrum)
        log_fb = spectrum @ bank  # the bank is stacked twice: re^2 + im^2 summed by the product
        log_fb += POWER_FLOOR
        np.log(log_fb, out=log_fb)
        np.matmul(log_fb, _dct_matrix(p["n_filters"], nc), out=mid[..., :nc])
        # frame energy log(mean x^2) and differential energy (max - min over a span)
        he = p["diff_energy_frames"] // 2
        padded_energy = np.empty((n_ch, n_t + 2 * he), dtype=np.float32)
        energy = padded_energy[:, he:he + n_t]
        np.einsum("ctw,ctw->ct", frames, frames, out=energy)
        energy *= 1.0 / win
        energy += POWER_FLOOR
        np.log(energy, out=energy)
        mid[..., nc] = energy
        _repeat_edges(padded_energy, he)
        top, bottom = padded_energy[:, :n_t].copy(), padded_energy[:, :n_t].copy()
        for i in range(1, 2 * he + 1):
            np.maximum(top, padded_energy[:, i:i + n_t], out=top)
            np.minimum(bottom, padded_energy[:, i:i + n_t], out=bottom)
        np.subtract(top, bottom, out=mid[..., nc + 1])
        _repeat_edges(base, h)
        # derivatives: all 9 base values, then all but the differential energy
        ha = p["accel_frames"] // 2
        delta = np.empty((n_ch, n_t + 2 * ha, b), dtype=np.float32)
        _slopes(base, h, delta[:, ha:ha + n_t])
        _repeat_edges(delta, ha)
        accel = np.empty((n_ch, n_t, b - 1), dtype=np.float32)
        _slopes(delta[..., :b - 1], ha, accel)
        out[..., :b] = mid.transpose(1, 0, 2)
        out[..., b:2 * b] = delta[:, ha:ha + n_t].transpose(1, 0, 2)
        out[..., 2 * b:] = accel.transpose(1, 0, 2)


def _repeat_edges(x: np.ndarray, h: int) -> None:
    """Fill the first and last ``h`` frames of ``x`` (c, h + T + h, ...) with its edge frames."""
    if h:
        x[:, :h] = x[:, h:h + 1]
        x[:, -h:] = x[:, -h - 1:-h]


def _slopes(padded: np.ndarray, h: int, out: np.ndarray) -> None:
    """Regression slopes over ``2h + 1`` frames along axis 1: ``out[:, t] = sum_n n (x[t + n] -
    x[t - n]) / (2 sum n^2)`` with ``x[t] = padded[:, h + t]`` (``padded`` has ``h`` frames of
    margin at both ends)."""
    n_t = out.shape[1]
    if h == 0:
        out[...] = 0.0
        return
    scale = 1.0 / (2.0 * sum(n * n for n in range(1, h + 1)))
    np.subtract(padded[:, h + 1:h + 1 + n_t], padded[:, h - 1:h - 1 + n_t], out=out)
    if h > 1:
        term = np.empty_like(out)
        for n in range(2, h + 1):
            np.subtract(padded[:, h + n:h + n + n_t], padded[:, h - n:h - n + n_t], out=term)
            term *= n
            out += term
    out *= scale


class Spectrogram(Feature):
    """Log power spectral density averaged in frequency bands."""

    name = "spectrogram"
    defaults: Mapping[str, Any] = {
        "frames_per_s": 1,
        "window_s": 2.0,
        "bands": [list(b) for b in DEFAULT_BANDS],
    }

    def validate(self, p: dict[str, Any]) -> None:
        _positive(self.name, p, "frames_per_s", "window_s")
        if p["window_s"] * p["frames_per_s"] < 1 - 1e-9:
            raise ConfigError(f"spectrogram window_s ({p['window_s']}) must cover a frame "
                              f"(1/frames_per_s = {1 / p['frames_per_s']:g} s)")
        bands = p["bands"]
        if not bands:
            raise ConfigError("spectrogram bands must list at least one [low_hz, high_hz] pair")
        for band in bands:
            if (not isinstance(band, (list, tuple)) or len(band) != 2
                    or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in band)
                    or not 0 <= band[0] < band[1]):
                raise ConfigError(f"spectrogram bands must be [low_hz, high_hz] pairs with 0 <= low < high, "
                                  f"got {band!r}")
        p["bands"] = [[float(lo), float(hi)] for lo, hi in bands]

    def n_features(self, params: Mapping[str, Any] | None) -> int:
        return len(self.resolve(params)["bands"])

    def context_s(self, params: Mapping[str, Any] | None) -> int:
        return _ceil_s(_overhang_s(self.resolve(params)))

    def compute(self, x: np.ndarray, fs_hz: float, params: Mapping[str, Any] | None = None) -> np.ndarray:
        p = self.resolve(params)
        x = _as_2d(x)
        fs = _whole_hz(fs_hz)
        win = max(2, int(round(p["window_s"] * fs)))
        freqs = np.fft.rfftfreq(win, 1 / fs)
        weights = np.zeros((len(p["bands"]), freqs.size), dtype=np.float32)
        for i, (lo, hi) in enumerate(p["bands"]):
            if hi > fs / 2:
                raise ConfigError(f"spectrogram band [{lo:g}, {hi:g}] Hz reaches above the Nyquist frequency "
                                  f"{fs / 2:g} Hz of the {fs} Hz signal")
            inside = (freqs >= lo) & (freqs < hi)
            if not inside.any():
                raise ConfigError(f"spectrogram band [{lo:g}, {hi:g}] Hz holds no frequency bin with "
                                  f"window_s={p['window_s']:g} (bins every {fs / win:g} Hz); widen it")
            weights[i, inside] = 1.0 / inside.sum()
        frames = _frames(x, fs, p["frames_per_s"], win)
        window = np.hanning(win + 2)[1:-1].astype(np.float32)  # no zero end-points
        power = np.abs(scipy.fft.rfft(frames * window, axis=-1)) ** 2
        power *= 2.0 / (fs * float(np.sum(window ** 2)))  # one-sided PSD, uV^2/Hz
        out = np.log(power @ weights.T + POWER_FLOOR).astype(np.float32)
        return np.ascontiguousarray(out.transpose(1, 0, 2))

    def apply_gain(self, x: np.ndarray, gain_db: np.ndarray, params: Mapping[str, Any] | None = None) -> None:
        x += (np.asarray(gain_db, dtype=np.float32) * np.float32(_LOG_POWER_PER_DB))[:, None]


_LOG_POWER_PER_DB = math.log(10.0) / 10.0  # natural-log power per dB of amplitude (20 log10 a)


FEATURES: dict[str, Feature] = {f.name: f for f in (Lfcc(), Raw(), Spectrogram())}


_THREADPOOLS: list[ThreadpoolController] = []


def _single_blas_thread():
    """Context manager limiting BLAS to one thread; the loaded libraries are looked up once per
    process (``threadpool_limits`` would search them on every call: ~0.3 ms, 1% of a chunk)."""
    if not _THREADPOOLS:
        _THREADPOOLS.append(ThreadpoolController())
    return _THREADPOOLS[0].limit(limits=1, user_api="blas")


def get(name: str) -> Feature:
    """The feature registered under ``name``; unknown names list the valid ones."""
    return pick(FEATURES, name, "feature", plural="features")


def n_frames_for(n_samples: int, fs_hz: float, frames_per_s: int) -> int:
    """``(n_samples // fs) * frames_per_s``: frames covering the whole seconds of a signal."""
    return (n_samples // _whole_hz(fs_hz)) * frames_per_s


# -- helpers ---------------------------------------------------------------------------

def _frames(x: np.ndarray, fs: int, frames_per_s: int, win: int) -> np.ndarray:
    """Analysis windows (C, T, win), a copy, centred on each frame interval (T = whole seconds
    x fps). Windows that reach past an end see the signal extended by reflection; only those
    few are cut from short extended end pieces (extending the whole signal would copy it)."""
    n = x.shape[1]
    n_t = n_frames_for(n, fs, frames_per_s)
    begin = (np.arange(n_t, dtype=np.int64) * fs) // frames_per_s - (win - fs // frames_per_s) // 2
    out = np.empty((x.shape[0], n_t, win), dtype=x.dtype)
    if n_t == 0:
        return out
    left, right = max(0, -int(begin[0])), max(0, int(begin[-1]) + win - n)
    if n < 2 * win + left + right:  # short: extend it all
        out[:] = sliding_window_view(_extend(x, left, right), win, axis=1)[:, begin + left]
        return out
    k0, k1 = int(np.count_nonzero(begin < 0)), int(np.count_nonzero(begin + win <= n))
    if fs % frames_per_s == 0:  # frames [k0, k1) lie inside, evenly spaced: a strided view, copied once
        row, col = x.strides
        hop = fs // frames_per_s
        out[:, k0:k1] = as_strided(x[:, begin[k0]:], (x.shape[0], k1 - k0, win), (row, col * hop, col))
    else:
        out[:, k0:k1] = sliding_window_view(x, win, axis=1)[:, begin[k0:k1]]
    if k0:
        piece = _extend(x[:, :win + left], left, 0, n > left)
        for k in range(k0):
            out[:, k] = piece[:, begin[k] + left:begin[k] + left + win]
    if k1 < n_t:
        start = n - win - right
        piece = _extend(x[:, start:], 0, right, n > right)
        for k in range(k1, n_t):
            out[:, k] = piece[:, begin[k] - start:begin[k] - start + win]
    return out


def _extend(x: np.ndarray, left: int, right: int, reflect: bool | None = None) -> np.ndarray:
    """``x`` (C, n) with ``left``/``right`` samples added by reflection about its end samples
    (``np.pad(mode="reflect")``), or by repeating them when ``x`` is too short to reflect
    (``reflect`` overrides the choice: end pieces of a longer signal reflect as it would)."""
    n = x.shape[1]
    if reflect is None:
        reflect = n > max(left, right)
    if reflect:
        parts = [x[:, left:0:-1], x, x[:, n - 2:n - 2 - right:-1]]
    else:
        parts = [np.repeat(x[:, :1], left, axis=1), x, np.repeat(x[:, -1:], right, axis=1)]
    return np.concatenate(parts, axis=1)


def _linear_filter_bank(n_filters: int, fmin: float, fmax: float, n_fft: int, fs: int) -> np.ndarray:
    """Triangular filters (n_filters, n_fft//2+1) with centres evenly spaced in [fmin, fmax]."""
    edges = np.linspace(fmin, fmax, n_filters + 2)
    freqs = np.fft.rfftfreq(n_fft, 1 / fs)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rise = (freqs - lo) / (mid - lo)
    fall = (hi - freqs) / (hi - mid)
    return np.clip(np.minimum(rise, fall), 0.0, None).astype(np.float32)


@functools.lru_cache(maxsize=8)
def _lfcc_matrices(win: int, n_fft: int, fs: int, n_filters: int, fmin: float, fmax: float
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The LFCC's windowed DFT ``(win, 2 n_bins)`` and stacked filter bank ``(2 n_bins, n_filters)``.

    ``frames @ dft`` = [real | imag] of the first n_bins bins of ``rfft(hamming * frame,
    n_fft)`` (the bins up to the bank's last nonzero one), scaled so that white noise of
    variance s^2 gives power s^2 per bin; a matrix product is much faster than many tiny
    FFTs. ``(spectrum ** 2) @ bank`` = the filter-bank energies of re^2 + im^2."""
    full = _linear_filter_bank(n_filters, fmin, fmax, n_fft, fs)
    n_bins = int(np.flatnonzero(full.any(axis=0))[-1]) + 1  # bins above fmax are unused
    window = np.hamming(win)
    angle = 2 * np.pi * np.outer(np.arange(win), np.arange(n_bins)) / n_fft
    scale = window[:, None] / np.sqrt(np.sum(window ** 2))
    dft = np.concatenate([np.cos(angle) * scale, -np.sin(angle) * scale], axis=1).astype(np.float32)
    bank = np.ascontiguousarray(np.concatenate([full[:, :n_bins]] * 2, axis=1).T)
    return _frozen(dft), _frozen(bank)


@functools.lru_cache(maxsize=8)
def _dct_matrix(n_in: int, n_cepstra: int) -> np.ndarray:
    """Orthonormal DCT-II rows 1..n_cepstra as a (n_in, n_cepstra) matrix."""
    j = np.arange(n_in)[:, None] + 0.5
    k = np.arange(1, n_cepstra + 1)[None, :]
    return _frozen((np.sqrt(2.0 / n_in) * np.cos(np.pi * k * j / n_in)).astype(np.float32))


def _frozen(a: np.ndarray) -> np.ndarray:
    """``a`` made read-only (it is cached and shared)."""
    a.setflags(write=False)
    return a


def _overhang_s(p: dict[str, Any]) -> float:
    """How far an analysis window reaches past its frame interval on each side."""
    return (p["window_s"] - 1 / p["frames_per_s"]) / 2


def _ceil_s(seconds: float) -> int:
    return math.ceil(seconds - 1e-9)


def _as_2d(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"expected (channels, samples) data, got shape {x.shape}")
    return x


def _whole_hz(fs_hz: float) -> int:
    fs = int(round(fs_hz))
    if fs <= 0 or abs(fs - fs_hz) > 1e-9:
        raise ConfigError(f"features need a whole-number sampling rate, got {fs_hz} Hz (set recipe.fs_hz)")
    return fs


def _positive(feature: str, p: dict[str, Any], *keys: str) -> None:
    for key in keys:
        if not p[key] > 0:
            raise ConfigError(f"{feature} {key} must be positive, got {p[key]!r}")


def _check_type(feature: str, key: str, value: Any, default: Any) -> Any:
    kind: Callable[[Any], bool]
    if isinstance(default, bool):
        kind, what = (lambda v: isinstance(v, bool)), "true or false"
    elif isinstance(default, int):
        kind, what = (lambda v: isinstance(v, int) and not isinstance(v, bool)), "an integer"
    elif isinstance(default, float):
        kind, what = (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)), "a number"
    else:
        kind, what = (lambda v: isinstance(v, (list, tuple))), "a list"
    if not kind(value):
        raise ConfigError(f"{feature} parameter {key!r} must be {what}, got {value!r}")
    return float(value) if isinstance(default, float) else value
