import numpy as np
import pytest

from seizure.errors import RecipeMismatchError, SeizureError
from seizure.preprocess.recipe import Recipe
from seizure.store import FeatureInfo, FeatureStore, RecordMeta, StoreWriter

INFO = FeatureInfo(("FP1-F7", "F7-T3"), 26, 10)


def test_recipe_hash_is_stable_and_sensitive():
    assert Recipe().hash() == Recipe().hash()
    assert Recipe(notch_hz=(50.0,)).hash() != Recipe().hash()
    assert Recipe.from_dict(Recipe(feature="raw").to_dict()) == Recipe(feature="raw")
    with pytest.raises(ValueError, match="Nyquist"):
        Recipe(fs_hz=100.0, lowpass_hz=70.0)


def test_write_read_roundtrip_and_manifest(tmp_path):
    w = StoreWriter(tmp_path, Recipe(), INFO)
    x = np.random.default_rng(0).normal(size=(50, 2, 26)).astype(np.float32)
    meta = RecordMeta("p_s001_t000", "train", "p", "a.edf", n_seconds=5, n_frames=50,
                      channel_mask=[True, False], missing_channels=["F7-T3"], seizures=[[1.0, 3.5]])
    w.write_ok(meta, np.array([0, 1, 1, 1, 0]), x)
    w.write_error(RecordMeta("q_s001_t000", "dev", "q", "b.edf"), "truncated\nfile")
    store = FeatureStore(tmp_path)
    assert [m.rec_id for m in store.records()] == ["p_s001_t000"]
    assert [m.status for m in store.records(status=None)] == ["ok", "error"]
    np.testing.assert_array_equal(store.features("p_s001_t000"), x)
    assert store.labels("p_s001_t000").tolist() == [0, 1, 1, 1, 0]
    assert store.records()[0].seizure_s == 2.5
    assert w.is_done("p_s001_t000") and not w.is_done("q_s001_t000")
    text = w.write_manifest().read_text().splitlines()
    assert len(text) == 3 and "truncated file" in text[2]


def test_untrusted_partial_record_is_not_listed(tmp_path):
    w = StoreWriter(tmp_path, Recipe(), INFO)
    (tmp_path / "records" / "r.json").write_text("{not json")
    assert FeatureStore(tmp_path).records(status=None) == []
    assert not w.is_done("r")


def test_recipe_mismatch_refused(tmp_path):
    StoreWriter(tmp_path, Recipe(), INFO)
    with pytest.raises(RecipeMismatchError, match="recipe"):
        StoreWriter(tmp_path, Recipe(feature="raw"), INFO)
    with pytest.raises(RecipeMismatchError):
        FeatureStore(tmp_path).check_recipe("deadbeef0000")


def test_not_a_store(tmp_path):
    with pytest.raises(SeizureError, match="not a feature store"):
        FeatureStore(tmp_path)


def test_atomic_outputs_are_readable_by_others(tmp_path):
    import os
    import stat

    from seizure.fsutil import atomic_write
    target = tmp_path / "out.txt"
    with atomic_write(target) as fh:
        fh.write("x")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o666 & ~umask
    assert list(tmp_path.iterdir()) == [target]
