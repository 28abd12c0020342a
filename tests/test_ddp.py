"""Data-parallel training (torch DDP over gloo, on CPU): two processes on half batches take the
steps one process takes on the whole batch; rank 0 alone writes; a rank killed mid-run is
restarted by ``torchrun --max-restarts`` and the run ends with the uninterrupted weights."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bad_inputs import TRAIN_SETTINGS, tiny_store  # noqa: E402

from seizure.training.distributed import Ranks, from_env, rank_share  # noqa: E402
from seizure.training.sampler import Crop  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
# the tiny settings (no dropout or noise: every rank draws no random numbers), 3 epochs of 12 steps
SETTINGS = [s for s in TRAIN_SETTINGS if not s.startswith("train.steps_per_epoch")] + ["train.steps_per_epoch=12"]
ARGS = [a for s in SETTINGS for a in ("--set", s)]
WRITES = ["best.pt", "last.pt", "metrics.csv", "resolved_config.toml", "training_curve.png"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train_losses(path: Path) -> list[float]:
    import csv

    with open(path) as fh:
        return [float(row["train_loss"]) for row in csv.DictReader(fh)]


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["model_state"]


def train_two_ranks(store: Path, out: Path, settings: list[str]) -> list[tuple[str, str]]:
    """``seizure train`` as two gloo ranks, started as torchrun starts them (RANK, WORLD_SIZE,
    MASTER_ADDR/PORT); each rank's (stdout, stderr) once both succeeded."""
    port = free_port()
    procs = [subprocess.Popen([sys.executable, "-m", "seizure", "-q", "train", str(store), str(out),
                               *[a for s in settings for a in ("--set", s)]],
                              env={**ENV, "RANK": str(r), "LOCAL_RANK": str(r), "WORLD_SIZE": "2",
                                   "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for r in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err
    return outs


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The tiny store, an in-process one-process run and a two-process gloo run (the ranks started
    as torchrun starts them: RANK, WORLD_SIZE, MASTER_ADDR/PORT)."""
    from seizure.training.config import load_config
    from seizure.training.loop import train

    tmp = tmp_path_factory.mktemp("ddp")
    store = tiny_store(tmp / "store")
    train(store, tmp / "one", load_config(None, SETTINGS))
    return store, tmp, train_two_ranks(store, tmp / "two", SETTINGS)


def test_two_processes_on_half_batches_end_with_the_weights_of_one_process_on_the_whole_batch(runs):
    _, tmp, _ = runs
    one, two = weights(tmp / "one" / "last.pt"), weights(tmp / "two" / "last.pt")
    assert one.keys() == two.keys()
    for k in one:
        torch.testing.assert_close(two[k], one[k], rtol=1e-4, atol=1e-5, msg=k)
    # the logged loss is the global batch's too, and training moved (the first epoch's loss is not the last's)
    loss_one, loss_two = (train_losses(tmp / name / "metrics.csv") for name in ("one", "two"))
    assert len(loss_two) == 3 and loss_two[0] != loss_two[-1]
    assert loss_two == pytest.approx(loss_one, rel=1e-4)


def test_hard_negative_mining_under_ddp_takes_the_steps_of_one_process(runs, tmp_path):
    """Rank 0 mines after each epoch and broadcasts the weights: both ranks draw the same plan,
    and the run ends with the one-process weights."""
    from seizure.training.config import load_config
    from seizure.training.loop import train

    store, _, _ = runs
    mining = [*SETTINGS, "train.hard_negative_fraction=0.5"]
    train(store, tmp_path / "one", load_config(None, mining))
    train_two_ranks(store, tmp_path / "two", mining)
    state = torch.load(tmp_path / "two" / "last.pt", weights_only=True)["train_state"]
    assert "hard_weights" in state
    one, two = weights(tmp_path / "one" / "last.pt"), weights(tmp_path / "two" / "last.pt")
    for k in one:
        torch.testing.assert_close(two[k], one[k], rtol=1e-4, atol=1e-5, msg=k)
    plain = weights(runs[1] / "one" / "last.pt")
    assert any(not torch.allclose(plain[k], one[k]) for k in one)  # mining changed what was trained on


def test_rank_zero_alone_writes_and_reports(runs):
    _, tmp, outs = runs
    assert sorted(p.name for p in (tmp / "two").iterdir()) == WRITES  # no rank-1 leftovers or temporaries
    assert "best checkpoint:" in outs[0][0] and outs[1][0] == ""


def test_each_rank_keeps_the_batch_balance_and_the_ranks_cover_the_batch():
    batch = [Crop(i, 0, (), s) for i, s in enumerate([True, True, False, True, False, False, False, True])]
    shares = [rank_share(batch, [c.seizure for c in batch], Ranks(r, 3)) for r in range(3)]
    assert sorted(c.record for s in shares for c in s) == list(range(8))
    for s in shares:
        assert [c.seizure for c in s].count(True) in (1, 2) and [c.seizure for c in s].count(False) in (1, 2)
    assert rank_share(batch, [c.seizure for c in batch], Ranks()) == batch
    assert from_env({"RANK": "1", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}) == Ranks(1, 4, 1)


def children(pid: int) -> list[int]:
    return [int(c) for t in Path(f"/proc/{pid}/task").iterdir() for c in (t / "children").read_text().split()]


def test_a_rank_killed_mid_run_restarts_from_last_checkpoint_to_the_uninterrupted_weights(runs):
    store, tmp, _ = runs
    out = tmp / "killed"
    launcher = subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                                 "--max-restarts", "1", "--rdzv-backend", "c10d",
                                 f"--rdzv-endpoint=127.0.0.1:{free_port()}", "-m", "seizure", "train", str(store),
                                 str(out), *ARGS], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while not (out / "last.pt").exists() and time.monotonic() < deadline and launcher.poll() is None:
            time.sleep(0.005)  # last.pt appears at the end of epoch 1
        ranks = children(launcher.pid)
        assert len(ranks) == 2 and (out / "metrics.csv").read_text().count("\n") == 2  # in epoch 2
        os.kill(ranks[-1], signal.SIGKILL)
        stdout, stderr = launcher.communicate(timeout=300)
    finally:  # a failed test leaves no launcher or rank behind
        if launcher.poll() is None:
            for pid in children(launcher.pid):
                os.kill(pid, signal.SIGKILL)
            launcher.kill()
            launcher.wait()
    assert launcher.returncode == 0, stderr
    assert "resuming from" in stderr and "at epoch 2 step 0" in stderr  # not from scratch
    rows = (out / "metrics.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows] == ["epoch", "1", "2", "3"]  # no epoch lost or repeated
    ref = weights(tmp / "two" / "last.pt")
    for k, v in weights(out / "last.pt").items():
        torch.testing.assert_close(v, ref[k], rtol=0, atol=0, msg=k)
    assert stdout.count("best checkpoint:") == 1  # rank 0 alone reports


def test_the_data_parallel_checkpoint_is_an_ordinary_one(runs):
    from seizure import checkpoint
    from seizure.evaluation import split_probabilities
    from seizure.store import FeatureStore

    store, tmp, _ = runs
    one, two = (checkpoint.load(tmp / name / "best.pt") for name in ("one", "two"))
    assert two.operating_point == one.operating_point  # chosen once on dev, from the gathered probabilities
    fs = FeatureStore(store)
    dev = fs.records("dev")
    for a, b in zip(split_probabilities(one.model, fs, dev, one.config.train),
                    split_probabilities(two.model, fs, dev, two.config.train)):
        torch.testing.assert_close(torch.from_numpy(b), torch.from_numpy(a), rtol=1e-4, atol=1e-4)
