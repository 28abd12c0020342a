"""Interrupted runs: `seizure preprocess` and `seizure train` killed with SIGKILL part-way and
run again end exactly where an uninterrupted run ends, without redoing finished work and
without trusting anything half-written."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bad_inputs import CASES, corpus_path, good_csv_bi, run_cli, tiny_store, train_argv, write_case
from edf_factory import TCP_REF_LABELS, edf_bytes
from seizure.corpus import preprocess
from seizure.preprocess.recipe import Recipe
from seizure.store import FeatureStore

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
N_RECORDINGS = 8
RECORD_S = 180


def write_corpus(root: Path) -> Path:
    """8 recordings of 3 minutes (one patient each) and one broken file (recorded as failed)."""
    for i in range(N_RECORDINGS):
        folder, stem = corpus_path(root, i)
        folder.mkdir(parents=True)
        (folder / f"{stem}.edf").write_bytes(edf_bytes(TCP_REF_LABELS, 256, RECORD_S, seed=i))
        (folder / f"{stem}.csv_bi").write_bytes(good_csv_bi(stem, RECORD_S))
    folder, stem = corpus_path(root, N_RECORDINGS)
    write_case(CASES["edf/truncated_mid_record"], folder, stem)
    return root


def start_preprocess(corpus: Path, store: Path, jobs: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "seizure.cli", "-q", "preprocess", str(corpus), str(store),
                             "--jobs", str(jobs)], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def kill_after(proc: subprocess.Popen, records: Path, n_json: int) -> None:
    """SIGKILL ``proc`` as soon as ``n_json`` recordings are committed."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list(records.glob("*.json"))) >= n_json:
            break
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, proc.stderr.read().decode()


def committed(store: Path) -> dict[str, tuple[int, int]]:
    """Trusted recordings and the (inode, mtime) of their feature file."""
    out = {}
    for meta in FeatureStore(store).records():
        st = (store / "records" / f"{meta.rec_id}.x.npy").stat()
        out[meta.rec_id] = (st.st_ino, st.st_mtime_ns)
    return out


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_killed_preprocess_resumes_to_the_store_of_an_uninterrupted_run(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    reference = preprocess(corpus, tmp_path / "reference", Recipe())
    assert (reference.done, reference.failed) == (N_RECORDINGS, 1)

    store = tmp_path / "store"
    records = store / "records"
    # 1) one process, killed after 2 recordings; 2) two workers, killed after 2 more
    for jobs, n_json in ((1, 2), (2, None)):
        before = committed(store) if store.exists() else {}
        proc = start_preprocess(corpus, store, jobs)
        kill_after(proc, records, (n_json or len(list(records.glob("*.json"))) + 2))
        snap = listing(records)
        time.sleep(0.3)
        assert listing(records) == snap  # no orphaned worker goes on writing after the kill
        trusted = committed(store)
        assert len(before) < len(trusted) < N_RECORDINGS  # killed part-way, after progress
        for rec_id, stamp in before.items():  # finished recordings were not redone
            assert trusted[rec_id] == stamp
        for rec_id in trusted:  # whatever a later run trusts is complete
            x = FeatureStore(store).features(rec_id)
            assert x.shape == (RECORD_S * 10, 22, 26) and np.isfinite(x).all()

    # the rerun processes exactly the rest, leaves no temporary file and matches the reference
    trusted = committed(store)
    summary = preprocess(corpus, store, Recipe())
    assert (summary.skipped, summary.done, summary.failed) == (len(trusted), N_RECORDINGS - len(trusted), 1)
    assert {k: v for k, v in committed(store).items() if k in trusted} == trusted
    assert not [n for n in listing(records) if n.startswith(".")]
    assert listing(records) == listing(tmp_path / "reference" / "records")
    for name in listing(records):
        assert (records / name).read_bytes() == (tmp_path / "reference" / "records" / name).read_bytes(), name
    manifest = (store / "manifest.csv").read_text()
    assert manifest == (tmp_path / "reference" / "manifest.csv").read_text()
    assert len(manifest.splitlines()) == 1 + N_RECORDINGS + 1


def test_preprocess_killed_while_writing_leaves_only_untrusted_temporaries(tmp_path):
    """A kill in the middle of writing a feature array leaves a temporary file, never a trusted
    record; the next run removes it and processes that recording."""
    corpus = tmp_path / "corpus"
    folder, stem = corpus_path(corpus, 0)
    folder.mkdir(parents=True)
    (folder / f"{stem}.edf").write_bytes(edf_bytes(TCP_REF_LABELS, 256, 1800))  # 30 min: a long write
    (folder / f"{stem}.csv_bi").write_bytes(good_csv_bi(stem, 1800))
    store = tmp_path / "store"
    proc = start_preprocess(corpus, store, 1)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list((store / "records").glob(f".{stem}.x.npy.*")):
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    assert [n for n in listing(store / "records") if n.startswith(f".{stem}.x.npy.")]  # caught mid-write
    assert FeatureStore(store).records(status=None) == []
    code, out, _ = run_cli(["-q", "preprocess", str(corpus), str(store)])
    assert code == 0 and "1 processed, 0 already done, 0 failed" in out
    assert listing(store / "records") == [f"{stem}.json", f"{stem}.x.npy", f"{stem}.y.npy"]


# --------------------------------------------------------------------------- training

def metrics_without_time(out: Path) -> list[dict[str, str]]:
    import csv

    with open(out / "metrics.csv") as fh:
        return [{k: v for k, v in row.items() if k != "elapsed_s"} for row in csv.DictReader(fh)]


def test_killed_training_resumes_from_its_last_checkpoint_to_the_same_result(tmp_path):
    import torch

    store = tiny_store(tmp_path / "store")
    proc = subprocess.Popen([sys.executable, "-m", "seizure.cli", "-q", *train_argv(store, tmp_path / "cut")],
                            env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    last = tmp_path / "cut" / "last.pt"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None and not last.exists():
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)  # right after the first checkpoint (end of epoch 1)
    assert proc.wait() == -signal.SIGKILL, proc.stderr.read().decode()
    saved = torch.load(last, weights_only=True)["train_state"]
    assert 1 <= saved["epoch"] < 3 and not saved["finished"]
    assert not (tmp_path / "cut" / "best.pt").exists()

    code, out, err = run_cli(["-q", *train_argv(store, tmp_path / "cut")])  # resumes
    assert code == 0, out + err
    code, out, err = run_cli(["-q", *train_argv(store, tmp_path / "full")])  # never interrupted
    assert code == 0, out + err

    assert metrics_without_time(tmp_path / "cut") == metrics_without_time(tmp_path / "full")
    assert len(metrics_without_time(tmp_path / "full")) == 3
    cut, full = (torch.load(tmp_path / d / "best.pt", weights_only=True) for d in ("cut", "full"))
    assert cut["operating_point"] == full["operating_point"] and cut["summary"] == full["summary"]
    assert cut["model_state"].keys() == full["model_state"].keys()
    for name, tensor in full["model_state"].items():
        assert torch.equal(cut["model_state"][name], tensor), name
    assert sorted(p.name for p in (tmp_path / "cut").iterdir()) == sorted(p.name for p in (tmp_path / "full").iterdir())
