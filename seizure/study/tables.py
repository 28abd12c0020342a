"""A study's results in the paper's form: Markdown and CSV tables and one DET plot per axis.

Written into the study's output folder:

- ``results.md``: one row per variant, mean ± sample standard deviation over its finished
  seeds of OVLP sensitivity, specificity and FA/24h, TAES sensitivity and F1, SzCORE F1
  (pooled and per-patient mean), the sparse-VD sparsity when a variant uses it, and the
  training time; then sensitivity at equal false-alarm rates from the seed-mean DET
  curves, each variant's overrides of the base, and the provenance.
- ``results.csv``: the same figures with mean, std, min and max columns (percent where
  the column name ends in ``_pct``).
- ``runs.csv``: one row per run (variant, seed, status, figures, operating point).
- ``det.png``: OVLP sensitivity against FA/24h, threshold swept on the evaluation split,
  mean over seeds at each threshold (each run with its own dev-chosen post-processing).
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
from seizure.study.runner import FAILED, RunSpec, finished, read_json, same_config
from seizure.study.spec import Study

FA_TARGETS = (1.0, 2.0, 6.0, 10.0)


@dataclass(frozen=True)
class Column:
    key: str        # figure key in result.json (or a derived one)
    header: str     # Markdown header
    csv: str        # CSV column stem (units in the name)
    scale: float    # multiply the stored value by this for display
    digits: int


COLUMNS = (
    Column("ovlp_sensitivity", "OVLP sensitivity (%)", "ovlp_sensitivity_pct", 100.0, 1),
    Column("specificity", "specificity (%)", "specificity_pct", 100.0, 2),
    Column("ovlp_fa_per_24h", "OVLP FA/24h", "ovlp_fa_per_24h", 1.0, 2),
    Column("taes_sensitivity", "TAES sensitivity (%)", "taes_sensitivity_pct", 100.0, 1),
    Column("taes_f1", "TAES F1 (%)", "taes_f1_pct", 100.0, 1),
    Column("szcore_f1", "SzCORE F1 (%)", "szcore_f1_pct", 100.0, 1),
    Column("szcore_f1_subject_mean", "SzCORE F1, patient mean (%)", "szcore_f1_subject_mean_pct", 100.0, 1),
)
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
    curves = [read_json(s.run_dir / "det.json") for s in specs if finished(s) is not None]
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
    ax.legend(loc="upper left", fontsize=7, title="frontier; circle: dev-chosen operating point", title_fontsize=7)
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


def _split_text(results: list[dict[str, Any]]) -> str:
    if not results:
        return "no finished run yet"
    r = results[0]
    text = (f"the store's **{r['split']}** split: {r['n_recordings']} recordings, {r['hours']:.2f} h, "
            f"{r['n_seizures']} seizures, {r['n_patients']} patients")
    if r["split"] != "eval":
        text += (" (the store has no eval split, so the operating point was chosen on the same recordings it is "
                 "scored on: optimistic)")
    return text


def _machines(results: list[dict[str, Any]]) -> str:
    seen = sorted({r["machine"] for r in results if "machine" in r})
    return "; ".join(seen) if seen else "unknown"


def write_tables(study: Study, specs: list[RunSpec], out_dir: str | Path, *, store: str | Path,
                 command: str | None = None) -> dict[str, Path]:
    """Write ``results.md``, ``results.csv``, ``runs.csv`` and ``det.png`` into ``out_dir``."""
    out = Path(out_dir)
    rows = collect(study, specs)
    cols = _columns(rows, study)
    every = [r for row in rows for r in row.results]
    by_variant = {v.name: [s for s in specs if s.variant == v.name] for v in study.variants}
    curves = {name: c for name, c in ((n, mean_curve(s)) for n, s in by_variant.items()) if c is not None}
    points = {}
    for row in rows:
        if row.results:
            points[row.name] = (stats(row.values("ovlp_fa_per_24h"))["mean"],
                                stats(row.values("ovlp_sensitivity"))["mean"])
    paths = {"results.md": out / "results.md", "results.csv": out / "results.csv", "runs.csv": out / "runs.csv"}
    if curves:
        paths["det.png"] = plot_det(curves, points, out / "det.png",
                                    f"Study '{study.name}' (axis: {study.axis}): OVLP DET on "
                                    f"{every[0]['split']}, mean over seeds")
    _write_csv(paths["results.csv"], rows, cols)
    _write_runs(paths["runs.csv"], specs)
    with atomic_write(paths["results.md"]) as fh:
        fh.write(_markdown(study, rows, cols, curves, every, store, command, "det.png" in paths))
    return paths


def _write_csv(path: Path, rows: list[VariantRows], cols: list[Column]) -> None:
    fields = ["variant", "runs_ok", "runs_planned", "runs_failed"]
    for col in [*cols, *CSV_ONLY]:
        fields += [f"{col.csv}_{k}" for k in ("mean", "std", "min", "max")]
    with atomic_write(path) as fh:
        writer = csv.writer(fh)
        writer.writerow(fields)
        for row in rows:
            line: list[Any] = [row.name, len(row.results), row.planned, len(row.failed)]
            for col in [*cols, *CSV_ONLY]:
                s = stats(row.values(col.key))
                line += ["" if not np.isfinite(s[k]) else f"{col.scale * s[k]:.6g}"
                         for k in ("mean", "std", "min", "max")]
            writer.writerow(line)


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


def _markdown(study: Study, rows: list[VariantRows], cols: list[Column], curves: dict[str, MeanCurve],
              every: list[dict[str, Any]], store: str | Path, command: str | None, has_plot: bool) -> str:
    seeds = f"{len(study.seeds)} seed(s) per variant (train.seed {', '.join(str(s) for s in study.seeds)})"
    lines = [f"# Study `{study.name}`: one axis, {study.axis}", ""]
    if study.description:
        lines += [study.description.strip(), ""]
    lines += [
        f"Evaluated on {_split_text(every)}; each run at the operating point chosen on dev during training "
        f"(threshold and post-processing from its `best.pt`); {seeds}.",
        "",
        "| variant | runs | " + " | ".join(c.header for c in cols) + " |",
        "|---|---:|" + "---:|" * len(cols),
    ]
    for row in rows:
        runs = f"{len(row.results)}/{row.planned}" + (f" ({len(row.failed)} failed)" if row.failed else "")
        cells = [_cell(stats(row.values(c.key)), c) for c in cols]
        lines.append(f"| {row.name} | {runs} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Mean ± sample standard deviation (n - 1) over the finished seeds (one value: no spread); min and max are in "
        "`results.csv`, every run in `runs.csv`. OVLP: NEDC any-overlap, counts pooled over recordings. "
        "**Specificity** is NEDC epoch scoring's true-negative rate TN / (TN + FP) over 0.25 s epochs of the same "
        "hypothesis events, pooled over recordings (the paper's tables report the specificity of per-epoch "
        "decisions; OVLP has no true negatives). TAES: NEDC time-aligned scoring, pooled. SzCORE F1: event scoring "
        "(timescoring semantics) pooled over recordings, and its mean over patients.",
    ]
    if SPARSITY in cols:
        lines.append("Sparsity: the share of sparse-VD weights pruned (log-alpha above the threshold) in `best.pt`; "
                     "n/a for variants without sparse_vd.")
    lines += ["", "## At equal false-alarm rates", "",
              "Best OVLP sensitivity (%) of the seed-mean DET curve among thresholds whose mean FA/24h is at or below "
              "each target; the threshold is swept on the evaluation split itself, so these are not operating points "
              "a user would have chosen; n/r: no threshold gets that low." + (" Plot: `det.png`." if has_plot else ""),
              "", "| variant | " + " | ".join(f"≤ {t:g} FA/24h" for t in FA_TARGETS) + " |",
              "|---|" + "---:|" * len(FA_TARGETS)]
    for row in rows:
        c = curves.get(row.name)
        cells = ["n/a" if c is None else ("n/r" if c.at_most(t) is None else f"{100 * c.at_most(t):.1f}")
                 for t in FA_TARGETS]
        lines.append(f"| {row.name} | " + " | ".join(cells) + " |")
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
    if command:
        lines.append(f"- Command: `{command}`")
    return "\n".join(lines) + "\n"
