"""The preprocessing recipe: a small, serialisable description of EDF -> features.

A recipe is data. Its :meth:`Recipe.hash` is stable across runs and machines, so a
feature store, a checkpoint and a scoring run can check they agree before mixing.
The signal steps it names are applied in order by :mod:`seizure.preprocess.signal`; the feature by
:mod:`seizure.preprocess.features`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from seizure import config
from seizure.preprocess import features, normalize
from seizure.preprocess.montage import MONTAGES
from seizure.registry import pick

RECIPE_VERSION = 1


@dataclass(frozen=True)
class Recipe:
    """EDF -> montaged, filtered, resampled, framed features.

    ``missing_channels``: ``"zero"`` fills a bipolar channel whose electrodes are
    absent with zeros and marks it in the channel mask (03_tcp_ar_a files lack A1/A2,
    so ``A1-T3`` and ``T4-A2`` are zero-filled and masked); ``"refuse"`` rejects such
    files. Fewer than ``min_channels`` usable channels is always refused.

    ``normalize``: ``"recording_median"`` subtracts each recording's per-channel median of
    every feature (:mod:`seizure.preprocess.normalize`); ``"none"`` keeps the features as
    computed. Left at ``"none"`` it is not part of :meth:`to_dict`, so recipes written before
    it existed keep their hash.
    """

    montage: str = "tcp"
    missing_channels: Literal["zero", "refuse"] = "zero"
    min_channels: int = 16
    fs_hz: float = 250.0
    highpass_hz: float | None = 0.5
    lowpass_hz: float | None = 70.0
    notch_hz: tuple[float, ...] = (60.0,)
    feature: str = "lfcc"
    feature_params: dict[str, Any] = field(default_factory=dict)
    normalize: normalize.Normalization = "none"

    def __post_init__(self) -> None:
        if self.fs_hz <= 0:
            raise ValueError(f"fs_hz must be positive, got {self.fs_hz}")
        if self.min_channels < 1:
            raise ValueError(f"min_channels must be >= 1, got {self.min_channels}")
        if self.highpass_hz is not None and self.lowpass_hz is not None and self.highpass_hz >= self.lowpass_hz:
            raise ValueError(f"highpass_hz ({self.highpass_hz}) must be below lowpass_hz ({self.lowpass_hz})")
        if self.lowpass_hz is not None and self.lowpass_hz >= self.fs_hz / 2:
            raise ValueError(f"lowpass_hz ({self.lowpass_hz}) must be below Nyquist ({self.fs_hz / 2}) of fs_hz")
        # names and feature parameters (window_s, ...) are checked here, once; downstream trusts them
        pick(MONTAGES, self.montage, "recipe.montage", plural="montages")
        features.get(self.feature).resolve(self.feature_params)
        normalize.check(self.normalize)

    def steps(self) -> list[dict[str, Any]]:
        """The named steps, in the order they are applied."""
        out: list[dict[str, Any]] = [
            {"step": "montage", "name": self.montage, "missing_channels": self.missing_channels,
             "min_channels": self.min_channels},
        ]
        if self.highpass_hz is not None or self.lowpass_hz is not None:
            out.append({"step": "bandpass", "low_hz": self.highpass_hz, "high_hz": self.lowpass_hz})
        for f0 in self.notch_hz:
            out.append({"step": "notch", "freq_hz": f0})
        out.append({"step": "resample", "fs_hz": self.fs_hz})
        out.append({"step": "feature", "name": self.feature, **self.feature_params})
        if self.normalize != "none":
            out.append({"step": "normalize", "name": self.normalize})
        return out

    def to_dict(self) -> dict[str, Any]:
        data = config.to_dict(self)
        if data["normalize"] == "none":
            del data["normalize"]
        return {"version": RECIPE_VERSION, **data}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Recipe":
        data = dict(data)
        data.pop("version", None)
        data.pop("hash", None)
        return config.build(cls, data, "recipe")

    def hash(self) -> str:
        """A short stable hash of the recipe (12 hex digits)."""
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:12]
