"""Per-recording normalisation: one definition, the same values from every reader."""

import dataclasses

import numpy as np
import pytest

from seizure import checkpoint
from seizure.corpus import preprocess
from seizure.errors import ConfigError
from seizure.preprocess import normalize
from seizure.preprocess.pipeline import EdfPipeline, process_edf
from seizure.preprocess.recipe import Recipe
from seizure.store import FeatureStore
from seizure.training.config import load_config
from bids_factory import TINY, make_checkpoint, write_recording
from test_corpus import v2_tree

NORM = Recipe(normalize="recording_median")


def test_the_median_of_every_second_is_subtracted(tmp_path):
    path = write_recording(tmp_path / "r.edf", seconds=95.0)
    plain = process_edf(path, Recipe()).features
    normed = process_edf(path, NORM, chunk_s=7).features  # chunks of 7 s: the sampled frames span several
    fps = 10
    expected = plain - np.median(plain[::fps], axis=0)  # < 3600 s: the first frame of every second
    np.testing.assert_allclose(normed, expected, atol=2e-5 * np.abs(plain).max())  # chunked vs whole: float32 rounding
    np.testing.assert_allclose(np.median(normed[::fps], axis=0), 0.0, atol=1e-5)


def test_kept_first_pass_features_equal_a_second_pass(tmp_path, monkeypatch):
    path = write_recording(tmp_path / "r.edf", seconds=95.0)
    kept = process_edf(path, NORM, chunk_s=30).features
    monkeypatch.setattr(normalize, "KEEP_MB", 0.0)  # too large to keep: the file is read again
    calls = []

    def montaged(chunk):
        calls.append(chunk.start_s)

    with EdfPipeline(path, NORM, chunk_s=30) as pipe:
        again = np.concatenate([c.features for c in pipe.feature_chunks(montaged)])
    np.testing.assert_array_equal(again, kept)
    assert calls == [0, 30, 60, 90]  # the signal is handed over once, not once per pass


def test_long_recordings_sample_a_bounded_number_of_frames(tmp_path, monkeypatch):
    monkeypatch.setattr(normalize, "MAX_SAMPLES", 10)
    path = write_recording(tmp_path / "r.edf", seconds=95.0)
    assert normalize.stride_s(95) == 10
    plain = process_edf(path, Recipe()).features
    expected = plain - np.median(plain[::100], axis=0)  # seconds 0, 10, ..., 90: 10 frames
    for chunk_s in (7, 1000):
        np.testing.assert_allclose(process_edf(path, NORM, chunk_s=chunk_s).features, expected,
                                   atol=2e-5 * np.abs(plain).max())  # chunked vs whole: float32 rounding


def test_a_second_pass_recording_computes_only_the_sampled_frames_first(tmp_path, monkeypatch):
    """Too long to keep: the first pass computes the first frame of each sampled second only
    (each from that second and its context), and the median equals the whole file's."""
    monkeypatch.setattr(normalize, "MAX_SAMPLES", 10)
    path = write_recording(tmp_path / "r.edf", seconds=95.0)
    plain = process_edf(path, Recipe()).features
    kept = process_edf(path, NORM, chunk_s=30).features  # 95 s fits: every feature kept
    monkeypatch.setattr(normalize, "KEEP_MB", 0.0)
    sampled = []
    first_frames = EdfPipeline._first_frames

    def spy(self, seconds, *args):
        out = first_frames(self, seconds, *args)
        sampled.append((list(seconds), out))
        return out

    monkeypatch.setattr(EdfPipeline, "_first_frames", spy)
    for chunk_s in (7, 30, 1000):
        sampled.clear()
        again = process_edf(path, NORM, chunk_s=chunk_s).features
        assert [s for seconds, _ in sampled for s in seconds] == list(range(0, 95, 10))
        frames = np.concatenate([out for _, out in sampled])
        np.testing.assert_allclose(frames, plain[::100], atol=2e-5 * np.abs(plain).max())  # float32 rounding
        np.testing.assert_allclose(again, kept, atol=2e-5 * np.abs(plain).max())


def test_a_recordings_gain_is_taken_out(tmp_path):
    """12 dB more signal: LFCC log energies move by 12 dB's worth; normalised, they do not."""
    rng_path = write_recording(tmp_path / "a.edf", seconds=60.0, burst=None)
    from seizure.io.edf import read_edf, write_edf

    rec = read_edf(rng_path)
    loud = write_edf(tmp_path / "b.edf", rec.data * 4.0, rec.labels, rec.fs_hz)
    energy = 7  # LFCC: c1..c7, then the frame's log energy
    plain_a, plain_b = (process_edf(p, Recipe()).features for p in (rng_path, loud))
    assert np.median(plain_b[..., energy] - plain_a[..., energy]) == pytest.approx(np.log(16.0), abs=0.05)
    norm_a, norm_b = (process_edf(p, NORM).features for p in (rng_path, loud))
    assert np.abs(norm_b - norm_a).max() < 0.02


def test_the_store_holds_what_scoring_computes(tmp_path):
    root = v2_tree(tmp_path / "tusz", seconds=30)
    summary = preprocess(root, tmp_path / "store", NORM)
    assert summary.failed == 0
    store = FeatureStore(tmp_path / "store")
    assert store.recipe == NORM
    for meta in store.records():
        np.testing.assert_array_equal(store.features(meta.rec_id), process_edf(meta.edf_path, NORM).features)


def test_quality_checks_run_once_over_two_passes(tmp_path):
    """A flat electrode and a clipped one are reported once, as in one pass."""
    from seizure.io.edf import read_edf, write_edf

    rec = read_edf(write_recording(tmp_path / "a.edf", seconds=40.0))
    data = rec.data.copy()
    data[rec.channels.index("O2")] = 0.0
    data[rec.channels.index("C3"), 1000:1200] = 5000.0  # at the physical maximum written below
    path = write_edf(tmp_path / "r.edf", data, rec.labels, rec.fs_hz, physical_range=(-5000.0, 5000.0))
    reports = []
    for recipe in (NORM, Recipe()):
        with EdfPipeline(path, recipe) as pipe:
            assert sum(c.features.shape[0] for c in pipe.feature_chunks()) == pipe.n_frames
            reports.append(pipe.report())
    two, one = reports
    assert one.flat_channels and one.clipped and one.warnings
    np.testing.assert_array_equal(two.mask, one.mask)
    assert (two.flat_electrodes, two.flat_channels, two.clipped, two.warnings) == \
        (one.flat_electrodes, one.flat_channels, one.clipped, one.warnings)


def test_scoring_an_edf_or_an_mne_raw_equals_the_model_on_the_features(tmp_path):
    """`seizure score` and `score_raw` (two streaming passes each) give the model's probabilities
    on the whole recording's normalised features."""
    import mne

    from seizure.detect import detect_recording
    from seizure.models.inference import predict_array
    from seizure.raw import score_raw

    path = write_recording(tmp_path / "edf" / "r.edf", seconds=130.5)
    ckpt = checkpoint.load(make_checkpoint(tmp_path / "m.pt", overrides=[*TINY, "recipe.normalize=recording_median"]))
    assert ckpt.recipe.normalize == "recording_median"
    res = detect_recording(ckpt, path, tmp_path / "out", chunk_s=17)
    whole = process_edf(path, ckpt.recipe)
    expected = predict_array(ckpt.model, whole.features, whole.frames_per_s, whole.mask, window_s=60, context_s=20)
    np.testing.assert_allclose(res.probs, expected, atol=2e-5)
    raw = score_raw(ckpt, mne.io.read_raw_edf(path, preload=False, verbose="error"))
    np.testing.assert_allclose(raw.probs, res.probs, atol=1e-5)
    plain = process_edf(path, dataclasses.replace(ckpt.recipe, normalize="none"))
    unnormalised = predict_array(ckpt.model, plain.features, plain.frames_per_s, plain.mask, window_s=60,
                                 context_s=20)
    assert np.abs(res.probs - unnormalised).max() > 1e-3  # the normalisation reached the model


def test_recipe_field_keeps_old_hashes_and_is_checked():
    assert "normalize" not in Recipe().to_dict()
    assert Recipe().hash() != NORM.hash()
    assert NORM.to_dict()["normalize"] == "recording_median"
    assert Recipe.from_dict(NORM.to_dict()) == NORM
    assert NORM.steps()[-1] == {"step": "normalize", "name": "recording_median"}
    with pytest.raises(ConfigError, match="unknown recipe.normalize 'zscore'; valid normalizations: none, "
                                          "recording_median"):
        Recipe(normalize="zscore")
    with pytest.raises(ConfigError, match="recipe.normalize"):
        load_config(None, ["recipe.normalize=mean"])
