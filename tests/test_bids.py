"""BIDS datasets: discovery and splits, sidecar checks, evaluate pairing, derivative layout
(on the fixture ``tests/data/bids``: real CHB-MIT, Siena and SeizeIT headers, 2 s each)."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from bids_factory import make_checkpoint
from seizure import cli
from seizure.corpus import discover
from seizure.errors import ConfigError, SeizureError
from seizure.inspect import format_report, inspect_edf
from seizure.io import bids
from seizure.io.annotations import find_sidecar
from seizure.preprocess.pipeline import labels_for
from seizure.events import Event
from seizure.detect import _reference_events, detect_files as score_files
from seizure.scoring.report import report_paths as evaluate_paths

FIXTURE = Path(__file__).resolve().parent / "data" / "bids"
RUN00 = "sub-01/ses-01/eeg/sub-01_ses-01_task-szMonitoring_run-00"


@pytest.fixture
def ds(tmp_path) -> Path:
    """A copy of the fixture with things that are not recordings: derivatives/, sourcedata/, code/."""
    root = tmp_path / "ds"
    shutil.copytree(FIXTURE, root)
    edf = root / f"{RUN00}_eeg.edf"
    for junk in ("derivatives/other/sub-01/ses-01/eeg", "sourcedata/chb05", "code"):
        (root / junk).mkdir(parents=True)
        shutil.copyfile(edf, root / junk / edf.name)
    return root


def test_discover_pairs_each_recording_with_its_events_and_ignores_the_rest(ds, caplog):
    entries = discover(ds)
    assert len(entries) == 4  # derivatives/, sourcedata/ and code/ are not recordings
    assert {e.layout for e in entries} == {"bids"}
    by_id = {e.rec_id: e for e in entries}
    e = by_id["sub-01_ses-01_task-szMonitoring_run-00_eeg"]
    assert (e.patient, e.session) == ("sub-01", "ses-01")
    assert e.sidecar == ds / f"{RUN00}_events.tsv"  # the name without _eeg
    assert find_sidecar(e.path) == e.sidecar
    assert _reference_events(e.path, 2.0) == [Event(0.5, 1.5)]  # what `seizure score --plot` draws
    labels = labels_for(e.path, 2.0)  # what preprocessing reads: the fixture's 0.5-1.5 s seizure
    assert labels.per_second.tolist() == [1, 0] and labels.sidecar == e.sidecar  # midpoints 0.5 in, 1.5 out


def test_seeded_split_is_by_subject_deterministic_and_complete():
    subjects = [f"sub-{i:02d}" for i in range(1, 11)]
    split = bids.seeded_split(subjects, seed=3)
    assert split == bids.seeded_split(reversed(subjects), seed=3)
    assert sorted(split.values()).count("train") == 6 and list(split.values()).count("eval") == 2
    assert bids.seeded_split(subjects, seed=4) != split
    assert sorted(bids.seeded_split(["sub-a", "sub-b", "sub-c"], 0).values()) == ["dev", "eval", "train"]
    with pytest.raises(ConfigError, match="seed"):
        bids.seeded_split(subjects, seed=-1)


def test_split_file_assigns_subjects_and_must_cover_the_dataset(ds, tmp_path):
    splits = tmp_path / "splits.tsv"
    splits.write_text("participant_id\tsplit\nsub-01\ttrain\n02\tdev\nsub-03\teval\n")
    entries = discover(ds, split_file=splits)
    assert {(e.patient, e.split) for e in entries} == {("sub-01", "train"), ("sub-02", "dev"), ("sub-03", "eval")}
    splits.write_text("participant_id\tsplit\nsub-01\ttrain\nsub-02\tdev\n")
    with pytest.raises(ConfigError, match="not in the split file, e.g. sub-03"):
        discover(ds, split_file=splits)
    splits.write_text("participant_id\tsplit\nsub-01\ttest\n")
    with pytest.raises(ConfigError, match="line 2: unknown split 'test'"):
        bids.read_splits(splits)
    splits.write_text("subject_name\tfold\n")
    with pytest.raises(ConfigError, match="header must name"):
        bids.read_splits(splits)
    with pytest.raises(ConfigError, match="BIDS datasets only"):
        discover(Path(__file__).parent / "fixtures" / "real-headers" / "tuh", split_file=splits)


def test_inspect_cross_checks_the_sidecars(ds, capsys):
    edf = ds / "sub-02/ses-01/eeg/sub-02_ses-01_task-szMonitoring_run-00_eeg.edf"
    report = inspect_edf(edf)
    assert report["bids"]["ok"] and report["bids"]["problems"] == []
    assert report["annotations"]["format"] == "szcore" and report["annotations"]["n_seizures"] == 1
    sidecar = edf.with_name("sub-02_ses-01_task-szMonitoring_run-00_eeg.json")
    meta = json.loads(sidecar.read_text())
    sidecar.write_text(json.dumps({**meta, "SamplingFrequency": 256, "EEGChannelCount": 19}))
    channels = edf.with_name("sub-02_ses-01_task-szMonitoring_run-00_channels.tsv")
    lines = channels.read_text().splitlines()
    channels.write_text("\n".join([lines[0], lines[1].replace("\t512", "\t256"), *lines[3:], "EEG Xx\tEEG\tuV\t512"]))
    problems = inspect_edf(edf)["bids"]["problems"]
    assert any("SamplingFrequency 256 Hz but the EDF's EEG is at 512 Hz" in p for p in problems)
    assert any("EEGChannelCount 19 but the EDF has 29" in p for p in problems)
    assert any("EEG Fp1 sampling_frequency 256" in p for p in problems)
    assert any("not in the EDF: EEG Xx" in p for p in problems)
    assert any("not listed: EEG F3" in p for p in problems)
    assert cli.main(["inspect", str(edf)]) == 0
    assert "5 disagreement(s)" in capsys.readouterr().out
    assert inspect_edf(ds / f"{RUN00}_eeg.edf")["bids"] is None  # no sidecars there
    assert "BIDS" not in format_report(inspect_edf(ds / f"{RUN00}_eeg.edf"))


def _hypotheses(ds: Path, out: Path, flat: bool) -> None:
    """Copy the references as hypotheses: mirrored (BIDS names) or flat with _eeg_events.tsv."""
    for ref in ds.glob("sub-*/**/*_events.tsv"):
        if flat:
            target = out / ref.name.replace("_events.tsv", "_eeg_events.tsv")
        else:
            target = out / ref.relative_to(ds)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ref, target)


@pytest.mark.parametrize("flat", [False, True])
def test_evaluate_pairs_bids_trees_and_says_how_many(ds, flat, caplog):
    hyp = ds / "derivatives" / "seizure"
    _hypotheses(ds, hyp, flat)
    caplog.set_level(logging.INFO, logger="seizure.scoring.inputs")
    report = evaluate_paths(ds, hyp)  # the reference scan skips derivatives/ (hypotheses live there)
    assert report.n_recordings == 4 and report.n_ref_events == 2
    assert report.to_dict()["methods"]["ovlp"]["sensitivity"] == 1.0
    assert "paired 4 of 4 reference recordings" in caplog.text


def test_score_layouts_bids_targets_and_refusals(ds, tmp_path):
    edfs = sorted(ds.glob("sub-*/**/*_eeg.edf"))
    kept, targets = bids.score_layout([ds], sorted(ds.rglob("*.edf")), "auto", tmp_path / "out")
    assert kept == edfs
    assert [(d.relative_to(tmp_path / "out").as_posix(), n) for d, n in targets][0] == (
        "sub-01/ses-01/eeg", "sub-01_ses-01_task-szMonitoring_run-00")
    flat = tmp_path / "flat.edf"
    shutil.copyfile(edfs[0], flat)
    assert bids.score_layout([flat], [flat], "auto", tmp_path / "out") == ([flat], None)
    with pytest.raises(SeizureError, match="not inside a BIDS dataset"):
        bids.score_layout([flat], [flat], "bids", tmp_path / "out")
    with pytest.raises(SeizureError, match="would replace its reference events"):
        bids.score_layout([ds], edfs, "bids", ds)
    with pytest.raises(ConfigError, match="valid layouts: auto, bids, flat"):
        bids.score_layout([ds], edfs, "tree", tmp_path)


def test_score_writes_a_derivative_with_its_description(ds, tmp_path):
    model = make_checkpoint(tmp_path / "model.pt")
    out = tmp_path / "deriv"
    summary = score_files(model, [ds], out, min_channels=1)
    assert summary.failures == [] and len(summary.results) == 4
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*_events.tsv"))
    assert names == sorted(p.relative_to(ds).as_posix() for p in ds.glob("sub-*/**/*_events.tsv"))
    desc = json.loads((out / "dataset_description.json").read_text())
    assert desc["DatasetType"] == "derivative" and desc["GeneratedBy"][0]["Checkpoint"]["SHA256"] == \
        bids.file_sha256(model)
    assert desc["SourceDatasets"] == [{"URL": ds.resolve().as_uri()}]
    flat = score_files(model, [ds], tmp_path / "flat", min_channels=1, layout="flat")
    assert sorted(p.name for p in (tmp_path / "flat").glob("*_events.tsv"))[0] == \
        "sub-01_ses-01_task-szMonitoring_run-00_eeg_events.tsv" and len(flat.results) == 4
    assert not (tmp_path / "flat" / "dataset_description.json").exists()


def test_a_store_refuses_another_split_of_the_same_recordings(ds, tmp_path):
    from seizure.corpus import preprocess, recipe_from_config

    recipe = recipe_from_config(None, ["recipe.feature=spectrogram", "recipe.min_channels=1"])
    splits = tmp_path / "splits.tsv"
    splits.write_text("participant_id\tsplit\nsub-01\ttrain\nsub-02\tdev\nsub-03\teval\n")
    summary = preprocess(ds, tmp_path / "store", recipe, split_file=splits)
    assert summary.done == 4 and summary.failed == 0
    splits.write_text("participant_id\tsplit\nsub-01\tdev\nsub-02\ttrain\nsub-03\teval\n")
    with pytest.raises(ConfigError, match="is in split train in this store but in dev now"):
        preprocess(ds, tmp_path / "store", recipe, split_file=splits)
