"""The fitted band-power baseline on a feature store, and the cost of the patient bootstrap.

    python benchmarks/bench_baseline.py --store STORE [--config configs/demo.toml] [--seed 0]
    python benchmarks/bench_baseline.py --synth-hours 12 --synth-seed 5   # makes a corpus + store first

1. Band-power baseline (:mod:`seizure.baselines.bandpower`): feature extraction and fit time
   on the train split (features computed afresh into a temporary cache, then a refit from the
   cache), the operating point chosen on dev with the config's ``[postprocess]`` rule, and the
   eval scores at that point with 95% patient-bootstrap intervals; the untrained line-length
   detector operated the same way, and the paired difference of OVLP sensitivity.
2. Bootstrap cost: :func:`seizure.scoring.bootstrap.bootstrap_methods` (all five methods, four
   measures, ``--resamples`` resamples) against a plain loop that pools :class:`Counts`
   patient by patient for one measure of one method, intervals checked equal.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from seizure.baselines import bandpower as bp
from seizure.baselines import line_length
from seizure.postprocess import probs_to_events
from seizure.scoring import bootstrap as bs
from seizure.scoring.counts import Counts, pool
from seizure.scoring.inputs import RecordingPair
from seizure.scoring.report import report_pairs
from seizure.store import FeatureStore
from seizure.training.config import load_config
from seizure.evaluation import choose_operating_point


def _pairs(records, probs, op):
    return [RecordingPair(r.rec_id, r.events, probs_to_events(p, op), r.duration_s) for r, p in zip(records, probs)]


def _line(name: str, report, op) -> str:
    b = report.bootstrap["methods"]
    m = report.methods["ovlp"]

    def iv(method, measure, pct=True):
        d = b[method][measure]
        f = (lambda x: f"{100 * x:.1f}%") if pct else (lambda x: f"{x:.2f}")
        return f"[{f(d['low'])}, {f(d['high'])}]"

    return (f"{name:<12} threshold {op.threshold:.4f} smooth {op.smooth_s:g} s min {op.min_duration_s:g} s: "
            f"OVLP {100 * m.sensitivity:.1f}% {iv('ovlp', 'sensitivity')} ({m.hits:g}/{m.n_ref:g}) at "
            f"{m.fa_per_24h:.2f} FA/24h {iv('ovlp', 'fa_per_24h', False)}; "
            f"TAES {100 * report.methods['taes'].sensitivity:.1f}% {iv('taes', 'sensitivity')}; "
            f"SzCORE F1 {100 * report.methods['szcore'].f1:.1f}% {iv('szcore', 'f1')}")


def baseline(store: FeatureStore, config: str, seed: int, resamples: int) -> None:
    pp = load_config(config, []).postprocess
    dev, ev = store.records("dev"), store.records("eval")
    print(f"store {store.root}: train {len(store.records('train'))} / dev {len(dev)} / eval {len(ev)} recordings; "
          f"eval {sum(r.duration_s for r in ev) / 3600:.2f} h, {sum(r.n_seizures for r in ev)} seizures, "
          f"{len({r.patient for r in ev})} patients")
    with tempfile.TemporaryDirectory() as cache:
        t0, c0 = time.perf_counter(), time.process_time()
        model = bp.fit(store, seed=seed, cache_dir=cache)
        first, first_cpu = time.perf_counter() - t0, time.process_time() - c0
        t0, c0 = time.perf_counter(), time.process_time()
        bp.fit(store, seed=seed, cache_dir=cache)
        refit, refit_cpu = time.perf_counter() - t0, time.process_time() - c0
        print(f"band-power fit on train ({model.n_seconds / 3600:.2f} h, {len(bp.FEATURE_NAMES)} features, 1 thread): "
              f"{first:.1f} s wall / {first_cpu:.1f} s CPU with feature extraction; refit from cached features "
              f"{refit:.1f} s wall / {refit_cpu:.1f} s CPU")
        model, _ = bp.operate(model, store, "dev", pp)
        probs = [bp.predict_probs(model, r) for r in ev]
        rep_bp = report_pairs(_pairs(ev, probs, model.operating_point), bootstrap=resamples, seed=seed)
    ll_dev = [line_length.predict_probs(r, store.recipe) for r in dev]
    ll_op = choose_operating_point(ll_dev, dev, pp)[0]
    ll_eval = [line_length.predict_probs(r, store.recipe) for r in ev]
    rep_ll = report_pairs(_pairs(ev, ll_eval, ll_op), bootstrap=resamples, seed=seed)
    print(f"dev-chosen operating points (target {pp.target_fa_per_24h:g} FA/24h, {pp.method}); eval, "
          f"95% patient-bootstrap intervals ({resamples} resamples, seed {seed}):")
    print("  " + _line("band-power", rep_bp, model.operating_point))
    print("  " + _line("line-length", rep_ll, ll_op))
    d = bs.paired(rep_bp.count_table("ovlp"), rep_ll.count_table("ovlp"), "sensitivity",
                  n_resamples=resamples, seed=seed)
    print(f"  paired OVLP sensitivity, band-power - line-length: {100 * d.estimate:+.1f} points "
          f"[{100 * d.low:+.1f}, {100 * d.high:+.1f}]: {d.verdict}")


def bootstrap_cost(resamples: int, n_patients: int = 200, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    per_method: dict[str, dict[str, Counts]] = {m: {} for m in ("ovlp", "taes", "epoch", "szcore", "szcore_sample")}
    for p in range(n_patients):
        for r in range(int(rng.integers(1, 6))):
            n_ref, dur = int(rng.integers(0, 4)), float(rng.uniform(600, 7200))
            hits = int(rng.integers(0, n_ref + 1))
            for m in per_method:
                tradition = "szcore" if m.startswith("szcore") else "nedc"
                per_method[m][f"p{p:04d}_s001_t{r:03d}"] = Counts(hits, n_ref - hits, int(rng.integers(0, 3)), n_ref,
                                                                  dur, tradition)
    n_rec = len(per_method["ovlp"])
    t0 = time.perf_counter()
    out = bs.bootstrap_methods(per_method, n_resamples=resamples, seed=seed)
    ours = time.perf_counter() - t0
    # the plain loop: the same draws, one measure of one method
    t0 = time.perf_counter()
    patients = sorted({k.split("_")[0] for k in per_method["ovlp"]})
    by_patient = [pool(c for k, c in per_method["ovlp"].items() if k.startswith(p + "_")) for p in patients]
    idx = np.random.default_rng(seed).integers(0, len(patients), size=(resamples, len(patients)))
    values = [pool(by_patient[i] for i in row).sensitivity for row in idx]
    low, high = np.percentile(values, [2.5, 97.5])
    loop = time.perf_counter() - t0
    got = out["methods"]["ovlp"]["sensitivity"]
    assert np.isclose(got["low"], low) and np.isclose(got["high"], high), (got, low, high)
    print(f"bootstrap, {resamples} resamples of {n_patients} patients ({n_rec} recordings): "
          f"all 5 methods x 4 measures {1000 * ours:.1f} ms; plain loop, OVLP sensitivity only {1000 * loop:.1f} ms "
          f"({loop / ours:.0f}x); intervals equal")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", help="a feature store with train/dev/eval splits")
    ap.add_argument("--synth-hours", type=float, default=12.0, help="corpus size when no --store (default 12)")
    ap.add_argument("--synth-seed", type=int, default=5)
    ap.add_argument("--config", default="configs/demo.toml", help="config whose [postprocess] picks the point")
    ap.add_argument("--seed", type=int, default=0, help="classifier and bootstrap seed")
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--only-bootstrap", action="store_true")
    args = ap.parse_args()
    bootstrap_cost(args.resamples)
    if args.only_bootstrap:
        return
    if args.store:
        baseline(FeatureStore(args.store), args.config, args.seed, args.resamples)
        return
    from seizure.corpus import preprocess, recipe_from_config
    from seizure.synth import synthesize

    with tempfile.TemporaryDirectory() as tmp:
        synthesize(Path(tmp) / "corpus", args.synth_hours, args.synth_seed)
        preprocess(Path(tmp) / "corpus", Path(tmp) / "store", recipe_from_config(args.config))
        baseline(FeatureStore(Path(tmp) / "store"), args.config, args.seed, args.resamples)


if __name__ == "__main__":
    main()
