"""Patient-level bootstrap intervals and paired comparisons of scores.

Recordings of one patient are not independent, so the unit of resampling is the patient:
each resample draws ``n_patients`` patients with replacement (a patient drawn twice counts
twice), pools their counts the way the method pools them (NEDC: sums over recordings; the
same for pooled SzCORE rows) and takes the measure. The interval is the percentile interval
of the resampled measures (95% by default: the 2.5th and 97.5th percentiles, numpy's linear
interpolation). Resamples in which a measure is undefined (no reference seizure for a
sensitivity, no detection for a precision) are left out of its interval and counted
(``n_defined``); the point estimate follows the method's own tradition (:mod:`counts`).

With several training seeds (the study), counts are ``(n_seeds, n_patients)``: a resample
draws patients and, independently, seeds with replacement; the statistic is the mean over
the drawn seeds of the measure pooled over the drawn patients. A paired comparison of two
systems scored on the same recordings applies the SAME draws to both and resamples the
difference; it is "not distinguishable" when the interval covers 0.

Draws: ``rng = numpy.random.default_rng(seed)``; patient indices
``rng.integers(0, n_patients, size=(n_resamples, n_patients))``, then, only when there are
several seeds, seed indices ``rng.integers(0, n_seeds, size=(n_resamples, n_seeds))``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from seizure.scoring.aggregate import subject_id
from seizure.scoring.counts import SECONDS_PER_DAY, Counts

MEASURES = ("sensitivity", "precision", "f1", "fa_per_24h")
DEFAULT_RESAMPLES = 1000
DEFAULT_LEVEL = 0.95
# The headline figures: (method, measure).
HEADLINE = (("ovlp", "sensitivity"), ("ovlp", "fa_per_24h"), ("taes", "sensitivity"), ("szcore", "f1"))
_FIELDS = ("hits", "misses", "false_alarms", "n_ref", "duration_s")


@dataclass(frozen=True)
class CountTable:
    """One scoring method's counts per seed and patient: ``counts`` is float64
    ``(n_seeds, n_patients, 5)`` holding hits, misses, false alarms, reference units and
    scored seconds; ``tradition`` and ``fa_scale`` as in :class:`Counts`."""

    patients: tuple[str, ...]
    counts: np.ndarray
    tradition: str = "nedc"
    fa_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.counts.ndim != 3 or self.counts.shape[1:] != (len(self.patients), len(_FIELDS)):
            raise ValueError(f"counts must be (n_seeds, {len(self.patients)}, {len(_FIELDS)}), "
                             f"got shape {self.counts.shape}")
        if not self.patients:
            raise ValueError("a bootstrap needs at least one patient")

    @property
    def n_seeds(self) -> int:
        return self.counts.shape[0]

    @property
    def n_patients(self) -> int:
        return len(self.patients)


def count_table(per_recording: Mapping[str, Counts], subject_of: Callable[[str], str] = subject_id) -> CountTable:
    """A one-seed :class:`CountTable` from one method's counts per recording name, summed per
    patient (``subject_of(name)``; patients sorted)."""
    if not per_recording:
        raise ValueError("a bootstrap needs at least one recording")
    first = next(iter(per_recording.values()))
    groups: dict[str, np.ndarray] = {}
    for name, c in per_recording.items():
        if (c.tradition, c.fa_scale) != (first.tradition, first.fa_scale):
            raise ValueError("cannot pool counts of different scoring methods")
        row = np.array([c.hits, c.misses, c.false_alarms, c.n_ref, c.duration_s], dtype=np.float64)
        key = subject_of(name)
        groups[key] = groups[key] + row if key in groups else row
    patients = tuple(sorted(groups))
    return CountTable(patients, np.stack([groups[p] for p in patients])[None], first.tradition, first.fa_scale)


_SAVED = {"ovlp": ("nedc", 1.0), "taes": ("nedc", 1.0), "epoch": ("nedc", 0.25), "szcore": ("szcore", 1.0)}


def tables_from_report(report: Mapping[str, Any]) -> dict[str, CountTable]:
    """One-seed tables of the methods a saved ``report.json`` keeps per recording (OVLP, TAES,
    epoch, SzCORE event), patients from its ``subject`` fields: paired comparisons of runs
    scored earlier (e.g. a study's ``eval_report.json`` files)."""
    rows = report.get("per_recording") or []
    if not rows:
        raise ValueError("the report has no per-recording counts")
    out = {}
    for method, (tradition, fa_scale) in _SAVED.items():
        groups: dict[str, np.ndarray] = {}
        for r in rows:
            c = r[method]
            row = np.array([c["hits"], c["misses"], c["false_alarms"], c["hits"] + c["misses"], r["duration_s"]],
                           dtype=np.float64)
            groups[r["subject"]] = groups[r["subject"]] + row if r["subject"] in groups else row
        patients = tuple(sorted(groups))
        out[method] = CountTable(patients, np.stack([groups[p] for p in patients])[None], tradition, fa_scale)
    return out


def stack_seeds(tables: Sequence[CountTable]) -> CountTable:
    """One table over seeds from one-seed tables of the same patients (e.g. one per training seed)."""
    if not tables:
        raise ValueError("no tables to stack")
    first = tables[0]
    for t in tables[1:]:
        if t.patients != first.patients:
            raise ValueError("every seed must be scored on the same patients")
        if (t.tradition, t.fa_scale) != (first.tradition, first.fa_scale):
            raise ValueError("cannot stack counts of different scoring methods")
    return CountTable(first.patients, np.concatenate([t.counts for t in tables]), first.tradition, first.fa_scale)


def measure(sums: np.ndarray, name: str, tradition: str = "nedc", fa_scale: float = 1.0) -> np.ndarray:
    """A measure of pooled counts ``sums (..., 5)``; NaN where it is undefined (see the module
    docstring; :class:`Counts` gives NEDC's 0 there instead)."""
    hits, _, fa, n_ref, dur = np.moveaxis(sums, -1, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        if name == "sensitivity":
            return np.where(n_ref > 0, hits / n_ref, np.nan)
        if name == "precision":
            return np.where(hits + fa > 0, hits / (hits + fa), np.nan)
        if name == "f1":
            if tradition == "szcore":
                return np.where(n_ref + fa > 0, 2 * hits / (2 * hits + fa + (n_ref - hits)), np.nan)
            sens = np.where(n_ref > 0, hits / n_ref, np.nan)
            prec = np.where(hits + fa > 0, hits / (hits + fa), np.nan)
            f1 = np.where(prec + sens > 0, 2 * prec * sens / (prec + sens), 0.0)
            return np.where(np.isnan(sens) | np.isnan(prec), np.where(n_ref > 0, 0.0, np.nan), f1)
        if name == "fa_per_24h":
            return np.where(dur > 0, fa * fa_scale * SECONDS_PER_DAY / dur, np.nan)
    raise ValueError(f"measure must be one of {list(MEASURES)}, got {name!r}")


@dataclass(frozen=True)
class Draws:
    """Resampling weights: ``patients (n_resamples, n_patients)`` and ``seeds (n_resamples,
    n_seeds)`` hold how often each patient / seed was drawn."""

    patients: np.ndarray
    seeds: np.ndarray
    seed: int

    @property
    def n_resamples(self) -> int:
        return self.patients.shape[0]


def draws(n_patients: int, n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0, n_seeds: int = 1) -> Draws:
    """The seeded resamples (see the module docstring for the exact RNG calls)."""
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    if n_patients < 1 or n_seeds < 1:
        raise ValueError(f"a bootstrap needs at least one patient and one seed, got {n_patients} and {n_seeds}")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n_patients, size=(n_resamples, n_patients))
    w_pat = _weights(idx, n_patients)
    if n_seeds == 1:
        w_seed = np.ones((n_resamples, 1))
    else:
        w_seed = _weights(rng.integers(0, n_seeds, size=(n_resamples, n_seeds)), n_seeds)
    return Draws(w_pat, w_seed, seed)


def _weights(idx: np.ndarray, n: int) -> np.ndarray:
    """How often each of ``n`` items appears in each row of ``idx`` (float64)."""
    rows = np.repeat(np.arange(idx.shape[0]), idx.shape[1])
    out = np.zeros((idx.shape[0], n))
    np.add.at(out, (rows, idx.ravel()), 1.0)
    return out


def resampled(table: CountTable, name: str, d: Draws) -> np.ndarray:
    """The statistic in every resample ``(n_resamples,)``: per drawn seed the measure pooled
    over the drawn patients, averaged over the drawn seeds (NaN seeds left out)."""
    if d.patients.shape[1] != table.n_patients or d.seeds.shape[1] != table.n_seeds:
        raise ValueError("the draws were made for another number of patients or seeds")
    sums = np.einsum("bp,spk->bsk", d.patients, table.counts)  # (B, S, 5)
    values = measure(sums, name, table.tradition, table.fa_scale)  # (B, S)
    return _seed_mean(values, d.seeds)


def _seed_mean(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    w = np.where(np.isnan(values), 0.0, weights)
    total = w.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, (np.nan_to_num(values) * w).sum(axis=1) / total, np.nan)


def estimate(table: CountTable, name: str) -> float:
    """The point estimate: the measure pooled over all patients, averaged over seeds."""
    values = measure(table.counts.sum(axis=1), name, table.tradition, table.fa_scale)  # (S,)
    return float(_seed_mean(values[None], np.ones((1, table.n_seeds)))[0])


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap percentile interval."""

    estimate: float
    low: float
    high: float
    level: float
    n_resamples: int
    n_defined: int  # resamples in which the measure is defined

    def to_dict(self) -> dict[str, Any]:
        return {"estimate": _clean(self.estimate), "low": _clean(self.low), "high": _clean(self.high),
                "n_defined": self.n_defined}


@dataclass(frozen=True)
class Difference(Interval):
    """A paired difference ``a - b`` with its interval; ``distinguishable`` when it excludes 0."""

    @property
    def distinguishable(self) -> bool:
        return bool(math.isfinite(self.low) and math.isfinite(self.high) and (self.low > 0 or self.high < 0))

    @property
    def verdict(self) -> str:
        if not self.distinguishable:
            return "not distinguishable"
        return "a higher" if self.low > 0 else "b higher"

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "distinguishable": self.distinguishable, "verdict": self.verdict}


def percentile_interval(values: np.ndarray, level: float = DEFAULT_LEVEL) -> tuple[float, float, int]:
    """(low, high, n_defined): the ``(1 - level) / 2`` and ``(1 + level) / 2`` percentiles of
    the defined (non-NaN) values; NaN when none is defined."""
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    ok = values[~np.isnan(values)]
    if ok.size == 0:
        return math.nan, math.nan, 0
    low, high = np.percentile(ok, [50 * (1 - level), 50 * (1 + level)])
    return float(low), float(high), int(ok.size)


def interval(table: CountTable, name: str, *, n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
             level: float = DEFAULT_LEVEL, d: Draws | None = None) -> Interval:
    """The patient (x seed) bootstrap interval of one measure of one method."""
    d = draws(table.n_patients, n_resamples, seed, table.n_seeds) if d is None else d
    low, high, n_ok = percentile_interval(resampled(table, name, d), level)
    return Interval(estimate(table, name), low, high, level, d.n_resamples, n_ok)


def paired(a: CountTable, b: CountTable, name: str, *, n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
           level: float = DEFAULT_LEVEL) -> Difference:
    """The paired difference ``a - b`` of one measure for two systems scored on the same
    patients (and seed count), with the same draws applied to both."""
    if a.patients != b.patients:
        raise ValueError("a paired comparison needs both systems scored on the same patients")
    if a.n_seeds != b.n_seeds:
        raise ValueError(f"a paired comparison needs the same number of seeds, got {a.n_seeds} and {b.n_seeds}")
    d = draws(a.n_patients, n_resamples, seed, a.n_seeds)
    diff = resampled(a, name, d) - resampled(b, name, d)
    low, high, n_ok = percentile_interval(diff, level)
    return Difference(estimate(a, name) - estimate(b, name), low, high, level, d.n_resamples, n_ok)


def compare(a: Mapping[str, CountTable], b: Mapping[str, CountTable], *,
            measures: Sequence[tuple[str, str]] = HEADLINE, n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
            level: float = DEFAULT_LEVEL) -> dict[str, Any]:
    """Paired differences ``a - b`` of several (method, measure) pairs, e.g. a model against a
    baseline on the same recordings (tables from :meth:`Report.count_table` or
    :func:`tables_from_report`; several seeds via :func:`stack_seeds`): ``{"n_resamples", "seed",
    "level", "n_patients", "n_seeds", "differences": {"ovlp/sensitivity": Difference.to_dict(), ...}}``."""
    diffs = {f"{m}/{k}": paired(a[m], b[m], k, n_resamples=n_resamples, seed=seed, level=level).to_dict()
             for m, k in measures}
    first = a[measures[0][0]]
    return {"n_resamples": n_resamples, "seed": seed, "level": level, "n_patients": first.n_patients,
            "n_seeds": first.n_seeds, "differences": diffs}


def bootstrap_methods(per_method: Mapping[str, Mapping[str, Counts]], *, n_resamples: int = DEFAULT_RESAMPLES,
                      seed: int = 0, level: float = DEFAULT_LEVEL,
                      subject_of: Callable[[str], str] = subject_id) -> dict[str, Any]:
    """Intervals of every measure of every method (``{method: {recording: Counts}}``), all
    from the same draws: ``{"n_resamples", "seed", "level", "n_patients", "unit", "methods":
    {method: {measure: Interval.to_dict()}}}``."""
    tables = {m: count_table(c, subject_of) for m, c in per_method.items()}
    n_patients = next(iter(tables.values())).n_patients
    d = draws(n_patients, n_resamples, seed)
    methods = {m: {name: interval(t, name, level=level, d=d).to_dict() for name in MEASURES}
               for m, t in tables.items()}
    return {"n_resamples": n_resamples, "seed": seed, "level": level, "n_patients": n_patients,
            "unit": "patient", "methods": methods}


def _clean(x: float) -> float | None:
    return None if math.isnan(x) else float(x)
