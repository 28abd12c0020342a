"""Crops of training recordings: class balance, hard negatives, channel dropout, gain jitter,
time warping, a reproducible plan per epoch.

The plan of epoch ``e`` depends only on ``(seed, e)`` (numpy ``SeedSequence``) and, with
hard-negative mining, on the mining weights set after the previous epoch (kept in
``last.pt``), so a run resumed at ``(epoch, step)`` draws exactly the crops the
uninterrupted run would have.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seizure.preprocess import features
from seizure.preprocess.montage import get_montage
from seizure.store import FeatureStore, RecordMeta
from seizure.training.config import TrainConfig

HARD_MIN_PROB = 0.2  # background seconds scored below this are never mined as hard negatives


@dataclass(frozen=True)
class Crop:
    record: int          # index into the sampler's records
    start_s: int
    drop: tuple[int, ...]  # channels removed by channel dropout
    seizure: bool = False  # drawn around a seizure second (balance = crops)
    gain_db: tuple[float, ...] = ()  # per-channel amplitude gain (gain jitter), empty: none
    warp: float = 1.0  # source seconds per crop second (time warping)


class CropSampler:
    """Draws batches of fixed-length crops from the training records of a store."""

    def __init__(self, store: FeatureStore, records: list[RecordMeta], cfg: TrainConfig):
        if not records:
            raise ValueError("no training recordings")
        self.store, self.records, self.cfg = store, records, cfg
        self.fps = store.frames_per_s
        self.labels = [store.labels(r.rec_id) for r in records]
        self.n_seconds = np.array([len(y) for y in self.labels], dtype=np.int64)
        self.masks = [r.mask(len(store.channels)) for r in records]
        self.total_s = int(self.n_seconds.sum())
        self.positive_s = int(sum(int(y.sum()) for y in self.labels))
        # seizure seconds as (record, second) for balanced crops
        self._seiz = [(i, int(s)) for i, y in enumerate(self.labels) for s in np.flatnonzero(y)]
        names = list(store.channels)
        # whole chains of the store's montage that channel dropout may remove (those it has)
        self.chains = [tuple(names.index(c) for c in chain) for chain in get_montage(store.recipe.montage).chains.values()
                       if all(c in names for c in chain)]
        self._features: dict[int, np.ndarray] = {}
        self._feature = features.get(store.recipe.feature)
        self._offsets = np.concatenate([[0], np.cumsum(self.n_seconds)])  # record k's seconds start here
        self.hard_weights: np.ndarray | None = None  # (total_s,) mining weights, or None

    def set_hard_negatives(self, probs: list[np.ndarray]) -> None:
        """Mining weights from per-second probabilities of the training records (in order):
        the probability on background seconds scored at least :data:`HARD_MIN_PROB`, else 0."""
        w = np.zeros(self.total_s, dtype=np.float32)
        for k, (p, y) in enumerate(zip(probs, self.labels)):
            n = min(len(p), len(y))
            p = np.asarray(p[:n], dtype=np.float32)
            w[self._offsets[k]:self._offsets[k] + n] = np.where((y[:n] == 0) & (p >= HARD_MIN_PROB), p, 0.0)
        self.set_hard_weights(w)

    def set_hard_weights(self, weights: np.ndarray | None) -> None:
        """Set (or clear, with None or all zeros) the mining weights directly (a resumed run)."""
        if weights is None:
            self.hard_weights = None
            return
        weights = np.asarray(weights, dtype=np.float32)
        if weights.shape != (self.total_s,):
            raise ValueError(f"hard-negative weights of shape {weights.shape}; the training records have "
                             f"{self.total_s} seconds")
        self.hard_weights = weights if np.any(weights > 0) else None

    @property
    def steps_per_epoch(self) -> int:
        if self.cfg.steps_per_epoch:
            return self.cfg.steps_per_epoch
        return max(1, self.cfg.min_steps_per_epoch, -(-self.total_s // (self.cfg.crop_s * self.cfg.batch_size)))

    def pos_weight(self) -> float:
        """Weight of seizure seconds in the loss (1 unless ``balance = weighted_loss``)."""
        if self.cfg.balance != "weighted_loss":
            return 1.0
        if self.cfg.pos_weight > 0:
            return self.cfg.pos_weight
        return (self.total_s - self.positive_s) / max(1, self.positive_s)

    def epoch_plan(self, epoch: int) -> list[list[Crop]]:
        """The batches of one epoch (deterministic in ``(seed, epoch)``)."""
        rng = np.random.default_rng(np.random.SeedSequence([self.cfg.seed, epoch]))
        n = self.steps_per_epoch * self.cfg.batch_size
        crop = self.cfg.crop_s
        seizure = np.zeros(n, dtype=bool)
        if self.cfg.balance == "crops" and self._seiz:
            seizure = rng.random(n) < self.cfg.seizure_crop_fraction
        weights = self.n_seconds / self.total_s
        mining = self.cfg.hard_negative_fraction > 0 and self.hard_weights is not None
        cumulative = np.cumsum(self.hard_weights, dtype=np.float64) if mining else None
        crops = []
        for is_seiz in seizure:
            if is_seiz:
                rec, second = self._seiz[int(rng.integers(len(self._seiz)))]
                start = second - int(rng.integers(crop))  # the seizure second lands anywhere in the crop
            elif mining and rng.random() < self.cfg.hard_negative_fraction:
                flat = int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))
                rec = int(np.searchsorted(self._offsets, flat, side="right") - 1)
                start = flat - int(self._offsets[rec]) - int(rng.integers(crop))  # the hard second anywhere in it
            else:
                rec = int(rng.choice(len(self.records), p=weights))
                start = int(rng.integers(max(1, self.n_seconds[rec] - crop + 1)))
            start = int(np.clip(start, 0, max(0, self.n_seconds[rec] - crop)))
            crops.append(Crop(rec, start, self._drop(rng, rec), bool(is_seiz), self._gain(rng), self._warp(rng)))
        b = self.cfg.batch_size
        return [crops[i:i + b] for i in range(0, n, b)]

    def _gain(self, rng: np.random.Generator) -> tuple[float, ...]:
        """Per-channel gains in dB (none drawn when both jitters are 0: earlier plans stay identical)."""
        cfg = self.cfg
        if cfg.amplitude_jitter_db <= 0 and cfg.channel_jitter_db <= 0:
            return ()
        common = rng.normal(0.0, cfg.amplitude_jitter_db) if cfg.amplitude_jitter_db > 0 else 0.0
        per = rng.normal(0.0, cfg.channel_jitter_db, len(self.store.channels)) if cfg.channel_jitter_db > 0 else 0.0
        return tuple(float(g) for g in np.broadcast_to(common + per, (len(self.store.channels),)))

    def _warp(self, rng: np.random.Generator) -> float:
        """Source seconds per crop second (none drawn when ``time_warp`` is 0: earlier plans stay identical)."""
        if self.cfg.time_warp <= 0:
            return 1.0
        return float(np.exp(rng.uniform(-1.0, 1.0) * np.log1p(self.cfg.time_warp)))

    def _drop(self, rng: np.random.Generator, rec: int) -> tuple[int, ...]:
        cfg = self.cfg
        if cfg.channel_dropout <= 0 or rng.random() >= cfg.channel_dropout:
            return ()
        mode = cfg.channel_dropout_mode
        if mode == "both":
            mode = "chain" if (self.chains and rng.random() < 0.5) else "channels"
        if mode == "chain" and self.chains:
            drop = self.chains[int(rng.integers(len(self.chains)))]
        else:
            usable = np.flatnonzero(self.masks[rec])
            k = int(rng.integers(1, cfg.channel_dropout_max + 1))
            drop = tuple(int(c) for c in rng.choice(usable, size=min(k, max(0, len(usable) - 1)), replace=False))
        remaining = self.masks[rec].copy()
        remaining[list(drop)] = False
        return tuple(sorted(drop)) if remaining.any() else ()

    def load(self, batch: list[Crop]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Features (B, crop*fps, C, F), labels (B, crop) float32, loss weights (B, crop)
        (0 past a short recording's end) and channel masks (B, C) float32."""
        crop, fps = self.cfg.crop_s, self.fps
        c, f = len(self.store.channels), self.store.n_features
        x = np.zeros((len(batch), crop * fps, c, f), dtype=np.float32)
        y = np.zeros((len(batch), crop), dtype=np.float32)
        w = np.zeros((len(batch), crop), dtype=np.float32)
        m = np.zeros((len(batch), c), dtype=np.float32)
        for i, cr in enumerate(batch):
            available_s = int(self.n_seconds[cr.record] - cr.start_s)
            feats = self._feats(cr.record)
            labels = self.labels[cr.record][cr.start_s:]
            if cr.warp == 1.0:
                n = int(min(crop, available_s))
                x[i, : n * fps] = feats[cr.start_s * fps:(cr.start_s + n) * fps]
                y[i, :n] = labels[:n]
            else:
                n = int(min(crop, available_s // cr.warp))
                x[i, : n * fps], y[i, :n] = _warped(feats[cr.start_s * fps:], labels, n, fps, cr.warp)
            if cr.gain_db:
                self._feature.apply_gain(x[i, : n * fps], np.asarray(cr.gain_db), self.store.recipe.feature_params)
            w[i, :n] = 1.0
            mask = self.masks[cr.record].copy()
            mask[list(cr.drop)] = False
            m[i] = mask
        return x, y, w, m

    def _feats(self, rec: int) -> np.ndarray:
        if rec not in self._features:
            self._features[rec] = self.store.features(self.records[rec].rec_id)
        return self._features[rec]


def _warped(frames: np.ndarray, labels: np.ndarray, n_s: int, fps: int, warp: float) -> tuple[np.ndarray, np.ndarray]:
    """``n_s`` seconds of output from ``n_s * warp`` seconds of ``frames`` (and their per-second
    ``labels``): frame ``k`` is linearly interpolated at source frame ``(k + 0.5) * warp - 0.5``;
    second ``k`` takes the label of the source second holding its middle."""
    n_src = max(1, min(len(frames), int(np.ceil(n_s * warp * fps))))
    pos = np.clip((np.arange(n_s * fps) + 0.5) * warp - 0.5, 0.0, n_src - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n_src - 1)
    frac = (pos - lo).astype(np.float32)[:, None, None]
    src = np.asarray(frames[:n_src], dtype=np.float32)
    x = src[lo] * (1.0 - frac) + src[hi] * frac
    middle = np.minimum(((np.arange(n_s) + 0.5) * warp).astype(np.int64), len(labels) - 1)
    return x, labels[middle]


def feature_statistics(store: FeatureStore, records: list[RecordMeta], seconds: int, seed: int
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and standard deviation over usable channels of up to ``seconds``
    seconds drawn evenly from the training records (deterministic for a seed)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 10_007]))
    fps = store.frames_per_s
    per_rec = max(1, seconds // max(1, len(records)))
    total = np.zeros(store.n_features)
    total_sq = np.zeros(store.n_features)
    count = 0
    for r in records:
        feats = store.features(r.rec_id)
        n_s = feats.shape[0] // fps
        if n_s == 0:
            continue
        take = min(per_rec, n_s)
        start = int(rng.integers(0, n_s - take + 1))
        block = np.asarray(feats[start * fps:(start + take) * fps], dtype=np.float64)
        mask = r.mask(block.shape[1])
        block = block[:, mask]
        total += block.sum(axis=(0, 1))
        total_sq += (block * block).sum(axis=(0, 1))
        count += block.shape[0] * block.shape[1]
    if count == 0:
        return np.zeros(store.n_features, np.float32), np.ones(store.n_features, np.float32)
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean * mean, 1e-12))
    return mean.astype(np.float32), std.astype(np.float32)
