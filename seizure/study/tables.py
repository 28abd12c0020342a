"""A study's results in the paper's form: Markdown and CSV tables and one DET plot per axis.

Every figure is scored on the split the study's split plan left unseen (eval; dev when the
store has none, see :func:`seizure.store.split_plan`), and every table names it. Written
into the study's output folder:

- ``results.md``: one row per variant and one for the fitted band-power baseline: OVLP
  sensitivity and FA/24h, TAES sensitivity and F1, SzCORE F1 as the mean over seeds of the
  figure pooled over recordings with its 95% patient-level bootstrap interval (patients
  and seeds drawn with replacement, :mod:`seizure.scoring.bootstrap`), specificity and the
  SzCORE patient mean as mean ± SD; then each variant's paired difference from the axis's
  reference (and the reference's from the baseline) over seeds x patients, "not
  distinguishable" where the interval covers 0; then sensitivity at equal false-alarm
  rates with each run's threshold chosen on the tuning split per target and applied to the
  scored split, and, labelled as an oracle, the best of the seed-mean curve swept on the
  scored split itself; each variant's overrides of the base; the provenance.
- ``results.csv``: the figures with mean, std, min and max over seeds and the interval
  (``_low``/``_high``) columns (percent where the column name ends in ``_pct``).
- ``comparisons.csv``: every paired difference (a - b, measure, FA target or none, estimate,
  interval, verdict).
- ``runs.csv``: one row per run (variant, seed, status, figures, operating point).
- ``det.png``: OVLP sensitivity against FA/24h, threshold swept on the scored split, mean
  over seeds at each threshold (each run with its own tuned post-processing), and the
  baseline's curve.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seizure.fsutil import atomic_write, save_figure
from seizure.scoring import bootstrap
from seizure.study.baseline import FOLDER as BASELINE_FOLDER, NAME as BASELINE_NAME
from seizure.study.runner import FA_TARGETS, FAILED, RESULT, RunSpec, finished, read_json, same_config
from seizure.study.spec import Study

N_RESAMPLES = bootstrap.DEFAULT_RESAMPLES
BOOTSTRAP_SEED = 0


@dataclass(frozen=True)
class Column:
    key: str        # figure key in result.json (or a derived one)
    header: str     # Markdown header
    csv: str        # CSV column stem (units in the name)
    scale: float    # multiply the stored value by this for display
    digits: int
    boot: tuple[str, str] | None = None  # (method, measure) with a bootstrap interval


COLUMNS = (
    Column("ovlp_sensitivity", "OVLP sensitivity (%)", "ovlp_sensitivity_pct", 100.0, 1, ("ovlp", "sensitivity")),
    Column("ovlp_fa_per_24h", "OVLP FA/24h", "ovlp_fa_per_24h", 1.0, 2, ("ovlp", "fa_per_24h")),
    Column("taes_sensitivity", "TAES sensitivity (%)", "taes_sensitivity_pct", 100.0, 1, ("taes", "sensitivity")),
    Column("taes_f1", "TAES F1 (%)", "taes_f1_pct", 100.0, 1, ("taes", "f1")),
    Column("szcore_f1", "SzCORE F1 (%)", "szcore_f1_pct", 100.0, 1, ("szcore", "f1")),
    Column("specificity", "specificity (%)", "specificity_pct", 100.0, 2),
    Column("szcore_f1_subject_mean", "SzCORE F1, patient mean (%)", "szcore_f1_subject_mean_pct", 100.0, 1),
)
# the paired comparisons: (method, measure, header, scale, digits)
PAIRED = (("ovlp", "sensitivity", "OVLP sensitivity (points)", 100.0, 1),
          ("ovlp", "fa_per_24h", "OVLP FA/24h", 1.0, 2),
          ("taes", "sensitivity", "TAES sensitivity (points)", 100.0, 1),
          ("szcore", "f1", "SzCORE F1 (points)", 100.0, 1))
SPARSITY = Column("sparsity", "sparse VD sparsity (%)", "sparsity_pct", 100.0, 1)
TRAIN_MIN = Column("train_min", "train (min)", "train_min", 1.0, 1)
CSV_ONLY = (Column("szcore_sensitivity", "", "szcore_sensitivity_pct", 100.0, 1),)


@dataclass
class VariantRows:
    """The finished runs of one variant and their figures."""

    name: str
    note: str
    planned: int
    results: list[dict[str, Any]] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    reports: dict[int, dict[str, Any]] = field(default_factory=dict)  # seed -> its eval_report.json

    def values(self, key: str) -> np.ndarray:
        out = []
        for r in self.results:
            if key == "sparsity":
                v = r.get("sparsity")
            elif key == "train_min":
                v = r["train"]["train_s"] / 60.0
            else:
                v = r["figures"].get(key)
            out.append(np.nan if v is None else float(v))
        return np.asarray(out, dtype=np.float64)


def stats(values: np.ndarray) -> dict[str, float]:
    """Mean, sample std (n-1; NaN for one value), min and max of the finite values."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return {"mean": math.nan, "std": math.nan, "min": math.nan, "max": math.nan, "n": 0}
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else math.nan,
            "min": float(v.min()), "max": float(v.max()), "n": int(v.size)}


def collect(study: Study, specs: list[RunSpec]) -> list[VariantRows]:
    """Finished results and failures per variant, in the study's order."""
    rows = {v.name: VariantRows(v.name, v.note, 0) for v in study.variants}
    for spec in specs:
        row = rows[spec.variant]
        row.planned += 1
        result = finished(spec)
        if result is not None:
            row.results.append(result)
            report = read_json(spec.run_dir / "eval_report.json")
            if report is not None:
                row.reports[spec.seed] = report
            continue
        failed = read_json(spec.run_dir / FAILED)
        if failed is not None and same_config(spec, failed):
            row.failed.append(f"seed {spec.seed}: {failed.get('error', '')}")
    return list(rows.values())


def _cell(s: dict[str, float], col: Column) -> str:
    if s["n"] == 0:
        return "n/a"
    text = f"{col.scale * s['mean']:.{col.digits}f}"
    if s["n"] > 1:
        text += f" ± {col.scale * s['std']:.{col.digits}f}"
    return text


def _columns(rows: list[VariantRows], study: Study) -> list[Column]:
    uses_svd = any(study.config(v, 0).model.uses("sparse_vd") for v in study.variants)
    return [*COLUMNS, *([SPARSITY] if uses_svd else []), TRAIN_MIN]


# --------------------------------------------------------------------------- DET (mean over seeds)


@dataclass
class MeanCurve:
    """OVLP sensitivity and FA/24h at each threshold, averaged over a variant's seeds."""

    thresholds: np.ndarray
    sensitivity: np.ndarray
    fa_per_24h: np.ndarray
    n_seeds: int

    def frontier(self) -> tuple[np.ndarray, np.ndarray]:
        from seizure.scoring import det

        mc = det.MethodCurve(self.sensitivity, np.zeros_like(self.sensitivity), np.zeros_like(self.sensitivity),
                             self.fa_per_24h)
        return det.frontier(det.DetCurve(self.thresholds, mc, mc), "ovlp")

    def at_most(self, target: float) -> float | None:
        """Best mean sensitivity among thresholds whose mean FA/24h is at or below ``target``."""
        ok = np.isfinite(self.fa_per_24h) & (self.fa_per_24h <= target) & np.isfinite(self.sensitivity)
        return float(self.sensitivity[ok].max()) if ok.any() else None


def mean_curve(specs: list[RunSpec]) -> MeanCurve | None:
    """The seed-mean curve of the finished runs' ``det.json`` files."""
    return curve_of([read_json(s.run_dir / "det.json") for s in specs if finished(s) is not None])


def curve_of(curves: list[dict[str, Any] | None]) -> MeanCurve | None:
    """The mean, threshold by threshold, of saved DET sweeps (those on the first one's thresholds)."""
    curves = [c for c in curves if c is not None]
    if not curves:
        return None
    thr = np.asarray(curves[0]["thresholds"], dtype=np.float64)
    curves = [c for c in curves if np.array_equal(np.asarray(c["thresholds"], dtype=np.float64), thr)]

    def stack(key: str) -> np.ndarray:
        return np.array([[np.nan if v is None else v for v in c["ovlp"][key]] for c in curves], dtype=np.float64)

    with np.errstate(invalid="ignore"):
        sens = np.nanmean(stack("sensitivity"), axis=0)
        fa = np.nanmean(stack("fa_per_24h"), axis=0)
    return MeanCurve(thr, sens, fa, len(curves))


def plot_det(curves: dict[str, MeanCurve], points: dict[str, tuple[float, float]], path: Path, title: str) -> Path:
    """Each variant's seed-mean OVLP frontier on a log FA axis, its mean operating point marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    positive = [fa for c in curves.values() for fa in c.fa_per_24h if np.isfinite(fa) and fa > 0]
    floor = min(0.1, min(positive) / 2) if positive else 0.1
    cmap = plt.get_cmap("tab10" if len(curves) <= 10 else "tab20")
    styles = ("-", "--", "-.", ":")
    fig, ax = plt.subplots(figsize=(8.0, 5.4), dpi=120)
    for i, (name, c) in enumerate(curves.items()):
        color = cmap(i % cmap.N)
        fa, sens = c.frontier()
        best = c.at_most(6.0)
        label = f"{name} (n={c.n_seeds}): " + ("none within 6 FA/24h" if best is None else f"{100 * best:.1f}% at ≤6")
        ax.plot(np.maximum(fa, floor), 100 * sens, drawstyle="steps-post", linewidth=1.8, color=color,
                linestyle=styles[(i // 10) % len(styles)], label=label)
        if name in points:
            p_fa, p_sens = points[name]
            ax.plot(max(p_fa, floor), 100 * p_sens, marker="o", markersize=7, markerfacecolor="none",
                    markeredgewidth=1.8, color=color)
    ax.axvline(6.0, color="0.4", linestyle="--", linewidth=1)
    ax.text(6.0 * 1.06, 2, "6 FA/24h\n(paper)", fontsize=8, color="0.3")
    ax.set_xscale("log")
    ax.set_ylim(0, 100)
    ax.set_xlabel(f"False alarms per 24 h (NEDC OVLP, pooled over recordings; mean over seeds; 0 drawn at {floor:.2g})")
    ax.set_ylabel("OVLP sensitivity (%)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="upper left", fontsize=7, title="frontier; circle: tuned operating point", title_fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


# --------------------------------------------------------------------------- the tables


def _diff(base: Any, other: Any, prefix: str = "") -> list[str]:
    """``key = value`` lines where ``other`` differs from ``base`` (resolved config dicts)."""
    if isinstance(base, dict) and isinstance(other, dict) and not prefix.endswith("params"):
        out = []
        for k in other:
            out += _diff(base.get(k), other[k], f"{prefix}.{k}" if prefix else k)
        return out
    if base == other:
        return []
    return [f"{prefix} = {json.dumps(other)}"]


def overrides_of(study: Study) -> dict[str, list[str]]:
    """Each variant's resolved differences from the base (seed aside)."""
    base = study.base_config().to_dict()
    base["train"]["seed"] = 0
    return {v.name: _diff(base, study.config(v, 0).to_dict()) for v in study.variants}


def _split_text(results: list[dict[str, Any]], splits: dict[str, Any] | None) -> str:
    if not results:
        return "no finished run yet"
    r = results[0]
    text = (f"Scored on the store's **{r['split']}** split: {r['n_recordings']} recordings, {r['hours']:.2f} h, "
            f"{r['n_seizures']} seizures, {r['n_patients']} patients. ")
    if splits and splits.get("tuning"):
        t = splits["tuning"]
        text += (f"The store has no eval split, so every run trained on part of train and chose its epoch and "
                 f"operating point on a **tuning split** of {len(t['patients'])} train patient(s) carved by seed "
                 f"{t['seed']} (fraction {t['fraction']:g}, listed in the store's `tuning.json`); ")
    else:
        text += "Every run trained on **train** and chose its epoch and operating point on **dev**; "
    text += f"the scored split ({r['split']}) was used for neither."
    return text + external_text((splits or {}).get("external"))


def external_text(external: dict[str, dict[str, Any]] | None) -> str:
    """The sentence naming the external corpora a run also trained on (``seizure merge
    --external``), or ""."""
    if not external:
        return ""
    parts = [f"{name} ({e['recordings']} recordings, {e['hours']:.1f} h, {e['seizures']} seizures)"
             for name, e in external.items()]
    return f" Training also used external data, never tuned on or scored: {', '.join(parts)}."


def _machines(results: list[dict[str, Any]]) -> str:
    seen = sorted({r["machine"] for r in results if "machine" in r})
    return "; ".join(seen) if seen else "unknown"


# --------------------------------------------------------------------------- bootstrap


@dataclass
class Baseline:
    """The study's fitted band-power baseline: its result and saved report, or why it failed."""

    result: dict[str, Any] | None
    report: dict[str, Any] | None
    curve: MeanCurve | None
    error: str = ""


def load_baseline(out: Path) -> Baseline | None:
    folder = out / BASELINE_FOLDER
    result = read_json(folder / RESULT)
    if result is not None:
        return Baseline(result, read_json(folder / "eval_report.json"), curve_of([read_json(folder / "det.json")]))
    failed = read_json(folder / FAILED)
    if failed is not None:
        return Baseline(None, None, None, failed.get("error", ""))
    return None


def report_tables(reports: list[dict[str, Any]]) -> dict[str, bootstrap.CountTable] | None:
    """Seeds x patients count tables of saved reports (one per seed, same recordings), or None."""
    try:
        per_seed = [bootstrap.tables_from_report(r["report"]) for r in reports]
        return {m: bootstrap.stack_seeds([t[m] for t in per_seed]) for m in per_seed[0]} if per_seed else None
    except (KeyError, ValueError):
        return None


def equal_fa_table(reports: list[dict[str, Any]], target: float) -> bootstrap.CountTable | None:
    """Seeds x patients OVLP counts at the operating points chosen on the tuning split for ``target``."""
    tables = []
    for r in reports:
        point = next((q for q in r.get("equal_fa") or [] if q["target_fa_per_24h"] == target), None)
        if point is None:
            return None
        groups: dict[str, np.ndarray] = {}
        for x in point["per_recording"]:
            row = np.array([x["hits"], x["misses"], x["false_alarms"], x["hits"] + x["misses"], x["duration_s"]])
            groups[x["patient"]] = groups[x["patient"]] + row if x["patient"] in groups else row
        patients = tuple(sorted(groups))
        tables.append(bootstrap.CountTable(patients, np.stack([groups[k] for k in patients])[None]))
    try:
        return bootstrap.stack_seeds(tables) if tables else None
    except ValueError:
        return None


def _repeat(table: bootstrap.CountTable, n_seeds: int) -> bootstrap.CountTable:
    """A one-fit system (the baseline) as ``n_seeds`` identical seeds, to pair it with a model."""
    return bootstrap.CountTable(table.patients, np.repeat(table.counts, n_seeds, axis=0), table.tradition,
                                table.fa_scale)


def _interval(table: bootstrap.CountTable | None, measure: str) -> bootstrap.Interval | None:
    if table is None:
        return None
    return bootstrap.interval(table, measure, n_resamples=N_RESAMPLES, seed=BOOTSTRAP_SEED)


def _fmt(x: float | None, scale: float, digits: int, sign: bool = False) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{scale * x:{'+' if sign else ''}.{digits}f}"


def _iv_text(iv: bootstrap.Interval | None, scale: float, digits: int, sign: bool = False) -> str:
    if iv is None:
        return "n/a"
    return (f"{_fmt(iv.estimate, scale, digits, sign)} [{_fmt(iv.low, scale, digits, sign)}, "
            f"{_fmt(iv.high, scale, digits, sign)}]")


@dataclass
class Comparison:
    """One paired difference ``a - b``."""

    a: str
    b: str
    method: str
    measure: str
    target: float | None  # an FA/24h target (equal-FA comparison) or None (tuned operating points)
    n_seeds: int
    diff: bootstrap.Difference


def _pair(a: bootstrap.CountTable, b: bootstrap.CountTable, measure: str) -> bootstrap.Difference:
    return bootstrap.paired(a, b, measure, n_resamples=N_RESAMPLES, seed=BOOTSTRAP_SEED)


def comparisons(study: Study, rows: list[VariantRows], baseline: Baseline | None) -> list[Comparison]:
    """Each variant minus the reference over their common seeds, and the reference minus the
    baseline, at the tuned operating points and at each equal-FA target."""
    by_name = {r.name: r for r in rows}
    ref = by_name.get(study.reference)
    out: list[Comparison] = []
    if ref is None or not ref.reports:
        return out

    def add(a_name: str, b_name: str, a_reports: list, b_reports: list, repeat_b: bool) -> None:
        n = len(a_reports)
        ta, tb = report_tables(a_reports), report_tables(b_reports)
        if ta is not None and tb is not None:
            for method, measure, *_ in PAIRED:
                b_table = _repeat(tb[method], n) if repeat_b else tb[method]
                out.append(Comparison(a_name, b_name, method, measure, None, n, _pair(ta[method], b_table, measure)))
        for target in FA_TARGETS:
            ea, eb = equal_fa_table(a_reports, target), equal_fa_table(b_reports, target)
            if ea is not None and eb is not None:
                eb = _repeat(eb, n) if repeat_b else eb
                out.append(Comparison(a_name, b_name, "ovlp", "sensitivity", target, n,
                                      _pair(ea, eb, "sensitivity")))

    for row in rows:
        if row.name == ref.name:
            continue
        seeds = sorted(set(row.reports) & set(ref.reports))
        if seeds:
            add(row.name, ref.name, [row.reports[k] for k in seeds], [ref.reports[k] for k in seeds], False)
    if baseline is not None and baseline.report is not None:
        seeds = sorted(ref.reports)
        add(ref.name, BASELINE_NAME, [ref.reports[k] for k in seeds], [baseline.report], True)
    return out


# --------------------------------------------------------------------------- writing


def write_tables(study: Study, specs: list[RunSpec], out_dir: str | Path, *, store: str | Path,
                 command: str | None = None) -> dict[str, Path]:
    """Write ``results.md``, ``results.csv``, ``comparisons.csv``, ``runs.csv`` and ``det.png`` into ``out_dir``."""
    out = Path(out_dir)
    rows = collect(study, specs)
    cols = _columns(rows, study)
    every = [r for row in rows for r in row.results]
    baseline = load_baseline(out)
    by_variant = {v.name: [s for s in specs if s.variant == v.name] for v in study.variants}
    curves = {name: c for name, c in ((n, mean_curve(s)) for n, s in by_variant.items()) if c is not None}
    points = {}
    for row in rows:
        if row.results:
            points[row.name] = (stats(row.values("ovlp_fa_per_24h"))["mean"],
                                stats(row.values("ovlp_sensitivity"))["mean"])
    plotted = dict(curves)
    if baseline is not None and baseline.curve is not None:
        plotted[BASELINE_NAME] = baseline.curve
        f = baseline.result["figures"]
        points[BASELINE_NAME] = (f["ovlp_fa_per_24h"] or 0.0, f["ovlp_sensitivity"] or 0.0)
    study_json = read_json(out / "study.json") or {}
    paths = {"results.md": out / "results.md", "results.csv": out / "results.csv",
             "comparisons.csv": out / "comparisons.csv", "runs.csv": out / "runs.csv"}
    if plotted:
        split = every[0]["split"] if every else baseline.result["split"]
        paths["det.png"] = plot_det(plotted, points, out / "det.png",
                                    f"Study '{study.name}' (axis: {study.axis}): OVLP DET on {split} "
                                    "(threshold swept on it), mean over seeds")
    comps = comparisons(study, rows, baseline)
    _write_csv(paths["results.csv"], rows, cols, baseline)
    _write_comparisons(paths["comparisons.csv"], comps)
    _write_runs(paths["runs.csv"], specs)
    with atomic_write(paths["results.md"]) as fh:
        fh.write(_markdown(study, rows, cols, curves, every, store, command, "det.png" in paths, baseline, comps,
                           study_json.get("splits")))
    return paths


def _variant_tables(row: VariantRows) -> dict[str, bootstrap.CountTable] | None:
    return report_tables([row.reports[k] for k in sorted(row.reports)]) if row.reports else None


def _write_csv(path: Path, rows: list[VariantRows], cols: list[Column], baseline: Baseline | None) -> None:
    fields = ["variant", "runs_ok", "runs_planned", "runs_failed"]
    for col in [*cols, *CSV_ONLY]:
        fields += [f"{col.csv}_{k}" for k in ("mean", "std", "min", "max")]
        if col.boot:
            fields += [f"{col.csv}_low", f"{col.csv}_high"]
    with atomic_write(path) as fh:
        writer = csv.writer(fh)
        writer.writerow(fields)
        for row in rows:
            tables = _variant_tables(row)
            line: list[Any] = [row.name, len(row.results), row.planned, len(row.failed)]
            for col in [*cols, *CSV_ONLY]:
                s = stats(row.values(col.key))
                line += ["" if not np.isfinite(s[k]) else f"{col.scale * s[k]:.6g}"
                         for k in ("mean", "std", "min", "max")]
                if col.boot:
                    iv = _interval(tables[col.boot[0]], col.boot[1]) if tables else None
                    line += [_num(None if iv is None else col.scale * iv.low),
                             _num(None if iv is None else col.scale * iv.high)]
            writer.writerow(line)
        if baseline is not None and baseline.result is not None:
            tables = report_tables([baseline.report]) if baseline.report else None
            line = ["bandpower_baseline", 1, 1, 0]
            for col in [*cols, *CSV_ONLY]:
                v = baseline.result["figures"].get(col.key)
                line += [_num(None if v is None else col.scale * v), "", _num(None if v is None else col.scale * v),
                         _num(None if v is None else col.scale * v)]
                if col.boot:
                    iv = _interval(tables[col.boot[0]], col.boot[1]) if tables else None
                    line += [_num(None if iv is None else col.scale * iv.low),
                             _num(None if iv is None else col.scale * iv.high)]
            writer.writerow(line)


def _write_comparisons(path: Path, comps: list[Comparison]) -> None:
    fields = ["a", "b", "method", "measure", "target_fa_per_24h", "n_seeds", "estimate", "low", "high",
              "distinguishable", "verdict", "n_resamples"]
    with atomic_write(path) as fh:
        writer = csv.writer(fh)
        writer.writerow(fields)
        for c in comps:
            d = c.diff
            writer.writerow([c.a, c.b, c.method, c.measure, "" if c.target is None else f"{c.target:g}", c.n_seeds,
                             _num(d.estimate), _num(d.low), _num(d.high), d.distinguishable, d.verdict,
                             d.n_resamples])


def _write_runs(path: Path, specs: list[RunSpec]) -> None:
    keys = [c.key for c in (*COLUMNS, *CSV_ONLY)]
    fields = ["variant", "seed", "status", "config_hash", *keys, "sparsity", "threshold", "smooth_s",
              "min_duration_s", "merge_gap_s", "best_epoch", "epochs_run", "dev_sensitivity", "dev_fa_per_24h",
              "train_s", "elapsed_s", "error"]
    with atomic_write(path) as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        for spec in specs:
            row: dict[str, Any] = {"variant": spec.variant, "seed": spec.seed, "config_hash": spec.config_hash}
            result = finished(spec)
            failed = read_json(spec.run_dir / FAILED)
            if result is not None:
                tr = result["train"]
                row.update(status="ok", **{k: _num(result["figures"].get(k)) for k in keys},
                           sparsity=_num(result.get("sparsity")), **{k: _num(v) for k, v in
                                                                      result["operating_point"].items()},
                           best_epoch=tr.get("best_epoch"), epochs_run=tr.get("epochs_run"),
                           dev_sensitivity=_num(tr.get("dev_sensitivity")),
                           dev_fa_per_24h=_num(tr.get("dev_fa_per_24h")), train_s=_num(tr.get("train_s")),
                           elapsed_s=_num(result.get("elapsed_s")))
            elif failed is not None and same_config(spec, failed):
                row.update(status="failed", error=failed.get("error", ""))
            else:
                row.update(status="not run")
            writer.writerow(row)


def _num(x: Any) -> str:
    return "" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.6g}"


def _num(x: Any) -> str:
    return "" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.6g}"


def _verdict(c: Comparison) -> str:
    if not c.diff.distinguishable:
        return "not distinguishable"
    return f"{c.a} higher" if c.diff.low > 0 else f"{c.b} higher"


def _markdown(study: Study, rows: list[VariantRows], cols: list[Column], curves: dict[str, MeanCurve],
              every: list[dict[str, Any]], store: str | Path, command: str | None, has_plot: bool,
              baseline: Baseline | None, comps: list[Comparison], splits: dict[str, Any] | None) -> str:
    seeds = f"{len(study.seeds)} seed(s) per variant (train.seed {', '.join(str(s) for s in study.seeds)})"
    split = every[0]["split"] if every else "the scored split"
    tune = "the tuning split" if splits and splits.get("tuning") else "dev"
    lines = [f"# Study `{study.name}`: one axis, {study.axis}", ""]
    if study.description:
        lines += [study.description.strip(), ""]
    lines += [
        f"{_split_text(every, splits)} {seeds}; reference variant: `{study.reference}`.",
        "",
        f"## Figures on {split}, with 95% intervals",
        "",
        "| variant | runs | " + " | ".join(c.header for c in cols) + " |",
        "|---|---:|" + "---:|" * len(cols),
    ]
    for row in rows:
        runs = f"{len(row.results)}/{row.planned}" + (f" ({len(row.failed)} failed)" if row.failed else "")
        tables = _variant_tables(row)
        cells = []
        for c in cols:
            if c.boot and tables is not None:
                cells.append(_iv_text(_interval(tables[c.boot[0]], c.boot[1]), c.scale, c.digits))
            else:
                cells.append(_cell(stats(row.values(c.key)), c))
        lines.append(f"| {row.name} | {runs} | " + " | ".join(cells) + " |")
    if baseline is not None:
        if baseline.result is not None:
            tables = report_tables([baseline.report]) if baseline.report else None
            cells = []
            for c in cols:
                v = baseline.result["figures"].get(c.key)
                if c.boot and tables is not None:
                    cells.append(_iv_text(_interval(tables[c.boot[0]], c.boot[1]), c.scale, c.digits))
                elif c.key in ("train_min", "sparsity"):
                    cells.append("n/a")
                else:
                    cells.append(_fmt(v, c.scale, c.digits))
            lines.append(f"| {BASELINE_NAME} | 1 fit | " + " | ".join(cells) + " |")
        else:
            lines.append(f"| {BASELINE_NAME} | failed | " + " | ".join("n/a" for _ in cols) + " |")
    lines += [
        "",
        f"OVLP, TAES and SzCORE F1 cells: the mean over seeds of the figure pooled over the {split} recordings, and "
        f"[low, high], the 95% percentile interval of a patient-level bootstrap ({N_RESAMPLES} resamples, seed "
        f"{BOOTSTRAP_SEED}: patients and, independently, seeds drawn with replacement; "
        "`seizure.scoring.bootstrap`). Specificity and the SzCORE patient mean: mean ± sample standard deviation "
        "over seeds. Min, max and the intervals are in `results.csv`, every run in `runs.csv`. OVLP: NEDC "
        "any-overlap, counts pooled over recordings. **Specificity** is NEDC epoch scoring's true-negative rate "
        "TN / (TN + FP) over 0.25 s epochs of the same hypothesis events, pooled over recordings (the paper's "
        "tables report the specificity of per-epoch decisions; OVLP has no true negatives). TAES: NEDC "
        "time-aligned scoring, pooled. SzCORE F1: event scoring (timescoring semantics) pooled over recordings, "
        "and its mean over patients.",
    ]
    if baseline is not None:
        if baseline.result is not None:
            b = baseline.result["baseline"]
            lines += ["", f"**{BASELINE_NAME}**: {b['features']} band-power, line-length and variance features per "
                      f"second, gradient-boosted trees (`seizure.baselines.bandpower`, seed {b['seed']}), fitted once "
                      f"on the {b['n_records']} training recordings ({b['hours']:.2f} h) the runs trained on, its "
                      f"operating point chosen on {tune} by the model's own rule and post-processing grid (the base "
                      "config's `[postprocess]`), scored like the runs; one fit, so its interval resamples patients "
                      "only."]
        else:
            lines += ["", f"**{BASELINE_NAME}**: failed: {baseline.error}"]
    if SPARSITY in cols:
        lines.append("Sparsity: the share of sparse-VD weights pruned (log-alpha above the threshold) in `best.pt`; "
                     "n/a for variants without sparse_vd.")
    lines += _paired_section(study, comps, split, tune)
    lines += _equal_fa_section(rows, curves, baseline, comps, split, tune, has_plot)
    lines += ["", "## Variants", "", f"Differences of each variant's resolved config from the base "
              f"(`{study.base_path}`" + (f" with {', '.join(f'`{o}`' for o in study.overrides)}" if study.overrides
                                        else "") + "):", ""]
    for name, diff in overrides_of(study).items():
        note = study.variant(name).note
        text = "; ".join(f"`{d}`" for d in diff) or "none (the base itself)"
        lines.append(f"- **{name}**: {text}" + (f". {note}" if note else ""))
    failures = [f"- {row.name} {f}" for row in rows for f in row.failed]
    if failures:
        lines += ["", "## Failed runs", "", *failures]
    total_min = sum(r.get("elapsed_s", 0.0) for r in every) / 60.0
    lines += ["", "## Provenance", "",
              f"- Study file: `{study.path}`; store: `{store}`.",
              f"- Runs made on: {_machines(every)}; training and evaluation time summed over the finished runs: "
              f"{total_min:.1f} min."]
    if baseline is not None and baseline.result is not None:
        lines.append(f"- Baseline fit: {baseline.result['baseline']['fit_s']:.1f} s (features cached in the store).")
    if command:
        lines.append(f"- Command: `{command}`")
    return "\n".join(lines) + "\n"


def _paired_section(study: Study, comps: list[Comparison], split: str, tune: str) -> list[str]:
    tuned = [c for c in comps if c.target is None]
    if not tuned:
        return []
    lines = ["", f"## Paired differences on {split}, against the reference `{study.reference}`", "",
             "| a - b | seeds | " + " | ".join(h for *_, h, _, _ in PAIRED) + " |",
             "|---|---:|" + "---:|" * len(PAIRED)]
    pairs: dict[tuple[str, str], dict[tuple[str, str], Comparison]] = {}
    for c in tuned:
        pairs.setdefault((c.a, c.b), {})[(c.method, c.measure)] = c
    for (a, b), by in pairs.items():
        cells = []
        for method, measure, _, scale, digits in PAIRED:
            c = by.get((method, measure))
            cells.append("n/a" if c is None else f"{_iv_text(c.diff, scale, digits, sign=True)} {_verdict(c)}")
        lines.append(f"| {a} - {b} | {next(iter(by.values())).n_seeds} | " + " | ".join(cells) + " |")
    lines += ["", f"Each run at its operating point chosen on {tune}. The difference a - b of the seed-mean figures "
              f"and its 95% interval from a paired bootstrap over seeds x patients (the same patient and seed draws "
              f"for both systems, {N_RESAMPLES} resamples, seed {BOOTSTRAP_SEED}; common seeds only); "
              "**not distinguishable** where the interval covers 0. Sensitivities and F1 in percentage points. "
              f"The {BASELINE_NAME} (one fit) is paired with every seed of the reference. Every difference, the "
              "equal-false-alarm ones too, is in `comparisons.csv`."]
    return lines


def _resolution_text(systems: list[tuple[str, list[dict[str, Any]]]], tune: str) -> str:
    """The targets the tuning split is too short to resolve (one false alarm there exceeds them)."""
    from seizure.evaluation import unresolved_targets

    hours = min((q["tune_hours"] for _, reports in systems for r in reports for q in r.get("equal_fa") or []
                 if q.get("tune_hours")), default=None)
    below = unresolved_targets(hours * 3600.0, FA_TARGETS) if hours else []
    if not below:
        return ""
    return (f" On {tune} ({hours:.1f} h) one false alarm is {24.0 / hours:.1f} FA/24h: the "
            f"{', '.join(f'{t:g}' for t in below)} FA/24h targets are met there only by points with no false alarm, "
            f"whose rate on new recordings {tune} does not measure.")


def _equal_fa_section(rows: list[VariantRows], curves: dict[str, MeanCurve], baseline: Baseline | None,
                      comps: list[Comparison], split: str, tune: str, has_plot: bool) -> list[str]:
    heads = [f"≤ {t:g} FA/24h" for t in FA_TARGETS]
    lines = ["", f"## At equal false-alarm rates on {split} (thresholds chosen on {tune})", "",
             "| variant | " + " | ".join(heads) + " |", "|---|" + "---:|" * len(FA_TARGETS)]
    systems = [(row.name, [row.reports[k] for k in sorted(row.reports)]) for row in rows]
    if baseline is not None and baseline.report is not None:
        systems.append((BASELINE_NAME, [baseline.report]))
    for name, reports in systems:
        cells = []
        for t in FA_TARGETS:
            table = equal_fa_table(reports, t) if reports else None
            if table is None:
                cells.append("n/a")
                continue
            sens = _interval(table, "sensitivity")
            fa = bootstrap.estimate(table, "fa_per_24h")
            cells.append(f"{_iv_text(sens, 100.0, 1)} at {_fmt(fa, 1.0, 1)}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", f"For each target, each run's operating point (threshold and post-processing) is chosen on {tune} "
              "by the model's own rule with that false-alarm target, then applied unchanged to "
              f"{split}: OVLP sensitivity (%), mean over seeds [95% patient x seed bootstrap interval], at the "
              f"mean FA/24h it gave on {split} (which can exceed the target: it was met on {tune})."
              + _resolution_text(systems, tune)]
    eq = [c for c in comps if c.target is not None]
    if eq:
        lines += ["", "| a - b (sensitivity, points) | " + " | ".join(heads) + " |",
                  "|---|" + "---:|" * len(FA_TARGETS)]
        pairs: dict[tuple[str, str], dict[float, Comparison]] = {}
        for c in eq:
            pairs.setdefault((c.a, c.b), {})[c.target] = c
        for (a, b), by in pairs.items():
            cells = ["n/a" if t not in by else f"{_iv_text(by[t].diff, 100.0, 1, sign=True)} {_verdict(by[t])}"
                     for t in FA_TARGETS]
            lines.append(f"| {a} - {b} | " + " | ".join(cells) + " |")
        lines += ["", "Paired differences of those sensitivities (same bootstrap as above)."]
    lines += ["", f"### Oracle: thresholds swept on {split} itself", "",
              "| variant | " + " | ".join(f"oracle {h}" for h in heads) + " |", "|---|" + "---:|" * len(FA_TARGETS)]
    oracle = dict(curves)
    if baseline is not None and baseline.curve is not None:
        oracle[BASELINE_NAME] = baseline.curve
    for name in [*(row.name for row in rows), *([BASELINE_NAME] if BASELINE_NAME in oracle else [])]:
        c = oracle.get(name)
        cells = ["n/a" if c is None else ("n/r" if c.at_most(t) is None else f"{100 * c.at_most(t):.1f}")
                 for t in FA_TARGETS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", f"**Oracle, not an operating point anyone could have chosen**: the best OVLP sensitivity (%) of the "
              f"seed-mean DET curve among thresholds whose mean FA/24h on {split} is at or below each target, the "
              f"threshold swept on {split} itself (each run at its tuned post-processing); n/r: no threshold gets that "
              "low." + (" Plot: `det.png`." if has_plot else "")]
    return lines
