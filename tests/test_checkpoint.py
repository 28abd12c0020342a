"""Checkpoints are data: weights_only loading, self-description, refusal of unsafe or foreign files."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from seizure import __version__, checkpoint
from seizure.errors import CheckpointError, RecipeMismatchError
from seizure.models import build_model
from seizure.postprocess import OperatingPoint
from seizure.preprocess.recipe import Recipe
from seizure.store import FeatureInfo, FeatureStore, StoreWriter
from seizure.training.config import load_config

CFG = load_config(None, ["model.conv2d_channels=[4]", "model.embed_dim=8", "model.hidden_size=8",
                         "model.cell=minimalrnn", "model.regularizers=['sparse_vd']"])
CHANNELS = [f"C{i}" for i in range(22)]


def trained_like(seed: int = 0):
    model = build_model(CFG.model, 22, 26, 10, seed=seed)
    model.set_normalization(torch.linspace(-1, 1, 26), torch.linspace(1, 2, 26))
    return model


def saved(tmp_path, name="best.pt", **kwargs):
    model = trained_like()
    op = OperatingPoint(threshold=0.42, smooth_s=3.0, min_duration_s=5.0, merge_gap_s=10.0)
    data = checkpoint.make(model, CFG, CFG.recipe, op, CHANNELS, {"best_epoch": 3, "dev_sensitivity": 0.9},
                           **kwargs)
    return model, checkpoint.save(tmp_path / name, data)


def test_round_trip_is_self_describing(tmp_path):
    model, path = saved(tmp_path)
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == "seizure-checkpoint" and raw["package_version"] == __version__
    assert raw["recipe"] == CFG.recipe.to_dict() and raw["recipe_hash"] == CFG.recipe.hash()
    assert raw["model_args"]["n_features"] == 26 and raw["model_args"]["frames_per_s"] == 10
    ck = checkpoint.load(path)
    assert not ck.model.training
    assert ck.operating_point == OperatingPoint(0.42, 3.0, 5.0, 10.0)
    assert ck.config == CFG and ck.recipe == CFG.recipe and ck.channels == CHANNELS
    assert ck.summary["best_epoch"] == 3 and ck.frames_per_s == 10
    model.eval()
    x = torch.randn(1, 60, 22, 26)
    with torch.no_grad():
        assert torch.equal(model(x), ck.model(x))  # incl. normalisation buffers and sparse-VD pruning


def test_malicious_pickle_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "evil.pt"
    torch.save({"format": "seizure-checkpoint", "payload": Exploit()}, path)
    with pytest.raises(CheckpointError, match="refused: the file holds more than plain data"):
        checkpoint.load(path)
    assert not marker.exists()
    raw_pickle = tmp_path / "evil.pkl"
    raw_pickle.write_bytes(pickle.dumps(Exploit()))
    with pytest.raises(CheckpointError, match="refused|not a readable"):
        checkpoint.load(raw_pickle)
    assert not marker.exists()


@pytest.mark.parametrize("content, message", [
    (b"not a checkpoint at all", "not a readable PyTorch checkpoint"),
    (None, "not a seizure checkpoint"),
])
def test_foreign_files_are_refused(tmp_path, content, message):
    path = tmp_path / "x.pt"
    if content is None:
        torch.save({"weights": torch.zeros(3)}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        checkpoint.load(path)


def test_missing_and_inconsistent_checkpoints(tmp_path):
    with pytest.raises(CheckpointError, match="checkpoint file not found"):
        checkpoint.load(tmp_path / "nope.pt")
    _, path = saved(tmp_path)
    raw = torch.load(path, weights_only=True)
    bad = dict(raw, recipe_hash="000000000000")
    torch.save(bad, tmp_path / "hash.pt")
    with pytest.raises(CheckpointError, match="does not match its recipe"):
        checkpoint.load(tmp_path / "hash.pt")
    state = dict(raw["model_state"])
    state.pop("head.weight")
    torch.save(dict(raw, model_state=state), tmp_path / "weights.pt")
    with pytest.raises(CheckpointError, match=r"model_state does not hold the network model_args describes "
                                              r"\(lacks head.weight; 14,645 weights stored, 14,661 described\)"):
        checkpoint.load(tmp_path / "weights.pt")
    del raw["operating_point"]
    torch.save(raw, tmp_path / "short.pt")
    with pytest.raises(CheckpointError, match="lacks operating_point"):
        checkpoint.load(tmp_path / "short.pt")


def test_recipe_mismatch_with_a_store_is_refused(tmp_path):
    _, path = saved(tmp_path)
    ck = checkpoint.load(path)
    same = StoreWriter(tmp_path / "same", CFG.recipe, FeatureInfo(tuple(CHANNELS), 26, 10))
    ck.check_store(FeatureStore(same.root))
    other = StoreWriter(tmp_path / "other", Recipe(notch_hz=(50.0,)), FeatureInfo(tuple(CHANNELS), 26, 10))
    with pytest.raises(RecipeMismatchError, match=f"checkpoint was made with preprocessing recipe {CFG.recipe.hash()}"):
        ck.check_store(FeatureStore(other.root))


def test_train_state_is_plain_data(tmp_path):
    model = trained_like()
    opt = torch.optim.AdamW(model.parameters())
    model(torch.randn(1, 20, 22, 26)).sum().backward()
    opt.step()
    state = {"optimizer": opt.state_dict(), "rng_state": torch.get_rng_state(), "epoch": 1, "step": 2,
             "history": [{"epoch": 1, "dev_loss": float(np.float64(0.5))}]}
    _, path = saved(tmp_path, "last.pt", train_state=state)
    raw = torch.load(path, weights_only=True)
    assert raw["train_state"]["step"] == 2 and torch.equal(raw["train_state"]["rng_state"], state["rng_state"])


def test_loading_builds_the_model_without_running_the_initializer(tmp_path, monkeypatch):
    model, path = saved(tmp_path)

    def refuse(*args, **kwargs):
        raise AssertionError("the initializer ran while loading a checkpoint")

    monkeypatch.setattr("seizure.models.network.apply_initializers", refuse)
    ckpt = checkpoint.load(path)
    for name, value in model.state_dict().items():
        assert torch.equal(ckpt.model.state_dict()[name], value), name
