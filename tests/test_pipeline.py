import tracemalloc

import numpy as np
import pytest

from seizure.preprocess import montage
from seizure.errors import AnnotationError, ConfigError, EDFError, MontageError
from seizure.events import Event
from seizure.io.annotations import write_csv, write_csv_bi, write_tse_bi
from seizure.io.edf import EdfReader, read_edf, write_edf
from seizure.preprocess.pipeline import (EdfPipeline, iter_feature_chunks, iter_montaged_chunks, labels_for,
                                         process_edf)
from seizure.preprocess.recipe import Recipe
from seizure.preprocess.signal import apply_steps
from seizure.store import feature_info

ELECTRODES = "FP1 FP2 F3 F4 C3 C4 P3 P4 O1 O2 F7 F8 T3 T4 T5 T6 A1 A2 FZ CZ PZ".split()
EXTRA = ["EEG EKG1-REF", "EMG-REF", "PHOTIC-REF"]


def eeg(seconds, fs, n=len(ELECTRODES), seed=0):
    """Noise + alpha + a slow drift + electrode offsets: enough structure to catch misalignment."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * fs)) / fs
    x = rng.standard_normal((n, t.size)) * 15 + 20 * np.sin(2 * np.pi * 10 * t + rng.uniform(0, 6, (n, 1)))
    return x + 30 * np.sin(2 * np.pi * 0.05 * t) + rng.normal(0, 300, (n, 1))


def write_rec(path, seconds=60, fs=256, electrodes=ELECTRODES, suffix="REF", extra=True, **kw):
    data = eeg(seconds, fs, len(electrodes) + (len(EXTRA) if extra else 0))
    labels = [f"EEG {e}-{suffix}" for e in electrodes] + (EXTRA if extra else [])
    return write_edf(path, data, labels, fs, **kw)


@pytest.mark.parametrize("feature", ["lfcc", "raw", "spectrogram"])
def test_chunked_equals_whole_file(tmp_path, feature):
    path = write_rec(tmp_path / "r.edf", seconds=95)
    recipe = Recipe(feature=feature)
    whole = process_edf(path, recipe, chunk_s=1000).features
    chunked = process_edf(path, recipe, chunk_s=7).features  # boundaries every 7 s
    assert chunked.shape == whole.shape
    scale = np.abs(whole).max()
    assert np.abs(chunked - whole).max() < 2e-5 * scale  # everywhere, file edges included
    starts = [c.start_s for c in iter_feature_chunks(path, recipe, chunk_s=30)]
    assert starts == [0, 30, 60, 90]


@pytest.mark.parametrize("fs_in, record_s", [(249.75, 4.0), (100.0, 1.0), (512.0, 1.0)])
def test_chunked_equals_whole_file_at_other_rates(tmp_path, fs_in, record_s):
    """249.75 Hz (999 samples per 4 s record): chunks fall on multiples of 4 s."""
    data = eeg(64, fs_in)
    path = write_edf(tmp_path / "r.edf", data, [f"EEG {e}-REF" for e in ELECTRODES], fs_in, record_duration_s=record_s)
    with EdfPipeline(path, Recipe()) as pipe:
        assert pipe.signal_plan.granule_s == (4 if fs_in == 249.75 else 1)
    whole = process_edf(path, Recipe(), chunk_s=1000).features
    chunked = process_edf(path, Recipe(), chunk_s=10).features
    assert whole.shape == chunked.shape == (640, 22, 26)
    assert np.abs(chunked - whole).max() < 2e-5 * np.abs(whole).max()


@pytest.mark.parametrize("name, n_channels, spectra", [("tcp", 22, True), ("double_banana", 18, False)])
def test_montaged_chunks_equal_the_whole_recording_filtered_at_once(tmp_path, name, n_channels, spectra):
    """TCP forms its 22 channels from 19 electrodes on the spectra (fewer transforms), the
    double banana its 18 from 19 before them: both equal montage-then-filter of the whole file."""
    path = write_rec(tmp_path / "r.edf", seconds=80)
    recipe = Recipe(montage=name)
    with EdfPipeline(path, recipe) as pipe:
        assert pipe._montage_on_spectra is spectra
    chunks = list(iter_montaged_chunks(path, recipe, chunk_s=25))
    assert [c.start_s for c in chunks] == [0, 25, 50, 75] and chunks[0].fs_hz == 250.0
    joined = np.concatenate([c.data for c in chunks], axis=1)
    bipolar = montage.apply(read_edf(path), name)
    ref, fs_out = apply_steps(bipolar.data, 256, recipe)
    assert fs_out == 250.0 and joined.shape == ref.shape == (n_channels, 80 * 250)
    assert np.abs(joined - ref).max() < 1e-4 * np.abs(ref).max()


def test_processed_metadata_and_whole_seconds_only(tmp_path):
    path = write_rec(tmp_path / "r.edf", seconds=20.5, record_duration_s=0.5)
    out = process_edf(path, Recipe())
    assert out.duration_s == 20.5 and out.n_seconds == 20 and out.features.shape == (200, 22, 26)
    assert out.channels == montage.MONTAGES["tcp"].channels and out.mask.all() and out.missing == []
    assert (out.fs_hz_original, out.fs_hz, out.frames_per_s) == (256.0, 250.0, 10)
    info = feature_info(Recipe())
    assert (info.channels, info.n_features, info.frames_per_s) == (tuple(out.channels), 26, 10)
    assert feature_info(Recipe(feature="raw")).frames_per_s == 250


def test_tcp_ar_a_without_a1_a2_is_zero_filled_and_masked(tmp_path):
    electrodes = [e for e in ELECTRODES if e not in ("A1", "A2")]
    path = write_rec(tmp_path / "r.edf", seconds=12, electrodes=electrodes, suffix="LE")
    out = process_edf(path, Recipe(feature="raw"))
    masked = [c for c, m in zip(out.channels, out.mask) if not m]
    assert masked == out.missing == ["A1-T3", "T4-A2"]
    assert not out.features[:, ~out.mask].any()  # zero-filled
    with pytest.raises(MontageError, match="cannot form A1-T3, T4-A2"):
        process_edf(path, Recipe(missing_channels="refuse"))


def test_reads_only_the_signals_the_montage_needs(tmp_path, monkeypatch):
    path = write_rec(tmp_path / "r.edf", seconds=10)
    seen = set()
    original = EdfReader.read_samples

    def spy(self, start, stop, indices=None):
        seen.update(indices)
        return original(self, start, stop, indices)

    monkeypatch.setattr(EdfReader, "read_samples", spy)
    process_edf(path, Recipe())
    labels = [EdfReader(path).signals[i].label for i in sorted(seen)]
    assert len(labels) == 19 and not any(x in labels for x in EXTRA + ["EEG FZ-REF", "EEG PZ-REF"])


def test_memory_is_bounded_by_the_chunk_not_the_recording(tmp_path):
    short = write_rec(tmp_path / "short.edf", seconds=4 * 60, extra=False)
    long = write_rec(tmp_path / "long.edf", seconds=16 * 60, extra=False)

    def peak(path):
        tracemalloc.start()
        for chunk in iter_feature_chunks(path, Recipe(), chunk_s=30):
            del chunk
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    p_short, p_long = peak(short), peak(long)
    long_f32 = 21 * 16 * 60 * 256 * 4
    assert p_long < 1.3 * p_short and p_long < 0.5 * long_f32


def test_labels_from_the_sidecar(tmp_path):
    path = write_rec(tmp_path / "r.edf", seconds=30)
    write_csv_bi(path.with_suffix(".csv_bi"), [Event(10.2, 14.6, "seiz")], 30.0)
    write_csv(path.with_suffix(".csv"), [Event(1.0, 3.0, "fnsz", channel="FP1-F7")], 30.0)
    lab = labels_for(path, 30.0)
    assert lab.sidecar.suffix == ".csv_bi"  # preferred over .csv
    assert lab.per_second.dtype == np.uint8 and lab.per_second.shape == (30,)
    assert np.flatnonzero(lab.per_second).tolist() == [10, 11, 12, 13, 14]  # midpoints 10.5 .. 14.5
    assert [(e.start_s, e.stop_s) for e in lab.seizures] == [(10.2, 14.6)]
    assert labels_for(path, 30.5, n_seconds=30).per_second.shape == (30,)


def test_labels_from_a_v1_tse_bi_and_missing_sidecar(tmp_path):
    path = write_rec(tmp_path / "r.edf", seconds=10)
    with pytest.raises(AnnotationError, match="r.edf: no annotation file beside the EDF"):
        labels_for(path, 10.0)
    write_tse_bi(path.with_suffix(".tse_bi"), [Event(2.0, 4.0, "seiz")], 10.0)
    assert labels_for(path, 10.0).per_second.tolist() == [0, 0, 1, 1, 0, 0, 0, 0, 0, 0]


def test_bad_inputs_are_clear_errors(tmp_path):
    bad = tmp_path / "bad.edf"
    bad.write_bytes(b"this is not an EDF file" * 20)
    with pytest.raises(EDFError, match="bad.edf"):
        process_edf(bad, Recipe())
    few = write_rec(tmp_path / "few.edf", seconds=5, electrodes=["FP1", "F7", "T3", "C3"], extra=False)
    with pytest.raises(MontageError, match="few.edf: montage 'tcp' needs at least 16"):
        process_edf(few, Recipe())
    ok = write_rec(tmp_path / "ok.edf", seconds=5)
    with pytest.raises(ConfigError, match="unknown feature 'wavelet'"):
        process_edf(ok, Recipe(feature="wavelet"))
    with pytest.raises(ConfigError, match="chunk_s must be at least 1 second"):
        EdfPipeline(ok, Recipe(), chunk_s=0.5)
    with pytest.raises(ConfigError, match="min_channels must be an integer from 1 to 22"):
        process_edf(ok, Recipe(min_channels=30))
    tiny = write_rec(tmp_path / "tiny.edf", seconds=0.5, record_duration_s=0.5)
    with pytest.raises(EDFError, match="tiny.edf: recording lasts 0.5 s; at least one whole second"):
        process_edf(tiny, Recipe())


def test_report_needs_a_complete_iteration(tmp_path):
    path = write_rec(tmp_path / "r.edf", seconds=5)
    with EdfPipeline(path, Recipe()) as pipe:
        with pytest.raises(RuntimeError, match="complete iteration"):
            pipe.report()
        assert sum(c.features.shape[0] for c in pipe.feature_chunks()) == pipe.n_frames == 50
        assert pipe.report().mask.all()
        with pytest.raises(RuntimeError, match="iterated only once"):
            next(pipe.montaged_chunks())


@pytest.mark.slow
def test_a_24_hour_recording_stays_well_under_1_5_gb(tmp_path):
    """Peak traced memory while streaming the features of a 24 h, 21-channel, 256 Hz file."""
    path = tmp_path / "day.edf"
    from seizure.io.edf import EdfWriter

    fs, hours = 256, 24
    labels = [f"EEG {e}-REF" for e in ELECTRODES]
    rng = np.random.default_rng(0)
    block = (rng.standard_normal((21, 3600 * fs)) * 20).astype(np.float32)
    with EdfWriter(path, labels, [fs] * 21, physical_ranges=[(-500.0, 500.0)] * 21) as w:
        for _ in range(hours):
            w.write(block)
    del block
    tracemalloc.start()
    n = 0
    for chunk in iter_feature_chunks(path, Recipe()):
        n += chunk.features.shape[0]
    _, top = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert n == hours * 3600 * 10
    assert top < 300 * 2**20  # the 24 h float32 recording alone would be 7.7 GB
