"""Regularizers: penalty values, weight-decay groups, dropout/noise behaviour, sparse VD."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from seizure.errors import ConfigError
from seizure.models import REGULARIZERS, ModelConfig, RegularizerConfig, build_model
from seizure.models.recurrent import GRUCell, RecurrentLayer
from seizure.models.regularizers import GaussianNoise, param_groups, penalty
from seizure.models.sparse_vd import K1, K2, K3, LinearSVD, kl_approx, kl_total, log_alpha, sparsity_report


def known_model() -> nn.Module:
    model = nn.Sequential(nn.Linear(2, 2), nn.Conv1d(2, 1, 2))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, -2.0], [3.0, 0.0]]))
        model[0].bias.fill_(5.0)
        model[1].weight.copy_(torch.tensor([[[0.5, -0.5], [1.0, 2.0]]]))
        model[1].bias.fill_(-7.0)
    return model


def test_registry_names():
    assert set(REGULARIZERS) == {"l1", "l2", "l1_l2", "dropout", "gaussian_noise", "recurrent_dropout",
                                 "sparse_vd", "weight_decay", "early_stopping"}


def test_penalty_values_on_known_model():
    model = known_model()
    # weights only (dim >= 2): |w| sum = 1+2+3+0 + 0.5+0.5+1+2 = 10; w^2 sum = 1+4+9 + 0.25+0.25+1+4 = 19.5
    assert penalty(model, l1=0.1).item() == pytest.approx(1.0)
    assert penalty(model, l2=0.01).item() == pytest.approx(0.195)
    assert penalty(model, l1=0.1, l2=0.01).item() == pytest.approx(1.195)
    assert penalty(model).item() == 0.0
    cfg = ModelConfig(regularizers=("l1_l2",))
    assert cfg.uses("l1") and cfg.uses("l2") and not cfg.uses("dropout")


def test_weight_decay_only_on_weights_with_dim_ge_2():
    model = build_model(ModelConfig(regularizers=("sparse_vd",), conv2d_channels=(4,), hidden_size=8,
                                    embed_dim=8), 22, 26, 10)
    decay, rest = param_groups(model, 1e-3)
    named = {id(p): n for n, p in model.named_parameters()}
    assert decay["weight_decay"] == 1e-3 and rest["weight_decay"] == 0.0
    assert all(p.dim() >= 2 and "log_sigma2" not in named[id(p)] for p in decay["params"])
    assert any("log_sigma2" in named[id(p)] for p in rest["params"])
    assert any(p.dim() == 1 for p in rest["params"])
    assert len(decay["params"]) + len(rest["params"]) == len(list(model.parameters()))


def test_unknown_regularizer_refused():
    with pytest.raises(ConfigError, match=r"unknown model.regularizers entry 'l3'; valid: dropout, early_stopping"):
        build_model(ModelConfig(regularizers=("l3",)), 22, 26, 10)


def test_recurrent_dropout_mask_shared_across_time(monkeypatch):
    layer = RecurrentLayer("gru", 5, 16, bidirectional=False, recurrent_dropout=0.5)
    layer.train()
    seen = []
    original = GRUCell.step

    def spy(self, pre, state, h_in, w):
        seen.append((state[0].detach().clone(), h_in.detach().clone()))
        return original(self, pre, state, h_in, w)

    monkeypatch.setattr(GRUCell, "step", spy)
    torch.manual_seed(0)
    layer(torch.randn(3, 12, 5))
    ratios = []
    for h, h_in in seen[1:]:  # from t=1 the state is non-zero
        ratio = torch.where(h.abs() > 1e-6, h_in / h, torch.full_like(h, float("nan")))
        ratios.append(ratio)
    ratios = torch.stack(ratios)  # (T-1, B, H)
    first = ratios[0]
    assert torch.allclose(ratios, first.expand_as(ratios), equal_nan=True, atol=1e-5)
    values = set(np.round(first[~torch.isnan(first)].numpy(), 4).tolist())
    assert values == {0.0, 2.0}  # dropped, or kept and scaled by 1 / keep
    # one mask per sequence: the sequences of the batch have different masks
    assert not torch.equal(first[0], first[1])
    # eval: no mask
    seen.clear()
    layer.eval()
    layer(torch.randn(3, 4, 5))
    assert all(torch.equal(h, h_in) for h, h_in in seen)


def test_dropout_and_noise_only_in_training():
    cfg = ModelConfig(regularizers=("dropout", "gaussian_noise"), conv2d_channels=(4,), hidden_size=8, embed_dim=8,
                      reg=RegularizerConfig(dropout=0.5, gaussian_noise_std=0.3))
    model = build_model(cfg, 22, 26, 10)
    x = torch.randn(2, 50, 22, 26)
    model.eval()
    with torch.no_grad():
        a, b = model(x), model(x)
        model.train()
        c = model(x)
    assert torch.equal(a, b) and not torch.allclose(a, c)
    noise = GaussianNoise(0.3).train()
    z = torch.zeros(200_000)
    assert noise(z).std().item() == pytest.approx(0.3, rel=0.01)
    assert torch.equal(noise.eval()(z), z)


@pytest.mark.parametrize("at", ["inputs", "activations"])
def test_gaussian_noise_placement(at):
    cfg = ModelConfig(regularizers=("gaussian_noise",), conv2d_channels=(4,), hidden_size=8, embed_dim=8,
                      reg=RegularizerConfig(gaussian_noise_std=0.2, gaussian_noise_at=at))
    model = build_model(cfg, 22, 26, 10)
    assert (model.input_noise.std > 0) == (at == "inputs")
    assert (model.act_noise.std > 0) == (at == "activations")


def test_sparse_vd_kl_matches_formula():
    la = torch.tensor([-5.0, -1.0, 0.0, 2.0, 3.0, 8.0])
    expected = -(K1 / (1 + np.exp(-(K2 + K3 * la.numpy()))) - 0.5 * np.log1p(np.exp(-la.numpy())) - K1)
    assert kl_approx(la).item() == pytest.approx(expected.sum(), rel=1e-6)
    assert kl_approx(torch.tensor([20.0])).item() == pytest.approx(0.0, abs=1e-6)  # alpha -> inf: no cost


def test_sparse_vd_kl_tracks_the_true_kl_up_to_a_constant():
    # -KL(q || log-uniform) = 0.5 log alpha - E log|1 + sqrt(alpha) eps| + C (Molchanov et al. 2017)
    rng = np.random.default_rng(0)
    eps = rng.standard_normal(1_000_000)
    diffs = []
    for la in (-2.0, 0.0, 2.0, 4.0):
        alpha = math.exp(la)
        true_neg_kl = 0.5 * la - np.mean(np.log(np.abs(1 + math.sqrt(alpha) * eps)))
        approx_neg_kl = -kl_approx(torch.tensor([la])).item()
        diffs.append(approx_neg_kl - true_neg_kl)
    assert max(diffs) - min(diffs) < 0.02


def test_sparse_vd_prunes_above_threshold_at_inference():
    layer = LinearSVD(3, 2, threshold=3.0)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]))
        layer.bias.zero_()
        # log_alpha = log_sigma2 - log(theta^2) = log_sigma2 here
        layer.log_sigma2.copy_(torch.tensor([[2.9, 3.1, -5.0], [4.0, 0.0, 3.0]]))
    assert torch.allclose(log_alpha(layer.weight, layer.log_sigma2), layer.log_sigma2, atol=1e-6)
    layer.eval()
    out = layer(torch.tensor([[1.0, 10.0, 100.0]]))
    assert out.tolist() == [[101.0, 110.0]]  # row 0 keeps w0, w2; row 1 keeps w1, w2 (3.0 is not above)
    report = sparsity_report(layer)
    assert report["svd_weights"] == 6 and report["svd_weights_kept"] == 4
    assert report["sparsity"] == pytest.approx(2 / 6)
    assert report["dense_bytes"] == (6 + 2) * 4
    assert report["compressed_bytes"] == 4 * 8 + 3 * 4 + 2 * 4  # CSR values+indices, row pointers, bias
    layer.train()  # training: local reparameterisation gives noisy outputs with the right variance
    torch.manual_seed(0)
    x = torch.ones(100_000, 3)
    y = layer(x)
    var_expected = torch.exp(layer.log_sigma2).sum(dim=1)
    assert torch.allclose(y.var(dim=0), var_expected, rtol=0.03)
    assert torch.allclose(y.mean(dim=0), torch.tensor([3.0, 3.0]), atol=0.5)


def _pairs(model):
    from seizure.models.sparse_vd import svd_modules

    for module in svd_modules(model):
        yield from module.svd_pairs()


def test_sparse_vd_model_reports_sparsity_and_kl():
    cfg = ModelConfig(regularizers=("sparse_vd",), cell="lstm", conv2d_channels=(4,), hidden_size=16, embed_dim=8)
    model = build_model(cfg, 22, 26, 10)
    report = sparsity_report(model)
    n_rec = sum(c.weight_ih.numel() + c.weight_hh.numel() for layer in model.recurrent.layers for c in layer.cells)
    assert report["svd_weights"] == n_rec + model.head.weight.numel()
    # log_sigma2 starts at -10: only weights with theta^2 < exp(-13) (log-alpha > 3) are pruned
    thetas = torch.cat([t.detach().ravel() for _, t, _ in _pairs(model)])
    assert report["sparsity"] == pytest.approx((thetas.abs() < math.exp(-6.5)).float().mean().item())
    assert report["sparsity"] < 0.01
    kl = kl_total(model)
    assert kl.item() > 0 and kl.requires_grad
    # push every recurrent log-variance up: everything there is pruned, the model still runs
    with torch.no_grad():
        for layer in model.recurrent.layers:
            for c in layer.cells:
                c.log_sigma2_ih.fill_(10.0)
                c.log_sigma2_hh.fill_(10.0)
    report = sparsity_report(model)
    head_pruned = (model.head.weight.abs() < math.exp(-6.5)).sum().item()
    assert report["sparsity"] == pytest.approx((n_rec + head_pruned) / report["svd_weights"])
    assert report["compressed_bytes"] < report["dense_bytes"]
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(1, 30, 22, 26))
    assert torch.isfinite(out).all()
    # training samples the recurrent weights once per forward: two passes differ
    model.train()
    x = torch.randn(1, 30, 22, 26)
    assert not torch.allclose(model(x), model(x))


def test_gaussian_noise_only_on_present_channels():
    cfg = ModelConfig(regularizers=("gaussian_noise",), conv2d_channels=(4,), hidden_size=8, embed_dim=8,
                      reg=RegularizerConfig(gaussian_noise_std=0.5, gaussian_noise_at="inputs"))
    model = build_model(cfg, 22, 26, 10).train()
    seen = []
    model.frontend.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach().clone()))
    x = torch.randn(2, 40, 22, 26)
    mask = torch.ones(2, 22)
    mask[0, [8, 13]] = 0
    mask[1, 3] = 0
    torch.manual_seed(0)
    model(x, mask)
    (z,) = seen
    assert torch.equal(z[0, :, [8, 13]], torch.zeros_like(z[0, :, [8, 13]]))  # absent: exactly zero
    assert torch.equal(z[1, :, 3], torch.zeros_like(z[1, :, 3]))
    clean = (x - model.feature_mean) / model.feature_std
    assert (z[0, :, 0] - clean[0, :, 0]).std().item() == pytest.approx(0.5, rel=0.1)  # present: noisy
    noise = GaussianNoise(0.3).train()
    assert torch.equal(noise(torch.zeros(1, 5, 3, 2), torch.tensor([[1.0, 0.0, 1.0]]))[:, :, 1], torch.zeros(1, 5, 2))
