"""A fitted classical baseline: band powers and time-domain measures per TCP channel, pooled
over channels, classified per second by gradient-boosted trees.

Features (:func:`recording_features`): the recording is montaged, filtered and resampled as
the store's recipe says (:class:`seizure.preprocess.pipeline.EdfPipeline`, chunk by chunk). Second
``k`` is described by a 2 s window centred on it (``[k - 0.5, k + 1.5)`` s, moved inside the
recording at its ends; 1 s hop). Per channel and window: log band powers (Hann-windowed
periodogram) in delta 1-4, theta 4-8, alpha 8-13, beta 13-30 and gamma 30-45 Hz, log total
power 1-45 Hz, the five relative powers, log line length, log variance, Hjorth mobility and
the normalised spectral entropy over 1-45 Hz (:data:`CHANNEL_FEATURES`). Each channel's
features are normalised by subtracting their median over the recording (ratios to the
median for the log measures), then pooled over the usable channels (mean, max, std; masked
and flat channels left out) and given context by centred moving averages over 5 s and
15 s: ``len(FEATURE_NAMES)`` features per second. Flat or masked channels give finite
values (a floor under every logarithm and ratio) and take no part in the pooling.

Classifier: scikit-learn's ``HistGradientBoostingClassifier`` with balanced class weights,
seeded, fitted on every second of the train split (:func:`fit`). The operating point is
chosen on dev with the model's own rule (:func:`seizure.evaluation.choose_operating_point`,
via :func:`operate`).

Persistence: the fitted model is never pickled. Features are cached per recording as
``.npy`` data (``<store>/cache/bandpower/<rec_id>.<key>.npy``; the key covers the recipe and
the feature version), and refitting from the cache is deterministic and takes seconds, so a
model is refitted rather than loaded.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from seizure.errors import SeizureError, SignalQualityError
from seizure.fsutil import atomic_path
from seizure.preprocess.pipeline import EdfPipeline
from seizure.postprocess import OperatingPoint
from seizure.preprocess.recipe import Recipe
from seizure.store import FeatureStore, RecordMeta

log = logging.getLogger(__name__)

FEATURE_VERSION = 1
WINDOW_S = 2.0
BANDS_HZ = {"delta": (1.0, 4.0), "theta": (4.0, 8.0), "alpha": (8.0, 13.0), "beta": (13.0, 30.0),
            "gamma": (30.0, 45.0)}
TOTAL_HZ = (1.0, 45.0)
CONTEXT_S = (5, 15)
POOLS = ("mean", "max", "std")
CHANNEL_FEATURES = (
    *(f"log_{b}" for b in BANDS_HZ), "log_total", *(f"rel_{b}" for b in BANDS_HZ),
    "log_line_length", "log_variance", "mobility", "spectral_entropy",
)
_POOLED = tuple(f"{f}_{p}" for p in POOLS for f in CHANNEL_FEATURES)
FEATURE_NAMES = _POOLED + tuple(f"{f}_ma{w}s" for w in CONTEXT_S for f in _POOLED)
_EPS = 1e-10  # floor under powers (uV^2) and ratios: flat channels stay finite


@dataclass(frozen=True)
class ClassifierParams:
    """Settings of the gradient-boosted trees (scikit-learn names)."""

    max_iter: int = 200
    learning_rate: float = 0.1
    max_leaf_nodes: int = 31
    min_samples_leaf: int = 40
    l2_regularization: float = 1.0
    threads: int = 1  # OpenMP threads; more than 1 is many times slower on a loaded machine


@dataclass
class BandPowerModel:
    """A fitted band-power baseline: the classifier (in memory only), what it was fitted on,
    and, after :func:`operate`, its operating point chosen on dev."""

    classifier: object
    recipe: Recipe
    seed: int
    split: str
    n_records: int
    n_seconds: int
    n_seizure_seconds: int
    fit_s: float
    cache_dir: Path | None
    operating_point: OperatingPoint | None = None
    dev: dict[str, float | bool] = field(default_factory=dict)

    def summary(self) -> dict[str, object]:
        """What a report needs to say about the baseline (JSON-safe)."""
        op = self.operating_point
        return {"name": "bandpower", "features": len(FEATURE_NAMES), "seed": self.seed, "fitted_on": self.split,
                "n_records": self.n_records, "hours": self.n_seconds / 3600,
                "seizure_seconds": self.n_seizure_seconds, "fit_s": self.fit_s,
                "operating_point": None if op is None else {"threshold": op.threshold, "smooth_s": op.smooth_s,
                                                            "min_duration_s": op.min_duration_s,
                                                            "merge_gap_s": op.merge_gap_s},
                "dev": dict(self.dev)}


# --------------------------------------------------------------------------- features


def window_features(windows: np.ndarray, fs_hz: float) -> np.ndarray:
    """Per-window channel features ``(..., len(CHANNEL_FEATURES))`` of ``windows (..., n_samples)``."""
    x = np.asarray(windows, dtype=np.float64)
    x = x - x.mean(axis=-1, keepdims=True)
    n = x.shape[-1]
    variance = np.mean(x * x, axis=-1)
    dx = np.diff(x, axis=-1)
    line_length = np.mean(np.abs(dx), axis=-1)
    mobility = np.sqrt(np.mean(dx * dx, axis=-1) / (variance + _EPS))
    spectrum = np.abs(np.fft.rfft(x * np.hanning(n), axis=-1)) ** 2
    freqs = np.fft.rfftfreq(n, 1.0 / fs_hz)
    bands = np.stack([spectrum[..., (freqs >= lo) & (freqs < hi)].sum(axis=-1) for lo, hi in BANDS_HZ.values()],
                     axis=-1)
    in_total = (freqs >= TOTAL_HZ[0]) & (freqs < TOTAL_HZ[1])
    total = spectrum[..., in_total].sum(axis=-1)
    p = spectrum[..., in_total] / (total[..., None] + _EPS)
    entropy = -np.sum(p * np.log(np.maximum(p, _EPS)), axis=-1) / math.log(max(int(in_total.sum()), 2))
    scale = 1.0 / (fs_hz * n)  # periodogram scaling: comparable across sampling rates
    return np.concatenate([
        np.log(bands * scale + _EPS), np.log(total * scale + _EPS)[..., None],
        bands / (total[..., None] + _EPS),
        np.stack([np.log(line_length + _EPS), np.log(variance + _EPS), mobility, entropy], axis=-1),
    ], axis=-1)


def _window_starts(n_seconds: int, fs_hz: float, n_samples: int) -> tuple[np.ndarray, int]:
    """First sample of each second's window and the window length (samples)."""
    length = min(int(round(WINDOW_S * fs_hz)), n_samples)
    starts = np.round((np.arange(n_seconds) - (WINDOW_S - 1) / 2) * fs_hz).astype(np.int64)
    return np.clip(starts, 0, n_samples - length), length


def channel_features(path: str | Path, recipe: Recipe) -> tuple[np.ndarray, np.ndarray]:
    """Per-second, per-channel features of an EDF file, float32 ``(n_seconds, n_channels,
    len(CHANNEL_FEATURES))``, and the pipeline's channel mask. Memory: the features plus one
    chunk of signal."""
    with EdfPipeline(path, recipe) as pipe:
        fs, n_sec = pipe.fs_hz, pipe.n_seconds
        n_samples = int(round(n_sec * fs))
        starts, length = _window_starts(n_sec, fs, n_samples)
        out = np.empty((n_sec, len(pipe.channels), len(CHANNEL_FEATURES)), dtype=np.float32)
        buf = np.zeros((len(pipe.channels), 0), dtype=np.float32)
        buf_start, k = 0, 0
        for chunk in pipe.montaged_chunks():
            buf = np.concatenate([buf, chunk.data], axis=1)
            end = buf_start + buf.shape[1]
            stop = int(np.searchsorted(starts + length, end, side="right"))
            if stop > k:
                idx = (starts[k:stop] - buf_start)[:, None] + np.arange(length)
                out[k:stop] = window_features(buf[:, idx], fs).transpose(1, 0, 2)
                k = stop
            if k < n_sec:
                drop = int(starts[k]) - buf_start
                buf, buf_start = buf[:, drop:], buf_start + drop
        mask = pipe.report().mask
    if k != n_sec:
        raise SeizureError(f"band-power features: {n_sec - k} of {n_sec} seconds were not computed", path)
    return out, np.asarray(mask, dtype=bool)


def _moving_mean(x: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average along axis 0 over ``width`` rows (only existing rows at the ends)."""
    n = x.shape[0]
    lo = np.clip(np.arange(n) - (width - 1) // 2, 0, n)
    hi = np.clip(np.arange(n) + width // 2 + 1, 0, n)
    csum = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(x, axis=0, dtype=np.float64)])
    return (csum[hi] - csum[lo]) / (hi - lo)[:, None]


def pool_features(per_channel: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Per-second model inputs float32 ``(n_seconds, len(FEATURE_NAMES))`` from channel features
    ``(n_seconds, n_channels, len(CHANNEL_FEATURES))``: each channel's features minus their
    median over the recording, pooled over usable channels (``mask`` and not flat), with
    moving-average context. Raises SignalQualityError when no channel is usable."""
    f = np.asarray(per_channel, dtype=np.float64)
    usable = np.ones(f.shape[1], dtype=bool) if mask is None else np.asarray(mask, dtype=bool).copy()
    log_var = f[:, :, CHANNEL_FEATURES.index("log_variance")]
    usable &= (log_var > math.log(_EPS) + 1.0).any(axis=0)  # flat throughout: no information
    if not usable.any():
        raise SignalQualityError("band-power baseline: no usable channel (every channel is masked or flat)")
    f = f[:, usable]
    if f.shape[0] == 0:
        return np.zeros((0, len(FEATURE_NAMES)), dtype=np.float32)
    f = f - np.median(f, axis=0, keepdims=True)
    pooled = np.concatenate([f.mean(axis=1), f.max(axis=1), f.std(axis=1)], axis=1)
    parts = [pooled] + [_moving_mean(pooled, w) for w in CONTEXT_S]
    return np.concatenate(parts, axis=1).astype(np.float32)


def recording_features(path: str | Path, recipe: Recipe, mask: np.ndarray | None = None) -> np.ndarray:
    """Per-second model inputs of one EDF file (see :func:`pool_features`); ``mask`` narrows
    the pipeline's own channel mask (e.g. a stored record's)."""
    per_channel, pipe_mask = channel_features(path, recipe)
    if mask is not None:
        pipe_mask = pipe_mask & np.asarray(mask, dtype=bool)
    return pool_features(per_channel, pipe_mask)


def cache_key(recipe: Recipe) -> str:
    """What a cached feature file depends on: the recipe and the feature definition."""
    blob = f"{recipe.hash()}:{FEATURE_VERSION}:{WINDOW_S}:{sorted(BANDS_HZ.items())}:{TOTAL_HZ}:{CONTEXT_S}"
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def record_features(record: RecordMeta, recipe: Recipe, cache_dir: Path | None = None) -> np.ndarray:
    """Per-second model inputs of a stored recording, read from ``cache_dir`` when computed
    before with the same key, else computed (and cached)."""
    mask = np.asarray(record.channel_mask, dtype=bool) if record.channel_mask else None
    if cache_dir is None:
        return recording_features(record.edf_path, recipe, mask)
    path = Path(cache_dir) / f"{record.rec_id}.{cache_key(recipe)}.npy"
    if path.exists():
        try:
            cached = np.load(path, allow_pickle=False)
            if cached.shape == (record.n_seconds, len(FEATURE_NAMES)) and np.isfinite(cached).all():
                return cached
        except (OSError, ValueError):
            pass
        log.warning("recomputing unreadable or stale band-power features %s", path)
    x = recording_features(record.edf_path, recipe, mask)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path, suffix=".npy") as tmp:
            np.save(tmp, x)
    except OSError as exc:
        log.warning("could not cache band-power features at %s: %s", path, exc)
    return x


# --------------------------------------------------------------------------- fit, predict, operate


def default_cache_dir(store: FeatureStore) -> Path:
    return store.root / "cache" / "bandpower"


@dataclass(frozen=True)
class _CacheFeatures:
    """A worker's task: one stored recording's features computed into the cache (nothing big
    travels back)."""

    recipe: Recipe
    cache_dir: Path

    def __call__(self, record: RecordMeta) -> None:
        record_features(record, self.recipe, self.cache_dir)


def cache_features(records: Sequence[RecordMeta], recipe: Recipe, cache_dir: str | Path, jobs: int = 1, *,
                   progress: bool = False, desc: str = "band-power features", executor=None) -> None:
    """Compute the features of the ``records`` not cached yet into ``cache_dir`` with ``jobs``
    workers (:func:`seizure.parallel.run`: local processes, or ``executor``'s Dask cluster). A
    recording that fails here is left uncached, so the caller that reads it meets its error
    itself."""
    from seizure import parallel

    cache_dir = Path(cache_dir)
    todo = [r for r in records if not (cache_dir / f"{r.rec_id}.{cache_key(recipe)}.npy").exists()]
    if todo:
        parallel.run(todo, _CacheFeatures(recipe, cache_dir), jobs, progress=progress, desc=desc, unit="file",
                     name=lambda r: r.rec_id, executor=executor)


def _features_of(records: Sequence[RecordMeta], recipe: Recipe, cache_dir: Path | None, progress: bool,
                 desc: str) -> list[np.ndarray]:
    items = records
    if progress:
        from tqdm import tqdm

        items = tqdm(records, desc=desc, unit="file")
    return [record_features(r, recipe, cache_dir) for r in items]


def fit(store: FeatureStore | str | Path, split: str = "train", *, recipe: Recipe | None = None, seed: int = 0,
        cache_dir: str | Path | None = None, params: ClassifierParams = ClassifierParams(),
        progress: bool = False, records: Sequence[RecordMeta] | None = None) -> BandPowerModel:
    """Fit the baseline on every second of ``split``'s recordings (or of ``records``, e.g. a
    split plan's ``fit`` part; ``split`` then only names them). ``recipe``: how to montage
    and filter the EDF files (default: the store's); ``cache_dir``: where per-recording
    features are cached (default ``<store>/cache/bandpower``; :func:`cache_features` fills it
    in parallel beforehand)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    store = store if isinstance(store, FeatureStore) else FeatureStore(store)
    recipe = store.recipe if recipe is None else recipe
    cache = default_cache_dir(store) if cache_dir is None else Path(cache_dir)
    records = store.records(split) if records is None else list(records)
    if not records:
        raise SeizureError(f"no {split!r} recordings to fit the band-power baseline on", store.root)
    t0 = time.perf_counter()
    xs = _features_of(records, recipe, cache, progress, f"band-power features ({split})")
    ys = []
    for r, x in zip(records, xs):
        y = store.labels(r.rec_id)
        if y.shape[0] != x.shape[0]:
            raise SeizureError(f"band-power features have {x.shape[0]} seconds but the store's labels "
                               f"{y.shape[0]}", r.edf_path)
        ys.append(y)
    x_all, y_all = np.concatenate(xs), np.concatenate(ys).astype(np.int64)
    if np.unique(y_all).size < 2:
        raise SeizureError(f"the {split!r} split needs seizure and background seconds to fit the baseline",
                           store.root)
    clf = HistGradientBoostingClassifier(
        max_iter=params.max_iter, learning_rate=params.learning_rate, max_leaf_nodes=params.max_leaf_nodes,
        min_samples_leaf=params.min_samples_leaf, l2_regularization=params.l2_regularization,
        class_weight="balanced", early_stopping=False, random_state=seed)
    with threadpool_limits(params.threads):
        clf.fit(x_all, y_all)
    return BandPowerModel(clf, recipe, seed, split, len(records), int(y_all.size), int(y_all.sum()),
                          time.perf_counter() - t0, cache)


def predict_probs(model: BandPowerModel, record_or_edf_path: RecordMeta | str | Path) -> np.ndarray:
    """Per-second seizure probabilities (float64, ``(n_seconds,)``, aligned with the store's
    labels) of a stored recording (features cached) or an EDF file (never cached)."""
    if isinstance(record_or_edf_path, RecordMeta):
        x = record_features(record_or_edf_path, model.recipe, model.cache_dir)
    else:
        x = recording_features(record_or_edf_path, model.recipe)
    if x.shape[0] == 0:
        return np.zeros(0)
    with threadpool_limits(1):
        return model.classifier.predict_proba(x)[:, 1].astype(np.float64)


def operate(model: BandPowerModel, store: FeatureStore | str | Path, split: str = "dev", postprocess=None,
            *, progress: bool = False, records: Sequence[RecordMeta] | None = None
            ) -> tuple[BandPowerModel, list[np.ndarray]]:
    """The model with its operating point chosen on ``split`` (or on ``records``, e.g. a
    split plan's ``tune`` part, which ``split`` then names) by the same rule as the deep
    model's (:func:`seizure.evaluation.choose_operating_point`, ``postprocess`` a
    :class:`~seizure.training.config.PostprocessConfig`, default its defaults), and the
    split's probabilities."""
    from seizure.training.config import PostprocessConfig
    from seizure.evaluation import choose_operating_point

    store = store if isinstance(store, FeatureStore) else FeatureStore(store)
    pp = PostprocessConfig() if postprocess is None else postprocess
    records = store.records(split) if records is None else list(records)
    if not records:
        raise SeizureError(f"no {split!r} recordings to choose the band-power baseline's operating point on",
                           store.root)
    items = records
    if progress:
        from tqdm import tqdm

        items = tqdm(records, desc=f"band-power baseline ({split})", unit="file")
    probs = [predict_probs(model, r) for r in items]
    op, sens, fa, reached = choose_operating_point(probs, records, pp)
    dev = {"split": split, "sensitivity": sens, "fa_per_24h": fa, "target_reached": reached,
           "target_fa_per_24h": pp.target_fa_per_24h, "method": pp.method}
    return replace(model, operating_point=op, dev=dev), probs
