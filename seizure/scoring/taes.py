"""NEDC time-aligned event scoring (TAES): fractional hits and false alarms.

Follows ``nedc_eeg_eval_taes`` of NEDC v6.0.0 (``compute``, ``compute_partial``,
``ovlp_ref_seqs``, ``ovlp_hyp_seqs``, ``calc_hf``), with its two overlap tests
(DESIGN.md section 4):

- *strict*, ``h.stop > r.start and h.start < r.stop``: a reference is scored only if it is
  still unused and some hypothesis (used or not) overlaps it strictly;
- *inclusive on whole seconds*, ``int(h.start) <= int(r.stop) and int(r.start) <= int(h.stop)``
  (NEDC's ``anyovlp``): pairs a scored reference with hypotheses, and a spanning
  hypothesis with later references. A hypothesis that only touches the reference's start
  or end is thus absorbed into it (its extra time costs ``min(1, extra / d)``).

References are visited in time order. For a scored reference r of duration d, every
still-unused hypothesis h (in time order) that pairs with r inclusively is handled so:

- h ends at or after r's end: hit and fa from the table below for (r, h), miss ``1 - hit``;
  every *later* reference that h pairs with inclusively counts a full miss (only the
  first gets credit) and is used;
- h ends inside r: hit and fa for (r, h), then every later hypothesis pairing with r
  inclusively adds its own hit and fa (NEDC does not check whether it was used).

The table (``calc_hf``): h starts before and ends inside r: hit ``(h.stop-r.start)/d``, fa
``min(1,(r.start-h.start)/d)``; h starts inside and ends after: hit ``(r.stop-h.start)/d``,
fa ``min(1,(h.stop-r.stop)/d)``; h covers r: hit 1, fa
``min(1,((h.stop-r.stop)+(r.start-h.start))/d)``; h inside r: hit ``(h.stop-h.start)/d``,
fa 0. A hypothesis used by no reference costs 1 false alarm, a reference that got no
credit 1 miss. Sensitivity = sum(hit) / references; undefined ratios are 0.

Like NEDC, the whole-second test can pair events up to a second apart, so with fractional
times a pairing may give a negative hit and count a reference's miss twice; we keep
NEDC's figures.
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
    irs, ire = np.trunc(ref[0]), np.trunc(ref[1])  # NEDC's int() of the (non-negative) times
    ihs, ihe = np.trunc(hyp[0]), np.trunc(hyp[1])
    n_r = len(rs)
    ref_free = [True] * n_r
    hyp_free = [True] * len(hs)
    # hypotheses overlapping reference i strictly: [first[i], last[i]); inclusively on whole
    # seconds: [lo[i], hi[i]) (starts, stops and their int() parts are all sorted)
    first = np.searchsorted(hyp[1], ref[0], side="right").tolist()
    last = np.searchsorted(hyp[0], ref[1], side="left").tolist()
    lo = np.searchsorted(ihe, irs, side="left").tolist()
    hi = np.searchsorted(ihs, ire, side="right").tolist()
    irs_l, ihe_l = irs.tolist(), ihe.tolist()
    hit = miss = fa = 0.0
    for i in range(n_r):
        if not ref_free[i] or first[i] >= last[i]:
            continue
        for j in range(lo[i], hi[i]):
            if not hyp_free[j]:
                continue
            p_hit, p_fa = _hit_fa(rs[i], re[i], hs[j], he[j])
            p_miss = 1.0 - p_hit
            ref_free[i] = hyp_free[j] = False
            if he[j] >= re[i]:  # later references under the same hypothesis: full misses
                k = i + 1
                while k < n_r and irs_l[k] <= ihe_l[j]:
                    ref_free[k] = False
                    p_miss += 1.0
                    k += 1
            else:  # later hypotheses paired with r add their hits and false alarms
                for k in range(j + 1, hi[i]):
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
