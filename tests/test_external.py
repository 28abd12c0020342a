"""External training data: ``seizure merge STORE --external NAME=OTHER`` joins another corpus's
recordings as training data only. They are fitted on, never used to choose an epoch or an
operating point, never scored; a tuning split is carved from the store's own patients only."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from feature_stores import make_store
from seizure.cli import main
from seizure.corpus import merge_stores
from seizure.errors import SeizureError
from seizure.preprocess.recipe import Recipe
from seizure.store import FeatureInfo, FeatureStore, StoreWriter, split_plan


def roles(store: FeatureStore) -> dict[str, str]:
    with open(store.root / "manifest.csv", newline="") as fh:
        return {row["rec_id"]: row["role"] for row in csv.DictReader(fh)}


@pytest.fixture()
def lab_and_other(tmp_path):
    """A lab's store (train 2, dev 1, eval 1 patients) and another corpus's (train 2, dev 1, eval 1),
    made with other seeds: the same ids (``tr000000_s001_t000``...), other recordings."""
    lab = make_store(tmp_path / "lab", seed=1, splits=(("train", 2), ("dev", 1), ("eval", 1)), varied=False)
    other = make_store(tmp_path / "other", seed=2, splits=(("train", 2), ("dev", 1), ("eval", 1)), varied=False)
    return lab, other


def test_external_recordings_are_fitted_on_never_tuned_or_scored(tmp_path, lab_and_other, capsys):
    lab, other = lab_and_other
    out = tmp_path / "pooled"
    assert main(["merge", str(out), str(lab.root), "--external", f"tuh={other.root}"]) == 0
    printed = capsys.readouterr().out
    merged = FeatureStore(out)
    ext = [r for r in merged.records() if r.external]
    assert len(ext) == len(other.records()) == 8
    assert "external training data tuh: 8 recording(s), 4 patient(s)" in printed
    for r in ext:  # every split of the other corpus, as train, prefixed, same arrays
        src_id = r.rec_id.removeprefix("tuh__")
        src = next(m for m in other.records() if m.rec_id == src_id)
        assert (r.split, r.external, r.patient) == ("train", f"tuh:{src.split}", f"tuh__{src.patient}")
        assert np.array_equal(merged.features(r.rec_id), other.features(src_id))
        assert np.array_equal(merged.labels(r.rec_id), other.labels(src_id))
    assert {roles(merged)[r.rec_id] for r in ext} == {"external"}
    plan = split_plan(merged)
    assert {r.rec_id for r in plan.fit} == {r.rec_id for r in lab.records("train")} | {r.rec_id for r in ext}
    assert [r.rec_id for r in plan.tune] == [r.rec_id for r in lab.records("dev")]
    assert [r.rec_id for r in merged.records("eval")] == [r.rec_id for r in lab.records("eval")]
    assert plan.to_dict()["external"]["tuh"]["recordings"] == 8
    assert plan.to_dict()["external"]["tuh"]["seizures"] == sum(r.n_seizures for r in other.records())
    # the study's tables name it
    from seizure.study.tables import _split_text

    scored = {"split": "eval", "n_recordings": 2, "hours": 0.1, "n_seizures": 1, "n_patients": 1}
    assert (f"Training also used external data, never tuned on or scored: tuh (8 recordings, "
            f"{plan.to_dict()['external']['tuh']['hours']:.1f} h") in _split_text([scored], plan.to_dict())
    assert "external" not in _split_text([scored], split_plan(lab).to_dict())
    # re-running adds nothing
    again = merge_stores(out, [lab.root], [("tuh", other.root)])
    assert (again.done, again.skipped) == (0, 16)


def test_only_the_named_external_splits_are_joined(tmp_path, lab_and_other):
    lab, other = lab_and_other
    merge_stores(tmp_path / "pooled", [lab.root], [("tuh", other.root)], external_splits=("train",))
    ext = [r for r in FeatureStore(tmp_path / "pooled").records() if r.external]
    assert {r.external for r in ext} == {"tuh:train"} and len(ext) == len(other.records("train"))


def test_a_store_gains_external_data_in_place(lab_and_other):
    lab, other = lab_and_other
    before = {r.rec_id for r in lab.records()}
    summary = merge_stores(lab.root, [], [("tuh", other.root)])
    assert summary.done == 8
    assert {r.rec_id for r in lab.records() if not r.external} == before


def test_the_tuning_carve_draws_only_the_stores_own_patients(tmp_path):
    lab = make_store(tmp_path / "lab", seed=1, splits=(("train", 4), ("dev", 1)), varied=False)
    other = make_store(tmp_path / "other", seed=2, splits=(("train", 6), ("dev", 1)), varied=False)
    merge_stores(lab.root, [], [("tuh", other.root)])
    own = {r.patient for r in lab.records("train") if not r.external}
    for seed in range(8):
        plan = split_plan(lab, seed=seed, fraction=0.5)
        assert {r.patient for r in plan.tune} <= own and plan.tune
        assert {r.patient for r in plan.fit if r.external} == {f"tuh__{p}" for p in
                                                                {r.patient for r in other.records()}}
    assert set(json.loads((lab.root / "tuning.json").read_text())["patients"]) <= own
    assert {roles(lab)[r.rec_id] for r in lab.records() if r.external} == {"external"}


def test_only_external_train_data_and_no_eval_cannot_be_carved(tmp_path):
    lab = make_store(tmp_path / "lab", seed=1, splits=(("dev", 1),), varied=False)
    other = make_store(tmp_path / "other", seed=2, splits=(("train", 3),), varied=False)
    merge_stores(lab.root, [], [("tuh", other.root)])
    with pytest.raises(SeizureError, match="no train recordings of its own"):
        split_plan(lab)


def test_refusals_name_the_problem(tmp_path, lab_and_other, capsys):
    lab, other = lab_and_other
    with pytest.raises(SeizureError, match="is in this store already"):  # a corpus pooled into itself leaks
        merge_stores(tmp_path / "leak", [lab.root], [("again", lab.root)])
    with pytest.raises(SeizureError, match="must be unique, letters, digits"):
        merge_stores(tmp_path / "bad", [lab.root], [("a__b", other.root)])
    with pytest.raises(SeizureError, match="must be an existing feature store"):
        merge_stores(tmp_path / "none", [], [("tuh", other.root)])
    spectro = StoreWriter(tmp_path / "raw", Recipe(feature="raw"), FeatureInfo(lab.channels, 1, 250))
    with pytest.raises(SeizureError, match="all stores merged must be made with one recipe"):
        merge_stores(tmp_path / "mixed", [lab.root], [("raw", spectro.root)])
    assert main(["merge", str(tmp_path / "x"), str(lab.root), "--external", str(other.root)]) == 1
    assert "--external wants NAME=STORE" in capsys.readouterr().err
    merge_stores(tmp_path / "once", [lab.root], [("tuh", other.root)])
    with pytest.raises(SeizureError, match="external data of that store already"):
        merge_stores(tmp_path / "twice", [other.root], [("x", tmp_path / "once")])
    assert not (tmp_path / "twice" / "records").exists() or not list((tmp_path / "twice" / "records").iterdir())


def test_seizure_train_fits_on_external_data_and_records_it(tmp_path, lab_and_other, capsys):
    from bad_inputs import TRAIN_SETTINGS
    from seizure import checkpoint

    lab, other = lab_and_other
    merge_stores(tmp_path / "pooled", [lab.root], [("tuh", other.root)])
    sets = [a for s in TRAIN_SETTINGS for a in ("--set", s)]
    assert main(["-q", "train", str(tmp_path / "pooled"), str(tmp_path / "model"), *sets]) == 0
    out = capsys.readouterr().out
    assert "fitted on external training data too: tuh, 8 recording(s)" in out
    splits = checkpoint.load(tmp_path / "model" / "best.pt").summary["splits"]
    assert splits["external"]["tuh"]["recordings"] == 8 and splits["tune"] == "dev"
    assert {p for p in splits["fit_patients"] if p.startswith("tuh__")} == {
        f"tuh__{r.patient}" for r in other.records()}
    assert not set(splits["tune_patients"]) & set(splits["fit_patients"])
