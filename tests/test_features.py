import numpy as np
import pytest
import scipy.fft

from seizure.preprocess import features as F
from seizure.errors import ConfigError

FS = 250


def tone(freq_hz, seconds, amp=10.0, fs=FS, n_channels=1):
    t = np.arange(int(seconds * fs)) / fs
    return np.tile(amp * np.sin(2 * np.pi * freq_hz * t), (n_channels, 1)).astype(np.float32)


def test_registry_and_parameter_validation():
    assert sorted(F.FEATURES) == ["lfcc", "raw", "spectrogram"]
    with pytest.raises(ConfigError, match="unknown feature 'mfcc'; valid features: lfcc, raw, spectrogram"):
        F.get("mfcc")
    with pytest.raises(ConfigError, match="unknown parameter 'n_mels' for feature 'lfcc'; valid parameters: accel_frames"):
        F.get("lfcc").resolve({"n_mels": 20})
    with pytest.raises(ConfigError, match="unknown parameter 'x' for feature 'raw'; valid parameters: \\(none\\)"):
        F.get("raw").n_features({"x": 1})
    with pytest.raises(ConfigError, match="lfcc parameter 'n_cepstra' must be an integer, got 7.5"):
        F.get("lfcc").resolve({"n_cepstra": 7.5})
    with pytest.raises(ConfigError, match="n_cepstra \\(9\\) must be below n_filters \\(8\\)"):
        F.get("lfcc").resolve({"n_cepstra": 9, "n_filters": 8})
    with pytest.raises(ConfigError, match="delta_frames must be a positive odd number"):
        F.get("lfcc").resolve({"delta_frames": 4})
    with pytest.raises(ConfigError, match="bands must be \\[low_hz, high_hz\\] pairs"):
        F.get("spectrogram").resolve({"bands": [[10, 5]]})
    assert F.get("lfcc").resolve({"fmax_hz": 60})["fmax_hz"] == 60.0  # ints accepted for floats


@pytest.mark.parametrize("name, fps, n_feat", [("raw", FS, 1), ("lfcc", 10, 26), ("spectrogram", 1, 13)])
def test_shapes_keep_whole_seconds_only(name, fps, n_feat):
    feature = F.get(name)
    assert feature.frames_per_s({}, FS) == fps and feature.n_features({}) == n_feat
    x = np.random.default_rng(0).standard_normal((3, 4 * FS + 137)).astype(np.float32)  # 4.5 s
    out = feature.compute(x, FS, {})
    assert out.dtype == np.float32 and out.shape == (4 * fps, 3, n_feat)
    assert np.isfinite(out).all()
    assert F.n_frames_for(x.shape[1], FS, fps) == 4 * fps


def test_raw_is_the_waveform():
    x = np.random.default_rng(1).standard_normal((2, 3 * FS + 10)).astype(np.float32)
    out = F.get("raw").compute(x, FS)
    np.testing.assert_array_equal(out[:, :, 0], x[:, :3 * FS].T)
    with pytest.raises(ConfigError, match="whole-number sampling rate, got 250.5 Hz"):
        F.get("raw").compute(x, 250.5)


def test_spectrogram_tone_lands_in_its_band_and_power_scales():
    spec = F.get("spectrogram")
    bands = [tuple(b) for b in spec.resolve({})["bands"]]
    for freq, band in [(11.0, (10.0, 13.0)), (3.0, (2.0, 4.0)), (45.0, (40.0, 50.0))]:
        out = spec.compute(tone(freq, 10), FS)
        assert (out[:, 0].argmax(axis=1) == bands.index(band)).all()
    quiet, loud = spec.compute(tone(11.0, 10), FS), spec.compute(tone(11.0, 10, amp=20.0), FS)
    k = bands.index((10.0, 13.0))
    np.testing.assert_allclose(loud[:, 0, k] - quiet[:, 0, k], np.log(4.0), atol=1e-3)
    # frames_per_s is configurable
    assert spec.compute(tone(11.0, 10), FS, {"frames_per_s": 4, "window_s": 1.0}).shape == (40, 1, 13)


def test_spectrogram_bad_bands_are_clear_errors():
    spec = F.get("spectrogram")
    with pytest.raises(ConfigError, match="band \\[100, 140\\] Hz reaches above the Nyquist frequency 125 Hz"):
        spec.compute(tone(10, 3), FS, {"bands": [[100, 140]]})
    with pytest.raises(ConfigError, match="band \\[10.1, 10.3\\] Hz holds no frequency bin"):
        spec.compute(tone(10, 3), FS, {"bands": [[10.1, 10.3]]})


def test_lfcc_matches_a_direct_per_frame_computation():
    x = np.random.default_rng(2).standard_normal((2, 5 * FS)).astype(np.float32) * 20
    p = F.get("lfcc").resolve({})
    out = F.get("lfcc").compute(x, FS)
    k, ch = 23, 1  # frame 23 covers [2.3, 2.4) s; its 0.2 s window is centred on it
    start = k * 25 - 12
    seg = x[ch, start:start + 50].astype(np.float64)
    w = np.hamming(50)
    power = np.abs(scipy.fft.rfft(seg * w, n=64)) ** 2 / np.sum(w ** 2)
    bank = F._linear_filter_bank(p["n_filters"], p["fmin_hz"], p["fmax_hz"], 64, FS)
    cep = scipy.fft.dct(np.log(bank @ power + F.POWER_FLOOR), type=2, norm="ortho")[1:8]
    np.testing.assert_allclose(out[k, ch, :7], cep, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(out[k, ch, 7], np.log(np.mean(seg ** 2) + F.POWER_FLOOR), rtol=1e-5)
    energies = out[k - 4:k + 5, ch, 7]
    assert out[k, ch, 8] == pytest.approx(energies.max() - energies.min(), abs=1e-5)
    n = np.arange(-4, 5)
    assert out[k, ch, 9 + 7] == pytest.approx(np.sum(n * energies) / np.sum(n * n), abs=1e-5)


def test_lfcc_responds_to_frequency_amplitude_and_change_as_expected():
    lfcc = F.get("lfcc")
    low, high = lfcc.compute(tone(5.0, 6), FS), lfcc.compute(tone(55.0, 6), FS)
    inner = slice(10, 50)
    # c1 weights low filters positively and high filters negatively
    assert (low[inner, 0, 0] > 1.0).all() and (high[inner, 0, 0] < -1.0).all()
    # amplitude x10: cepstra unchanged, energy + log(100), derivatives ~0 (stationary)
    loud = lfcc.compute(tone(5.0, 6, amp=100.0), FS)
    np.testing.assert_allclose(loud[inner, 0, :7], low[inner, 0, :7], atol=1e-3)
    np.testing.assert_allclose(loud[inner, 0, 7] - low[inner, 0, 7], np.log(100.0), atol=1e-3)
    assert np.abs(low[inner, 0, 8]).max() < 0.05  # differential energy of a steady tone
    assert np.abs(low[inner, 0, 9:]).max() < 0.05  # first and second derivatives
    # a burst: the energy rises, its derivative is positive at the onset, diff. energy is large
    x = tone(8.0, 6, amp=1.0)
    x[:, 3 * FS:] *= 50.0
    burst = lfcc.compute(x, FS)
    assert burst[30, 0, 7] - burst[20, 0, 7] > 2 * np.log(50.0) - 0.5
    assert burst[29:32, 0, 16].min() > 0.5 and burst[29:32, 0, 8].min() > 5.0


def test_lfcc_silent_channel_is_finite_and_constant():
    x = np.zeros((2, 3 * FS), dtype=np.float32)
    x[1] = tone(10.0, 3)[0]
    out = F.get("lfcc").compute(x, FS)
    assert np.isfinite(out).all()
    assert np.ptp(out[:, 0], axis=0).max() == 0.0
    np.testing.assert_allclose(out[:, 0, 7], np.log(F.POWER_FLOOR), rtol=1e-6)


def test_lfcc_band_above_nyquist_is_refused():
    with pytest.raises(ConfigError, match="fmax_hz \\(70\\) is above the Nyquist frequency 50 Hz"):
        F.get("lfcc").compute(tone(10, 2, fs=100), 100)


@pytest.mark.parametrize("name, params", [("lfcc", {}), ("lfcc", {"delta_frames": 21}), ("spectrogram", {}),
                                          ("spectrogram", {"window_s": 4.0}), ("raw", {})])
def test_context_s_is_enough_for_exact_frames(name, params):
    feature = F.get(name)
    c, fps = feature.context_s(params), feature.frames_per_s(params, FS)
    x = np.random.default_rng(3).standard_normal((2, 30 * FS)).astype(np.float32) * 20
    full = feature.compute(x, FS, params)
    a, b = 10, 20
    part = feature.compute(x[:, (a - c) * FS:(b + c) * FS], FS, params)
    np.testing.assert_allclose(part[c * fps:(c + b - a) * fps], full[a * fps:b * fps], rtol=1e-5, atol=1e-5)
    if c:  # and it is not larger than needed by a whole second
        short = feature.compute(x[:, (a - c + 1) * FS:(b + c - 1) * FS], FS, params)
        assert not np.allclose(short[(c - 1) * fps:(c - 1 + b - a) * fps], full[a * fps:b * fps], atol=1e-5)


@pytest.mark.parametrize("params", [{}, {"delta_frames": 1, "accel_frames": 1, "diff_energy_frames": 1},
                                    {"delta_frames": 21, "accel_frames": 5, "diff_energy_frames": 3}])
def test_lfcc_derivatives_and_differential_energy_equal_nearest_edge_filters(params):
    """Slopes and the max - min span are computed with shifted slices of edge-padded buffers;
    they must equal scipy.ndimage's filters with mode="nearest" everywhere, ends included."""
    from scipy import ndimage

    x = np.random.default_rng(4).standard_normal((3, 7 * FS)).astype(np.float32) * 20
    x[1, 3 * FS:] *= 30  # a step: large derivatives mid-signal
    p = F.get("lfcc").resolve(params)
    out = F.get("lfcc").compute(x, FS, params).transpose(1, 0, 2).astype(np.float64)  # (c, T, 26)

    def slope(v, span):
        n = np.arange(-(span // 2), span // 2 + 1)
        return ndimage.correlate1d(v, n / max(1, np.sum(n * n)), axis=1, mode="nearest")

    energy, span = out[..., 7], p["diff_energy_frames"]
    diff = (ndimage.maximum_filter1d(energy, span, axis=1, mode="nearest")
            - ndimage.minimum_filter1d(energy, span, axis=1, mode="nearest"))
    np.testing.assert_allclose(out[..., 8], diff, atol=1e-5)
    np.testing.assert_allclose(out[..., 9:18], slope(out[..., :9], p["delta_frames"]), atol=2e-5)
    np.testing.assert_allclose(out[..., 18:], slope(out[..., 9:17], p["accel_frames"]), atol=2e-5)


@pytest.mark.parametrize("fs, fps, win", [(250, 10, 50), (256, 10, 51), (256, 10, 25), (250, 4, 125), (100, 10, 7)])
@pytest.mark.parametrize("seconds", [1, 2.3, 40])
def test_analysis_windows_equal_those_of_the_reflected_signal(fs, fps, win, seconds):
    """Only the end windows are cut from extended pieces; all must equal windows of the whole
    signal extended by reflection (np.pad), with even (250 Hz) and uneven (256 Hz) frame hops."""
    x = np.random.default_rng(5).standard_normal((2, int(seconds * fs))).astype(np.float32)
    n_t = F.n_frames_for(x.shape[1], fs, fps)
    begin = (np.arange(n_t) * fs) // fps - (win - fs // fps) // 2
    left, right = max(0, -int(begin[0])), max(0, int(begin[-1]) + win - x.shape[1])
    padded = np.pad(x, ((0, 0), (left, right)), mode="reflect")
    expected = np.stack([padded[:, b + left:b + left + win] for b in begin], axis=1)
    np.testing.assert_array_equal(F._frames(x, fs, fps, win), expected)


@pytest.mark.parametrize("name, params", [("lfcc", {"frames_per_s": 5, "window_s": 0.4}), ("spectrogram", {}),
                                          ("raw", {})])
def test_apply_gain_equals_the_features_of_the_scaled_signal(name, params):
    """Gain jitter in training: the feature's own rule gives the features of a louder or quieter channel."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 250 * 20)).astype(np.float32) * 20
    gain_db = np.array([6.0, -4.5, 0.0])
    feat = F.get(name)
    scaled = feat.compute(x * (10 ** (gain_db / 20))[:, None].astype(np.float32), 250.0, params)
    shifted = feat.compute(x, 250.0, params)
    feat.apply_gain(shifted, gain_db, params)
    assert np.allclose(shifted, scaled, rtol=1e-4, atol=2e-3)
    unchanged = feat.compute(x, 250.0, params)
    assert name == "raw" or not np.allclose(unchanged[:, 0], scaled[:, 0], atol=1e-2)  # the gain did matter
