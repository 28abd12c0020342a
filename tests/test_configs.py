"""Every shipped config loads, builds its model and trains one step; config loading rules."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from seizure.preprocess import features
from seizure.errors import ConfigError
from seizure.models import build_model
from seizure.models.regularizers import param_groups, penalty
from seizure.models.sparse_vd import kl_total
from seizure.preprocess.montage import get_montage
from seizure.training.config import ExperimentConfig, load_config, to_toml
from seizure.training.loop import _lr_lambda

CONFIGS = sorted(p for p in (Path(__file__).resolve().parents[1] / "configs").glob("*.toml"))
EXPECTED = {"base", "paper_cnn_lstm", "cnn_gru", "minimalrnn_critical", "sparse_vd", "demo"}


def test_the_documented_configs_exist():
    assert EXPECTED <= {p.stem for p in CONFIGS}


def geometry(cfg: ExperimentConfig) -> tuple[int, int, int]:
    feature = features.get(cfg.recipe.feature)
    params = cfg.recipe.feature_params
    return (len(get_montage(cfg.recipe.montage).channels), feature.n_features(params),
            feature.frames_per_s(params, cfg.recipe.fs_hz))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_config_builds_and_trains_one_step(path):
    cfg = load_config(path)
    n_ch, n_feat, fps = geometry(cfg)
    torch.manual_seed(0)
    model = build_model(cfg.model, n_ch, n_feat, fps, seed=cfg.train.seed)
    model.train()
    wd = cfg.model.reg.weight_decay if cfg.model.uses("weight_decay") else 0.0
    cls = torch.optim.AdamW if cfg.train.optimizer == "adamw" else torch.optim.Adam
    opt = cls(param_groups(model, wd), lr=cfg.train.lr)
    seconds = 8
    x = torch.randn(2, seconds * fps, n_ch, n_feat)
    y = torch.zeros(2, seconds)
    y[0, 3:6] = 1
    mask = torch.ones(2, n_ch)
    mask[1, [8, 13]] = 0
    logits = model(x, mask)
    assert logits.shape == (2, seconds)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y)
    loss = loss + penalty(model, cfg.model.reg.l1 if cfg.model.uses("l1") else 0.0,
                          cfg.model.reg.l2 if cfg.model.uses("l2") else 0.0)
    if cfg.model.uses("sparse_vd"):
        loss = loss + kl_total(model) / 1e5
    before = [p.detach().clone() for p in model.parameters()]
    opt.zero_grad()
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert _lr_lambda(cfg.train, 100)(50) > 0


def test_base_equals_the_built_in_defaults():
    assert load_config(next(p for p in CONFIGS if p.stem == "base")) == ExperimentConfig()


def test_resolved_toml_round_trips(tmp_path):
    for path in CONFIGS:
        cfg = load_config(path)
        out = tmp_path / f"{path.stem}.toml"
        out.write_text(to_toml(cfg))
        assert load_config(out) == cfg, path.stem


def test_inherit_and_overrides(tmp_path):
    (tmp_path / "parent.toml").write_text('[model]\ncell = "gru"\nhidden_size = 24\n[train]\nepochs = 3\n')
    (tmp_path / "child.toml").write_text('inherit = "parent.toml"\n[model]\nhidden_size = 12\n')
    cfg = load_config(tmp_path / "child.toml", ["train.lr=0.01", "model.regularizers=['dropout']"])
    assert (cfg.model.cell, cfg.model.hidden_size, cfg.train.epochs) == ("gru", 12, 3)
    assert cfg.train.lr == 0.01 and cfg.model.regularizers == ("dropout",)


@pytest.mark.parametrize("overrides, message", [
    (["model.hiden_size=3"], r"unknown config key 'model.hiden_size'; valid keys here: activation"),
    (["trian.epochs=3"], r"unknown config key 'trian'"),
    (["train.epochs=two"], r"config key 'train.epochs' must be an integer"),
    (["train.balance=smote"], r"config key 'train.balance' must be one of \['crops', 'weighted_loss', 'none'\]"),
    (["model.cell=lstn"], r"unknown model.cell 'lstn'; valid: gru, lstm, minimalrnn, rnn"),
    (["model.reg.dropout=1.5"], r"reg.dropout must be in \[0, 1\)"),
    (["train.seizure_crop_fraction=2"], r"train.seizure_crop_fraction must be in \[0, 1\]"),
    (["postprocess.smooth_s=[]"], r"postprocess.smooth_s must be a non-empty list"),
    (["model.init.recurrent_hidden_params={gain=2}"], r"initializer 'orthogonal'|ok"),
    (["model.init.output_params={q_star=0.1}"], r"initializer 'glorot_uniform' takes no parameter 'q_star'"),
])
def test_bad_configs_are_refused_naming_the_key(overrides, message):
    if overrides == ["model.init.recurrent_hidden_params={gain=2}"]:
        assert load_config(None, overrides).model.init.recurrent_hidden_params == {"gain": 2}
        return
    with pytest.raises(ConfigError, match=message):
        load_config(None, overrides)
