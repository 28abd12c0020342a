"""Split policy: nothing is scored on a split used to train, choose its epoch or its operating
point. A store without eval recordings carves a seeded, patient-disjoint tuning split from
train (recorded in the store and the checkpoint) and is scored on dev; the study's tables
(intervals, paired comparisons, dev-chosen equal-FA points, the fitted baseline) say so."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from seizure import checkpoint
from seizure.errors import SeizureError
from seizure.evaluation import equal_fa, evaluate_run
from seizure.postprocess import OperatingPoint
from seizure.store import FeatureStore, RecordMeta, carve_tuning, read_tuning, split_plan
from seizure.study import run_study
from seizure.training.config import PostprocessConfig

ROOT = Path(__file__).resolve().parents[1]
STUDIES = ROOT / "configs" / "study"


@pytest.fixture(scope="module")
def no_eval_store(tmp_path_factory) -> FeatureStore:
    """Train 5 patients, dev 2, no eval (TUSZ v1.5's layout); every patient has a seizure."""
    from feature_stores import make_store

    return make_store(tmp_path_factory.mktemp("no_eval"), splits=(("train", 5), ("dev", 2)), varied=False)


def test_a_store_with_eval_fits_train_tunes_dev_scores_eval(study_store):
    plan = split_plan(study_store)
    assert (plan.tune_split, plan.score_split, plan.tuning) == ("dev", "eval", None)
    assert [r.rec_id for r in plan.fit] == [r.rec_id for r in study_store.records("train")]
    assert [r.rec_id for r in plan.tune] == [r.rec_id for r in study_store.records("dev")]
    assert read_tuning(study_store.root) is None


def test_the_tuning_split_is_carved_by_patient_seeded_and_recorded(no_eval_store):
    train = no_eval_store.records("train")
    plan = split_plan(no_eval_store, seed=3, fraction=0.4)
    fit_p, tune_p = {r.patient for r in plan.fit}, {r.patient for r in plan.tune}
    assert (plan.tune_split, plan.score_split) == ("tune", "dev")
    assert fit_p.isdisjoint(tune_p) and fit_p | tune_p == {r.patient for r in train}
    assert len(tune_p) == 2 and sorted(r.rec_id for r in plan.fit + plan.tune) == sorted(r.rec_id for r in train)
    assert plan.tuning == {"from": "train", "seed": 3, "fraction": 0.4, "patients": sorted(tune_p)}
    assert read_tuning(no_eval_store.root) == plan.tuning
    with open(no_eval_store.root / "manifest.csv", newline="") as fh:
        roles = {row["rec_id"]: row["role"] for row in csv.DictReader(fh)}
    for r in no_eval_store.records():
        assert roles[r.rec_id] == ("tune" if r.patient in tune_p else r.split)
    # seeded: the same seed draws the same patients, other seeds draw others
    assert split_plan(no_eval_store, seed=3, fraction=0.4).tuning == plan.tuning
    draws = {tuple(carve_tuning(train, seed, 0.4)) for seed in range(20)}
    assert len(draws) > 1
    split_plan(no_eval_store)  # back to the defaults for the tests below


def test_a_carve_keeps_seizures_on_both_sides_and_needs_two_patients():
    def rec(patient: str, seizures: int) -> RecordMeta:
        return RecordMeta(f"{patient}_s001_t000", "train", patient, "x.edf", seizures=[[1.0, 2.0]] * seizures)

    recs = [rec("a", 1), rec("b", 0), rec("c", 0), rec("d", 0), rec("e", 1)]
    for seed in range(10):
        tune = set(carve_tuning(recs, seed, 0.2))
        assert len(tune & {"a", "e"}) == 1  # one of the two seizure patients tunes, the other trains
    with pytest.raises(SeizureError, match="at least 2 train patients"):
        carve_tuning([rec("a", 1)], 0, 0.2)


def test_equal_fa_points_are_chosen_on_the_tuning_split_and_scored_elsewhere():
    """Hand-built: on the tuning recording the seizure peaks at 0.9 and a burst of
    background at 0.6, so the 1 FA/24h point needs a threshold above 0.6; the scored
    recording's seizure peaks at 0.65, so that threshold misses it (an oracle swept there
    would not)."""
    def rec(name: str, patient: str) -> RecordMeta:
        return RecordMeta(name, "x", patient, "x.edf", duration_s=100.0, n_seconds=100, seizures=[[40.0, 50.0]])

    tune_p, scored_p = np.zeros(100), np.zeros(100)
    tune_p[40:50], tune_p[10:15] = 0.9, 0.6
    scored_p[40:50] = 0.65
    pp = PostprocessConfig(tolerance_events=0.0, smooth_s=(0.0,), min_duration_s=(0.0,), merge_gap_s=(0.0,))
    (low,) = equal_fa([rec("t_s001_t000", "t")], [tune_p], [rec("s_s001_t000", "s")], [scored_p], pp, [1.0])
    assert low["operating_point"]["threshold"] > 0.6 and low["tune_sensitivity"] == 1.0
    assert low["tune_fa_per_24h"] == 0.0 and low["sensitivity"] == 0.0
    assert low["per_recording"] == [{"recording": "s_s001_t000", "patient": "s", "hits": 0.0, "misses": 1.0,
                                     "false_alarms": 0.0, "duration_s": 100.0}]
    # the same points chosen on the scored recording itself (the oracle) would have found it
    (oracle,) = equal_fa([rec("s_s001_t000", "s")], [scored_p], [rec("s_s001_t000", "s")], [scored_p], pp, [1.0])
    assert oracle["sensitivity"] == 1.0


@pytest.fixture(scope="module")
def no_eval_study(no_eval_store, tmp_path_factory, monkeypatch_module):
    """cells.toml, lstm and gru x 1 seed, on the store without eval; the baseline's
    features are per-second means of the stored features (the tiny store has no EDF files)."""
    from seizure.baselines import bandpower as bp

    def stored_features(record, recipe, cache_dir=None):
        x = np.asarray(no_eval_store.features(record.rec_id), dtype=np.float64)
        return x.reshape(record.n_seconds, -1, *x.shape[1:]).mean(axis=1).reshape(record.n_seconds, -1)

    monkeypatch_module.setattr(bp, "record_features", stored_features)
    base = tmp_path_factory.mktemp("base") / "tiny.toml"
    from test_study import TINY_BASE

    base.write_text(TINY_BASE)
    out = tmp_path_factory.mktemp("no_eval_study") / "cells"
    res = run_study(STUDIES / "cells.toml", no_eval_store.root, out, jobs=1, base=base, seeds=1,
                    only=["lstm", "gru"])
    return res, out


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_a_store_without_eval_is_never_scored_on_its_tuning_split(no_eval_store, no_eval_study):
    res, out = no_eval_study
    assert res.split == "dev" and res.failed == [] and res.done == 2
    dev_patients = {r.patient for r in no_eval_store.records("dev")}
    tuning = read_tuning(no_eval_store.root)
    for variant in ("lstm", "gru"):
        run = out / "runs" / variant / "seed0"
        report = json.loads((run / "eval_report.json").read_text())
        splits = checkpoint.load(run / "best.pt").summary["splits"]
        assert report["split"] == "dev" and report["splits"] == splits
        assert splits["tune"] == "tune" and splits["tuning"] == tuning
        assert set(splits["tune_patients"]) == set(tuning["patients"])
        assert set(splits["tune_patients"]).isdisjoint(dev_patients)  # scored patients never tuned on
        assert set(splits["tune_patients"]).isdisjoint(splits["fit_patients"])  # nor trained on
        assert {r["subject"] for r in report["report"]["per_recording"]} == dev_patients
        assert [p["target_fa_per_24h"] for p in report["equal_fa"]] == [1.0, 2.0, 6.0, 10.0]
        with pytest.raises(SeizureError, match="optimistic"):
            evaluate_run(run / "best.pt", no_eval_store.root, "train", run / "again")
    study = json.loads((out / "study.json").read_text())
    assert study["split"] == "dev" and study["splits"]["tuning"] == tuning


def test_a_checkpoint_tuned_on_dev_is_not_scored_on_dev(study_store, tmp_path):
    from seizure.training.config import load_config
    from seizure.training.loop import train
    from test_study import TINY_BASE

    base = tmp_path / "tiny.toml"
    base.write_text(TINY_BASE)
    trained = train(study_store.root, tmp_path / "run", load_config(base))
    assert trained.summary["splits"]["tune"] == "dev"
    with pytest.raises(SeizureError, match="'dev' split"):
        evaluate_run(trained.best_path, study_store.root, "dev", tmp_path / "run")
    # a checkpoint from before the split plan (no record of its splits) was tuned on dev too
    raw = checkpoint.read(trained.best_path)
    raw["summary"].pop("splits")
    checkpoint.save(tmp_path / "old.pt", raw)
    with pytest.raises(SeizureError, match="'dev' split"):
        evaluate_run(tmp_path / "old.pt", study_store.root, "dev", tmp_path / "run")
    assert evaluate_run(trained.best_path, study_store.root, "eval", tmp_path / "run")["split"] == "eval"


def test_the_study_tables_carry_intervals_paired_differences_and_the_baseline(no_eval_store, no_eval_study):
    res, out = no_eval_study
    plan = split_plan(no_eval_store)
    base = json.loads((out / "baseline" / "result.json").read_text())
    assert base["split"] == "dev" and base["baseline"]["n_records"] == len(plan.fit)
    assert base["baseline"]["dev"]["split"] == "tune"
    md = (out / "results.md").read_text()
    assert "Scored on the store's **dev** split" in md and "**tuning split** of 1 train patient(s)" in md
    assert "| bandpower baseline | 1 fit |" in md
    assert "| gru - lstm | 1 |" in md and "| lstm - bandpower baseline | 1 |" in md
    assert "thresholds chosen on the tuning split" in md and "### Oracle: thresholds swept on dev itself" in md
    # the tiny tuning split cannot resolve the FA/24h targets, and the table says so
    assert "one false alarm is" in md and "whose rate on new recordings the tuning split does not measure" in md
    with open(out / "comparisons.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {(r["a"], r["b"]) for r in rows} == {("gru", "lstm"), ("lstm", "bandpower baseline")}
    assert {r["target_fa_per_24h"] for r in rows} == {"", "1", "2", "6", "10"}
    for r in rows:
        if r["low"] and r["high"]:
            covers = float(r["low"]) <= 0.0 <= float(r["high"])
            assert (r["distinguishable"] == "False") == covers
            assert (r["verdict"] == "not distinguishable") == covers
    with open(out / "results.csv", newline="") as fh:
        table = {r["variant"]: r for r in csv.DictReader(fh)}
    assert set(table) == {"lstm", "gru", "bandpower_baseline"}
    for r in table.values():
        if r["ovlp_sensitivity_pct_low"]:
            assert float(r["ovlp_sensitivity_pct_low"]) <= float(r["ovlp_sensitivity_pct_mean"]) <= float(
                r["ovlp_sensitivity_pct_high"])


def test_equal_fa_points_meet_their_target_on_the_tuning_split(no_eval_store, no_eval_study):
    """Each saved point is a valid operating point that met its target on the tuning split (or
    says it did not), and records how long that split was."""
    _, out = no_eval_study
    tune_hours = sum(r.n_seconds for r in split_plan(no_eval_store).tune) / 3600.0
    report = json.loads((out / "runs" / "lstm" / "seed0" / "eval_report.json").read_text())
    for p in report["equal_fa"]:
        OperatingPoint(**p["operating_point"])
        assert p["tune_fa_per_24h"] <= p["target_fa_per_24h"] or not p["tune_target_reached"]
        assert p["tune_hours"] == pytest.approx(tune_hours)


def test_seizure_train_on_a_store_without_eval_selects_on_the_carve(no_eval_store, tmp_path, capsys):
    import argparse

    from seizure.commands import train as command
    from test_study import TINY_BASE

    base = tmp_path / "tiny.toml"
    base.write_text(TINY_BASE)
    parser = argparse.ArgumentParser()
    command.add_parser(parser.add_subparsers())
    args = parser.parse_args(["train", str(no_eval_store.root), str(tmp_path / "out"), "--config", str(base)])
    args.quiet = True
    assert args.func(args) == 0
    out = capsys.readouterr().out
    tuning = read_tuning(no_eval_store.root)
    assert "selected on tune (" in out and "score this model on dev" in out
    summary = checkpoint.load(tmp_path / "out" / "best.pt").summary
    assert summary["splits"]["tuning"] == tuning and summary["splits"]["score"] == "dev"
    tuned = {r.rec_id for r in no_eval_store.records("train") if r.patient in tuning["patients"]}
    assert summary["dev_hours"] == pytest.approx(
        sum(r.n_seconds for r in no_eval_store.records("train") if r.rec_id in tuned) / 3600)
