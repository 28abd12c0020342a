"""DET sweep: equal to scoring threshold by threshold; operating points; the plot."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest

from seizure.errors import ConfigError
from seizure.events import Event
from seizure.postprocess import OperatingPoint, probs_to_events
from seizure.scoring import aggregate, det, ovlp, szcore
from seizure.scoring.counts import pool


def _corpus(seed: int, n: int):
    rng = np.random.default_rng(seed)
    probs, refs, durations = [], [], []
    for i in range(n):
        duration = float(rng.integers(200, 2500)) + (0.37 if i % 3 == 0 else 0.0)
        n_s = int(duration) + int(rng.integers(-1, 2))  # one second short or long too
        ref = []
        for _ in range(rng.integers(0, 4)):
            start = round(rng.uniform(0, duration - 10), 4)
            ref.append(Event(start, round(min(duration, start + rng.uniform(5, 700)), 4), "cpsz"))
        x = rng.random(n_s) ** 3
        for ev in ref:
            a, b = int(ev.start_s), int(ev.stop_s)
            x[a:b] = np.clip(x[a:b] + rng.uniform(0.2, 0.8), 0, 1)
        probs.append(x.astype(np.float32))
        refs.append(ref)
        durations.append(duration)
    return probs, refs, durations


def test_sweep_equals_scoring_each_threshold():
    probs, refs, durations = _corpus(3, 24)
    subjects = [f"p{i % 5}" for i in range(24)]
    thresholds = np.linspace(0.03, 0.97, 15)
    kw = dict(smooth_s=3.0, min_duration_s=2.0, merge_gap_s=5.0)
    curve = det.sweep(probs, refs, durations, thresholds=thresholds, subjects=subjects, **kw)
    assert curve.n_recordings == 24 and curve.duration_s == pytest.approx(sum(durations))
    for k, thr in enumerate(thresholds):
        hyps = [probs_to_events(p, OperatingPoint(thr, **kw)) for p in probs]
        o = pool(ovlp.score(r, h, d) for r, h, d in zip(refs, hyps, durations))
        per_rec = {f"{s}_{i}": szcore.score(r, h, d) for i, (s, r, h, d) in enumerate(zip(subjects, refs, hyps, durations))}
        z = pool(per_rec.values())
        assert (curve.ovlp.hits[k], curve.ovlp.false_alarms[k]) == (o.hits, o.false_alarms)
        assert (curve.szcore.hits[k], curve.szcore.false_alarms[k]) == (z.hits, z.false_alarms)
        for name in ("sensitivity", "precision", "f1", "fa_per_24h"):
            assert getattr(curve.ovlp, name)[k] == pytest.approx(getattr(o, name), rel=1e-12)
            assert getattr(curve.szcore, name)[k] == pytest.approx(getattr(z, name), rel=1e-12, nan_ok=True)
        mean = aggregate.subject_mean(aggregate.per_subject(per_rec).values())
        for name in ("sensitivity", "precision", "f1", "fa_per_24h"):
            assert getattr(curve.szcore_subject_mean, name)[k] == pytest.approx(mean[name], rel=1e-12, nan_ok=True)
    assert curve.ovlp.n_ref == sum(ovlp.score(r, [], d).n_ref for r, d in zip(refs, durations))
    assert curve.ovlp.fa_per_24h[0] > curve.ovlp.fa_per_24h[-1]  # more false alarms at low thresholds


def test_default_thresholds_and_no_subjects():
    probs, refs, durations = _corpus(5, 3)
    curve = det.sweep(probs, refs, durations)
    assert curve.thresholds.size == 106 and curve.thresholds[0] == 0.005 and curve.thresholds[99] == 0.995
    assert curve.thresholds[-1] == 0.9999 and np.all(np.diff(curve.thresholds) > 0)
    assert det.default_thresholds(10).size == 16 and det.default_thresholds(1000)[-1] == 0.9999
    assert curve.szcore_subject_mean is None
    with pytest.raises(ConfigError, match=r"unknown DET method 'szcore_subject_mean'; valid: ovlp, szcore"):
        curve.method("szcore_subject_mean")
    assert set(curve.to_dict()) >= {"thresholds", "postprocess", "ovlp", "szcore"}


def _toy_curve() -> det.DetCurve:
    thr = np.array([0.2, 0.4, 0.6, 0.8])
    fa = np.array([20.0, 6.0, 6.0, 1.5])
    sens = np.array([0.9, 0.5, 0.5, 0.2])
    mc = det.MethodCurve(sens, sens, sens, fa)
    return det.DetCurve(thr, mc, mc, smooth_s=4.0, min_duration_s=10.0, merge_gap_s=2.0)


def test_operating_point_and_points():
    curve = _toy_curve()
    # best sensitivity within 6 FA/24h: 0.4 and 0.6 tie -> the higher threshold
    assert det.operating_point(curve, 6.0) == OperatingPoint(0.6, 4.0, 10.0, 2.0)
    assert det.operating_point(curve, 100.0).threshold == 0.2
    points = det.operating_points(curve, (1, 2, 6, 10))
    assert points[1.0] == {"reached": False, "threshold": None, "sensitivity": None, "fa_per_24h": None}
    assert points[2.0] == {"reached": True, "threshold": 0.8, "sensitivity": 0.2, "fa_per_24h": 1.5}
    assert points[10.0]["threshold"] == 0.6 and points[10.0]["sensitivity"] == 0.5


def test_operating_point_when_no_threshold_reaches_the_target(caplog):
    curve = _toy_curve()
    with caplog.at_level(logging.WARNING, logger="seizure.scoring.det"):
        op = det.operating_point(curve, 1.0)
    assert op.threshold == 0.8  # the fewest false alarms
    assert "no threshold reaches 1 FA/24h" in caplog.text


def test_sweep_validation():
    probs, refs, durations = _corpus(7, 2)
    with pytest.raises(ValueError, match="one entry per recording, got 2, 1, 2"):
        det.sweep(probs, refs[:1], durations)
    with pytest.raises(ValueError, match=r"thresholds must be a non-empty 1-D sequence of numbers in \[0, 1\]"):
        det.sweep(probs, refs, durations, thresholds=[0.5, 1.5])
    with pytest.raises(ValueError, match="subjects must have one id per recording"):
        det.sweep(probs, refs, durations, subjects=["a"])
    with pytest.raises(ValueError, match=r"probs\[1\] must hold finite probabilities"):
        det.sweep([probs[0], probs[1] * 3], refs, durations)
    with pytest.raises(ConfigError, match=r"unknown DET method 'taes'; valid: ovlp, szcore"):
        det.operating_point(_toy_curve(), method="taes")


def test_sweep_without_references_counts_only_false_alarms():
    probs = [np.array([0.0, 0.9, 0.9, 0.0, 0.7, 0.0])]
    curve = det.sweep(probs, [[]], [6.0], thresholds=[0.5, 0.8])
    assert curve.ovlp.false_alarms.tolist() == [2.0, 1.0]
    assert curve.ovlp.sensitivity.tolist() == [0.0, 0.0]  # NEDC: undefined -> 0
    assert curve.szcore.false_alarms.tolist() == [1.0, 1.0]  # SzCORE merges events < 90 s apart
    assert all(math.isnan(v) for v in curve.szcore.sensitivity)  # SzCORE: undefined -> NaN
    assert curve.ovlp.fa_per_24h.tolist() == [2 * 86400 / 6.0, 86400 / 6.0]


def test_plot_det_writes_a_png(tmp_path):
    probs, refs, durations = _corpus(11, 6)
    model = det.sweep(probs, refs, durations, thresholds=np.linspace(0.05, 0.95, 19))
    noisy = det.sweep([np.clip(p + 0.2, 0, 1) for p in probs], refs, durations, thresholds=np.linspace(0.05, 0.95, 19))
    out = det.plot_det({"model": model, "baseline": noisy}, tmp_path / "det.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["det.png"]
    with pytest.raises(ValueError, match="at least one curve"):
        det.plot_det({}, tmp_path / "x.png")
