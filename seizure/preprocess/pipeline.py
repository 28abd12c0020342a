"""EDF -> montage -> signal steps -> features, in chunks of bounded memory.

A recording is processed in chunks of ``chunk_s`` seconds (whole seconds, so frames line
up). Each chunk is read with ``pad_s`` seconds of real neighbouring samples on both
sides (only the signals the montage needs), montaged, filtered and resampled in one
frequency-domain pass (:mod:`seizure.preprocess.signal`; the montage is formed on the spectra when
there are fewer electrodes than channels, as for TCP's 19 -> 22), turned into features,
and trimmed back to its own seconds (features are computed on the chunk plus the few
seconds of context their frames depend on). At the file's two ends the missing neighbours are an extension
of the signal (:func:`seizure.preprocess.signal.extend`), exactly as when the whole file is processed
at once, so chunked and whole-file results agree everywhere to float32 rounding
(``tests/test_pipeline.py``). Memory is O(chunk), whatever the recording's length.

Only whole seconds are kept (``n_seconds = floor(duration)``); features have
``n_seconds * frames_per_s`` frames. Quality checks (:mod:`seizure.preprocess.quality`) run on the
same chunks: NaN/Inf raises, flat channels are masked, clipping is reported.

A recipe that normalises each recording (``normalize = "recording_median"``,
:mod:`seizure.preprocess.normalize`) needs the recording's median before its first chunk:
:meth:`EdfPipeline.feature_chunks` then runs two passes over the file (the first collects
the median's samples and runs the quality checks) and yields the second pass's features,
normalised. A recording whose features fit in ``normalize.KEEP_MB`` (200 MB: 5.1 h of the
demo's LFCC) keeps them from the first pass instead of computing them again; a longer one is
read twice, so memory stays bounded, and its first pass computes only the frames the median
is taken over (3,600 at most). :meth:`EdfPipeline.raw_feature_chunks` is one pass
without the normalisation (the store normalises its file in place instead).
"""

from __future__ import annotations

import datetime
import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seizure.preprocess import features as feats
from seizure.preprocess import montage, normalize
from seizure.errors import AnnotationError, ConfigError, EDFError, SeizureError
from seizure.events import Event
from seizure.io.annotations import binary_events, find_sidecar, read_annotations, second_labels
from seizure.io.edf import EdfReader
from seizure.preprocess.quality import QualityMonitor, QualityReport, check_finite
from seizure.preprocess.recipe import Recipe
from seizure.preprocess.signal import extend, plan_steps

log = logging.getLogger(__name__)

# Seconds per chunk. With the 10 s pads a chunk is 160 s: FFT lengths with small prime factors
# at the usual rates (256 Hz: 2^13 x 5; 250 Hz: 2^6 x 5^4) and arrays that stay in cache.
# Measured on a 1 h file (LFCC recipe, one process): 0.37 CPU s per hour of EEG against
# 0.41-0.43 at 300 s, 0.41 at 100 s and 0.49 at 620 s.
CHUNK_S = 140.0
MIN_PAD_S = 10.0


def default_pad_s(recipe: Recipe) -> float:
    """Padding that outlasts the high-pass filter's response (5 / highpass_hz, at least
    10 s: 10 s for 0.5 Hz) and twice the feature's context (1 s for LFCC)."""
    hp = recipe.highpass_hz
    context = feats.get(recipe.feature).context_s(recipe.feature_params)
    return float(max(MIN_PAD_S, math.ceil(5.0 / hp) if hp else 0.0, 2 * context))


@dataclass(frozen=True)
class FeatureChunk:
    """Features of seconds ``[start_s, start_s + n_frames / frames_per_s)``."""

    start_s: int
    features: np.ndarray  # float32 (n_frames, n_channels, n_features)


@dataclass(frozen=True)
class MontagedChunk:
    """Filtered, resampled bipolar signal of seconds ``[start_s, start_s + n / fs_hz)``."""

    start_s: int
    data: np.ndarray  # float32 (n_channels, n_samples)
    fs_hz: float


@dataclass
class Processed:
    """A whole recording's features and what the pipeline found on the way."""

    path: Path
    features: np.ndarray  # float32 (n_seconds * frames_per_s, n_channels, n_features)
    channels: list[str]
    mask: np.ndarray  # bool (n_channels,): False for zero-filled or flat channels
    missing: list[str]
    duration_s: float
    n_seconds: int
    fs_hz_original: float
    fs_hz: float
    frames_per_s: int
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Labels:
    """Reference labels of one recording from its annotation sidecar."""

    per_second: np.ndarray  # uint8 (n_seconds,), 1 where the second's midpoint is in a seizure
    seizures: list[Event]  # binary whole-head seizure events
    sidecar: Path


class EdfPipeline:
    """One EDF file under one recipe: header, montage and filters resolved once.

    Iterate :meth:`feature_chunks` (or :meth:`montaged_chunks`) once, then call
    :meth:`report` for the quality outcome (final mask and warnings). Use as a context
    manager (closes the file).
    """

    def __init__(self, path: str | Path, recipe: Recipe, chunk_s: float = CHUNK_S, pad_s: float | None = None, *,
                 reader: EdfReader | None = None):
        if not (isinstance(chunk_s, (int, float)) and chunk_s >= 1):
            raise ConfigError(f"chunk_s must be at least 1 second, got {chunk_s!r}")
        if pad_s is None:
            pad_s = default_pad_s(recipe)
        if not (isinstance(pad_s, (int, float)) and pad_s >= 0):
            raise ConfigError(f"pad_s must be >= 0 seconds, got {pad_s!r}")
        self.path = Path(path)
        self.recipe = recipe
        self.feature = feats.get(recipe.feature)
        self.params = self.feature.resolve(recipe.feature_params)
        self._reader = EdfReader(self.path) if reader is None else reader  # or any reader alike (an MNE Raw's)
        try:
            self._setup(float(chunk_s), float(pad_s))
        except BaseException:
            self._reader.close()
            raise

    def _setup(self, chunk_s: float, pad_s: float) -> None:
        reader, recipe = self._reader, self.recipe
        names = reader.channels  # normalised names of the EEG signals (a computed property)
        try:
            self.plan = montage.plan(names, recipe.montage, recipe.missing_channels,
                                     recipe.min_channels, path=self.path)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        try:
            self.signal_plan = plan_steps(recipe.steps(), reader.fs_hz)
        except SeizureError as exc:
            raise type(exc)(exc.reason, self.path) from None
        self.fs_hz_original = float(reader.fs_hz)
        self.fs_hz = self.signal_plan.fs_out_hz
        self.frames_per_s = self.feature.frames_per_s(self.params, self.fs_hz)
        self.n_features = self.feature.n_features(self.params)
        self._context = self.feature.context_s(self.params)
        self.channels = list(self.plan.channels)
        self.duration_s = float(reader.duration_s)
        self._n_in = reader.n_samples()
        self.n_seconds = int(math.floor(self._n_in / self.fs_hz_original + 1e-9))
        if self.n_seconds < 1:
            raise EDFError(f"recording lasts {self.duration_s:g} s; at least one whole second is needed", self.path)
        g = self.signal_plan.granule_s
        self._chunk = max(g, int(chunk_s // g) * g)
        self._pad = -(-int(math.ceil(pad_s)) // g) * g
        self._signals = [reader.eeg_indices[k] for k in self.plan.needed_indices]
        electrodes = [names[k] for k in self.plan.needed_indices]
        limits = []
        for i in self._signals:
            s = reader.signals[i]
            a, b = s.physical_min * s.uv_factor, s.physical_max * s.uv_factor
            limits.append((min(a, b), max(a, b)))
        uses = self.plan.apply(np.eye(len(self._signals), dtype=np.float32)) != 0
        # the montage and the filters are linear: form it on whichever side has fewer rows to transform
        self._montage_on_spectra = len(self._signals) < len(self.channels)
        self._monitor = QualityMonitor(electrodes, self.channels, uses, limits, self.path)
        self._started = self._done = False

    @property
    def n_frames(self) -> int:
        return self.n_seconds * self.frames_per_s

    @property
    def missing(self) -> list[str]:
        return list(self.plan.missing)

    @property
    def start_time(self) -> datetime.datetime | None:
        """The recording's start date and time from the EDF header (None if unreadable)."""
        return self._reader.header.start_time

    def __enter__(self) -> EdfPipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._reader.close()

    def _segments(self, repeat: bool = False) -> Iterator[tuple[int, int, np.ndarray, int]]:
        """Per chunk: (t0, t1, filtered padded signal, pad in seconds). The quality checks see
        the first pass only; ``repeat`` is a second pass over the same file."""
        if self._started and not repeat:
            raise RuntimeError("an EdfPipeline can be iterated only once")
        self._started = True
        monitor = None if repeat else self._monitor
        fs_in, g, pad = self.fs_hz_original, self.signal_plan.granule_s, self._pad
        for t0 in range(0, self.n_seconds, self._chunk):
            t1 = min(t0 + self._chunk, self.n_seconds)
            end = -(-t1 // g) * g
            a, b = _at(t0 - pad, fs_in), _at(end + pad, fs_in)
            lo, hi = max(0, a), min(self._n_in, b)
            raw = self._reader.read_samples(lo, hi, self._signals)
            with np.errstate(over="ignore", invalid="ignore"):  # huge values: NaN/Inf are checked below
                if monitor is not None:
                    monitor.add_raw(raw[:, _at(t0, fs_in) - lo:_at(t1, fs_in) - lo])
                if lo > a or hi < b:  # a file edge: extend the signal as a whole-file run would
                    raw = extend(raw, lo - a, b - hi, int(round(fs_in)))
                if self._montage_on_spectra:
                    y = self.signal_plan.apply(raw, mix=self.plan)
                else:
                    y = self.signal_plan.apply(self.plan.apply(raw))
                del raw
                if monitor is not None:
                    monitor.add_montaged(self._own(y, t0, t1, pad))
            yield t0, t1, y, pad
        if monitor is not None:
            self._done = True

    def _own(self, y: np.ndarray, t0: int, t1: int, pad: int) -> np.ndarray:
        """The chunk's own seconds ``[t0, t1)`` of its padded, filtered signal ``y`` (a view)."""
        return y[:, _at(pad, self.fs_hz):_at(pad + t1 - t0, self.fs_hz)]

    def montaged_chunks(self) -> Iterator[MontagedChunk]:
        """The filtered, resampled bipolar signal, chunk by chunk."""
        for t0, t1, y, pad in self._segments():
            data = np.ascontiguousarray(self._own(y, t0, t1, pad))
            self._check(data, y)
            yield MontagedChunk(t0, data, self.fs_hz)

    def feature_chunks(self, montaged: Callable[[MontagedChunk], None] | None = None) -> Iterator[FeatureChunk]:
        """Features as the recipe defines them (normalised when it says so), chunk by chunk
        (frames of whole seconds only).

        ``montaged``, if given, also receives each chunk's filtered, resampled bipolar signal
        (what :meth:`montaged_chunks` yields; its data is a view into the chunk's buffer) before
        the chunk's features are computed: one pass serves both (e.g. scores and a plot; with
        two passes, the first).
        """
        if self.recipe.normalize == "none":
            yield from self.raw_feature_chunks(montaged)
            return
        stat = self.median_collector()
        keep = self.n_frames * len(self.channels) * self.n_features * 4 <= normalize.KEEP_MB * 2 ** 20
        kept: list[FeatureChunk] = []
        if keep:  # the first pass: the median (and the quality checks), every feature kept
            for chunk in self.raw_feature_chunks(montaged):
                stat.add(chunk.start_s, chunk.features)
                kept.append(chunk)
        else:  # the first pass computes only the frames the median is taken over
            for t0, t1, y, pad in self._segments():
                if montaged is not None:
                    montaged(MontagedChunk(t0, self._own(y, t0, t1, pad), self.fs_hz))
                stat.add_frames(self._first_frames(stat.seconds(t0, t1), t0, y, pad))
        median = stat.median()
        for chunk in kept if keep else self._features(self._segments(repeat=True), None):
            np.subtract(chunk.features, median, out=chunk.features)  # the chunk's own array
            yield chunk

    def _first_frames(self, seconds: range, t0: int, y: np.ndarray, pad: int) -> np.ndarray:
        """The first feature frame of each of ``seconds`` (of the chunk from ``t0``, padded signal
        ``y``): each computed on that second and the context its frames need, all in one call
        (the pieces side by side as channels), equal to the same frames of the whole chunk's."""
        c, fs = min(self._context, pad), self.fs_hz
        if not len(seconds):
            return np.zeros((0, len(self.channels), self.n_features), dtype=np.float32)
        n = _at(1 + 2 * c, fs)
        pieces = np.stack([y[:, _at(pad + s - t0 - c, fs):][:, :n] for s in seconds])  # (k, C, n)
        with np.errstate(over="ignore", invalid="ignore"):  # checked in the second pass
            out = self.feature.compute(pieces.reshape(-1, n), fs, self.params)
        return out[c * self.frames_per_s].reshape(len(seconds), len(self.channels), -1)

    def median_collector(self) -> normalize.RecordingMedian:
        """An empty :class:`~seizure.preprocess.normalize.RecordingMedian` for this recording."""
        return normalize.RecordingMedian(self.n_seconds, self.frames_per_s)

    def raw_feature_chunks(self, montaged: Callable[[MontagedChunk], None] | None = None) -> Iterator[FeatureChunk]:
        """The features as computed, without the recipe's normalisation (one pass)."""
        return self._features(self._segments(), montaged)

    def _features(self, segments: Iterator[tuple[int, int, np.ndarray, int]],
                  montaged: Callable[[MontagedChunk], None] | None) -> Iterator[FeatureChunk]:
        fps = self.frames_per_s
        for t0, t1, y, pad in segments:
            if montaged is not None:
                montaged(MontagedChunk(t0, self._own(y, t0, t1, pad), self.fs_hz))
            c = min(self._context, pad)  # compute on the chunk and the context its frames need
            part = y[:, _at(pad - c, self.fs_hz):_at(pad + t1 - t0 + c, self.fs_hz)]
            with np.errstate(over="ignore", invalid="ignore"):  # checked just below
                out = self.feature.compute(part, self.fs_hz, self.params)
            chunk = np.ascontiguousarray(out[c * fps:(c + t1 - t0) * fps])
            self._check(chunk.swapaxes(0, 1), y)
            yield FeatureChunk(t0, chunk)

    def _check(self, out: np.ndarray, filtered: np.ndarray) -> None:
        """NaN/Inf in an output (channels first) raises, naming the stage that produced it."""
        if np.isfinite(out).all():
            return
        check_finite(filtered, self.channels, f"after filtering at {self.fs_hz_original:g} Hz", self.path)
        check_finite(out, self.channels, f"in the {self.recipe.feature} features", self.path)

    def report(self) -> QualityReport:
        """Final mask and warnings after a full iteration; raises SignalQualityError when too
        few usable channels remain."""
        if not self._done:
            raise RuntimeError("report() needs a complete iteration first")
        rep = self._monitor.report(self.plan.mask, self.recipe.min_channels)
        rep.warnings[:0] = list(self.signal_plan.warnings)
        return rep


def iter_feature_chunks(path: str | Path, recipe: Recipe, chunk_s: float = CHUNK_S,
                        pad_s: float | None = None) -> Iterator[FeatureChunk]:
    """Features of an EDF file chunk by chunk; quality failures raise at the end."""
    with EdfPipeline(path, recipe, chunk_s, pad_s) as pipe:
        yield from pipe.feature_chunks()
        pipe.report()


def iter_montaged_chunks(path: str | Path, recipe: Recipe, chunk_s: float = CHUNK_S,
                         pad_s: float | None = None) -> Iterator[MontagedChunk]:
    """The filtered, resampled montaged signal chunk by chunk (plots, line-length baseline)."""
    with EdfPipeline(path, recipe, chunk_s, pad_s) as pipe:
        yield from pipe.montaged_chunks()
        pipe.report()


def process_edf(path: str | Path, recipe: Recipe, chunk_s: float = CHUNK_S, pad_s: float | None = None) -> Processed:
    """A whole recording's features in memory (chunked processing, one output array)."""
    with EdfPipeline(path, recipe, chunk_s, pad_s) as pipe:
        out = np.empty((pipe.n_frames, len(pipe.channels), pipe.n_features), dtype=np.float32)
        for chunk in pipe.feature_chunks():
            k = chunk.start_s * pipe.frames_per_s
            out[k:k + chunk.features.shape[0]] = chunk.features
        rep = pipe.report()
        return Processed(pipe.path, out, pipe.channels, rep.mask, pipe.missing, pipe.duration_s,
                         pipe.n_seconds, pipe.fs_hz_original, pipe.fs_hz, pipe.frames_per_s, rep.warnings)


def labels_for(edf_path: str | Path, duration_s: float, n_seconds: int | None = None) -> Labels:
    """Per-second labels and binary seizure events from the EDF's annotation sidecar
    (``.csv_bi`` preferred, then ``.csv``, ``.tse_bi``, ...); ``n_seconds`` defaults to
    ``floor(duration_s)``. No sidecar raises AnnotationError."""
    sidecar = find_sidecar(edf_path)
    if sidecar is None:
        raise AnnotationError("no annotation file beside the EDF (.csv_bi, .csv, .tse_bi, .tse, .lbl_bi, .lbl)",
                              edf_path)
    ann = read_annotations(sidecar, duration_s=duration_s)
    seizures = binary_events(ann.events)
    n = int(math.floor(duration_s + 1e-9)) if n_seconds is None else int(n_seconds)
    return Labels(second_labels(seizures, float(n)), seizures, sidecar)


def _at(t_s: float, fs_hz: float) -> int:
    """Sample index of time ``t_s`` (exact when ``t_s * fs_hz`` is whole)."""
    return int(math.floor(t_s * fs_hz + 1e-6))
