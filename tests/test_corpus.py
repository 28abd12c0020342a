import fcntl
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from seizure.cli import main
from seizure.corpus import discover, preprocess, recipe_from_config
from seizure.errors import ConfigError, RecipeMismatchError, SeizureError
from seizure.events import Event
from seizure.io.annotations import second_labels, write_csv, write_csv_bi, write_tse, write_tse_bi
from seizure.io.edf import write_edf
from seizure.preprocess.recipe import Recipe
from seizure.store import FeatureStore

ELECTRODES = "FP1 FP2 F3 F4 C3 C4 P3 P4 O1 O2 F7 F8 T3 T4 T5 T6 A1 A2 FZ CZ PZ".split()
ROOT = Path(__file__).resolve().parents[1]


def write_recording(path: Path, seconds=12, fs=256, seizures=((3.0, 7.5),), montage_dir="01_tcp_ar", v1=False,
                    seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "LE" if "_le" in montage_dir else "REF"
    names = [e for e in ELECTRODES if not (montage_dir.endswith("_a") and e in ("A1", "A2"))]
    rng = np.random.default_rng(seed)
    data = rng.standard_normal((len(names) + 1, seconds * fs)) * 20
    write_edf(path, data, [f"EEG {e}-{suffix}" for e in names] + ["EEG EKG1-REF"], fs)
    events = [Event(a, b, "fnsz") for a, b in seizures]
    if v1:
        write_tse_bi(path.with_suffix(".tse_bi"), events, seconds)
        write_tse(path.with_suffix(".tse"), events, seconds)
    else:
        write_csv_bi(path.with_suffix(".csv_bi"), events, seconds)
        write_csv(path.with_suffix(".csv"), events, seconds)
    return path


def v2_tree(root: Path, seconds=12) -> Path:
    """train: 2 patients (one 03_tcp_ar_a), dev: 1, eval: 1."""
    spec = [("train", "aaaaaaaa", "s001_2013", "01_tcp_ar", 0), ("train", "aaaaaaaa", "s002_2014", "01_tcp_ar", 1),
            ("train", "aaaaaaab", "s001_2012", "03_tcp_ar_a", 0), ("dev", "aaaaaaac", "s001_2015", "02_tcp_le", 0),
            ("eval", "aaaaaaad", "s003_2011", "01_tcp_ar", 2)]
    for i, (split, patient, session, mdir, t) in enumerate(spec):
        name = f"{patient}_{session.split('_')[0]}_t{t:03d}.edf"
        write_recording(root / "edf" / split / patient / session / mdir / name, seconds, montage_dir=mdir, seed=i)
    return root


def test_discover_v2_from_corpus_edf_or_split_folder(tmp_path):
    root = v2_tree(tmp_path / "tusz")
    entries = discover(root)
    assert [e.rec_id for e in entries] == ["aaaaaaaa_s001_t000", "aaaaaaaa_s002_t001", "aaaaaaab_s001_t000",
                                           "aaaaaaac_s001_t000", "aaaaaaad_s003_t002"]
    e = entries[2]
    assert (e.split, e.patient, e.session, e.montage_dir, e.layout) == ("train", "aaaaaaab", "s001_2012",
                                                                        "03_tcp_ar_a", "v2")
    assert e.sidecar == e.path.with_suffix(".csv_bi")
    assert discover(root / "edf") == entries
    assert [x.rec_id for x in discover(root / "edf" / "dev")] == ["aaaaaaac_s001_t000"]


def test_discover_v1_5_layout(tmp_path):
    root = tmp_path / "v150"
    write_recording(root / "edf/train/01_tcp_ar/000/00000077/s003_2010_01_21/00000077_s003_t000.edf", v1=True)
    write_recording(root / "edf/dev_test/02_tcp_le/002/00000258/s002_2003_07_21/00000258_s002_t000.edf",
                    montage_dir="02_tcp_le", v1=True)
    entries = discover(root)
    assert [(e.rec_id, e.split, e.patient, e.session, e.montage_dir, e.layout) for e in entries] == [
        ("00000077_s003_t000", "train", "00000077", "s003_2010_01_21", "01_tcp_ar", "v1.5"),
        ("00000258_s002_t000", "dev", "00000258", "s002_2003_07_21", "02_tcp_le", "v1.5")]
    assert entries[0].sidecar.suffix == ".tse_bi"


def test_discover_errors_and_stray_files(tmp_path, caplog):
    with pytest.raises(SeizureError, match="corpus folder not found"):
        discover(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SeizureError, match="no EDF files in a TUSZ layout"):
        discover(tmp_path / "empty")
    root = v2_tree(tmp_path / "c")
    write_recording(root / "edf/dev/aaaaaaaa/s009_2019/01_tcp_ar/aaaaaaaa_s009_t000.edf")
    with pytest.raises(SeizureError, match="patient aaaaaaaa appears in splits dev, train"):
        discover(root)
    root = v2_tree(tmp_path / "d")
    write_recording(root / "edf/eval/aaaaaaad/s004_2011/01_tcp_ar/aaaaaaad_s003_t002.edf")
    with pytest.raises(SeizureError, match="recording id aaaaaaad_s003_t002 occurs twice"):
        discover(root)
    root = v2_tree(tmp_path / "e")
    write_recording(root / "edf/train/stray.edf")
    with caplog.at_level(logging.WARNING, logger="seizure.corpus"):
        assert len(discover(root)) == 5
    assert "1 EDF file(s) outside the TUSZ layout were skipped" in caplog.text


def test_preprocess_writes_a_complete_store_and_resumes(tmp_path):
    root = v2_tree(tmp_path / "tusz")
    store_dir = tmp_path / "store"
    summary = preprocess(root, store_dir, Recipe())
    assert (summary.found, summary.done, summary.skipped, summary.failed) == (5, 5, 0, 0)
    assert summary.hours_done == pytest.approx(5 * 12 / 3600) == summary.hours_in_store
    store = FeatureStore(store_dir)
    assert (store.n_features, store.frames_per_s, len(store.channels)) == (26, 10, 22)
    metas = {m.rec_id: m for m in store.records()}
    assert sorted(metas) == [e.rec_id for e in discover(root)]
    m = metas["aaaaaaab_s001_t000"]
    assert (m.split, m.patient, m.montage_dir, m.n_seconds, m.n_frames) == ("train", "aaaaaaab", "03_tcp_ar_a", 12, 120)
    assert m.missing_channels == ["A1-T3", "T4-A2"] and sum(m.channel_mask) == 20
    assert m.seizures == [[3.0, 7.5]] and m.fs_hz_original == 256.0
    x = store.features(m.rec_id)
    assert x.shape == (120, 22, 26) and x.dtype == np.float32 and np.isfinite(x).all()
    np.testing.assert_array_equal(store.labels(m.rec_id), second_labels([Event(3.0, 7.5)], 12))
    rows = (store_dir / "manifest.csv").read_text().splitlines()
    assert len(rows) == 6 and rows[0].startswith("rec_id,split,patient")
    # a re-run skips everything; only dev is requested: only dev is counted
    again = preprocess(root, store_dir, Recipe())
    assert (again.done, again.skipped, again.failed) == (0, 5, 0)
    assert preprocess(root, store_dir, Recipe(), splits=["dev"]).found == 1


def test_changed_recipe_and_bad_arguments_are_refused(tmp_path):
    root = v2_tree(tmp_path / "tusz")
    preprocess(root / "edf" / "dev", tmp_path / "store", Recipe(feature="raw"))
    with pytest.raises(RecipeMismatchError, match="this store was made with recipe"):
        preprocess(root, tmp_path / "store", Recipe())
    with pytest.raises(ConfigError, match="unknown split 'test'; valid splits: train, dev, eval"):
        preprocess(root, tmp_path / "s2", Recipe(), splits=["test"])
    with pytest.raises(ConfigError, match="jobs must be a positive integer, got 0"):
        preprocess(root, tmp_path / "s2", Recipe(), jobs=0)
    with pytest.raises(ConfigError, match="unknown parameter 'bins' for feature 'lfcc'"):
        preprocess(root, tmp_path / "s2", Recipe(feature_params={"bins": 3}))
    assert not (tmp_path / "s2").exists()  # nothing written before the recipe is known to be valid


def test_bad_files_are_recorded_and_the_run_goes_on_then_retried(tmp_path):
    root = v2_tree(tmp_path / "tusz")
    corrupt = root / "edf/train/aaaaaaaa/s002_2014/01_tcp_ar/aaaaaaaa_s002_t001.edf"
    good_bytes = corrupt.read_bytes()
    corrupt.write_bytes(good_bytes[: len(good_bytes) // 2 + 7])  # truncated mid-record
    (root / "edf/dev/aaaaaaac/s001_2015/02_tcp_le/aaaaaaac_s001_t000.csv_bi").unlink()
    (root / "edf/dev/aaaaaaac/s001_2015/02_tcp_le/aaaaaaac_s001_t000.csv").unlink()
    summary = preprocess(root, tmp_path / "store", Recipe())
    assert (summary.done, summary.failed) == (3, 2)
    reasons = dict(summary.failures)
    assert reasons["aaaaaaaa_s002_t001"].startswith("EDFError: ")
    assert reasons["aaaaaaac_s001_t000"].startswith("AnnotationError: no annotation file beside the EDF")
    assert [n for _, n, _ in summary.reasons()] == [1, 1]
    assert any("failed x1: EDFError" in line for line in summary.lines())
    store = FeatureStore(tmp_path / "store")
    errors = {m.rec_id: m.error for m in store.records(status="error")}
    assert set(errors) == {"aaaaaaaa_s002_t001", "aaaaaaac_s001_t000"}
    assert not (tmp_path / "store/records/aaaaaaaa_s002_t001.x.npy").exists()
    assert "error" in (tmp_path / "store/manifest.csv").read_text()
    corrupt.write_bytes(good_bytes)  # fixed: the failure is retried, the rest skipped
    again = preprocess(root, tmp_path / "store", Recipe())
    assert (again.done, again.skipped, again.failed) == (1, 3, 1)


def test_an_unexpected_error_is_recorded_and_the_run_goes_on(tmp_path, monkeypatch):
    import seizure.corpus as corpus

    root = v2_tree(tmp_path / "tusz")
    real = corpus.labels_for

    def flaky(path, *args, **kw):
        if "aaaaaaac" in str(path):
            raise ZeroDivisionError("simulated bug")
        return real(path, *args, **kw)

    monkeypatch.setattr(corpus, "labels_for", flaky)
    summary = preprocess(root, tmp_path / "store", Recipe(feature="raw"))
    assert (summary.done, summary.failed) == (4, 1)
    assert summary.failures == [("aaaaaaac_s001_t000", "internal error: ZeroDivisionError: simulated bug")]


def test_untrusted_leftovers_are_redone_and_temp_files_removed(tmp_path):
    root = v2_tree(tmp_path / "tusz")
    store_dir = tmp_path / "store"
    preprocess(root, store_dir, Recipe(feature="raw"))
    records = store_dir / "records"
    (records / "aaaaaaad_s003_t002.json").unlink()  # killed before the metadata was written
    (records / ".aaaaaaac_s001_t000.x.npy.abc.tmp.npy").write_bytes(b"half")  # killed mid-write
    meta = json.loads((records / "aaaaaaab_s001_t000.json").read_text())
    meta["recipe_hash"] = "0123456789ab"  # another recipe's leftover
    (records / "aaaaaaab_s001_t000.json").write_text(json.dumps(meta))
    summary = preprocess(root, store_dir, Recipe(feature="raw"))
    assert (summary.done, summary.skipped) == (2, 3)
    assert not list(records.glob(".*tmp*"))


def test_a_second_concurrent_run_is_refused(tmp_path):
    root = v2_tree(tmp_path / "tusz")
    preprocess(root / "edf" / "eval", tmp_path / "store", Recipe(feature="raw"))
    with open(tmp_path / "store" / ".preprocess.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        with pytest.raises(SeizureError, match="another `seizure preprocess` is writing this store"):
            preprocess(root, tmp_path / "store", Recipe(feature="raw"))


def test_parallel_run_matches_serial(tmp_path):
    root = v2_tree(tmp_path / "tusz")
    serial = preprocess(root, tmp_path / "one", Recipe(feature="spectrogram"))
    parallel = preprocess(root, tmp_path / "two", Recipe(feature="spectrogram"), jobs=2)
    assert serial.done == parallel.done == 5
    a, b = FeatureStore(tmp_path / "one"), FeatureStore(tmp_path / "two")
    for m in a.records():
        np.testing.assert_array_equal(a.features(m.rec_id), b.features(m.rec_id))


def test_recipe_from_config_and_overrides(tmp_path):
    cfg = tmp_path / "exp.toml"
    cfg.write_text('[recipe]\nfeature = "spectrogram"\nnotch_hz = [50.0]\n\n[train]\nepochs = 3\n')
    r = recipe_from_config(cfg, ["recipe.fs_hz=200"])
    assert (r.feature, r.notch_hz, r.fs_hz) == ("spectrogram", (50.0,), 200.0)
    assert recipe_from_config() == Recipe()
    with pytest.raises(ConfigError, match="override 'train.epochs=3' does not set the recipe"):
        recipe_from_config(cfg, ["train.epochs=3"])
    with pytest.raises(ConfigError, match="unknown config key 'recipe.sample_rate'"):
        recipe_from_config(None, ["recipe.sample_rate=200"])


def test_cli_preprocess(tmp_path, capsys):
    root = v2_tree(tmp_path / "tusz")
    assert main(["preprocess", str(root), str(tmp_path / "store"), "--set", "recipe.feature=raw",
                 "--split", "dev,eval"]) == 0
    out = capsys.readouterr().out
    assert "2 recording(s) found: 2 processed, 0 already done, 0 failed" in out
    (root / "edf/train/aaaaaaaa/s001_2013/01_tcp_ar/aaaaaaaa_s001_t000.edf").write_bytes(b"0" * 300)
    assert main(["preprocess", str(root), str(tmp_path / "store"), "--set", "recipe.feature=raw"]) == 1
    out = capsys.readouterr().out
    assert "1 failed" in out and "failed x1: EDFError" in out
    assert main(["preprocess", str(root), str(tmp_path / "s3"), "--set", "model.cell=gru"]) == 1
    assert "does not set the recipe" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["preprocess", str(root), str(tmp_path / "s3"), "--jobs", "0"])
    assert exit_info.value.code == 2


def test_killed_run_leaves_nothing_trusted_half_written(tmp_path):
    root = tmp_path / "tusz"
    for i in range(8):
        write_recording(root / f"edf/train/p{i:07d}/s001_2020/01_tcp_ar/p{i:07d}_s001_t000.edf", seconds=300,
                        seizures=((100.0, 160.0),), seed=i)
    store_dir = tmp_path / "store"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "seizure.cli", "-q", "preprocess", str(root), str(store_dir)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list((store_dir / "records").glob("*.json"))) >= 2:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    trusted = FeatureStore(store_dir).records()
    assert 2 <= len(trusted) < 8  # killed part-way
    for m in trusted:  # whatever a later run would trust is complete
        assert FeatureStore(store_dir).features(m.rec_id).shape == (3000, 22, 26)
    summary = preprocess(root, store_dir, Recipe())
    assert summary.skipped == len(trusted) and summary.done == 8 - len(trusted) and summary.failed == 0
    assert len(FeatureStore(store_dir).records()) == 8
