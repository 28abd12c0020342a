"""Scoring and DET-sweep speed on synthetic recordings, each against a named baseline.

    python benchmarks/bench_scoring.py [--recordings 1000] [--thresholds 100] [--loop-thresholds 10]

1. Scoring one operating point over all recordings: our SzCORE event + sample scorers against
   the reference implementation (``timescoring`` EventScoring + SampleScoring per recording),
   counts checked equal; plus all five of our methods together (what ``seizure evaluate`` runs).
2. DET sweep: ``det.sweep`` over ``--thresholds`` thresholds, and over ``--loop-thresholds``
   thresholds against the plain loop (``probs_to_events`` + ``ovlp.score`` + ``szcore.score``
   per threshold and recording) on the same thresholds, counts checked equal.

    python benchmarks/bench_scoring.py --det-example docs/det_example.png [--synth-hours 6]

writes the documentation's DET example: a synthetic TUSZ-layout corpus (``seizure.synth``),
the line-length baseline with two background choices, swept and plotted with ``plot_det``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from seizure.events import Event
from seizure.postprocess import OperatingPoint, probs_to_events
from seizure.scoring import METHODS, det, ovlp, szcore
from seizure.scoring.counts import pool


def synthetic_set(n: int, seed: int):
    """Per-second probabilities, reference events, durations and subjects of ``n`` recordings."""
    rng = np.random.default_rng(seed)
    probs, refs, durations, subjects = [], [], [], []
    for i in range(n):
        duration = float(rng.integers(600, 3600))
        n_s = int(duration)
        ref = []
        for start in np.sort(rng.uniform(0, duration - 200, rng.poisson(0.7))):
            if not ref or start > ref[-1].stop_s:  # sorted and disjoint, as annotations are
                ref.append(Event(round(float(start), 4), round(float(start + rng.uniform(10, 180)), 4), "seiz"))
        x = rng.beta(0.6, 8.0, n_s)
        for _ in range(rng.poisson(2.0)):  # false bursts
            a = int(rng.integers(0, n_s - 30))
            x[a : a + int(rng.integers(3, 30))] += rng.uniform(0.1, 0.6)
        for ev in ref:
            a, b = int(ev.start_s), int(ev.stop_s)
            x[a:b] += rng.uniform(0.0, 0.7)
        probs.append(np.clip(x, 0, 1).astype(np.float32))
        refs.append(ref)
        durations.append(duration)
        subjects.append(f"p{i // 8:04d}")
    return probs, refs, durations, subjects


def _clock(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def compare_with_timescoring(refs, hyps, durations, what: str) -> None:
    """Our SzCORE event + sample scorers against timescoring, per recording, same counts."""
    from timescoring import scoring as ts_scoring
    from timescoring.annotations import Annotation

    t_ours, ours = _clock(lambda: [(szcore.score(r, h, d), szcore.score_samples(r, h, d))
                                   for r, h, d in zip(refs, hyps, durations)])

    def reference():
        out = []
        for r, h, d in zip(refs, hyps, durations):
            ra = Annotation([(e.start_s, e.stop_s) for e in r], 1, int(d))
            ha = Annotation([(e.start_s, e.stop_s) for e in h], 1, int(d))
            out.append((ts_scoring.EventScoring(ra, ha), ts_scoring.SampleScoring(ra, ha)))
        return out

    t_ref, theirs = _clock(reference)
    same = all((a.hits, a.false_alarms, b.hits, b.false_alarms) == (x.tp, x.fp, y.tp, y.fp)
               for (a, b), (x, y) in zip(ours, theirs))
    print(f"SzCORE event + sample scoring, {what}: ours {t_ours:.3f} s, timescoring (reference) "
          f"{t_ref:.3f} s -> ours is {t_ref / t_ours:.2f}x as fast; identical counts: {same}")


def bench(n: int, n_thresholds: int, n_loop: int, seed: int) -> None:
    probs, refs, durations, subjects = synthetic_set(n, seed)
    hours = sum(durations) / 3600
    print(f"{n} synthetic recordings, {hours:.0f} h, {sum(len(r) for r in refs)} reference seizures")
    op = OperatingPoint(threshold=0.5, smooth_s=5, min_duration_s=5, merge_gap_s=10)
    hyps = [probs_to_events(p, op) for p in probs]

    compare_with_timescoring(refs, hyps, durations, f"{n} recordings of 10-60 min")
    # the same events placed in day-long recordings: timescoring's masks grow, our intervals do not
    compare_with_timescoring(refs[:40], hyps[:40], [86400.0] * 40, "40 recordings of 24 h")
    t_all, _ = _clock(lambda: [[fn(r, h, d) for fn in METHODS.values()] for r, h, d in zip(refs, hyps, durations)])
    print(f"all five methods (OVLP, TAES, epoch, SzCORE event, sample): {t_all:.3f} s for {n} recordings")

    thresholds = det.default_thresholds(n_thresholds)
    t_sweep, curve = _clock(lambda: det.sweep(probs, refs, durations, smooth_s=5, min_duration_s=5,
                                              merge_gap_s=10, thresholds=thresholds, subjects=subjects))
    print(f"DET sweep, {thresholds.size} thresholds x {n} recordings: {t_sweep:.2f} s (target < 10 s)")

    few = det.default_thresholds(n_loop)
    t_fast, small = _clock(lambda: det.sweep(probs, refs, durations, smooth_s=5, min_duration_s=5,
                                             merge_gap_s=10, thresholds=few))

    def loop():
        rows = []
        for thr in few:
            point = OperatingPoint(float(thr), 5, 5, 10)
            events = [probs_to_events(p, point) for p in probs]
            rows.append((pool(ovlp.score(r, h, d) for r, h, d in zip(refs, events, durations)),
                         pool(szcore.score(r, h, d) for r, h, d in zip(refs, events, durations))))
        return rows

    t_loop, rows = _clock(loop)
    same = all((o.hits, o.false_alarms, z.hits, z.false_alarms) ==
               (small.ovlp.hits[k], small.ovlp.false_alarms[k], small.szcore.hits[k], small.szcore.false_alarms[k])
               for k, (o, z) in enumerate(rows))
    print(f"{few.size} thresholds: sweep {t_fast:.2f} s, per-threshold loop over our scorers (baseline) "
          f"{t_loop:.2f} s -> {t_loop / t_fast:.1f}x; identical counts: {same}")
    points = det.operating_points(curve)
    print("OVLP sensitivity at " + ", ".join(
        f"{k:g} FA/24h: {v['sensitivity']:.3f}" if v["reached"] else f"{k:g} FA/24h: not reached" for k, v in points.items()))


def det_example(out: Path, hours: float, seed: int, corpus: Path | None) -> None:
    """The docs' DET plot: line-length baseline on a synthetic corpus, two background choices."""
    from seizure.preprocess import montage
    from seizure.io import read_edf
    from seizure.io.annotations import find_sidecar, read_annotations
    from seizure.scoring.aggregate import subject_id
    from seizure.scoring.baseline import line_length_probs
    from seizure.preprocess.signal import bandpass
    from seizure.synth import synthesize

    with tempfile.TemporaryDirectory() as tmp:
        root = corpus
        if root is None:
            root = Path(tmp) / "corpus"
            synthesize(root, hours=hours, seed=seed, fs_hz=250)
        whole, causal, refs, durations, subjects = [], [], [], [], []
        for edf in sorted(root.rglob("*.edf")):
            rec = read_edf(edf)
            mont = montage.apply(rec, "tcp")
            x = bandpass(mont.data, mont.fs_hz, 1.0, 30.0)
            whole.append(line_length_probs(x, mont.fs_hz, mont.mask))
            causal.append(line_length_probs(x, mont.fs_hz, mont.mask, background_s=300))
            ann = read_annotations(find_sidecar(edf), duration_s=rec.duration_s)
            refs.append(ann.events)
            durations.append(rec.duration_s)
            subjects.append(subject_id(edf.stem))
    # the baseline's probabilities crowd near 1: add thresholds up to 1 - 1e-7
    thresholds = np.unique(np.concatenate((det.default_thresholds(100), 1 - np.logspace(-2.5, -7, 30))))
    kw = dict(smooth_s=5, min_duration_s=5, merge_gap_s=10, subjects=subjects, thresholds=thresholds)
    curves = {
        "line length, whole-recording background": det.sweep(whole, refs, durations, **kw),
        "line length, 300 s causal background": det.sweep(causal, refs, durations, **kw),
    }
    n_sz = int(curves["line length, whole-recording background"].ovlp.n_ref)
    title = f"DET, line-length baseline on {sum(durations) / 3600:.1f} h of synthetic EEG ({n_sz} seizures)"
    det.plot_det(curves, out, title=title)
    print(f"wrote {out}: {len(durations)} recordings, {sum(durations) / 3600:.1f} h, {n_sz} seizures")
    for name, curve in curves.items():
        for method in ("ovlp", "szcore"):
            pts = det.operating_points(curve, method=method)
            text = ", ".join(f"{k:g}: {v['sensitivity']:.2f}" if v["reached"] else f"{k:g}: -" for k, v in pts.items())
            print(f"  {name} [{method}] sensitivity at FA/24h {text}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--recordings", type=int, default=1000)
    p.add_argument("--thresholds", type=int, default=100)
    p.add_argument("--loop-thresholds", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--det-example", type=Path, metavar="PNG", help="write the DET example plot instead")
    p.add_argument("--synth-hours", type=float, default=6.0)
    p.add_argument("--corpus", type=Path, help="an existing synthetic corpus for --det-example")
    args = p.parse_args()
    if args.det_example:
        det_example(args.det_example, args.synth_hours, args.seed, args.corpus)
    else:
        bench(args.recordings, args.thresholds, args.loop_thresholds, args.seed)


if __name__ == "__main__":
    main()
