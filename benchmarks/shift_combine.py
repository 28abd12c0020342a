"""Offline: each saved model of `bench_shift.py` alone, and combined with the fitted baseline.

    .venv/bin/python benchmarks/shift_combine.py /tmp/bench/long_monitoring_h16_s201 ...

Each folder is one profile corpus of a `bench_shift.py --work` run: its store, the baseline's
saved probabilities (``probs_<tag>_baseline.npz``, from a run without ``--no-baseline``) and
one ``probs_<tag>_model.npz`` per trained model (training seeds and configs). For every model,
the per-second **minimum** of its probabilities and the baseline's (an event needs both
detectors) is operated exactly as the model: the point for <= 6 FA/24h chosen on dev by the
demo config's rule, the half-eval-tuned point, the eval-swept oracle. Prints one line per model,
with the paired difference minimum - model at the dev-chosen points (95% patient-bootstrap
interval, 1,000 resamples of the eval patients, seed 0), and the means over all models.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_shift  # noqa: E402

from seizure.evaluation import hypotheses  # noqa: E402
from seizure.postprocess import OperatingPoint  # noqa: E402
from seizure.scoring import comparison  # noqa: E402
from seizure.scoring.report import report_pairs  # noqa: E402
from seizure.store import FeatureStore  # noqa: E402
from seizure.training.config import load_config  # noqa: E402

MODEL_FILE = re.compile(r"probs_cfg[0-9a-f]{8}_model\.npz")


def _figures(row: dict) -> tuple:
    p6, half = row["dev_chosen"][f"{bench_shift.TARGET_FA:g}"], row["half_tuned_at_6"]
    meets = p6["sensitivity"] >= bench_shift.TARGET_SENSITIVITY and p6["fa_per_24h"] <= bench_shift.TARGET_FA
    return (p6["sensitivity"], p6["fa_per_24h"], half["sensitivity"], half["fa_per_24h"],
            row["oracle_eval_sensitivity_at_6"], meets)


def _paired(ev, probs: dict[str, list], rows: dict[str, dict]) -> str:
    """min - model at each one's dev-chosen point, paired over the eval patients."""
    reports = {}
    for name, row in rows.items():
        p = row["dev_chosen"][f"{bench_shift.TARGET_FA:g}"]
        op = OperatingPoint(p["threshold"], p["smooth_s"], p["min_duration_s"], p["merge_gap_s"])
        reports[name] = report_pairs(hypotheses(ev, probs[name], op))
    measures = (("ovlp", "sensitivity"), ("ovlp", "fa_per_24h"))
    diffs = comparison.difference(reports["min"], reports["model"], measures=measures)["differences"]
    return "; ".join(f"{key} {comparison.span(d, key, signed=True)} ({comparison.verdict(d, 'min', 'model')})"
                     for key, d in diffs.items())


def _text(f: tuple) -> str:
    return (f"dev-chosen {100 * f[0]:.1f}% @ {f[1]:.1f}, half-eval-tuned {100 * f[2]:.1f}% @ {f[3]:.1f}, "
            f"oracle {100 * f[4]:.1f}%{', meets' if f[5] else ''}")


def combine(folder: Path, pp) -> list[dict[str, tuple]]:
    """One ``{"model": figures, "min": figures}`` per saved model in ``folder``."""
    store = FeatureStore(folder / "store")
    dev, ev = store.records("dev"), store.records("eval")
    baselines = sorted(folder.glob("probs_cfg*_baseline.npz"))
    if not baselines:
        raise SystemExit(f"{folder}: no saved baseline probabilities (run bench_shift.py without --no-baseline)")
    base = np.load(baselines[0])
    rows = []
    for path in sorted(p for p in folder.glob("probs_cfg*_model.npz") if MODEL_FILE.fullmatch(p.name)):
        model = np.load(path)
        systems, rows_of, eval_probs = {}, {}, {}
        for name, mix in (("model", lambda m, b: m), ("min", np.minimum)):
            p_dev = [mix(model[r.rec_id], base[r.rec_id]) for r in dev]
            eval_probs[name] = [mix(model[r.rec_id], base[r.rec_id]) for r in ev]
            rows_of[name] = bench_shift.system_rows(name, dev, p_dev, ev, eval_probs[name], pp, [pp.plateau])[0]
            systems[name] = _figures(rows_of[name])
        print(f"{folder.name} {path.name}: model {_text(systems['model'])}; min {_text(systems['min'])}; "
              f"min - model at the dev-chosen points: {_paired(ev, eval_probs, rows_of)}", flush=True)
        rows.append(systems)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path, help="bench_shift.py profile folders (WORK/PROFILE_hH_sS)")
    parser.add_argument("--config", default=str(bench_shift.ROOT / "configs" / "demo.toml"))
    args = parser.parse_args(argv)
    pp = load_config(args.config, []).postprocess
    rows = [row for folder in args.folders for row in combine(folder, pp)]
    for name in ("model", "min"):
        figs = np.array([r[name][:5] for r in rows], float)
        mean = (*figs.mean(axis=0), False)
        print(f"{name}, mean of {len(rows)}: {_text(mean)}; meets in {sum(r[name][5] for r in rows)}/{len(rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
