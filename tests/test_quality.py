import numpy as np
import pytest

from seizure.preprocess import signal as sig
from seizure.errors import SignalQualityError
from seizure.io.edf import write_edf
from seizure.preprocess.pipeline import process_edf
from seizure.preprocess.quality import FLAT_STD_UV, QualityMonitor, check_finite
from seizure.preprocess.recipe import Recipe

ELECTRODES = "FP1 FP2 F3 F4 C3 C4 P3 P4 O1 O2 F7 F8 T3 T4 T5 T6 A1 A2 FZ CZ PZ".split()


def eeg(seconds, fs, n=len(ELECTRODES), seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(seconds * fs) / fs
    return rng.standard_normal((n, t.size)) * 15 + 20 * np.sin(2 * np.pi * 10 * t) + rng.normal(0, 200, (n, 1))


def write(path, data, fs, electrodes=ELECTRODES, **kw):
    return write_edf(path, data, [f"EEG {e}-REF" for e in electrodes], fs, **kw)


def test_check_finite_names_the_channels():
    x = np.ones((3, 10), dtype=np.float32)
    check_finite(x, ["A", "B", "C"], "after filtering")
    x[1, 4], x[2, 0] = np.nan, np.inf
    with pytest.raises(SignalQualityError, match="x.edf: NaN/Inf after filtering in channel\\(s\\) B, C"):
        check_finite(x, ["A", "B", "C"], "after filtering", "x.edf")


def test_monitor_flat_electrode_masks_its_pairs_and_flat_pair_is_masked():
    electrodes, channels = ["E1", "E2", "E3", "E4"], ["E1-E2", "E2-E3", "E3-E4", "E1-E4"]
    uses = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1], [1, 0, 0, 1]], bool)
    mon = QualityMonitor(electrodes, channels, uses)
    rng = np.random.default_rng(0)
    for _ in range(3):  # chunk by chunk
        raw = rng.normal(0, 10, (4, 1000))
        raw[1] = 5.0  # E2 flat (a constant is flat whatever its level)
        raw[3] = raw[2] + 0.01 * rng.normal(size=1000)  # E4 bridged to E3: E3-E4 flat
        mon.add_raw(raw.astype(np.float32))
        mon.add_montaged(np.stack([raw[0] - raw[1], raw[1] - raw[2], raw[2] - raw[3], raw[0] - raw[3]]).astype(np.float32))
    rep = mon.report(np.ones(4, bool), min_channels=1)
    assert rep.flat_electrodes == ["E2"]
    assert rep.flat_channels == ["E1-E2", "E2-E3", "E3-E4"]
    assert rep.mask.tolist() == [False, False, False, True]
    assert any("flat electrode(s) E2" in w for w in rep.warnings)
    with pytest.raises(SignalQualityError, match="only 1 usable channel\\(s\\) after masking flat channel\\(s\\) "
                                                 "E1-E2, E2-E3, E3-E4; the recipe needs min_channels=2"):
        mon.report(np.ones(4, bool), min_channels=2)


def test_monitor_reports_clipping_at_the_digital_limit_and_at_a_constant_ceiling():
    rng = np.random.default_rng(1)
    raw = rng.normal(0, 50, (3, 40000)).astype(np.float32)
    raw[0] = np.clip(raw[0], -100, 100)  # ~5 % of samples at +-100 = the digital range
    raw[1] = np.minimum(raw[1], 80)  # a ceiling inside the digital range
    mon = QualityMonitor(["A", "B", "C"], ["A-B"], np.array([[1, 1, 0]], bool),
                         digital_limits=[(-100.0, 100.0), (-500.0, 500.0), (-500.0, 500.0)])
    mon.add_raw(raw)
    mon.add_montaged(raw[:1] - raw[1:2])
    rep = mon.report(np.ones(1, bool), 1)
    assert set(rep.clipped) == {"A", "B"} and 0.02 < rep.clipped["A"] < 0.03
    text = " ".join(rep.warnings)
    assert "clipped electrode A" in text and "(digital maximum)" in text and "(digital minimum)" in text
    assert "clipped electrode B" in text and "at 80 uV (a constant extreme)" in text
    assert rep.mask.all()  # clipping warns, it does not mask


def test_statistics_gathered_chunk_by_chunk_equal_those_of_the_whole_signal():
    """Counts at the running extremes are only updated where a chunk reaches them; the result
    must equal counting over all strided samples at once (a ceiling hit again and again, a
    new minimum late, a flat electrode, a DC offset)."""
    from seizure.preprocess.quality import STRIDE, _Moments

    rng = np.random.default_rng(2)
    x = rng.normal(0, 20, (4, 64 * 1000)).astype(np.float32)
    x[0] = np.minimum(x[0], 25.0)  # a ceiling reached in every chunk
    x[1, 50_000] = -500.0  # the minimum appears late
    x[2] = 7.0  # flat
    x[3] += 10_000.0  # offset: the variance must not suffer
    whole = x[:, ::STRIDE].astype(np.float64)
    moments = _Moments(4)
    for a in range(0, x.shape[1], 64 * 37):  # chunk lengths are multiples of the stride
        moments.add(x[:, a:a + 64 * 37])
    assert moments.n == whole.shape[1]
    np.testing.assert_array_equal(moments.lo, whole.min(axis=1))
    np.testing.assert_array_equal(moments.hi, whole.max(axis=1))
    np.testing.assert_array_equal(moments.n_lo, (whole == whole.min(axis=1, keepdims=True)).sum(axis=1))
    np.testing.assert_array_equal(moments.n_hi, (whole == whole.max(axis=1, keepdims=True)).sum(axis=1))
    np.testing.assert_allclose(moments.std, whole.std(axis=1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(moments.mean, whole.mean(axis=1), rtol=1e-6)


@pytest.mark.parametrize("fs", [100, 512, 1000])
def test_pipeline_at_unusual_rates_is_finite_and_reports_skipped_steps(tmp_path, fs):
    path = write(tmp_path / "r.edf", eeg(20, fs), fs)
    out = process_edf(path, Recipe())
    assert out.features.shape == (200, 22, 26) and np.isfinite(out.features).all()
    assert out.fs_hz_original == fs and out.mask.all()
    skipped = [w for w in out.warnings if "skipped" in w]
    assert len(skipped) == (2 if fs == 100 else 0)


def test_pipeline_masks_flat_electrode_and_warns_about_clipping(tmp_path):
    data = eeg(30, 256)
    data[ELECTRODES.index("T3")] = 0.0  # disconnected
    o1 = ELECTRODES.index("O1")
    data[o1] = np.clip(data[o1], -150, 150)
    limits = [(-1000.0, 1000.0)] * len(ELECTRODES)
    limits[o1] = (-150.0, 150.0)
    path = write(tmp_path / "r.edf", data, 256, physical_range=limits)
    out = process_edf(path, Recipe())
    masked = [c for c, m in zip(out.channels, out.mask) if not m]
    assert masked == ["F7-T3", "T3-T5", "A1-T3", "T3-C3"]
    assert any("flat electrode(s) T3" in w for w in out.warnings)
    assert any(w.startswith("clipped electrode O1") for w in out.warnings)


def test_too_few_usable_channels_after_flat_masking_is_refused(tmp_path):
    electrodes = [e for e in ELECTRODES if e not in ("A1", "A2")]  # 03_tcp_ar_a: 20 of 22 pairs
    data = eeg(10, 256, len(electrodes))
    data[electrodes.index("C3")] = 3.0
    data[electrodes.index("C4")] = -7.0
    path = write(tmp_path / "r.edf", data, 256, electrodes)
    with pytest.raises(SignalQualityError, match="r.edf: only 12 usable channel\\(s\\) after masking flat"):
        process_edf(path, Recipe())
    assert 0 < FLAT_STD_UV < 1


@pytest.fixture
def fresh_gain_cache():
    sig._gain.cache_clear()
    yield
    sig._gain.cache_clear()  # drop gains computed with a patched design


def unstable(spec, freqs_hz):
    """A huge (finite) resonance at 8-12 Hz: what a badly conditioned filter amounts to."""
    f = np.asarray(freqs_hz, dtype=np.float64)
    return np.where(np.abs(f - 10.0) < 2.0, 1e36, 1.0)


def nan_design(spec, freqs_hz):
    return np.full(np.shape(freqs_hz), np.nan)


@pytest.mark.parametrize("fs", [100, 512, 1000])
@pytest.mark.parametrize("design, message", [
    (nan_design, "r.edf: the bandpass filter 0.5/.* at {fs} Hz has a non-finite response"),
    (unstable, "r.edf: NaN/Inf (after filtering at {fs} Hz|in the lfcc features) in channel"),
])
def test_nan_or_inf_from_a_bad_filter_design_is_caught(tmp_path, monkeypatch, fresh_gain_cache, fs, design, message):
    monkeypatch.setattr(sig, "zero_phase_gain", design)
    path = write(tmp_path / "r.edf", eeg(10, fs), fs)
    with pytest.raises(SignalQualityError, match=message.format(fs=fs)):
        process_edf(path, Recipe())
