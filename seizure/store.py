"""The feature store: memory-mappable per-recording arrays, labels, and a manifest.

Layout of a store folder::

    store.json                 format, version, recipe (+ hash), feature geometry
    records/<rec_id>.json      one recording's metadata; written LAST, so its presence
                               (with the store's recipe hash) means the arrays are complete
    records/<rec_id>.x.npy     features, float32 (n_frames, n_channels, n_features)
    records/<rec_id>.y.npy     per-second labels, uint8 (n_seconds,), 1 = seizure at the
                               second's midpoint; n_frames == n_seconds * frames_per_s
    manifest.csv               one row per EDF (ok and failed), rebuilt from records/; its
                               ``role`` column says what a recording is used for (below)
    tuning.json                only in a store without eval recordings: the patients carved
                               from train as the tuning split (seed, fraction, patients)

External training data (``seizure merge --external NAME=STORE``): recordings of another
corpus joined with split ``train`` and ``external = "NAME:SPLIT"`` (their id and patient
prefixed ``NAME__``). They are fitted on, never tuned on or scored; the manifest's role says
``external``.

Split policy (:func:`split_plan`): nothing is scored on a split used to choose its epoch or
its operating point. With eval recordings: fit on train, tune (epoch, operating point) on
dev, score on eval. Without (TUSZ v1.5 has train/dev only): a seeded, patient-disjoint share
of the store's own train patients (never external ones) becomes the ``tune`` split (recorded
in ``tuning.json`` and the manifest's ``role`` column), the rest of train fits, and dev is
scored.

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
    "n_channels_used", "missing_channels", "warnings", "recipe_hash", "role", "external",
)
EXTERNAL_SEP = "__"  # between an external corpus's name and its recording id / patient


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
    external: str = ""  # "NAME:SPLIT" of another corpus joined as training data only, else ""

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

    def manifest_row(self, role: str = "") -> dict[str, Any]:
        computed = {"n_channels_used": int(sum(self.channel_mask)), "role": role or self.split}
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

    def write_manifest(self) -> Path:
        """Rebuild ``manifest.csv`` from the record files (ok and error rows), with each
        recording's role (``external`` for external training data, ``tune`` for the patients
        carved from train, else its split)."""
        tuning = read_tuning(self.root)
        tuned = set(tuning["patients"]) if tuning else set()
        path = self.root / "manifest.csv"
        with atomic_write(path) as fh:
            writer = csv.DictWriter(fh, fieldnames=MANIFEST_FIELDS)
            writer.writeheader()
            for meta in self.records(status=None):
                role = ("external" if meta.external else
                        "tune" if meta.split == "train" and meta.patient in tuned else meta.split)
                writer.writerow(meta.manifest_row(role))
        return path

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
        self.write_meta(meta)

    def write_error(self, meta: RecordMeta, error: str) -> None:
        """Record a failed recording with its one-line reason (it is retried on a re-run)."""
        meta.status, meta.error, meta.recipe_hash = "error", " ".join(error.split()), self.recipe_hash
        self.write_meta(meta)

    def _meta_path(self, rec_id: str) -> Path:
        return self.root / "records" / f"{rec_id}.json"

    def write_meta(self, meta: RecordMeta) -> None:
        """Write a record's JSON (atomically); its arrays must be in place already."""
        if safe_name(meta.rec_id) != meta.rec_id:
            raise SeizureError(f"recording id {meta.rec_id!r} is not a safe file name")
        with atomic_write(self._meta_path(meta.rec_id)) as fh:
            json.dump(asdict(meta), fh, indent=1)


# --------------------------------------------------------------------------- split policy

TUNING_FILE = "tuning.json"


@dataclass(frozen=True)
class SplitPlan:
    """Which recordings train (``fit``), which choose the epoch and operating point
    (``tune``) and which split is scored; ``tune_split`` is ``dev`` or ``tune`` (patients
    carved from train, described by ``tuning``)."""

    fit: list[RecordMeta]
    tune: list[RecordMeta]
    tune_split: str
    score_split: str
    tuning: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """What a checkpoint and a report record about the splits (JSON-safe)."""
        return {"fit": "train" if self.tuning is None else "train minus tune", "tune": self.tune_split,
                "score": self.score_split, "fit_patients": sorted({r.patient for r in self.fit}),
                "tune_patients": sorted({r.patient for r in self.tune}), "tuning": self.tuning,
                "external": external_summary(self.fit)}


def external_summary(records: list[RecordMeta]) -> dict[str, dict[str, Any]]:
    """Per external corpus (its name) among ``records``: recordings, patients, hours and seizures."""
    out: dict[str, dict[str, Any]] = {}
    for r in records:
        if r.external:
            e = out.setdefault(r.external.split(":")[0], {"recordings": 0, "patients": set(), "hours": 0.0,
                                                          "seizures": 0})
            e["recordings"] += 1
            e["patients"].add(r.patient)
            e["hours"] += r.n_seconds / 3600
            e["seizures"] += r.n_seizures
    return {k: {**v, "patients": len(v["patients"]), "hours": round(v["hours"], 3)} for k, v in sorted(out.items())}


def read_tuning(root: str | Path) -> dict[str, Any] | None:
    """The store's recorded tuning carve, or None."""
    try:
        data = json.loads((Path(root) / TUNING_FILE).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise SeizureError(f"{TUNING_FILE} is unreadable: {exc}", root) from None
    return data if isinstance(data, dict) else None


def carve_tuning(records: list[RecordMeta], seed: int, fraction: float) -> list[str]:
    """The train patients that become the tuning split: ``round(fraction * n)`` (at least one),
    drawn with ``numpy.random.default_rng(seed)`` separately among patients with and without
    seizures (so both splits keep seizures when they can), sorted."""
    patients = sorted({r.patient for r in records})
    if len(patients) < 2:
        raise SeizureError(f"cannot carve a tuning split from {len(patients)} train patient(s); "
                           "a store without eval recordings needs at least 2 train patients")
    if not 0 < fraction < 1:
        raise SeizureError(f"train.tuning_fraction must be between 0 and 1, got {fraction}")
    with_sz = sorted({r.patient for r in records if r.n_seizures > 0})
    without = [p for p in patients if p not in set(with_sz)]
    rng = np.random.default_rng(seed)
    chosen: list[str] = []
    for group in (with_sz, without):
        if not group:
            continue
        n = int(round(fraction * len(group)))
        if group is with_sz and len(group) >= 2:
            n = min(max(1, n), len(group) - 1)
        chosen += [group[i] for i in rng.permutation(len(group))[:n]]
    if not chosen:
        chosen = [patients[int(rng.integers(len(patients)))]]
    if len(chosen) == len(patients):
        chosen = chosen[:-1]
    return sorted(chosen)


def split_plan(store: FeatureStore, *, seed: int = 0, fraction: float = 0.2, record: bool = True) -> SplitPlan:
    """The store's split plan (module docstring). Without eval recordings the tuning carve is
    drawn from ``seed`` and ``fraction`` and, with ``record``, written to ``tuning.json`` and
    the manifest (the same carve again leaves them as they are)."""
    train, dev = store.records("train"), store.records("dev")
    if not train:
        raise SeizureError("the store has no 'train' recordings to train on", store.root)
    if not dev:
        raise SeizureError("the store has no 'dev' recordings for model selection and the operating point",
                           store.root)
    evals = store.records("eval")
    for a, b in (("train", dev), ("train", evals), ("dev", evals)):
        first = train if a == "train" else dev
        overlap = {r.patient for r in first} & {r.patient for r in b}
        if overlap:
            other = b[0].split
            raise SeizureError(f"patient {sorted(overlap)[0]} is in both {a} and {other}; splits must be "
                               "patient-wise", store.root)
    if evals:
        return SplitPlan(train, dev, "dev", "eval")
    own = [r for r in train if not r.external]
    if not own:
        raise SeizureError("the store has no eval recordings and no train recordings of its own (only external "
                           "ones) to carve a tuning split from", store.root)
    patients = carve_tuning(own, seed, fraction)
    tuning = {"from": "train", "seed": int(seed), "fraction": float(fraction), "patients": patients}
    if record and read_tuning(store.root) != tuning:
        with atomic_write(store.root / TUNING_FILE) as fh:
            json.dump(tuning, fh, indent=1)
            fh.write("\n")
        store.write_manifest()
        log.info("the store has no eval recordings: %d of %d train patients carved as the tuning split "
                 "(seed %d; %s); dev is scored", len(patients), len({r.patient for r in own}), seed,
                 store.root / TUNING_FILE)
    chosen = set(patients)
    return SplitPlan([r for r in train if r.patient not in chosen], [r for r in train if r.patient in chosen],
                     "tune", "dev", tuning)
