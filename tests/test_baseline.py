"""Line-length / energy baseline: finds a rhythmic high-amplitude discharge, not the background."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import lfilter

from seizure.errors import SignalQualityError
from seizure.events import Event
from seizure.postprocess import OperatingPoint, probs_to_events
from seizure.scoring import ovlp
from seizure.scoring.baseline import line_length_probs, second_features

FS = 250


def _recording(seed: int = 0, seconds: int = 600):
    """22 channels of ~15 uV brown-ish noise; 200-260 s: 3 Hz spike-and-wave on 6 channels."""
    rng = np.random.default_rng(seed)
    x = lfilter([1.0], [1.0, -0.95], rng.standard_normal((22, FS * seconds)), axis=1).astype(np.float32) * 5
    t = np.arange(FS * 60) / FS
    discharge = 120 * (np.abs((3 * t) % 1 - 0.5) * 4 - 1) + 80 * np.sin(2 * np.pi * 3 * t)
    if seconds >= 260:
        x[:6, FS * 200 : FS * 260] += discharge.astype(np.float32)
    return x


@pytest.mark.parametrize("background_s", [None, 300.0])
def test_detects_the_discharge_and_little_else(background_s):
    x = _recording()
    p = line_length_probs(x, FS, background_s=background_s)
    assert p.shape == (600,) and p.min() >= 0 and p.max() <= 1
    assert p[201:259].min() > 0.9  # inside the discharge
    assert np.median(np.r_[p[:195], p[265:]]) < 0.15  # background
    events = probs_to_events(p, OperatingPoint(threshold=0.5, min_duration_s=5))
    assert [(e.start_s, e.stop_s) for e in events] == [(200.0, 260.0)]
    assert ovlp.score([Event(200, 260)], events, 600.0).sensitivity == 1.0


def test_mask_excludes_channels():
    x = _recording()
    mask = np.ones(22, dtype=bool)
    mask[:6] = False  # the discharge's channels
    p = line_length_probs(x, FS, mask)
    assert p[201:259].max() < 0.5
    x[6] = np.nan  # a masked-out channel may hold anything
    mask[6] = False
    assert line_length_probs(x, FS, mask).shape == (600,)


def test_features_per_second():
    x = np.zeros((1, 3 * FS), dtype=np.float32)
    x[0, FS : 2 * FS] = np.tile([10.0, -10.0], FS // 2)  # second 1 alternates +-10 uV
    log_ll, log_energy = second_features(x, FS)
    assert np.exp(log_ll[0]) == pytest.approx([0.0, 20.0, 0.0], abs=1e-6)
    assert np.exp(log_energy[0]) == pytest.approx([0.0, 100.0, 0.0], abs=1e-6)
    assert second_features(np.zeros((2, 1000)), 256.0)[0].shape == (2, 3)  # floor(1000 / 256)
    assert line_length_probs(np.zeros((2, 100)), 250.0).shape == (0,)


def test_errors():
    x = _recording(seconds=20)
    with pytest.raises(SignalQualityError, match="no usable channel"):
        line_length_probs(x, FS, np.zeros(22, dtype=bool))
    bad = x.copy()
    bad[3, 10] = np.inf
    with pytest.raises(SignalQualityError, match="NaN or infinite samples"):
        line_length_probs(bad, FS)
    with pytest.raises(SignalQualityError, match="every usable channel is flat"):
        line_length_probs(np.zeros((3, 20 * FS)), FS)
    with pytest.raises(ValueError, match=r"data must be \(n_channels, n_samples\), got shape \(5000,\)"):
        line_length_probs(x[0], FS)
    with pytest.raises(ValueError, match="fs_hz must be a positive number, got 0"):
        line_length_probs(x, 0)
    with pytest.raises(ValueError, match=r"mask must have one entry per channel \(22\), got shape \(3,\)"):
        line_length_probs(x, FS, np.ones(3, dtype=bool))
    with pytest.raises(ValueError, match="background_s must be None or at least 1 s"):
        line_length_probs(x, FS, background_s=0.5)
