"""A BIDS dataset end to end with no renaming: preprocess -> train -> score --layout bids ->
evaluate; the figures of ``seizure evaluate`` equal SzCORE's (szcore-evaluation when it is
installed, else the same procedure through the timescoring package)."""

from __future__ import annotations

import csv
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from timescoring import scoring as ts_scoring
from timescoring.annotations import Annotation

from bids_factory import TRAIN_TINY, write_bids
from seizure import checkpoint, cli
from seizure.io.annotations import read_annotations
from seizure.detect import detect_recording as score_recording

MEASURES = (("sensitivity", "sensitivity"), ("precision", "precision"), ("f1", "f1"), ("fa_per_24h", "fpRate"))


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bids_e2e")
    root = write_bids(tmp / "ds", subjects=5, runs=2, seconds=130.0)  # whole seconds, as EDFs of 1 s records
    store, model_dir = tmp / "store", tmp / "model"
    out = root / "derivatives" / "seizure"
    sets = [a for s in TRAIN_TINY for a in ("--set", s)]
    recipe_sets = [a for s in TRAIN_TINY if s.startswith("recipe.") for a in ("--set", s)]
    assert cli.main(["-q", "preprocess", str(root), str(store), *recipe_sets]) == 0
    assert cli.main(["-q", "train", str(store), str(model_dir), *sets]) == 0
    # the tiny model barely learns in 8 steps: a threshold at its own probabilities' 85th percentile
    # makes it detect something, so that the figures compared below are not all zero
    model = model_dir / "best.pt"
    probs = score_recording(checkpoint.load(model), next(root.glob("sub-01/*/eeg/*run-01_eeg.edf")), tmp / "p").probs
    raw = torch.load(model, weights_only=True)
    raw["operating_point"]["threshold"] = float(np.quantile(probs, 0.85))
    checkpoint.save(model, raw)
    assert cli.main(["-q", "score", str(model), str(root), "--out", str(out)]) == 0
    report = tmp / "report.json"
    assert cli.main(["evaluate", "--ref", str(root), "--hyp", str(out), "--json", str(report)]) == 0
    return root, store, out, json.loads(report.read_text())


def test_the_store_is_split_by_subject_and_says_so_in_the_manifest(pipeline):
    _, store, _, _ = pipeline
    rows = list(csv.DictReader((store / "manifest.csv").open()))
    assert len(rows) == 10 and all(r["status"] == "ok" for r in rows)
    split_of: dict[str, set[str]] = {}
    for r in rows:
        assert r["rec_id"].startswith(r["patient"] + "_")
        split_of.setdefault(r["patient"], set()).add(r["split"])
    assert all(len(s) == 1 for s in split_of.values())  # patient-wise
    assert sorted(s.pop() for s in split_of.values()) == ["dev", "eval", "train", "train", "train"]
    seized = [r for r in rows if r["rec_id"].endswith("run-01_eeg")]
    assert all(int(r["n_seizures"]) == 1 for r in seized)  # *_events.tsv (no _eeg) paired as labels


def test_scores_mirror_the_dataset_as_a_bids_derivative(pipeline):
    root, _, out, _ = pipeline
    refs = sorted(p.relative_to(root) for p in root.glob("sub-*/**/*_events.tsv"))
    hyps = sorted(p.relative_to(out) for p in out.glob("sub-*/**/*_events.tsv"))
    assert len(refs) == 10 and hyps == refs  # the exact names szcore-evaluation looks for
    desc = json.loads((out / "dataset_description.json").read_text())
    assert desc["DatasetType"] == "derivative"
    gen = desc["GeneratedBy"][0]
    assert gen["Name"] == "seizure" and len(gen["Checkpoint"]["SHA256"]) == 64
    for rel in hyps:  # the SzCORE TSV reads back with the reference's duration
        assert read_annotations(out / rel).duration_s == read_annotations(root / rel).duration_s


def test_evaluate_pairs_every_recording(pipeline):
    _, _, _, report = pipeline
    assert report["n_recordings"] == 10 and report["n_ref_events"] == 5


def _szcore_by_timescoring(ref_root: Path, hyp_root: Path) -> dict[str, dict[str, float]]:
    """szcore-evaluation's procedure (evaluate_dataset, averaged per subject) through the
    timescoring package: each REF/sub-*/**/*.tsv against HYP at the same relative path, 1 Hz
    masks, counts summed per subject, NaN-ignoring means over subjects."""
    out = {}
    for kind, scorer in (("event", ts_scoring.EventScoring), ("sample", ts_scoring.SampleScoring)):
        subjects = []
        for subject in sorted(ref_root.glob("sub-*")):
            acc = ts_scoring._Scoring()
            acc.tp = acc.fp = acc.refTrue = acc.numSamples = 0
            acc.fs = 1
            for ref_tsv in sorted(subject.glob("**/*.tsv")):
                hyp_tsv = hyp_root / ref_tsv.relative_to(ref_root)
                assert hyp_tsv.is_file(), f"szcore-evaluation would score {hyp_tsv} as 'no detection'"
                ref, hyp = read_annotations(ref_tsv), read_annotations(hyp_tsv)
                masks = []
                for ann in (ref, hyp):  # epilepsy2bids' Annotations.getMask(1): whole seconds, truncated
                    mask = np.zeros(int(ann.duration_s), dtype=bool)
                    for e in ann.seizures:
                        mask[int(e.start_s):int(e.stop_s)] = True
                    masks.append(Annotation(mask, 1))
                s = scorer(*masks)
                acc.fs = s.ref.fs  # szcore-evaluation's Result keeps the scorer's own rate
                acc.tp += s.tp
                acc.fp += s.fp
                acc.refTrue += s.refTrue
                acc.numSamples += s.numSamples
            acc.computeScores()
            subjects.append(acc)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a measure NaN for every subject
            out[kind] = {ours: float(np.nanmean([getattr(r, theirs) for r in subjects])) for ours, theirs in MEASURES}
    return out


def _same(ours: dict, theirs: dict) -> None:
    for name, _ in MEASURES:
        a, b = ours[name], theirs[name]
        if a is None or b != b:  # NaN (our JSON writes null)
            assert a is None and b != b, name
        else:
            assert a == pytest.approx(b, rel=1e-9, abs=1e-12), name


def test_seizure_evaluate_equals_szcore_through_timescoring(pipeline):
    root, _, out, report = pipeline
    theirs = _szcore_by_timescoring(root, out)
    szcore = report["methods"]["szcore"]
    _same(szcore["per_subject_mean"], theirs["event"])
    _same(szcore["sample"]["per_subject_mean"], theirs["sample"])
    # not a vacuous equality: the model detected something and the references count
    assert report["methods"]["szcore"]["hits"] + report["methods"]["szcore"]["false_alarms"] > 0


@pytest.mark.skipif(sys.version_info < (3, 12), reason="szcore-evaluation needs Python >= 3.12 (the szcore extra)")
def test_official_szcore_evaluation_scores_our_output_as_seizure_evaluate_does(pipeline, tmp_path):
    szcore_evaluation = pytest.importorskip("szcore_evaluation.evaluate",
                                            reason="the szcore extra is not installed (pip install 'seizure[szcore]')")
    root, _, out, report = pipeline
    result = szcore_evaluation.evaluate_dataset(root, out, tmp_path / "szcore.json")
    assert {"event_results", "sample_results"} <= set(result), "szcore-evaluation returned no results"
    szcore = report["methods"]["szcore"]
    for ours, key in ((szcore["per_subject_mean"], "event_results"),
                      (szcore["sample"]["per_subject_mean"], "sample_results")):
        _same(ours, {name: float(result[key][theirs]) for name, theirs in MEASURES})
