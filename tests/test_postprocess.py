"""Probabilities -> events: smoothing, threshold, gap merging, minimum duration, confidence."""

from __future__ import annotations

import numpy as np
import pytest

from seizure.config import build, to_dict
from seizure.errors import ConfigError
from seizure.postprocess import OperatingPoint, probs_to_events, smooth

PROBS = np.array([0.0, 0.6, 0.7, 0.0, 0.0, 0.9, 0.9, 0.9, 0.1, 0.5])


def _spans(events):
    return [(e.start_s, e.stop_s, round(e.confidence, 10)) for e in events]


def test_threshold_makes_one_event_per_run():
    events = probs_to_events(PROBS, OperatingPoint(threshold=0.5))
    assert _spans(events) == [(1.0, 3.0, 0.65), (5.0, 8.0, 0.9), (9.0, 10.0, 0.5)]  # >= threshold
    assert all(e.label == "seiz" and e.channel == "TERM" for e in events)
    assert probs_to_events(PROBS, OperatingPoint(threshold=0.95)) == []
    assert probs_to_events(np.zeros(0), OperatingPoint()) == []


def test_merge_gap_then_minimum_duration():
    # gaps: 3 -> 5 is 2 s, 8 -> 9 is 1 s; merged when shorter than merge_gap_s
    assert _spans(probs_to_events(PROBS, OperatingPoint(threshold=0.5, merge_gap_s=1.5))) == [
        (1.0, 3.0, 0.65), (5.0, 10.0, round((0.9 * 3 + 0.1 + 0.5) / 5, 10))
    ]
    merged = probs_to_events(PROBS, OperatingPoint(threshold=0.5, merge_gap_s=2.5))
    assert _spans(merged) == [(1.0, 10.0, round(PROBS[1:].sum() / 9, 10))]  # the gaps count in the mean
    assert len(probs_to_events(PROBS, OperatingPoint(threshold=0.5, merge_gap_s=1.0))) == 3  # 1 is not < 1
    # 1 -> 3 and 9 -> 10 are shorter than 3 s: dropped; 5 -> 8 is exactly 3 s: kept
    assert _spans(probs_to_events(PROBS, OperatingPoint(threshold=0.5, min_duration_s=3.0))) == [(5.0, 8.0, 0.9)]
    # merging happens before the length test
    both = probs_to_events(PROBS, OperatingPoint(threshold=0.5, merge_gap_s=1.5, min_duration_s=4.0))
    assert [(e.start_s, e.stop_s) for e in both] == [(5.0, 10.0)]


def test_smoothing_is_a_centred_moving_average():
    x = np.array([0.0, 0.0, 0.9, 0.0, 0.0])
    assert np.allclose(smooth(x, 3.0), [0.0, 0.3, 0.3, 0.3, 0.0])
    assert np.allclose(smooth(np.array([0.3, 0.9, 0.6]), 3.0), [0.6, 0.6, 0.75])  # edges average what exists
    assert np.allclose(smooth(np.array([0.0, 0.4, 0.8, 0.0]), 2.0), [0.2, 0.6, 0.4, 0.0])  # [k, k+1]
    assert smooth(x, 1.0) is x and smooth(x, 0.4) is x
    # a single high second disappears under 3 s smoothing at threshold 0.5
    assert probs_to_events(x, OperatingPoint(threshold=0.5, smooth_s=3.0)) == []
    events = probs_to_events(np.array([0.0, 0.9, 0.9, 0.9, 0.0]), OperatingPoint(threshold=0.5, smooth_s=3.0))
    assert [(e.start_s, e.stop_s) for e in events] == [(1.0, 4.0)]  # smoothed 0.45 0.6 0.9 0.6 0.45


def test_operating_point_is_a_config_section():
    op = build(OperatingPoint, {"threshold": 0.7, "smooth_s": 5}, "postprocess")
    assert op == OperatingPoint(0.7, 5.0, 0.0, 0.0)
    assert to_dict(op) == {"threshold": 0.7, "smooth_s": 5.0, "min_duration_s": 0.0, "merge_gap_s": 0.0}
    with pytest.raises(ConfigError, match=r"unknown config key 'postprocess.thresh'"):
        build(OperatingPoint, {"thresh": 0.7}, "postprocess")


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"threshold": 1.5}, r"postprocess.threshold must be a number in \[0, 1\], got 1.5"),
        ({"smooth_s": -1.0}, r"postprocess.smooth_s must be a number of seconds >= 0, got -1.0"),
        ({"min_duration_s": float("nan")}, r"postprocess.min_duration_s must be a number of seconds >= 0, got nan"),
        ({"merge_gap_s": "2"}, r"postprocess.merge_gap_s must be a number of seconds >= 0, got '2'"),
    ],
)
def test_operating_point_validation(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        OperatingPoint(**kwargs)


def test_probability_validation():
    with pytest.raises(ValueError, match=r"probs_per_s must be 1-D .* got shape \(2, 2\)"):
        probs_to_events(np.zeros((2, 2)), OperatingPoint())
    with pytest.raises(ValueError, match=r"finite probabilities in \[0, 1\]"):
        probs_to_events(np.array([0.1, np.nan]), OperatingPoint())
    with pytest.raises(ValueError, match=r"finite probabilities in \[0, 1\]"):
        probs_to_events(np.array([0.1, 1.2]), OperatingPoint())
