import logging
import subprocess
import sys

import numpy as np
import pytest
from scipy import signal as sps

from seizure.preprocess import signal as sig
from seizure.errors import ConfigError, SignalQualityError
from seizure.preprocess.recipe import Recipe


def tone(freq_hz, fs_hz, seconds, amp=1.0):
    t = np.arange(int(round(seconds * fs_hz))) / fs_hz
    return (amp * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def gain_db(y, x):
    return 20 * np.log10(np.std(y) / np.std(x))


def test_bandpass_equals_sosfiltfilt_away_from_edges():
    fs = 256
    x = (np.random.default_rng(0).standard_normal((3, fs * 120)) * 30 + 150).astype(np.float32)
    sos = sps.butter(sig.BANDPASS_ORDER, [0.5, 70.0], btype="bandpass", fs=fs, output="sos")
    ref = sps.sosfiltfilt(sos, x.astype(np.float64))
    y = sig.bandpass(x, fs, 0.5, 70.0)
    assert y.dtype == np.float32 and y.shape == x.shape
    inner = slice(20 * fs, -20 * fs)
    assert np.abs(y[:, inner] - ref[:, inner]).max() < 1e-4 * ref.std()


def test_notch_equals_filtfilt_and_removes_line_noise():
    fs = 250
    x = np.random.default_rng(1).standard_normal(fs * 60) * 10
    b, a = sps.iirnotch(60.0, sig.NOTCH_QUALITY, fs=fs)
    ref = sps.filtfilt(b, a, x)
    y = sig.notch(x, fs, 60.0)
    assert np.abs(y - ref)[5 * fs:-5 * fs].max() < 1e-4 * ref.std()
    line, alpha = tone(60.0, fs, 30), tone(10.0, fs, 30)
    assert gain_db(sig.notch(line, fs, 60.0)[fs:-fs], line[fs:-fs]) < -40
    assert abs(gain_db(sig.notch(alpha, fs, 60.0), alpha)) < 0.01


@pytest.mark.parametrize("fs_in, up, down", [(256, 125, 128), (512, 125, 256), (400, 5, 8), (1000, 1, 4), (100, 5, 2)])
def test_resample_is_exact_rational_and_band_limited(fs_in, up, down):
    plan = sig.plan_steps([{"step": "resample", "fs_hz": 250.0}], fs_in)
    assert (plan.up, plan.down) == (up, down)
    x = tone(10.3, fs_in, 20) + tone(31.7, fs_in, 20, 0.5)
    y = sig.resample(x, fs_in, 250.0)
    assert y.dtype == np.float32 and y.shape == (20 * 250,)
    expected = tone(10.3, 250, 20) + tone(31.7, 250, 20, 0.5)
    # band-limited interpolation is exact for tones away from the ends
    assert np.abs(y - expected)[250:-250].max() < 1e-4


def test_resample_agrees_with_resample_poly_in_band():
    fs = 256
    x = np.random.default_rng(2).standard_normal(fs * 60)
    x = sps.sosfiltfilt(sps.butter(8, 40, fs=fs, output="sos"), x)
    ours = sig.resample(x, fs, 250)
    poly = sps.resample_poly(x, 125, 128)
    assert ours.shape == poly.shape
    assert np.abs(ours - poly)[500:-500].max() < 0.01 * x.std()  # resample_poly's own ripple dominates


def test_apply_steps_follows_recipe_and_returns_output_rate():
    fs = 256
    parts = [(10.0, 50.0), (60.0, 20.0), (100.0, 20.0)]
    x = np.stack([sum(tone(f, fs, 30, a) for f, a in parts) + 300.0] * 2)
    y, fs_out = sig.apply_steps(x, fs, Recipe())
    assert fs_out == 250.0 and y.shape == (2, 30 * 250)
    plan = sig.plan_steps(Recipe().steps(), fs)
    assert [f.kind for f in plan.filters] == ["bandpass", "notch"]
    gain = {f: np.prod([sig.zero_phase_gain(spec, [f])[0] for spec in plan.filters]) for f, _ in parts}
    assert gain[10.0] > 0.999 and gain[60.0] < 1e-6 and 1e-4 < gain[100.0] < 1e-2  # 100 Hz: on the roll-off
    expected = sum(tone(f, 250, 30, a * gain[f]) for f, a in parts)  # DC removed by the high-pass
    inner = slice(3 * 250, -3 * 250)
    assert np.abs(y[0, inner] - expected[inner]).max() < 0.01  # 2e-4 of the amplitude
    steps = Recipe().steps()
    y2, _ = sig.apply_steps(x[0], fs, steps)  # a steps list and 1-D data work too
    np.testing.assert_allclose(y2, y[0], atol=1e-4)


def test_low_pass_and_notch_at_or_above_nyquist_are_skipped_with_a_warning(caplog):
    fs = 100  # Nyquist 50 Hz: the recipe's 70 Hz low-pass and 60 Hz notch cannot apply
    plan = sig.plan_steps(Recipe().steps(), fs)
    assert [f.kind for f in plan.filters] == ["bandpass"]
    assert plan.filters[0].params == (0.5, None)
    assert len(plan.warnings) == 2
    assert "low-pass 70 Hz skipped" in plan.warnings[0] and "notch 60 Hz skipped" in plan.warnings[1]
    x = tone(20.0, fs, 30, 10) + 40.0
    with caplog.at_level(logging.WARNING, logger="seizure.preprocess.signal"):
        y, fs_out = sig.apply_steps(x, fs, Recipe())
    assert "Nyquist" in caplog.text
    assert fs_out == 250.0 and np.isfinite(y).all()
    np.testing.assert_allclose(y[750:-750], tone(20.0, 250, 30, 10)[750:-750], atol=1e-2)


def test_high_pass_at_or_above_nyquist_is_an_error():
    with pytest.raises(SignalQualityError, match="high-pass edge 60 Hz is at or above the Nyquist"):
        sig.plan_steps([{"step": "bandpass", "low_hz": 60.0, "high_hz": None}], 100.0)


@pytest.mark.parametrize("fs", [100, 512, 1000])
def test_unusual_rates_give_finite_well_behaved_output(fs):
    x = tone(8.0, fs, 40, 30) + np.linspace(0, 500, 40 * fs, dtype=np.float32)  # alpha + slow drift
    y, fs_out = sig.apply_steps(x, fs, Recipe())
    assert np.isfinite(y).all()
    inner = slice(5 * 250, -5 * 250)
    np.testing.assert_allclose(y[inner], tone(8.0, 250, 40, 30)[inner], atol=0.05)


def test_unknown_step_and_bad_rates_are_clear_errors():
    with pytest.raises(ConfigError, match="unknown signal step 'smooth'; valid steps: bandpass, feature"):
        sig.plan_steps([{"step": "smooth"}], 256)
    with pytest.raises(SignalQualityError, match="sampling rate must be positive"):
        sig.plan_steps([], 0)
    with pytest.raises(SignalQualityError, match="not a whole number of samples per second"):
        sig.plan_steps([{"step": "resample", "fs_hz": 250.0}], 256.0001234567)
    with pytest.raises(SignalQualityError, match="empty signal"):
        sig.bandpass(np.zeros((2, 0)), 256, 0.5, 70)


def test_fractional_rate_granule_and_gains_are_cached():
    plan = sig.plan_steps([{"step": "resample", "fs_hz": 250.0}], 249.75)
    assert plan.granule_s == 4 and (plan.up, plan.down) == (1000, 999)
    sig._gain.cache_clear()
    x = np.random.default_rng(3).standard_normal((2, 256 * 20)).astype(np.float32)
    sig.bandpass(x, 256, 0.5, 70)
    misses = sig._gain.cache_info().misses
    sig.bandpass(x, 256, 0.5, 70)
    assert sig._gain.cache_info().misses == misses


def scipy_design(spec):
    if spec.kind == "notch":
        return sps.tf2sos(*sps.iirnotch(*spec.params, fs=spec.fs_hz))
    low, high = spec.params
    if low is not None and high is not None:
        return sps.butter(sig.BANDPASS_ORDER, [low, high], btype="bandpass", fs=spec.fs_hz, output="sos")
    btype, edge = ("highpass", low) if low is not None else ("lowpass", high)
    return sps.butter(sig.BANDPASS_ORDER, edge, btype=btype, fs=spec.fs_hz, output="sos")


@pytest.mark.parametrize("spec", [
    sig.FilterSpec("bandpass", (0.5, 70.0), 256.0), sig.FilterSpec("bandpass", (0.5, None), 100.0),
    sig.FilterSpec("bandpass", (None, 70.0), 250.0), sig.FilterSpec("bandpass", (1.0, 30.0), 1000.0),
    sig.FilterSpec("bandpass", (0.1, 127.0), 256.0), sig.FilterSpec("bandpass", (0.5, 70.0), 249.75),
    sig.FilterSpec("notch", (60.0, 30.0), 256.0), sig.FilterSpec("notch", (50.0, 30.0), 400.0),
    sig.FilterSpec("notch", (60.0, 5.0), 512.0), sig.FilterSpec("notch", (120.0, 30.0), 256.0),
])
def test_closed_form_gain_equals_the_scipy_design_response(spec):
    freqs = np.linspace(0, spec.fs_hz, 4001)  # both halves: the response is symmetric about Nyquist
    _, h = sps.freqz_sos(scipy_design(spec), worN=freqs, fs=spec.fs_hz)
    ours = sig.zero_phase_gain(spec, freqs)
    assert np.isfinite(ours).all() and ours.min() >= 0
    np.testing.assert_allclose(ours, np.abs(h) ** 2, rtol=0, atol=1e-10)


@pytest.mark.parametrize("step, message", [
    ({"step": "bandpass", "low_hz": -1.0, "high_hz": 70.0}, "band edges must lie strictly between 0 and"),
    ({"step": "bandpass", "low_hz": 30.0, "high_hz": 10.0}, "the low edge must be below the high edge"),
    ({"step": "notch", "freq_hz": 0.0}, "the notch frequency must lie strictly between 0 and"),
    ({"step": "notch", "freq_hz": 60.0, "quality": 0.0}, "the quality factor must be positive"),
])
def test_impossible_filters_are_refused_by_name(step, message):
    with pytest.raises(SignalQualityError, match=r"cannot design the (bandpass|notch) filter .* at 256 Hz: " + message):
        sig.plan_steps([step], 256.0)


def test_the_pipeline_does_not_import_scipy_signal():
    """scipy.signal takes ~0.45 s to import: every preprocessing worker would pay it."""
    code = "import sys, seizure.corpus, seizure.preprocess.pipeline; print('scipy.signal' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
