"""Patient-level bootstrap: exact small cases, a loop reference with the same draws, seeds, pairing."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from seizure.scoring import bootstrap as bs
from seizure.scoring.counts import Counts, pool


def _counts(hits, n_ref, fa, hours, tradition="nedc"):
    return Counts(hits, n_ref - hits, fa, n_ref, hours * 3600.0, tradition)


def _random_case(seed=0, n_patients=9, tradition="nedc"):
    """Recordings of ``n_patients`` patients (1-3 each), every patient with a seizure."""
    rng = np.random.default_rng(seed)
    out = {}
    for p in range(n_patients):
        for r in range(int(rng.integers(1, 4))):
            n_ref = int(rng.integers(1 if r == 0 else 0, 5))
            out[f"pat{p:02d}_s001_t{r:03d}"] = _counts(int(rng.integers(0, n_ref + 1)), n_ref,
                                                       int(rng.integers(0, 4)), float(rng.uniform(0.5, 3)), tradition)
    return out


def _reference(per_recording, name, n_resamples, seed, level=0.95):
    """A plain loop: the same draws, pooled with :func:`pool`, the measure from :class:`Counts`."""
    patients = sorted({k.split("_")[0] for k in per_recording})
    by_patient = [pool(c for k, c in per_recording.items() if k.split("_")[0] == p) for p in patients]
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(patients), size=(n_resamples, len(patients)))
    values = [getattr(pool(by_patient[i] for i in row), name) for row in idx]
    return np.percentile(values, [50 * (1 - level), 50 * (1 + level)])


def test_three_patients_enumerated_exactly():
    """Every ordered resample of 3 patients has probability 1/27 > 2.5%, so the 95% interval runs
    from the smallest to the largest value over the 27 enumerated resamples."""
    recs = {"a_s001_t000": _counts(2, 2, 0, 1.0), "a_s001_t001": _counts(0, 0, 1, 1.0),
            "b_s001_t000": _counts(1, 3, 2, 1.0), "c_s001_t000": _counts(3, 4, 0, 2.0)}
    table = bs.count_table(recs)
    assert table.patients == ("a", "b", "c")
    per_patient = {"a": pool([recs["a_s001_t000"], recs["a_s001_t001"]]), "b": recs["b_s001_t000"],
                   "c": recs["c_s001_t000"]}
    for name in bs.MEASURES:
        values = [getattr(pool(per_patient[p] for p in combo), name)
                  for combo in itertools.product("abc", repeat=3)]
        iv = bs.interval(table, name, n_resamples=2000, seed=3)
        assert (iv.low, iv.high) == (pytest.approx(min(values)), pytest.approx(max(values))), name
        assert iv.estimate == pytest.approx(getattr(pool(recs.values()), name))
        assert (iv.n_resamples, iv.n_defined, iv.level) == (2000, 2000, 0.95)
    # by hand: sensitivity a 2/2, b 1/3, c 3/4 -> [1/3 (bbb), 1 (aaa)]; FA/24h a 12, b 48, c 0 -> [0, 48]
    assert bs.interval(table, "sensitivity", seed=3).low == pytest.approx(1 / 3)
    assert bs.interval(table, "fa_per_24h", seed=3).high == pytest.approx(48.0)


@pytest.mark.parametrize("tradition", ["nedc", "szcore"])
def test_matches_a_loop_reference_with_the_same_draws(tradition):
    recs = _random_case(1, tradition=tradition)
    table = bs.count_table(recs)
    for name in bs.MEASURES:
        iv = bs.interval(table, name, n_resamples=1000, seed=5)
        assert [iv.low, iv.high] == pytest.approx(list(_reference(recs, name, 1000, 5)), abs=1e-12), name
        assert iv.estimate == pytest.approx(getattr(pool(recs.values()), name))


def test_deterministic_by_seed():
    table = bs.count_table(_random_case(2))
    a = bs.interval(table, "sensitivity", n_resamples=1000, seed=11)
    b = bs.interval(table, "sensitivity", n_resamples=1000, seed=11)
    c = bs.interval(table, "sensitivity", n_resamples=1000, seed=12)
    assert a == b
    assert (a.low, a.high) != (c.low, c.high)
    assert a.low < a.estimate < a.high


def test_undefined_resamples_are_left_out_and_counted():
    recs = {"a_s001_t000": _counts(1, 1, 0, 1.0), "b_s001_t000": _counts(0, 0, 2, 1.0)}
    iv = bs.interval(bs.count_table(recs), "sensitivity", n_resamples=1000, seed=0)
    # resamples "bb" (about a quarter) have no seizure: sensitivity undefined, not 0
    assert 650 < iv.n_defined < 850 and (iv.low, iv.high) == (1.0, 1.0)


def test_paired_difference_sign_and_verdict():
    recs_b = _random_case(3, n_patients=12)
    # system a: one more hit than b on every patient's first recording (where b missed one)
    recs_a = {}
    for k, c in recs_b.items():
        extra = 1 if k.endswith("t000") and c.misses >= 1 else 0
        recs_a[k] = Counts(c.hits + extra, c.misses - extra, c.false_alarms, c.n_ref, c.duration_s)
    a, b = bs.count_table(recs_a), bs.count_table(recs_b)
    d = bs.paired(a, b, "sensitivity", n_resamples=1000, seed=0)
    assert d.estimate > 0 and d.low > 0 and d.distinguishable and d.verdict == "a higher"
    assert bs.paired(b, a, "sensitivity", seed=0).verdict == "b higher"
    same = bs.paired(b, b, "sensitivity", seed=0)
    assert (same.estimate, same.low, same.high, same.distinguishable) == (0.0, 0.0, 0.0, False)
    assert same.verdict == "not distinguishable"
    # a better on one patient and worse on another by the same amount: inside the noise
    swap = dict(recs_b)
    swap["pat00_s001_t000"] = _counts(recs_b["pat00_s001_t000"].n_ref, recs_b["pat00_s001_t000"].n_ref, 0, 1.0)
    swap["pat01_s001_t000"] = _counts(0, recs_b["pat01_s001_t000"].n_ref, 0, 1.0)
    d = bs.paired(bs.count_table(swap), b, "sensitivity", seed=0)
    assert d.low < 0 < d.high and d.to_dict()["verdict"] == "not distinguishable"
    with pytest.raises(ValueError, match="same patients"):
        bs.paired(a, bs.count_table(_random_case(3, n_patients=5)), "sensitivity")


def test_seeds_times_patients():
    t = bs.count_table(_random_case(4))
    # identical seeds: the seed mean is each seed's value, and patient draws come first, so the
    # interval is the one-seed interval
    three = bs.stack_seeds([t, t, t])
    assert three.n_seeds == 3
    assert bs.interval(three, "f1", seed=2) == bs.interval(t, "f1", seed=2)
    # seeds that disagree: the estimate is the mean over seeds, and seeds are resampled too
    other = bs.count_table({k: Counts(0, c.n_ref, c.false_alarms, c.n_ref, c.duration_s)
                            for k, c in _random_case(4).items()})
    mixed = bs.stack_seeds([t, other])
    iv = bs.interval(mixed, "sensitivity", seed=2)
    assert iv.estimate == pytest.approx(bs.estimate(t, "sensitivity") / 2)
    assert iv.low < iv.estimate < iv.high
    d = bs.paired(mixed, bs.stack_seeds([other, other]), "sensitivity", seed=2)
    assert d.estimate == pytest.approx(iv.estimate)
    # a quarter of the resamples draw only the failed seed (difference 0): one good seed of two is
    # not enough to call the difference real
    assert d.low == 0.0 and not d.distinguishable
    d3 = bs.paired(bs.stack_seeds([t, t, t]), bs.stack_seeds([other] * 3), "sensitivity", seed=2)
    assert d3.distinguishable and d3.low > 0
    with pytest.raises(ValueError, match="same patients"):
        bs.stack_seeds([t, bs.count_table(_random_case(4, n_patients=3))])


def test_tables_from_a_saved_report_match_the_live_ones():
    from seizure.events import Event
    from seizure.scoring.inputs import RecordingPair
    from seizure.scoring.report import report_pairs

    rng = np.random.default_rng(0)
    items = []
    for p in range(6):
        for r in range(2):
            ref = [Event(100.0 * k, 100.0 * k + 40) for k in range(1, int(rng.integers(1, 4)))]
            hyp = [Event(e.start_s + 5, e.stop_s + 5) for e in ref if rng.random() < 0.6] + [Event(900, 950)]
            items.append(RecordingPair(f"pat{p}_s001_t00{r}", ref, hyp, 1800.0))
    report = report_pairs(items, bootstrap=300, seed=4)
    saved = bs.tables_from_report(json.loads(report.to_json()))
    for m in ("ovlp", "taes", "epoch", "szcore"):
        live = report.count_table(m)
        assert saved[m].patients == live.patients and (saved[m].tradition, saved[m].fa_scale) == (
            live.tradition, live.fa_scale)
        np.testing.assert_allclose(saved[m].counts, live.counts)
        assert bs.interval(saved[m], "f1", n_resamples=300, seed=4).to_dict() == report.bootstrap["methods"][m]["f1"]
    # a system that finds nothing, compared with it on the same recordings
    empty = report_pairs([RecordingPair(i.name, i.ref_events, [], i.duration_s) for i in items], bootstrap=0)
    out = bs.compare(saved, {m: empty.count_table(m) for m in ("ovlp", "taes", "szcore")}, n_resamples=300)
    assert (out["n_patients"], out["n_seeds"], out["n_resamples"]) == (6, 1, 300)
    assert set(out["differences"]) == {"ovlp/sensitivity", "ovlp/fa_per_24h", "taes/sensitivity", "szcore/f1"}
    sens = out["differences"]["ovlp/sensitivity"]
    assert sens["estimate"] == pytest.approx(report.methods["ovlp"].sensitivity) and sens["verdict"] == "a higher"
    assert out["differences"]["ovlp/fa_per_24h"]["low"] > 0  # one false alarm per recording against none


def test_bootstrap_methods_shape_and_errors():
    recs = _random_case(5)
    out = bs.bootstrap_methods({"ovlp": recs, "szcore": {k: Counts(c.hits, c.misses, c.false_alarms, c.n_ref,
                                                                   c.duration_s, "szcore") for k, c in recs.items()}},
                               n_resamples=200, seed=1)
    assert (out["n_resamples"], out["seed"], out["n_patients"], out["unit"]) == (200, 1, 9, "patient")
    assert set(out["methods"]["ovlp"]) == set(bs.MEASURES)
    with pytest.raises(ValueError, match="n_resamples"):
        bs.draws(3, 0)
    with pytest.raises(ValueError, match="at least one recording"):
        bs.count_table({})
    with pytest.raises(ValueError, match="measure must be one of"):
        bs.interval(bs.count_table(recs), "auc")
