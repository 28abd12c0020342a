"""NEDC time-aligned event scoring (TAES): fractional hits and false alarms.

Follows the structure of NEDC's ``nedc_eeg_eval_taes`` with strict overlap
(``a.stop > b.start and a.start < b.stop``; some NEDC releases test overlap on whole
seconds, DESIGN.md fixes it strict). References are visited in time order; for a
reference r of duration d and the first unused hypothesis h overlapping it:

- h ends at or after r's end: hit and fa from the table below for (r, h); every *later*
  reference that h also overlaps counts a full miss (only the first gets credit);
- h ends inside r: hit and fa for (r, h), then every later unused hypothesis inside or
  crossing r adds its own hit and fa (several hypotheses inside one seizure add up).

The table: h starts before and ends inside r: hit ``(h.stop-r.start)/d``, fa
``min(1,(r.start-h.start)/d)``; h starts inside and ends after: hit
``(r.stop-h.start)/d``, fa ``min(1,(h.stop-r.stop)/d)``; h covers r: hit 1, fa
``min(1,((h.stop-r.stop)+(r.start-h.start))/d)``; h inside r: hit ``(h.stop-h.start)/d``,
fa 0. Misses are ``1 - hit`` per scored reference. A hypothesis used by no reference costs
1 false alarm, a reference that got no credit 1 miss. Sensitivity = sum(hit) / references;
undefined ratios are 0.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from seizure.events import Event
from seizure.scoring.counts import Counts, prepare


def _hit_fa(rs: float, re: float, hs: float, he: float) -> tuple[float, float]:
    """Fractional hit and false alarm of hypothesis [hs, he) against reference [rs, re)."""
    d = re - rs
    if hs <= rs and he <= re:  # starts before, ends inside
        return (he - rs) / d, min(1.0, (rs - hs) / d)
    if hs >= rs and he >= re:  # starts inside, ends after
        return (re - hs) / d, min(1.0, (he - re) / d)
    if hs < rs and he > re:  # covers
        return 1.0, min(1.0, ((he - re) + (rs - hs)) / d)
    return (he - hs) / d, 0.0  # inside


def count(ref: tuple[np.ndarray, np.ndarray], hyp: tuple[np.ndarray, np.ndarray]) -> tuple[float, float, float]:
    """(hits, misses, false alarms) for prepared (sorted, disjoint) intervals."""
    rs, re = ref[0].tolist(), ref[1].tolist()
    hs, he = hyp[0].tolist(), hyp[1].tolist()
    n_r, n_h = len(rs), len(hs)
    ref_free = [True] * n_r
    hyp_free = [True] * n_h
    # hypotheses overlapping reference i are the contiguous range [first[i], last[i])
    first = np.searchsorted(hyp[1], ref[0], side="right").tolist()
    last = np.searchsorted(hyp[0], ref[1], side="left").tolist()
    hit = miss = fa = 0.0
    for i in range(n_r):
        if not ref_free[i]:
            continue
        for j in range(first[i], last[i]):
            if not hyp_free[j]:
                continue
            p_hit, p_fa = _hit_fa(rs[i], re[i], hs[j], he[j])
            p_miss = 1.0 - p_hit
            ref_free[i] = hyp_free[j] = False
            if he[j] >= re[i]:
                k = i + 1
                while k < n_r and rs[k] < he[j]:  # later references under the same hypothesis
                    ref_free[k] = False
                    p_miss += 1.0
                    k += 1
            else:
                for k in range(j + 1, last[i]):  # later hypotheses inside or crossing r
                    if hyp_free[k]:
                        hyp_free[k] = False
                        k_hit, k_fa = _hit_fa(rs[i], re[i], hs[k], he[k])
                        p_hit += k_hit
                        p_miss -= k_hit
                        p_fa += k_fa
            hit += p_hit
            miss += p_miss
            fa += p_fa
    miss += sum(ref_free)
    fa += sum(hyp_free)
    return hit, miss, fa


def score(ref_events: Iterable[Event], hyp_events: Iterable[Event], duration_s: float) -> Counts:
    """TAES counts for one recording."""
    ref = prepare(ref_events, duration_s)
    hyp = prepare(hyp_events, duration_s)
    hit, miss, fa = count(ref, hyp)
    return Counts(hit, miss, fa, ref[0].size, float(duration_s), "nedc")
