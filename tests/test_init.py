"""Each named initializer does what it promises (Keras semantics, RAI, critical)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from seizure.errors import ConfigError
from seizure.models import INITIALIZERS, InitConfig, ModelConfig, build_model
from seizure.models.init import TRUNC_CORRECTION, InitTarget, critical_params, fans
from seizure.models.recurrent import CELLS


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def linear_target(n_in: int = 400, n_out: int = 600) -> InitTarget:
    layer = nn.Linear(n_in, n_out)
    return InitTarget("lin", layer.weight, layer.bias)


def conv_target() -> InitTarget:
    conv = nn.Conv2d(32, 64, (3, 5))
    return InitTarget("conv", conv.weight, conv.bias)


def test_all_twelve_are_registered():
    assert sorted(INITIALIZERS) == sorted([
        "orthogonal", "lecun_uniform", "lecun_normal", "glorot_uniform", "glorot_normal", "he_uniform",
        "he_normal", "variance_scaling", "random_uniform", "truncated_normal", "rai", "critical"])


def test_keras_fans_for_conv_kernels():
    assert fans((64, 32, 3, 5)) == (32 * 15, 64 * 15)
    assert fans((600, 400)) == (400, 600)


@pytest.mark.parametrize("name, scale, mode, uniform", [
    ("lecun_uniform", 1.0, "fan_in", True), ("lecun_normal", 1.0, "fan_in", False),
    ("glorot_uniform", 1.0, "fan_avg", True), ("glorot_normal", 1.0, "fan_avg", False),
    ("he_uniform", 2.0, "fan_in", True), ("he_normal", 2.0, "fan_in", False),
])
@pytest.mark.parametrize("make", [linear_target, conv_target])
def test_variance_scaling_family_variance(name, scale, mode, uniform, make):
    t = make()
    INITIALIZERS[name](t, gen())
    fan_in, fan_out = fans(tuple(t.weight.shape))
    n = {"fan_in": fan_in, "fan_avg": (fan_in + fan_out) / 2}[mode]
    expected = scale / n
    w = t.weight.detach().numpy().ravel()
    assert w.var() == pytest.approx(expected, rel=0.04)
    assert abs(w.mean()) < 0.05 * math.sqrt(expected)
    if uniform:
        limit = math.sqrt(3 * expected)
        assert w.max() <= limit and w.min() >= -limit and w.max() > 0.99 * limit
    else:  # truncated at 2 sd of the *corrected* scale
        std = math.sqrt(expected) / TRUNC_CORRECTION
        assert np.abs(w).max() <= 2 * std + 1e-7 and np.abs(w).max() > 1.9 * std
    assert torch.count_nonzero(t.bias) == 0


def test_variance_scaling_parameters_and_errors():
    t = linear_target()
    INITIALIZERS["variance_scaling"](t, gen(), scale=3.0, mode="fan_out", distribution="untruncated_normal")
    assert t.weight.detach().var().item() == pytest.approx(3.0 / 600, rel=0.04)
    assert t.weight.detach().abs().max().item() > 2.5 * math.sqrt(3.0 / 600)  # not truncated
    with pytest.raises(ConfigError, match="mode must be one of"):
        INITIALIZERS["variance_scaling"](t, gen(), mode="fan_sum")
    with pytest.raises(ConfigError, match="distribution must be one of"):
        INITIALIZERS["variance_scaling"](t, gen(), distribution="cauchy")


def test_orthogonal_per_gate_block():
    cell = CELLS["lstm"](40, 32)
    t = InitTarget("hh", cell.weight_hh, None, 4, "hh", "lstm", hidden_bias=cell.bias_hh)
    INITIALIZERS["orthogonal"](t, gen(), gain=1.0)
    for block in t.block_views():
        assert torch.allclose(block @ block.T, torch.eye(32), atol=1e-5)
    ih = InitTarget("ih", cell.weight_ih, cell.bias_ih, 4, "ih", "lstm")
    INITIALIZERS["orthogonal"](ih, gen())  # 32 x 40 blocks: orthonormal rows
    for block in ih.block_views():
        assert torch.allclose(block @ block.T, torch.eye(32), atol=1e-5)
    # Keras unit_forget_bias: the forget gate's bias starts at 1, the others at 0
    assert torch.all(cell.bias_ih[32:64] == 1) and torch.count_nonzero(cell.bias_ih[:32]) == 0
    INITIALIZERS["orthogonal"](t, gen(), gain=2.0)
    assert torch.allclose(t.block_views()[0] @ t.block_views()[0].T, 4 * torch.eye(32), atol=1e-4)


def test_random_uniform_and_truncated_normal():
    t = linear_target()
    INITIALIZERS["random_uniform"](t, gen())
    w = t.weight.detach().numpy().ravel()
    assert w.min() >= -0.05 and w.max() <= 0.05 and w.var() == pytest.approx(0.1 ** 2 / 12, rel=0.03)
    INITIALIZERS["random_uniform"](t, gen(), minval=0.0, maxval=1.0)
    assert t.weight.detach().mean().item() == pytest.approx(0.5, abs=0.005)
    with pytest.raises(ConfigError, match="minval"):
        INITIALIZERS["random_uniform"](t, gen(), minval=1.0, maxval=0.0)
    INITIALIZERS["truncated_normal"](t, gen())
    w = t.weight.detach().numpy().ravel()
    # Keras TruncatedNormal: re-drawn beyond 2 sd, no variance correction
    assert np.abs(w).max() <= 0.1 + 1e-7
    assert w.std() == pytest.approx(0.05 * TRUNC_CORRECTION, rel=0.02)


def test_rai_one_positive_beta_entry_per_neuron():
    n_in, n_out = 400, 4000
    t = linear_target(n_in, n_out)
    INITIALIZERS["rai"](t, gen())
    rows = torch.cat([t.weight.detach(), t.bias.detach()[:, None]], dim=1).numpy()  # (out, fan_in + 1)
    sd = 0.6007 / math.sqrt(n_in)
    # the symmetric part never reaches 0.25 (> 8 sd); Beta(2, 1) exceeds it with probability 1 - 0.25**2
    big = rows > 0.25
    assert (big.sum(axis=1) <= 1).all()
    assert big.any(axis=1).mean() == pytest.approx(1 - 0.25 ** 2, abs=0.015)
    assert rows.min() > -0.25
    # the large entries follow Beta(2, 1) restricted to (0.25, 1]: CDF (x^2 - 1/16) / (15/16)
    special = rows[big]
    assert special.max() <= 1.0
    assert stats.kstest(special, lambda x: (x ** 2 - 1 / 16) / (15 / 16)).pvalue > 0.01
    # the chosen index is uniform over weights and bias: about 1/(n_in+1) of rows pick the bias
    assert (rows[:, -1] > 0.25).mean() == pytest.approx(0.9375 / (n_in + 1), abs=0.006)
    # the rest: N(0, sigma^2 / fan_in)
    rest = rows[~big & (np.abs(rows) < 0.25)]
    assert rest.std() == pytest.approx(sd, rel=0.03)
    # asymmetric: each neuron's summed parameters have mean E[Beta(2,1)] = 2/3
    assert rows.sum(axis=1).mean() == pytest.approx(2 / 3, abs=0.03)


def _dead_fraction(init: str, depth: int = 10, width: int = 3, n_nets: int = 200) -> tuple[float, float]:
    g = gen(7)
    x = torch.randn(1000, 2, generator=g)
    dead = total = born_dead = 0
    with torch.no_grad():
        for _ in range(n_nets):
            a, collapsed = x, False
            for i in range(depth):
                layer = nn.Linear(2 if i == 0 else width, width)
                INITIALIZERS[init](InitTarget("l", layer.weight, layer.bias), g)
                a = torch.relu(layer(a))
                d = a.amax(dim=0) <= 0          # unit outputs 0 for every input
                dead += int(d.sum())
                total += width
                collapsed |= bool(d.all())
            born_dead += collapsed
    return dead / total, born_dead / n_nets


def test_rai_fewer_dead_relus_than_he_normal():
    he_units, he_nets = _dead_fraction("he_normal")
    rai_units, rai_nets = _dead_fraction("rai")
    # measured: he_normal ~47% dead units / ~53% born-dead nets; rai ~13% / ~6%
    assert rai_units < he_units - 0.2
    assert rai_nets < he_nets - 0.3


def _jacobian_singular_values(cell_name: str, init: str, params: dict, steps: int = 100, hidden: int = 128,
                              burn_in: int = 100) -> np.ndarray:
    """Singular values of d h_{burn+T} / d h_burn at init, from the state reached after a burn-in."""
    g = gen(0)
    cell = CELLS[cell_name](64, hidden)
    INITIALIZERS[init](InitTarget("ih", cell.weight_ih, cell.bias_ih, cell.gates, "ih", cell_name), g, **params)
    INITIALIZERS[init](InitTarget("hh", cell.weight_hh, None, cell.gates, "hh", cell_name,
                                  hidden_bias=cell.bias_hh), g, **params)
    if cell.weight_zh is not None:
        INITIALIZERS[init](InitTarget("zh", cell.weight_zh, None, 1, "zh", cell_name), g, **params)
    x = torch.randn(1, burn_in + steps, 64, generator=g)
    with torch.no_grad():
        _, h_burn = cell(x[:, :burn_in])
    # one batched backward pass: row i of the batch carries output unit i, so the gradient
    # of sum_i h_T[i, i] with respect to the batch of initial states is the Jacobian, row by row
    h0 = h_burn.repeat(hidden, 1).requires_grad_()
    _, h_last = cell(x[:, burn_in:].expand(hidden, -1, -1), h0)
    (jac,) = torch.autograd.grad(h_last.diagonal().sum(), h0)
    return torch.linalg.svdvals(jac).numpy()


@pytest.mark.parametrize("cell_name, params", [("rnn", {"q_star": 1e-3})])
def test_critical_gives_dynamical_isometry(cell_name, params):  # minimalrnn: tests/test_critical.py
    crit = _jacobian_singular_values(cell_name, "critical", params)
    glorot = _jacobian_singular_values(cell_name, "glorot_uniform", {})
    spread_crit = np.abs(np.log10(crit)).mean()
    spread_glorot = np.abs(np.log10(glorot)).mean()
    # measured: rnn 0.04 vs 23.7 (mean |log10 s| over 100 steps)
    assert spread_crit < 0.2
    assert spread_glorot > 10
    assert np.mean((crit > 0.5) & (crit < 2.0)) > 0.9
    assert np.mean((glorot > 0.5) & (glorot < 2.0)) == 0.0


def test_critical_mean_field_values():
    rnn = critical_params("rnn", q_star=1e-2)
    assert rnn.chi == pytest.approx(1.0)
    assert 1.0 < rnn.sigma_w < 1.02 and rnn.sigma_v < 0.01  # isometry needs sigma_w -> 1, small input
    mini = critical_params("minimalrnn", timescale=100.0)
    assert 0.97 < mini.chi < 1.0  # the stable branch ends below chi = 1 (see critical_params)
    assert 1 / (1 + math.exp(-mini.mu_b)) == pytest.approx(0.99)
    with pytest.raises(ConfigError, match="rnn and minimalrnn"):
        critical_params("lstm")


def test_critical_refused_for_gated_cells_and_non_recurrent_groups():
    with pytest.raises(ConfigError, match="not for cell 'lstm'"):
        build_model(ModelConfig(cell="lstm", init=InitConfig(recurrent_hidden="critical")), 22, 26, 10)
    with pytest.raises(ConfigError, match="recurrent groups only"):
        build_model(ModelConfig(cell="rnn", init=InitConfig(conv="critical")), 22, 26, 10)


def test_unknown_initializer_and_parameter_are_refused():
    with pytest.raises(ConfigError, match=r"unknown model.init.conv 'kaiming'; valid: critical, glorot_normal"):
        build_model(ModelConfig(init=InitConfig(conv="kaiming")), 22, 26, 10)
    with pytest.raises(ConfigError, match=r"takes no parameter 'gain'; valid: minval, maxval"):
        build_model(ModelConfig(init=InitConfig(conv="random_uniform", conv_params={"gain": 2})), 22, 26, 10)


def test_groups_reach_every_weight():
    cfg = ModelConfig(cell="minimalrnn", init=InitConfig(conv="he_uniform", recurrent_input="lecun_normal",
                                                          recurrent_hidden="orthogonal", output="random_uniform"))
    model = build_model(cfg, 22, 26, 10, seed=3)
    targets = model.init_targets()
    covered = {id(t.weight) for ts in targets.values() for t in ts}
    weights = [p for n, p in model.named_parameters() if p.dim() >= 2]
    assert all(id(p) in covered for p in weights)
    for t in targets["recurrent_hidden"]:
        w = t.weight.detach()
        assert torch.allclose(w @ w.T, torch.eye(w.shape[0]), atol=1e-5)
    head = model.head.weight.detach()
    assert head.abs().max() <= 0.05
    # same seed, same weights; another seed differs
    again = build_model(cfg, 22, 26, 10, seed=3)
    other = build_model(cfg, 22, 26, 10, seed=4)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
    assert not torch.equal(model.head.weight, other.head.weight)


def _expected_mean_square(name: str, t: InitTarget, block: torch.Tensor) -> float:
    """The documented formula for one gate block's mean square (module docstring of init.py)."""
    fan_in, fan_out = fans(tuple(block.shape))
    scaled = {"lecun": (1.0, fan_in), "glorot": (1.0, (fan_in + fan_out) / 2), "he": (2.0, fan_in)}
    family = name.split("_")[0]
    if family in scaled:
        scale, n = scaled[family]
        return scale / n  # uniform and (corrected) truncated normal alike
    if name == "variance_scaling":
        return 1.0 / fan_in
    if name == "orthogonal":
        return 1.0 / max(block.shape[0], block[0].numel())
    if name == "random_uniform":
        return 0.1 ** 2 / 12
    if name == "truncated_normal":
        return (0.05 * TRUNC_CORRECTION) ** 2
    if name == "rai":  # N(0, 0.6007^2 / fan_in), one entry per row of [w, b] replaced by Beta(2, 1) (E x^2 = 1/2)
        cols = fan_in + (1 if t.bias is not None else 0)
        return 0.6007 ** 2 / fan_in * (1 - 1 / cols) + 0.5 / cols
    raise AssertionError(name)


@pytest.mark.parametrize("name", sorted(set(INITIALIZERS) - {"critical"}))
def test_every_initializer_measured_variance_per_layer_group(name):
    cfg = ModelConfig(cell="lstm", conv2d_channels=(16,), embed_dim=128, hidden_size=512, bidirectional=True,
                      init=InitConfig(conv=name, recurrent_input=name, recurrent_hidden=name, output=name))
    model = build_model(cfg, 22, 26, 10, seed=0)
    checked = set()
    for group, targets in model.init_targets().items():
        for t in targets:
            for block in t.block_views():
                if block.numel() < 1000:  # the first 3x3 conv: too few values for a variance
                    continue
                ms = float((block.double() ** 2).mean())
                tol = 0.25 if block.numel() < 5000 else 0.05  # the output layer: 1 x 1024
                assert ms == pytest.approx(_expected_mean_square(name, t, block), rel=tol), (group, t.name)
                checked.add(group)
    assert checked == {"conv", "recurrent_input", "recurrent_hidden", "output"}


@pytest.mark.parametrize("cell_name", ["rnn", "minimalrnn"])
def test_critical_measured_variance_per_layer_group(cell_name):
    cfg = ModelConfig(cell=cell_name, conv2d_channels=(16,), embed_dim=128, hidden_size=256, bidirectional=False,
                      init=InitConfig(recurrent_input="critical", recurrent_hidden="critical",
                                      recurrent_input_params={"timescale": 100.0, "q_star": 0.01},
                                      recurrent_hidden_params={"timescale": 100.0, "q_star": 0.01}))
    model = build_model(cfg, 22, 26, 10, seed=0)
    cell = model.recurrent.layers[0].cells[0]
    p = critical_params(cell_name, timescale=100.0, q_star=0.01)
    ms = lambda w: float((w.detach().double() ** 2).mean())  # noqa: E731
    assert ms(cell.weight_hh) == pytest.approx(p.sigma_w ** 2 / 256, rel=1e-4)  # sigma_w x orthogonal
    if cell_name == "minimalrnn":
        assert ms(cell.weight_ih) == pytest.approx(p.sigma_x ** 2 / 128, rel=0.05)
        assert ms(cell.weight_zh) == pytest.approx(p.sigma_v ** 2 / 256, rel=0.05)
    else:
        assert ms(cell.weight_ih) == pytest.approx(p.sigma_v ** 2 / 128, rel=0.05)
