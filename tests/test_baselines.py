"""The fitted band-power baseline (and the line-length reference) on a small synthetic corpus."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from seizure.baselines import BASELINES, bandpower as bp, check_name, line_length
from seizure.corpus import preprocess
from seizure.errors import ConfigError, SignalQualityError
from seizure.io.edf import write_edf
from seizure.preprocess.recipe import Recipe
from seizure.store import FeatureStore
from seizure.synth import synthesize
from seizure.training.config import PostprocessConfig
from seizure.evaluation import choose_operating_point

FAST = bp.ClassifierParams(max_iter=30)
RECIPE = Recipe(feature="lfcc", feature_params={"frames_per_s": 5, "window_s": 0.4})
FS = 250.0


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("bandpower")
    synthesize(root / "corpus", 1.0, seed=3)
    preprocess(root / "corpus", root / "store", RECIPE)
    s = FeatureStore(root / "store")
    for split in ("train", "dev", "eval"):
        assert sum(r.n_seizures for r in s.records(split)) > 0, split
    return s


@pytest.fixture(scope="module")
def fitted(store):
    return bp.fit(store, seed=0, params=FAST)


def _auc(p: np.ndarray, y: np.ndarray) -> float:
    """Probability that a seizure second outranks a background second (ties count half)."""
    pos, neg = p[y == 1], p[y == 0]
    return float(((pos[:, None] > neg[None]).sum() + 0.5 * (pos[:, None] == neg[None]).sum()) / (pos.size * neg.size))


def test_separates_seizure_from_background_on_eval(store, fitted):
    p, y = [], []
    for r in store.records("eval"):
        probs = bp.predict_probs(fitted, r)
        labels = store.labels(r.rec_id)
        assert probs.shape == labels.shape and np.all((probs >= 0) & (probs <= 1))
        p.append(probs)
        y.append(labels)
    p_all, y_all = np.concatenate(p), np.concatenate(y)
    assert _auc(p_all, y_all) > 0.9
    assert np.median(p_all[y_all == 1]) > 0.5 > np.median(p_all[y_all == 0])
    s = fitted.summary()
    assert (s["fitted_on"], s["n_records"], s["features"]) == ("train", len(store.records("train")),
                                                             len(bp.FEATURE_NAMES))
    assert s["seizure_seconds"] == sum(int(store.labels(r.rec_id).sum()) for r in store.records("train"))


def test_fitted_predictions_depend_on_the_training_data(store, fitted):
    rec = store.records("eval")[0]
    again = bp.fit(store, seed=0, params=FAST)  # deterministic: cached features, same seed
    np.testing.assert_array_equal(bp.predict_probs(again, rec), bp.predict_probs(fitted, rec))
    other = bp.fit(store, "dev", seed=0, params=FAST)  # other training data, other model
    assert np.abs(bp.predict_probs(other, rec) - bp.predict_probs(fitted, rec)).max() > 0.05


def test_features_are_cached_and_reused(store, fitted, monkeypatch):
    rec = store.records("eval")[0]
    expected = bp.predict_probs(fitted, rec)
    assert list((store.root / "cache" / "bandpower").glob(f"{rec.rec_id}.*.npy"))

    def refuse(*args, **kwargs):
        raise AssertionError("features recomputed despite the cache")

    monkeypatch.setattr(bp, "recording_features", refuse)
    np.testing.assert_array_equal(bp.predict_probs(fitted, rec), expected)
    # an EDF path (not a stored record) is computed, never cached
    monkeypatch.undo()
    np.testing.assert_allclose(bp.predict_probs(fitted, rec.edf_path), expected, atol=1e-6)


def test_worker_processes_compute_the_same_features_and_fit(store, fitted, tmp_path):
    """``jobs=2`` fills the cache in worker processes: the same bytes as one process, and the
    same fitted model; a recording that fails in a worker is left uncached."""
    records = store.records()
    bp.cache_features(records, store.recipe, tmp_path / "two", jobs=2)
    bp.cache_features(records, store.recipe, tmp_path / "one", jobs=1)
    two = sorted((tmp_path / "two").iterdir())
    assert len(two) == len(records)
    for path in two:
        np.testing.assert_array_equal(np.load(path), np.load(tmp_path / "one" / path.name))
    bp.cache_features(store.records("train"), store.recipe, tmp_path / "fit", jobs=2)
    again = bp.fit(store, seed=0, params=FAST, cache_dir=tmp_path / "fit")
    rec = store.records("eval")[0]
    np.testing.assert_array_equal(bp.predict_probs(again, rec), bp.predict_probs(fitted, rec))
    broken = dataclasses.replace(records[0], rec_id="broken", edf_path=str(tmp_path / "missing.edf"))
    bp.cache_features([broken], store.recipe, tmp_path / "bad", jobs=2)
    assert not list((tmp_path / "bad").glob("broken.*"))


def test_operating_point_uses_the_models_rule(store, fitted):
    pp = PostprocessConfig(smooth_s=(0.0, 3.0), min_duration_s=(0.0, 5.0), merge_gap_s=(0.0,))
    operated, probs = bp.operate(fitted, store, "dev", pp)
    dev = store.records("dev")
    assert operated.operating_point == choose_operating_point(probs, dev, pp)[0]
    assert operated.dev["split"] == "dev" and operated.summary()["operating_point"]["threshold"] == \
        operated.operating_point.threshold
    assert fitted.operating_point is None  # the fitted model is left as it was


def test_no_nan_on_flat_and_masked_channels(tmp_path):
    rng = np.random.default_rng(0)
    labels = [f"EEG {e}-REF" for e in "FP1 FP2 F3 F4 C3 C4 P3 P4 O1 O2 F7 F8 T3 T4 T5 T6 A1 A2 FZ CZ PZ".split()]
    data = (rng.standard_normal((len(labels), int(FS * 40))) * 20).astype(np.float32)
    data[labels.index("EEG O1-REF")] = 0.0  # flat electrode: the pipeline masks its channels
    data[labels.index("EEG F7-REF")] = data[labels.index("EEG FP1-REF")]  # FP1-F7 is flat (zero)
    write_edf(tmp_path / "flat.edf", data, labels, FS)
    per_channel, mask = bp.channel_features(tmp_path / "flat.edf", RECIPE)
    assert per_channel.shape == (40, 22, len(bp.CHANNEL_FEATURES)) and np.isfinite(per_channel).all()
    assert not mask.all()
    x = bp.pool_features(per_channel, mask)
    assert x.shape == (40, len(bp.FEATURE_NAMES)) and np.isfinite(x).all()
    # a flat channel takes no part in the pooling, whether or not the mask says so
    log_var = per_channel[:, :, bp.CHANNEL_FEATURES.index("log_variance")]
    assert (log_var[:, 0] < -20).all() and (log_var[:, 1:] > 0).all()  # FP1-F7 flat, all else live
    with_flat = mask.copy()
    with_flat[0] = True
    np.testing.assert_array_equal(bp.pool_features(per_channel, with_flat), x)
    masked = np.ones(22, bool)
    masked[[0, 5]] = False
    y = bp.pool_features(per_channel, masked)
    assert np.isfinite(y).all() and not np.allclose(x, y)
    window = bp.window_features(np.zeros((3, 500)), FS)
    assert np.isfinite(window).all()
    with pytest.raises(SignalQualityError, match="no usable channel"):
        bp.pool_features(np.broadcast_to(window, (10, 3, len(bp.CHANNEL_FEATURES))), None)
    with pytest.raises(SignalQualityError, match="no usable channel"):
        bp.pool_features(per_channel, np.zeros(22, bool))


def test_registry_and_line_length_reference(store):
    assert set(BASELINES) == {"bandpower", "line_length"} and check_name("bandpower") == "bandpower"
    with pytest.raises(ConfigError, match="valid: bandpower, line_length"):
        check_name("svm")
    rec = store.records("eval")[0]
    p = line_length.predict_probs(rec, store.recipe)
    assert p.shape == (rec.n_seconds,) and np.isfinite(p).all()
