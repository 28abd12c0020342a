"""SzCORE event and sample scoring: hand cases, and identity with the timescoring package."""

from __future__ import annotations

import math

import numpy as np
import pytest
from timescoring import scoring as ts_scoring
from timescoring.annotations import Annotation

from seizure.events import Event
from seizure.scoring import aggregate, szcore
from seizure.scoring.counts import prepare

D = 3600.0


def ev(start, stop, label="seiz"):
    return Event(float(start), float(stop), label)


def counts(c):
    return (c.hits, c.misses, c.false_alarms, c.n_ref)


def test_tolerance_before_the_seizure():
    # ending 10 s before the seizure: inside the 30 s tolerance, a detection
    assert counts(szcore.score([ev(100, 200)], [ev(50, 90)], D)) == (1, 0, 0, 1)
    # ending 40 s before: a miss and a false positive
    assert counts(szcore.score([ev(100, 200)], [ev(10, 60)], D)) == (0, 1, 1, 1)
    # starting 59 s after the end: inside the 60 s tolerance
    assert counts(szcore.score([ev(100, 200)], [ev(259, 300)], D)) == (1, 0, 0, 1)


def test_close_seizures_merge_into_one():
    c = szcore.score([ev(100, 150), ev(200, 300)], [ev(90, 320)], D)
    assert counts(c) == (1, 0, 0, 1) and c.sensitivity == 1.0  # 50 s apart: one reference event


def test_twelve_minute_seizure_is_split_into_three():
    c = szcore.score([ev(600, 1320)], [ev(600, 630)], D)
    assert counts(c) == (1, 2, 0, 3)  # pieces 600-900, 900-1200, 1200-1320
    assert (c.sensitivity, c.precision, c.f1) == (1 / 3, 1.0, 0.5)


def test_twenty_minute_hypothesis_gives_three_false_positives():
    c = szcore.score([ev(1000, 1060)], [ev(900, 2100)], D)
    assert counts(c) == (1, 0, 3, 1)  # four 300 s pieces, one touches the window 970-1120
    assert c.precision == 0.25 and c.fa_per_24h == 3 * 24.0


def test_no_seizure_and_one_false_alarm():
    c = szcore.score([], [ev(100, 110)], D)
    assert counts(c) == (0, 0, 1, 0)
    assert math.isnan(c.sensitivity) and c.precision == 0.0 and c.f1 == 0.0 and c.fa_per_24h == 24.0
    empty = szcore.score([], [], D)
    assert all(math.isnan(v) for v in (empty.sensitivity, empty.precision, empty.f1)) and empty.fa_per_24h == 0.0


def test_overlapping_hypotheses_past_the_end_and_several_inside():
    assert counts(szcore.score([ev(130, 200)], [ev(120, 180), ev(100, 150)], D)) == (1, 0, 0, 1)
    # clipped at 600 s; 650-700 lies after the end and is dropped
    assert counts(szcore.score([ev(550, 700)], [ev(580, 900), ev(650, 700)], 600.0)) == (1, 0, 0, 1)
    # three hypotheses inside one seizure are merged (< 90 s apart): one true positive
    assert counts(szcore.score([ev(100, 200)], [ev(110, 120), ev(130, 150), ev(190, 210)], D)) == (1, 0, 0, 1)
    # 100 s apart: two hypothesis events, the far one a false positive
    assert counts(szcore.score([ev(100, 200)], [ev(150, 160), ev(400, 410)], D)) == (1, 0, 1, 1)


def test_sample_scoring_counts_seconds():
    c = szcore.score_samples([ev(10, 20)], [ev(15, 30), ev(50, 52)], 100.0)
    assert counts(c) == (5, 5, 12, 10) and c.duration_s == 100.0
    assert c.fa_per_24h == 12 * 864.0
    # an event covers samples round(start) .. round(stop) - 1 (round half to even)
    assert counts(szcore.score_samples([ev(2.5, 4.5)], [ev(3.5, 5.5)], 10.0)) == (0, 2, 2, 2)


# --------------------------------------------------------------------------- cross-check


def _random_events(rng, duration, n, mean_len, decimals):
    out = []
    for _ in range(n):
        start = round(float(rng.uniform(0, duration)), decimals)
        stop = round(min(duration, start + float(rng.exponential(mean_len))), decimals)
        if stop > start:
            out.append(Event(start, stop))
    return out


def _timescoring(ref, hyp, duration, fs):
    """timescoring fed our prepared events, at the input rate ``fs``."""
    r = prepare(ref, duration)
    h = prepare(hyp, duration)
    n = round(duration * fs)
    ref_a = Annotation(list(zip(r[0].tolist(), r[1].tolist())), fs, n)
    hyp_a = Annotation(list(zip(h[0].tolist(), h[1].tolist())), fs, n)
    return ts_scoring.EventScoring(ref_a, hyp_a), ts_scoring.SampleScoring(ref_a, hyp_a)


def _same(ours, theirs) -> bool:
    """Our counts and ratios equal timescoring's (ratios to 1e-12, NaN equal to NaN)."""
    if (ours.hits, ours.false_alarms, ours.n_ref) != (theirs.tp, theirs.fp, theirs.refTrue):
        return False
    return all(a == pytest.approx(b, rel=1e-12, nan_ok=True)
               for a, b in ((ours.sensitivity, theirs.sensitivity), (ours.precision, theirs.precision),
                            (ours.f1, theirs.f1), (ours.fa_per_24h, theirs.fpRate)))


def test_identical_to_timescoring_on_random_recordings():
    rng = np.random.default_rng(20240601)
    differ = []
    for i in range(400):
        if i % 2:  # fractional durations (10 Hz input), times with up to 4 decimals
            duration, fs, decimals = round(float(rng.uniform(60, 7200)), 1), 10, int(rng.choice([1, 2, 4]))
        else:  # whole-second durations (1 Hz input), as TUSZ and SzCORE files have
            duration, fs, decimals = float(rng.integers(60, 7200)), 1, int(rng.choice([0, 2, 4]))
        ref = _random_events(rng, duration, int(rng.integers(0, 6)), float(rng.choice([20, 200, 700])), decimals)
        hyp = _random_events(rng, duration, int(rng.integers(0, 12)), float(rng.choice([0.05, 5, 60, 400, 1500])), decimals)
        events, samples = _timescoring(ref, hyp, duration, fs)
        if not _same(szcore.score(ref, hyp, duration), events):
            differ.append((i, "event"))
        if not _same(szcore.score_samples(ref, hyp, duration), samples):
            differ.append((i, "sample"))
    assert differ == []


def test_subject_mean_matches_timescoring_formulas():
    """Per-subject sums then NaN-ignoring means, as szcore-evaluation builds them."""
    rng = np.random.default_rng(7)
    ours, theirs = {}, {}
    for s in range(6):
        for r in range(3):
            duration = float(rng.integers(600, 3600))
            ref = _random_events(rng, duration, int(rng.integers(0, 3)) if s else 0, 100.0, 2)
            hyp = _random_events(rng, duration, int(rng.integers(0, 4)), 50.0, 2)
            ours[f"sub{s}_run{r}"] = szcore.score(ref, hyp, duration)
            ts, _ = _timescoring(ref, hyp, duration, 1)
            acc = theirs.setdefault(f"sub{s}", [0, 0, 0, 0])
            acc[0] += ts.tp
            acc[1] += ts.fp
            acc[2] += ts.refTrue
            acc[3] += ts.numSamples
    per_subject = aggregate.per_subject(ours)
    assert sorted(per_subject) == [f"sub{s}" for s in range(6)]
    results = []
    for tp, fp, ref_true, n in theirs.values():
        res = ts_scoring._Scoring()
        res.tp, res.fp, res.refTrue, res.numSamples, res.fs = tp, fp, ref_true, n, 10
        res.computeScores()
        results.append(res)
    mean = aggregate.subject_mean(per_subject.values())
    for ours_name, ts_name in (("sensitivity", "sensitivity"), ("precision", "precision"), ("f1", "f1"), ("fa_per_24h", "fpRate")):
        with np.errstate(all="ignore"):
            expected = np.nanmean([getattr(r, ts_name) for r in results])
        assert mean[ours_name] == pytest.approx(expected, rel=1e-12, nan_ok=True)
    assert mean["n_subjects"] == 6.0


@pytest.mark.parametrize("name, subject", [
    ("aaaaaool_s001_t000", "aaaaaool"),                          # TUSZ v2
    ("00000258_s002_t000", "00000258"),                          # TUSZ v1.5
    ("sub-01_ses-01_task-szMonitoring_run-00_events", "sub-01"),  # BIDS / SzCORE
    ("chb05_01", "chb05"),                                        # CHB-MIT
    ("PN00-1", "PN00"),                                           # Siena
    ("P_ID64_r1", "P_ID64"),                                      # SeizeIT
    ("recording", "recording"),
])
def test_subject_id_reads_each_datasets_naming(name, subject):
    assert aggregate.subject_id(name) == subject
