"""The feature store: memory-mappable per-recording arrays, labels, and a manifest.

Layout of a store folder::

    store.json                 format, version, recipe (+ hash), feature geometry
    records/<rec_id>.json      one recording's metadata; written LAST, so its presence
                               (with the store's recipe hash) means the arrays are complete
    records/<rec_id>.x.npy     features, float32 (n_frames, n_channels, n_features)
    records/<rec_id>.y.npy     per-second labels, uint8 (n_seconds,), 1 = seizure at the
                               second's midpoint; n_frames == n_seconds * frames_per_s
    manifest.csv               one row per EDF (ok and failed), rebuilt from records/

Every file is written atomically. A recording whose JSON is missing, unreadable or from
another recipe is not trusted and is redone.
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seizure.errors import RecipeMismatchError, SeizureError
from seizure.events import Event
from seizure.fsutil import atomic_path, atomic_write, commit, safe_name
from seizure.preprocess import features
from seizure.preprocess.montage import get_montage
from seizure.preprocess.recipe import Recipe

log = logging.getLogger(__name__)

STORE_FORMAT = "seizure-feature-store"
STORE_VERSION = 1
MANIFEST_FIELDS = (
    "rec_id", "split", "patient", "session", "montage_dir", "edf_path", "status", "error",
    "fs_hz_original", "duration_s", "n_seconds", "n_seizures", "seizure_s",
    "n_channels_used", "missing_channels", "warnings", "recipe_hash",
)


@dataclass
class RecordMeta:
    """Metadata of one recording in a store (one manifest row)."""

    rec_id: str
    split: str
    patient: str
    edf_path: str
    status: str = "ok"  # "ok" | "error"
    error: str = ""
    session: str = ""
    montage_dir: str = ""
    fs_hz_original: float = 0.0
    duration_s: float = 0.0
    n_seconds: int = 0
    n_frames: int = 0
    channel_mask: list[bool] = field(default_factory=list)
    missing_channels: list[str] = field(default_factory=list)
    seizures: list[list[float]] = field(default_factory=list)  # [[start_s, stop_s], ...] whole-head
    warnings: list[str] = field(default_factory=list)
    recipe_hash: str = ""

    @property
    def n_seizures(self) -> int:
        return len(self.seizures)

    @property
    def seizure_s(self) -> float:
        return float(sum(b - a for a, b in self.seizures))

    def mask(self, n_channels: int) -> np.ndarray:
        """Usable channels (bool, ``(n_channels,)``): the stored mask, or all when none was stored.
        The one place that fallback is written."""
        return np.asarray(self.channel_mask, dtype=bool) if self.channel_mask else np.ones(n_channels, bool)

    @property
    def events(self) -> list[Event]:
        """Reference seizure events (binary, whole-head)."""
        return [Event(a, b, "seiz") for a, b in self.seizures]

    def manifest_row(self) -> dict[str, Any]:
        computed = {"n_channels_used": int(sum(self.channel_mask))}
        row = {k: computed[k] if k in computed else getattr(self, k) for k in MANIFEST_FIELDS}
        row["missing_channels"] = " ".join(self.missing_channels)
        row["warnings"] = " | ".join(self.warnings)
        row["seizure_s"] = round(self.seizure_s, 4)
        return row


@dataclass(frozen=True)
class FeatureInfo:
    """Geometry of the stored features."""

    channels: tuple[str, ...]
    n_features: int
    frames_per_s: int


def feature_info(recipe: Recipe) -> FeatureInfo:
    """Geometry of the features a recipe produces (channels, n_features, frames_per_s)."""
    feature = features.get(recipe.feature)
    return FeatureInfo(tuple(get_montage(recipe.montage).channels), feature.n_features(recipe.feature_params),
                       feature.frames_per_s(recipe.feature_params, recipe.fs_hz))


class FeatureStore:
    """Read access to a feature store folder."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        meta_path = self.root / "store.json"
        try:
            meta = json.loads(meta_path.read_text())
        except FileNotFoundError:
            raise SeizureError("not a feature store (no store.json); run `seizure preprocess` first", self.root) from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SeizureError(f"store.json is unreadable: {exc}", self.root) from None
        if meta.get("format") != STORE_FORMAT:
            raise SeizureError(f"not a feature store (format {meta.get('format')!r})", self.root)
        if meta.get("version") != STORE_VERSION:
            raise SeizureError(f"store version {meta.get('version')} is not supported (expected {STORE_VERSION})", self.root)
        self.recipe = Recipe.from_dict(meta["recipe"])
        self.recipe_hash = meta["recipe_hash"]
        info = meta["feature"]
        self.info = FeatureInfo(tuple(info["channels"]), int(info["n_features"]), int(info["frames_per_s"]))

    @property
    def channels(self) -> tuple[str, ...]:
        return self.info.channels

    @property
    def frames_per_s(self) -> int:
        return self.info.frames_per_s

    @property
    def n_features(self) -> int:
        return self.info.n_features

    def records(self, split: str | None = None, status: str | None = "ok") -> list[RecordMeta]:
        """Trusted recordings (this recipe), sorted by id; filter by split and status."""
        out = []
        for path in sorted((self.root / "records").glob("*.json")):
            meta = read_record(path)
            if meta is None or meta.recipe_hash != self.recipe_hash:
                continue
            if split is not None and meta.split != split:
                continue
            if status is not None and meta.status != status:
                continue
            if meta.status == "ok" and not (self._x_path(meta.rec_id).exists() and self._y_path(meta.rec_id).exists()):
                continue
            out.append(meta)
        return out

    def features(self, rec_id: str) -> np.ndarray:
        """Features of one recording, memory-mapped: float32 (n_frames, n_channels, n_features)."""
        return np.load(self._x_path(rec_id), mmap_mode="r")

    def labels(self, rec_id: str) -> np.ndarray:
        """Per-second labels of one recording: uint8 (n_seconds,)."""
        return np.load(self._y_path(rec_id))

    def check_recipe(self, recipe_hash: str, what: str = "checkpoint") -> None:
        if recipe_hash != self.recipe_hash:
            raise RecipeMismatchError(
                f"{what} was made with preprocessing recipe {recipe_hash}, but this store holds recipe "
                f"{self.recipe_hash}; preprocess the corpus with the {what}'s recipe", self.root)

    def _x_path(self, rec_id: str) -> Path:
        return self.root / "records" / f"{rec_id}.x.npy"

    def _y_path(self, rec_id: str) -> Path:
        return self.root / "records" / f"{rec_id}.y.npy"


def read_record(path: Path) -> RecordMeta | None:
    """A record's metadata, or None if the file is unreadable (it is then redone)."""
    try:
        data = json.loads(path.read_text())
        return RecordMeta(**data)
    except (OSError, ValueError, TypeError):
        log.warning("ignoring unreadable record metadata %s", path)
        return None


class StoreWriter(FeatureStore):
    """Create or extend a store for one recipe; refuses to mix recipes in one folder."""

    def __init__(self, root: str | Path, recipe: Recipe, info: FeatureInfo):
        root = Path(root)
        (root / "records").mkdir(parents=True, exist_ok=True)
        meta_path = root / "store.json"
        if meta_path.exists():
            super().__init__(root)
            if self.recipe_hash != recipe.hash():
                raise RecipeMismatchError(
                    f"this store was made with recipe {self.recipe_hash}, the requested recipe is {recipe.hash()}; "
                    "use a new store folder (or delete this one) to change the recipe", root)
            return
        meta = {
            "format": STORE_FORMAT,
            "version": STORE_VERSION,
            "recipe": recipe.to_dict(),
            "recipe_hash": recipe.hash(),
            "feature": {"channels": list(info.channels), "n_features": info.n_features,
                        "frames_per_s": info.frames_per_s},
        }
        with atomic_write(meta_path) as fh:
            json.dump(meta, fh, indent=2)
        super().__init__(root)

    def is_done(self, rec_id: str) -> bool:
        """True if ``rec_id`` was completed (ok) with this store's recipe."""
        meta = read_record(self._meta_path(rec_id)) if self._meta_path(rec_id).exists() else None
        return (meta is not None and meta.status == "ok" and meta.recipe_hash == self.recipe_hash
                and self._x_path(rec_id).exists() and self._y_path(rec_id).exists())

    def write_ok(self, meta: RecordMeta, labels: np.ndarray, features: np.ndarray | None = None, *,
                 features_file: Path | None = None) -> None:
        """Commit a recording: its features given here, or ``features_file``, a finished ``.npy``
        file made by :func:`seizure.fsutil.temp_path` in the records folder (renamed into place).
        The record's JSON is written last."""
        meta.status, meta.error, meta.recipe_hash = "ok", "", self.recipe_hash
        if features_file is not None:
            commit(features_file, self._x_path(meta.rec_id))
        elif features is not None:
            with atomic_path(self._x_path(meta.rec_id), suffix=".npy") as tmp:
                np.save(tmp, np.ascontiguousarray(features, dtype=np.float32))
        with atomic_path(self._y_path(meta.rec_id), suffix=".npy") as tmp:
            np.save(tmp, np.asarray(labels, dtype=np.uint8))
        self._write_meta(meta)

    def write_error(self, meta: RecordMeta, error: str) -> None:
        """Record a failed recording with its one-line reason (it is retried on a re-run)."""
        meta.status, meta.error, meta.recipe_hash = "error", " ".join(error.split()), self.recipe_hash
        self._write_meta(meta)

    def write_manifest(self) -> Path:
        """Rebuild ``manifest.csv`` from the record files (ok and error rows)."""
        path = self.root / "manifest.csv"
        with atomic_write(path) as fh:
            writer = csv.DictWriter(fh, fieldnames=MANIFEST_FIELDS)
            writer.writeheader()
            for meta in self.records(status=None):
                writer.writerow(meta.manifest_row())
        return path

    def _meta_path(self, rec_id: str) -> Path:
        return self.root / "records" / f"{rec_id}.json"

    def _write_meta(self, meta: RecordMeta) -> None:
        if safe_name(meta.rec_id) != meta.rec_id:
            raise SeizureError(f"recording id {meta.rec_id!r} is not a safe file name")
        with atomic_write(self._meta_path(meta.rec_id)) as fh:
            json.dump(asdict(meta), fh, indent=1)
