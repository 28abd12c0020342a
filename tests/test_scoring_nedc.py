"""NEDC OVLP, TAES and epoch scoring: hand-computed cases with exact values."""

from __future__ import annotations

import numpy as np
import pytest

from seizure.errors import ConfigError
from seizure.events import Event
from seizure.scoring import METHODS, Counts, epoch, ovlp, pool, prepare, score, taes

D = 3600.0  # one hour unless stated


def ev(start, stop, label="seiz"):
    return Event(float(start), float(stop), label)


def counts(c: Counts):
    return (c.hits, c.misses, c.false_alarms, c.n_ref)


def approx(*values):
    return pytest.approx(values, abs=1e-12)


def test_hypothesis_ending_before_the_seizure():
    ref, hyp = [ev(100, 200)], [ev(50, 90)]
    assert counts(ovlp.score(ref, hyp, D)) == (0, 1, 1, 1)
    assert counts(taes.score(ref, hyp, D)) == (0, 1, 1, 1)
    # epochs: reference 100.125..199.875 (400), hypothesis 50.125..89.875 (160)
    e = epoch.score(ref, hyp, D)
    assert counts(e) == (0, 400, 160, 400)
    assert e.fa_per_24h == 160 * 0.25 * 86400 / D == 960.0


def test_one_long_hypothesis_over_two_seizures():
    ref, hyp = [ev(100, 150), ev(200, 300)], [ev(90, 320)]
    o = ovlp.score(ref, hyp, D)
    assert counts(o) == (2, 0, 0, 2) and o.sensitivity == 1.0 and o.fa_per_24h == 0.0
    # TAES: the hypothesis covers the first seizure (hit 1, fa min(1, (170 + 10) / 50) = 1);
    # the second seizure under the same hypothesis is a full miss
    t = taes.score(ref, hyp, D)
    assert counts(t) == (1.0, 1.0, 1.0, 2) and t.sensitivity == 0.5
    assert counts(epoch.score(ref, hyp, D)) == (600, 0, 320, 600)


def test_hypothesis_starting_inside_and_spanning_the_next_seizure():
    t = taes.score([ev(100, 200), ev(300, 400)], [ev(150, 350)], D)
    # first: hit (200 - 150) / 100, fa min(1, 150 / 100); second: full miss
    assert counts(t) == approx(0.5, 1.5, 1.0, 2)


def test_twelve_minute_seizure_with_thirty_second_detection_at_onset():
    ref, hyp = [ev(600, 1320)], [ev(600, 630)]
    assert counts(ovlp.score(ref, hyp, D)) == (1, 0, 0, 1)
    assert counts(taes.score(ref, hyp, D)) == approx(30 / 720, 690 / 720, 0.0, 1)
    assert counts(epoch.score(ref, hyp, D)) == (120, 2760, 0, 2880)


def test_twenty_minute_hypothesis_over_one_minute_seizure():
    ref, hyp = [ev(1000, 1060)], [ev(900, 2100)]
    assert counts(ovlp.score(ref, hyp, D)) == (1, 0, 0, 1)
    assert counts(taes.score(ref, hyp, D)) == (1.0, 0.0, 1.0, 1)  # fa min(1, 1140 / 60)
    assert counts(epoch.score(ref, hyp, D)) == (240, 0, 4560, 240)


def test_no_seizure_and_one_false_alarm():
    hyp = [ev(100, 110)]
    for c in (ovlp.score([], hyp, D), taes.score([], hyp, D)):
        assert counts(c) == (0, 0, 1, 0)
        assert (c.sensitivity, c.precision, c.f1) == (0.0, 0.0, 0.0)  # NEDC: undefined -> 0
        assert c.fa_per_24h == 24.0
    e = epoch.score([], hyp, D)
    assert counts(e) == (0, 0, 40, 0) and e.fa_per_24h == 240.0
    empty = ovlp.score([], [], D)
    assert (empty.sensitivity, empty.precision, empty.f1, empty.fa_per_24h) == (0.0, 0.0, 0.0, 0.0)


def test_overlapping_hypotheses_are_merged_first():
    ref, hyp = [ev(130, 200)], [ev(120, 180), ev(100, 150)]
    assert counts(ovlp.score(ref, hyp, D)) == (1, 0, 0, 1)
    # merged hypothesis 100-180 starts before and ends inside: hit 50/70, fa 30/70
    assert counts(taes.score(ref, hyp, D)) == approx(5 / 7, 2 / 7, 3 / 7, 1)


def test_events_past_the_recording_end_are_clipped():
    duration = 600.0
    ref, hyp = [ev(550, 700)], [ev(580, 900), ev(650, 700)]
    assert counts(ovlp.score(ref, hyp, duration)) == (1, 0, 0, 1)
    # reference 550-600 (d = 50), hypothesis 580-600: hit 20 / 50, no false alarm
    assert counts(taes.score(ref, hyp, duration)) == approx(0.4, 0.6, 0.0, 1)
    # epochs up to 599.875: reference 200, hypothesis 80
    assert counts(epoch.score(ref, hyp, duration)) == (80, 120, 0, 200)


def test_several_hypotheses_inside_one_seizure():
    ref, hyp = [ev(100, 200)], [ev(110, 120), ev(130, 150), ev(190, 210)]
    assert counts(ovlp.score(ref, hyp, D)) == (1, 0, 0, 1)
    # hits 0.1 + 0.2 + 0.1 (the last ends after: fa 10 / 100)
    assert counts(taes.score(ref, hyp, D)) == approx(0.4, 0.6, 0.1, 1)
    assert counts(epoch.score(ref, hyp, D)) == (160, 240, 40, 400)


def test_strict_overlap_and_unmatched_events():
    ref = [ev(100, 200), ev(500, 600)]
    hyp = [ev(200, 210), ev(40, 100), ev(599.5, 700), ev(1000, 1010)]
    # touching is not overlapping: 40-100 and 200-210 are false alarms; 599.5-700 hits
    assert counts(ovlp.score(ref, hyp, D)) == (1, 1, 3, 2)
    t = taes.score(ref, hyp, D)
    assert counts(t) == approx(0.005, 1.995, 3 + 1.0, 2)  # 599.5-700: hit 0.5/100, fa min(1, 100/100)


def test_subtype_labels_count_and_background_is_ignored():
    ref = [Event(10, 20, "cpsz", channel="FP1-F7"), Event(15, 30, "fnsz", channel="T3-T5"), Event(0, 100, "bckg")]
    hyp = [Event(25, 26, "sz_foc_ia"), Event(40, 50, "bckg")]
    assert counts(ovlp.score(ref, hyp, 100.0)) == (1, 0, 0, 1)


def test_pooling_and_derived_measures():
    a = ovlp.score([ev(100, 200), ev(300, 400)], [ev(150, 160), ev(900, 910)], D)  # 1 hit, 1 fa
    b = ovlp.score([ev(100, 200)], [ev(100, 200)], 2 * D)  # 1 hit
    total = pool([a, b])
    assert counts(total) == (2, 1, 1, 3) and total.duration_s == 3 * D
    assert total.sensitivity == 2 / 3 and total.precision == 2 / 3
    assert total.f1 == pytest.approx(2 / 3)
    assert total.fa_per_24h == 86400 / (3 * D)
    assert pool([]) is None
    with pytest.raises(ValueError, match="cannot pool counts of different scoring methods"):
        a + epoch.score([], [], D)
    assert set(total.measures()) == {"sensitivity", "precision", "f1", "fa_per_24h", "hits", "misses",
                                     "false_alarms", "n_ref", "duration_s"}


def test_method_registry():
    assert sorted(METHODS) == ["epoch", "ovlp", "szcore", "szcore_sample", "taes"]
    assert counts(score("taes", [ev(0, 10)], [ev(0, 5)], 60.0)) == (0.5, 0.5, 0.0, 1)
    with pytest.raises(ConfigError, match=r"unknown scoring method 'dpalign'; valid: epoch, ovlp, szcore"):
        score("dpalign", [], [], 60.0)
    with pytest.raises(ValueError, match="duration_s must be a positive number of seconds"):
        ovlp.score([], [], 0.0)


def _epoch_by_sampling(ref, hyp, duration):
    """NEDC's procedure literally: every midpoint, inclusive membership test."""
    times = 0.125 + 0.25 * np.arange(int(duration * 4) + 2)
    times = times[times <= duration]

    def inside(events, t):
        return any(e.start_s <= t <= e.stop_s for e in events)

    r = np.array([inside(ref, t) for t in times], dtype=bool)
    h = np.array([inside(hyp, t) for t in times], dtype=bool)
    return int((r & h).sum()), int((r & ~h).sum()), int((h & ~r).sum()), int(r.sum())


def test_epoch_counts_equal_sampling_every_epoch():
    rng = np.random.default_rng(5)
    for _ in range(60):
        duration = float(rng.choice([rng.integers(20, 300), round(rng.uniform(20, 300), 3)]))
        grid = rng.random() < 0.5  # boundaries on the epoch grid, where inclusivity matters

        def events(n):
            out = []
            for _ in range(n):
                s = rng.integers(0, int(duration * 8)) / 8 if grid else round(rng.uniform(0, duration), 4)
                out.append(ev(s, min(duration, s + rng.uniform(0.1, 40))))
            return out

        ref, hyp = events(int(rng.integers(0, 4))), events(int(rng.integers(0, 6)))
        # NEDC samples the prepared (merged, clipped) timelines
        merged_ref = [ev(a, b) for a, b in zip(*prepare(ref, duration))]
        merged_hyp = [ev(a, b) for a, b in zip(*prepare(hyp, duration))]
        assert counts(epoch.score(ref, hyp, duration)) == _epoch_by_sampling(merged_ref, merged_hyp, duration)


def _overlap(a, b):
    return a[1] > b[0] and a[0] < b[1]


def _whole_seconds_overlap(a, b):
    """DESIGN.md section 4's inclusive test: the sets of whole seconds int(start)..int(stop) meet."""
    return bool(set(range(int(a[0]), int(a[1]) + 1)) & set(range(int(b[0]), int(b[1]) + 1)))


def _taes_literal(ref, hyp):
    """TAES as DESIGN.md section 4 states it (NEDC v6.0.0), by brute force over all pairs:
    a free reference is scored if any hypothesis overlaps it strictly; it is then paired with
    every free hypothesis (in time order) by the inclusive whole-second test."""
    def hit_fa(r, h):
        d = r[1] - r[0]
        if h[0] <= r[0] and h[1] <= r[1]:
            return (h[1] - r[0]) / d, min(1.0, (r[0] - h[0]) / d)
        if h[0] >= r[0] and h[1] >= r[1]:
            return (r[1] - h[0]) / d, min(1.0, (h[1] - r[1]) / d)
        if h[0] < r[0] and h[1] > r[1]:
            return 1.0, min(1.0, ((h[1] - r[1]) + (r[0] - h[0])) / d)
        return (h[1] - h[0]) / d, 0.0

    r_free, h_free = [True] * len(ref), [True] * len(hyp)
    hit = miss = fa = 0.0
    for i, r in enumerate(ref):
        if not (r_free[i] and any(_overlap(r, h) for h in hyp)):
            continue
        for j, h in enumerate(hyp):
            if not (h_free[j] and _whole_seconds_overlap(r, h)):
                continue
            ph, pf = hit_fa(r, h)
            pm = 1.0 - ph
            r_free[i] = h_free[j] = False
            if h[1] >= r[1]:
                for k in range(i + 1, len(ref)):
                    if _whole_seconds_overlap(ref[k], h):
                        r_free[k] = False
                        pm += 1.0
            else:
                for k in range(j + 1, len(hyp)):
                    if _whole_seconds_overlap(r, hyp[k]):
                        h_free[k] = False
                        kh, kf = hit_fa(r, hyp[k])
                        ph, pm, pf = ph + kh, pm - kh, pf + kf
            hit, miss, fa = hit + ph, miss + pm, fa + pf
    return hit, miss + sum(r_free), fa + sum(h_free)


def test_ovlp_and_taes_equal_brute_force_on_random_recordings():
    rng = np.random.default_rng(11)
    for _ in range(300):
        duration = 600.0

        def events(n, mean_len):
            out = []
            for _ in range(n):
                s = round(float(rng.uniform(0, duration)), int(rng.choice([0, 4])))
                out.append(ev(s, min(duration, s + float(rng.exponential(mean_len)) + 0.01)))
            return out

        ref = events(int(rng.integers(0, 6)), 40.0)
        hyp = events(int(rng.integers(0, 10)), float(rng.choice([5.0, 40.0, 200.0])))
        r = list(zip(*[a.tolist() for a in prepare(ref, duration)])) if ref else []
        h = list(zip(*[a.tolist() for a in prepare(hyp, duration)])) if hyp else []
        hits = sum(any(_overlap(x, y) for y in h) for x in r)
        fas = sum(not any(_overlap(y, x) for x in r) for y in h)
        assert counts(ovlp.score(ref, hyp, duration)) == (hits, len(r) - hits, fas, len(r))
        t = taes.score(ref, hyp, duration)
        assert (t.hits, t.misses, t.false_alarms) == pytest.approx(_taes_literal(r, h), abs=1e-9)


def test_taes_equals_the_literal_rule_on_thousands_of_touching_cases():
    """Differential test against :func:`_taes_literal`: endpoints on a coarse grid (whole,
    half or tenth seconds) so that events touch, share endpoints and fall in the same whole
    second as often as they overlap."""
    rng = np.random.default_rng(2018)
    duration, touching, fractional = 60.0, 0, 0
    for case in range(4000):
        step = float(rng.choice([1.0, 1.0, 0.5, 0.1]))

        def events(n):
            out = []
            for _ in range(n):
                s = step * int(rng.integers(0, int(duration / step)))
                out.append(ev(s, min(duration, s + step * int(rng.integers(1, int(12 / step))))))
            return out

        ref, hyp = events(int(rng.integers(0, 6))), events(int(rng.integers(0, 9)))
        r = list(zip(*[a.tolist() for a in prepare(ref, duration)])) if ref else []
        h = list(zip(*[a.tolist() for a in prepare(hyp, duration)])) if hyp else []
        touching += any(x[0] == y[1] or x[1] == y[0] for x in r for y in h)
        t = taes.score(ref, hyp, duration)
        expected = _taes_literal(r, h)
        assert (t.hits, t.misses, t.false_alarms) == pytest.approx(expected, abs=1e-9), (case, r, h)
        if step == 1.0:  # on whole seconds every reference is counted once
            assert t.hits + t.misses == pytest.approx(len(r))
        else:
            fractional += t.hits + t.misses != pytest.approx(len(r))
    assert touching > 300  # the grid really makes events touch
    assert fractional > 0  # and NEDC's whole-second pairing really double-counts some fractional cases


def test_taes_nedc_v6_touching_hypotheses_are_absorbed():
    """The issue's hand cases, NEDC v6.0.0's figures (DESIGN.md section 4)."""
    # reference [100, 200], hypotheses [120, 150] (hit 0.3) and [200, 210] touching its end:
    # absorbed, fa min(1, 10 / 100); not a full false alarm
    assert counts(taes.score([ev(100, 200)], [ev(120, 150), ev(200, 210)], 300.0)) == approx(0.3, 0.7, 0.1, 1)
    # the mirror: [90, 100] touches the start
    assert counts(taes.score([ev(100, 200)], [ev(90, 100), ev(120, 150)], 300.0)) == approx(0.3, 0.7, 0.1, 1)
    # [150, 300] spans the first reference and touches the second: the second is a full miss
    # (whole-second pairing), so [350, 380] finds no free reference: a full false alarm
    t = taes.score([ev(100, 200), ev(300, 400)], [ev(150, 300), ev(350, 380)], 600.0)
    assert counts(t) == approx(0.5, 1.5, 2.0, 2)
    # a lone touching hypothesis is still a full false alarm and the reference a full miss
    assert counts(taes.score([ev(100, 200)], [ev(200, 210)], 300.0)) == (0.0, 1.0, 1.0, 1)
    assert counts(taes.score([ev(100, 200)], [ev(90, 100)], 300.0)) == (0.0, 1.0, 1.0, 1)
    # whole seconds: [200.5, 210] shares second 200 with the reference's end, so it is absorbed
    # (hit (200 - 200.5) / 100 = -0.005, as NEDC computes it)
    assert counts(taes.score([ev(100, 200)], [ev(120, 150), ev(200.5, 210)], 300.0)) == approx(
        0.295, 0.705, 0.1, 1)
