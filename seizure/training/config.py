"""The experiment config: ``[recipe]``, ``[model]``, ``[train]``, ``[postprocess]``.

Loaded from TOML with :func:`load_config` (``inherit = "base.toml"`` resolved, ``--set
key=value`` overrides applied, unknown keys refused naming the key). With no file the
dataclass defaults apply; ``configs/base.toml`` spells out exactly those defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from seizure import config
from seizure.models.config import ModelConfig
from seizure.preprocess.recipe import Recipe


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation, sampling and evaluation settings of a training run.

    ``balance``: ``crops`` draws ``seizure_crop_fraction`` of the crops around a random
    seizure second (the rest uniformly over the training hours); ``weighted_loss``
    draws crops uniformly and weights seizure seconds by ``pos_weight`` (0: the
    background/seizure ratio of the training labels); ``none`` does neither.
    ``channel_dropout``: probability that a crop loses channels, either a whole TCP chain
    (``chain``: a temporal or parasagittal chain, the central chain, or A1/A2's pairs),
    1..``channel_dropout_max`` random channels (``channels``), or either (``both``).
    ``schedule``: ``cosine`` (linear warm-up then cosine decay to 0), ``onecycle``,
    ``inverse_time`` (Keras ``decay``: ``lr / (1 + lr_decay * step)``) or ``constant``.
    ``amplitude_jitter_db`` and ``channel_jitter_db``: standard deviations (dB of amplitude)
    of a random gain per crop and of an extra one per channel, applied to the features as
    the feature's own gain rule says (for LFCC, the log energy): another lab's or patient's
    amplitudes, and electrode impedances, without new data.
    ``hard_negative_fraction``: from the second epoch on, this share of the background crops
    is centred (anywhere in the crop) on a background second drawn with weight equal to the
    model's probability there after the previous epoch (seconds below
    :data:`seizure.training.sampler.HARD_MIN_PROB` excluded; none: drawn uniformly as usual):
    hard-negative mining, so artifacts the model mistakes for seizures are seen more often
    (under DDP, rank 0 mines and every rank draws from its weights).
    ``time_warp``: a crop's frames are resampled in time by a factor drawn log-uniformly in
    ``[1 / (1 + time_warp), 1 + time_warp]`` (0: off): seizures that evolve faster or
    slower, and last longer or shorter, than the training patients' (the labels follow).
    ``steps_per_epoch`` 0 means one pass over the training seconds, but at least
    ``min_steps_per_epoch`` steps (a small training set still gets that many updates).
    ``max_minutes`` > 0
    stops training early when the time is up (the run is then not reproducible step for
    step). ``ema_decay`` > 0 keeps an exponential moving average of the weights (updated
    every step); dev evaluation, model selection and ``best.pt`` then use the averaged
    weights, which vary less from epoch to epoch. ``select``: which epoch becomes
    ``best.pt``: ``dev`` the best on dev (partial DET area up to the FA target, then dev
    loss), ``last`` the final one (with an annealed learning rate, the most settled
    weights; useful when the dev split is too small to rank epochs). Either way the
    operating point is chosen on dev for that epoch. ``device``: ``auto`` picks CUDA when
    present, else CPU. ``tuning_fraction`` and ``tuning_seed``: for a store without eval
    recordings, the share of train patients carved (seeded) as the tuning split where the
    epoch and operating point are chosen, so that dev can be scored
    (:func:`seizure.store.split_plan`).
    """

    seed: int = 0
    epochs: int = 20
    steps_per_epoch: int = 0
    min_steps_per_epoch: int = 0
    batch_size: int = 16
    crop_s: int = 120
    balance: Literal["crops", "weighted_loss", "none"] = "crops"
    seizure_crop_fraction: float = 0.5
    pos_weight: float = 0.0
    channel_dropout: float = 0.0
    channel_dropout_mode: Literal["channels", "chain", "both"] = "both"
    channel_dropout_max: int = 4
    amplitude_jitter_db: float = 0.0
    channel_jitter_db: float = 0.0
    time_warp: float = 0.0
    hard_negative_fraction: float = 0.0
    optimizer: Literal["adam", "adamw"] = "adamw"
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    schedule: Literal["cosine", "onecycle", "inverse_time", "constant"] = "cosine"
    warmup_fraction: float = 0.05
    lr_decay: float = 0.0
    grad_clip: float = 1.0
    ema_decay: float = 0.0
    select: Literal["dev", "last"] = "dev"
    device: str = "auto"
    threads: int = 0
    max_minutes: float = 0.0
    eval_window_s: int = 600
    eval_context_s: int = 120
    eval_batch_size: int = 16
    normalization_seconds: int = 3600
    tuning_fraction: float = 0.2
    tuning_seed: int = 0

    def __post_init__(self) -> None:
        positive = ("epochs", "batch_size", "crop_s", "eval_window_s", "eval_batch_size", "channel_dropout_max",
                    "normalization_seconds")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"train.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("steps_per_epoch", "min_steps_per_epoch", "threads", "eval_context_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"train.{name} must be >= 0, got {getattr(self, name)}")
        if not 0.0 <= self.time_warp <= 1.0:
            raise ValueError(f"train.time_warp must be in [0, 1], got {self.time_warp}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"train.ema_decay must be in [0, 1), got {self.ema_decay}")
        for name in ("seizure_crop_fraction", "channel_dropout", "warmup_fraction", "hard_negative_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"train.{name} must be in [0, 1], got {getattr(self, name)}")
        if not 0.0 < self.tuning_fraction < 1.0:
            raise ValueError(f"train.tuning_fraction must be in (0, 1), got {self.tuning_fraction}")
        if self.lr <= 0:
            raise ValueError(f"train.lr must be positive, got {self.lr}")
        for name in ("pos_weight", "lr_decay", "grad_clip", "max_minutes", "amplitude_jitter_db", "channel_jitter_db"):
            if getattr(self, name) < 0:
                raise ValueError(f"train.{name} must be >= 0, got {getattr(self, name)}")
        if self.device not in ("auto", "cpu") and not self.device.startswith("cuda"):
            raise ValueError(f"train.device must be 'auto', 'cpu' or 'cuda[:N]', got {self.device!r}")


@dataclass(frozen=True)
class PostprocessConfig:
    """How the operating point is chosen on dev: every combination of the candidate
    ``smooth_s`` x ``min_duration_s`` x ``merge_gap_s`` is swept over thresholds; among the
    points at <= ``target_fa_per_24h`` whose ``method`` sensitivity is within
    ``tolerance_events`` reference seizures of the best, the fewest false alarms win, then
    the highest threshold, then the simpler post-processing (listed first).

    ``plateau``: ``high`` takes that conservative end; ``middle`` takes the middle threshold
    of the widest run of consecutive thresholds (one candidate's sweep) tied at the fewest
    false alarms: on a small dev split, where many thresholds tie at zero false alarms, the
    highest is an extreme that transfers badly."""

    target_fa_per_24h: float = 6.0
    method: Literal["ovlp", "szcore"] = "ovlp"
    tolerance_events: float = 1.0
    smooth_s: tuple[float, ...] = (0.0, 3.0, 5.0)
    min_duration_s: tuple[float, ...] = (0.0, 5.0, 10.0)
    merge_gap_s: tuple[float, ...] = (0.0, 10.0)
    plateau: Literal["high", "middle"] = "high"

    def __post_init__(self) -> None:
        if self.target_fa_per_24h <= 0:
            raise ValueError(f"postprocess.target_fa_per_24h must be positive, got {self.target_fa_per_24h}")
        if self.tolerance_events < 0:
            raise ValueError(f"postprocess.tolerance_events must be >= 0, got {self.tolerance_events}")
        for name in ("smooth_s", "min_duration_s", "merge_gap_s"):
            values = getattr(self, name)
            if not values or any(v < 0 for v in values):
                raise ValueError(f"postprocess.{name} must be a non-empty list of seconds >= 0, got {list(values)}")

    def candidates(self) -> list[tuple[float, float, float]]:
        return [(s, d, g) for s in self.smooth_s for d in self.min_duration_s for g in self.merge_gap_s]


@dataclass(frozen=True)
class ExperimentConfig:
    recipe: Recipe = field(default_factory=Recipe)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    postprocess: PostprocessConfig = field(default_factory=PostprocessConfig)

    def to_dict(self) -> dict[str, Any]:
        return config.to_dict(self)


def from_dict(data: dict[str, Any]) -> ExperimentConfig:
    """Build an :class:`ExperimentConfig`; each section validates itself when built
    (ConfigError naming a bad key), so everything downstream trusts it."""
    return config.build(ExperimentConfig, data, "")


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> ExperimentConfig:
    """The config of ``path`` (or the defaults) with ``key=value`` overrides applied."""
    data = config.load_toml(path) if path is not None else {}
    return from_dict(config.apply_overrides(data, list(overrides)))


def to_toml(cfg: ExperimentConfig) -> str:
    """The resolved config as TOML text (what is saved with every run)."""
    lines: list[str] = []
    _emit(cfg.to_dict(), [], lines)
    return "\n".join(lines).strip() + "\n"


def _emit(table: dict[str, Any], prefix: list[str], lines: list[str]) -> None:
    scalars = {k: v for k, v in table.items() if not isinstance(v, dict) or not _has_tables(v, k)}
    tables = {k: v for k, v in table.items() if k not in scalars}
    if prefix and (scalars or not tables):
        lines.append(f"\n[{'.'.join(prefix)}]")
    for key, value in scalars.items():
        # TOML has no null: a None (e.g. no high-pass filter) is kept as a comment
        lines.append(f"# {key} = none" if value is None else f"{key} = {_toml_value(value)}")
    for key, value in tables.items():
        _emit(value, [*prefix, key], lines)


def _has_tables(value: dict, key: str) -> bool:
    # config sections (dataclasses) become tables; free-form dicts (params) stay inline
    return not key.endswith("params")


def _toml_value(value: Any) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")
