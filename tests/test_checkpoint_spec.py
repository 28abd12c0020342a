"""A data-only checkpoint cannot make the loader allocate an absurd network: the spec it
carries passes the config's own checks (with upper bounds) and must describe exactly the
weights it stores, all before the model is built. Peak memory is measured in a subprocess."""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bad_inputs import CASES, tiny_checkpoint, write_case
from seizure.models.config import GEOMETRY_LIMITS, INT_LIMITS
from seizure.models.network import SeizureNet

ROOT = Path(__file__).resolve().parents[1]
CLI = "import sys; from seizure.cli import main; sys.exit(main(sys.argv[1:]))"

# (name, change to the raw checkpoint, the message it must give)
CRAFTED = [
    ("num_layers", lambda raw: _cfg(raw, num_layers=10**6),
     r"invalid model spec: \[model_args.config\] num_layers must be an integer from 1 to 16, got 1000000"),
    ("hidden_size", lambda raw: _cfg(raw, hidden_size=10**7),
     r"\[model_args.config\] hidden_size must be an integer from 1 to 4096, got 10000000"),
    ("embed_dim", lambda raw: _cfg(raw, embed_dim=10**9),
     r"\[model_args.config\] embed_dim must be an integer from 1 to 4096, got 1000000000"),
    ("conv2d_channels", lambda raw: _cfg(raw, conv2d_channels=[10**8]),
     r"\[model_args.config\] conv2d_channels must hold integers from 1 to 1024, got \[100000000\]"),
    ("conv2d_kernel", lambda raw: _cfg(raw, conv2d_kernel=[3, 10**12]),
     r"\[model_args.config\] conv2d_kernel must be two integers from 1 to 256 \(channels, features\), "
     r"got \[3, 1000000000000\]"),
    ("cnn1d_kernel", lambda raw: _cfg(raw, frontend="cnn1d", cnn1d_kernel=10**9),
     r"\[model_args.config\] cnn1d_kernel must be an integer from 1 to 1024, got 1000000000"),
    ("cnn1d_channels", lambda raw: _cfg(raw, frontend="cnn1d", cnn1d_channels=[16, 10**8, 32]),
     r"\[model_args.config\] cnn1d_channels must hold integers from 1 to 1024, got \[16, 100000000, 32\]"),
    ("huge_int", lambda raw: _cfg(raw, num_layers=10**600),
     r"num_layers must be an integer from 1 to 16, got about 10\^600"),
    ("n_features", lambda raw: _args(raw, n_features=10**9),
     r"invalid model spec: model_args.n_features must be an integer from 1 to 4096, got 1000000000"),
    # within every bound, but 16 bidirectional layers of 4096 units: ~6e9 weights described
    ("inflated", lambda raw: _cfg(raw, num_layers=16, hidden_size=4096, embed_dim=4096),
     r"model_state does not hold the network model_args describes \(.*[\d,]+ weights stored, "
     r"[\d,]+ described\); expected the same weights"),
    # the right names and shapes, but stored as broadcast views of one number each
    ("broadcast_weights", lambda raw: _broadcast(_cfg(raw, num_layers=4, hidden_size=1024)),
     r"model_state\.\S+ \(shape \[[\d, ]+\]\) is backed by only 4 bytes; expected a densely stored tensor"),
]


def _cfg(raw: dict, **changes) -> dict:
    raw["model_args"]["config"].update(changes)
    return raw


def _args(raw: dict, **changes) -> dict:
    raw["model_args"].update(changes)
    return raw


def _broadcast(raw: dict) -> dict:
    """Replace the weights by zero-stride views of shapes that match the (enlarged) spec."""
    from seizure import config
    from seizure.models import ModelConfig

    args = raw["model_args"]
    cfg = config.build(ModelConfig, args["config"], "model")
    with torch.device("meta"):
        shapes = {k: v.shape for k, v in SeizureNet(cfg, args["n_channels"], args["n_features"],
                                                       args["frames_per_s"]).state_dict().items()}
    raw["model_state"] = {k: torch.zeros(1).expand(shape) if len(shape) else torch.zeros(())
                          for k, shape in shapes.items()}
    return raw


@pytest.fixture(scope="module")
def crafted(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("crafted")
    good = tiny_checkpoint(folder / "best.pt")
    out = {"good": good}
    for name, change, _ in CRAFTED:
        raw = change(torch.load(good, weights_only=True))
        out[name] = folder / f"{name}.pt"
        torch.save(raw, out[name])
    return out


def test_broadcast_views_really_are_tiny_in_the_file(crafted):
    """The zero-stride trick survives torch.save/torch.load: the weights are there in name only."""
    raw = torch.load(crafted["broadcast_weights"], weights_only=True)
    numel = sum(v.numel() for v in raw["model_state"].values())
    assert numel > 50_000_000 and crafted["broadcast_weights"].stat().st_size < 200_000


PEAK_SCRIPT = r"""
import json, resource, sys
from seizure import checkpoint
from seizure.errors import CheckpointError

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1])  # kB

checkpoint.load(sys.argv[1])  # every import and lazy initialisation done once
limit = (status("VmSize:") + 2**20) * 1024  # a safety cap: 1 GiB over what is mapped now
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
out = {}
for path in sys.argv[2:]:
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # reset VmHWM (the peak resident size) to the current size
    start = status("VmRSS:")
    try:
        checkpoint.load(path)
        message = "loaded"
    except CheckpointError as exc:
        message = str(exc)
    except BaseException as exc:
        message = f"{type(exc).__name__}: {exc}"[:300]
    out[path] = {"peak_growth_kb": status("VmHWM:") - start, "message": message}
print(json.dumps(out))
"""


def _capped(limit_gib: float):
    """preexec_fn: cap the child's address space (a regression must not exhaust the machine)."""
    def cap() -> None:
        limit = int(limit_gib * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return cap


def test_crafted_checkpoints_are_refused_before_any_large_allocation(crafted):
    """Each crafted file is loaded after a good one in a subprocess, under an address-space cap
    of 1 GiB over what is mapped then: each is refused with a one-line message naming the
    checkpoint and the field, and the peak resident size grows by less than 64 MiB during the
    load (the crafted specs describe networks of 0.4 GB to 10^600 weights)."""
    names = [n for n, _, _ in CRAFTED]
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(crafted["good"]),
                           *(str(crafted[n]) for n in names)],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.splitlines()[-1])
    for name, _, message in CRAFTED:
        got = result[str(crafted[name])]
        text = got["message"]
        assert text.startswith(f"{crafted[name]}: ") and "\n" not in text and len(text) < 400, (name, got)
        assert re.search(message, text), (name, got)
        assert got["peak_growth_kb"] < 64 * 1024, (name, got)


def test_score_refuses_a_crafted_checkpoint_in_one_line(tmp_path, crafted):
    edf = write_case(CASES["edf/record_count_unknown"], tmp_path / "in", "rec")
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", CLI, "score", str(crafted["num_layers"]), str(edf), "--out",
                           str(tmp_path / "out")], capture_output=True, text=True, timeout=300, env=env,
                          preexec_fn=_capped(3))
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr[-2000:]
    assert lines[0] == (f"error: {crafted['num_layers']}: invalid model spec: [model_args.config] num_layers must "
                        "be an integer from 1 to 16, got 1000000"), proc.stderr
    assert not (tmp_path / "out" / "rec.csv_bi").exists()


def test_the_bounds_admit_every_shipped_config():
    """The bounds sit far above every layout in configs/ (they only stop absurd specs)."""
    from seizure.training.config import load_config

    for path in sorted((ROOT / "configs").glob("*.toml")):
        cfg = load_config(path)  # raises ConfigError if a bound were too tight
        assert cfg.model.num_layers <= INT_LIMITS["num_layers"]
    assert GEOMETRY_LIMITS["n_features"] >= 26 and GEOMETRY_LIMITS["n_channels"] >= 22
