"""Front-ends, recurrent cells and the assembled network."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from seizure.errors import ConfigError
from seizure.models import CELLS, FRONTENDS, ModelConfig, build_model
from seizure.models.recurrent import Recurrent

SMALL = dict(conv2d_channels=(4,), embed_dim=8, hidden_size=8)


def test_registries():
    assert sorted(CELLS) == ["gru", "lstm", "minimalrnn", "rnn"]
    assert sorted(FRONTENDS) == ["cnn1d", "cnn2d", "pooled"]


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_cells_match_torch_reference(cell):
    torch.manual_seed(0)
    ours = Recurrent(cell, 6, 5, num_layers=2, bidirectional=True)
    ref = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell](6, 5, num_layers=2, bidirectional=True,
                                                                 batch_first=True)
    with torch.no_grad():
        for li, layer in enumerate(ours.layers):
            for di, c in enumerate(layer.cells):
                suffix = f"l{li}" + ("_reverse" if di else "")
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    getattr(c, name).copy_(getattr(ref, f"{name}_{suffix}"))
    x = torch.randn(3, 9, 6)
    expected, _ = ref(x)
    assert torch.allclose(ours(x), expected, atol=1e-5)


def test_minimalrnn_matches_its_equations():
    torch.manual_seed(0)
    layer = Recurrent("minimalrnn", 4, 3, num_layers=1, bidirectional=False)
    cell = layer.layers[0].cells[0]
    with torch.no_grad():
        cell.bias_ih.normal_()
        cell.bias_hh.normal_()
    x = torch.randn(2, 7, 4)
    w_x, b_z = cell.weight_ih.detach().numpy(), cell.bias_ih.detach().numpy()
    u_h, u_z, b_u = cell.weight_hh.detach().numpy(), cell.weight_zh.detach().numpy(), cell.bias_hh.detach().numpy()
    h = np.zeros((2, 3))
    outs = []
    for t in range(7):
        z = np.tanh(x[:, t].numpy() @ w_x.T + b_z)
        u = 1 / (1 + np.exp(-(h @ u_h.T + z @ u_z.T + b_u)))
        h = u * h + (1 - u) * z
        outs.append(h)
    assert np.allclose(layer(x).detach().numpy(), np.stack(outs, 1), atol=1e-5)


@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("bidirectional", [True, False])
def test_network_shapes_and_gradients(cell, bidirectional):
    model = build_model(ModelConfig(cell=cell, bidirectional=bidirectional, num_layers=2, **SMALL), 22, 26, 10)
    x = torch.randn(2, 70, 22, 26)
    logits = model(x)
    assert logits.shape == (2, 7)
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_cnn1d_on_raw_waveform():
    cfg = ModelConfig(frontend="cnn1d", cell="gru", cnn1d_channels=(4, 8, 8), cnn1d_strides=(5, 5, 2), **SMALL)
    model = build_model(cfg, 22, 1, 250)
    logits = model(torch.randn(2, 250 * 6, 22, 1))
    assert logits.shape == (2, 6)
    assert model.lookahead_s == 1


def test_masked_channels_are_zeroed():
    model = build_model(ModelConfig(**SMALL), 22, 26, 10).eval()
    x = torch.randn(1, 50, 22, 26)
    mask = torch.ones(1, 22)
    mask[0, [8, 13]] = 0
    y = x.clone()
    y[:, :, [8, 13]] = 1000.0 * torch.randn(1, 50, 2, 26)  # garbage in the missing channels
    with torch.no_grad():
        assert torch.allclose(model(x, mask), model(y, mask), atol=1e-6)
        assert not torch.allclose(model(x), model(y))


def test_normalization_buffers_are_state():
    model = build_model(ModelConfig(**SMALL), 22, 26, 10).eval()
    mean, std = torch.linspace(-1, 1, 26), torch.linspace(1, 3, 26)
    model.set_normalization(mean, std)
    x = torch.randn(1, 30, 22, 26) * std + mean
    other = build_model(ModelConfig(**SMALL), 22, 26, 10).eval()
    other.load_state_dict(model.state_dict())
    with torch.no_grad():
        assert torch.equal(model(x), other(x))
    assert torch.equal(other.feature_std, std)


def test_build_errors_are_clear():
    with pytest.raises(ConfigError, match=r"unknown model.frontend 'cnn3d'; valid: cnn1d, cnn2d"):
        build_model(ModelConfig(frontend="cnn3d"), 22, 26, 10)
    with pytest.raises(ConfigError, match=r"unknown model.cell 'transformer'; valid: gru, lstm, minimalrnn, rnn"):
        build_model(ModelConfig(cell="transformer"), 22, 26, 10)
    with pytest.raises(ConfigError, match="needs the raw waveform"):
        build_model(ModelConfig(frontend="cnn1d"), 22, 26, 10)
    with pytest.raises(ConfigError, match=r"cnn1d_strides \(product 50\) must divide .* frames_per_s \(256\)"):
        build_model(ModelConfig(frontend="cnn1d"), 22, 1, 256)
    with pytest.raises(ConfigError, match=r"conv1d_stride \(3\) must divide"):
        build_model(ModelConfig(conv1d_stride=3), 22, 26, 10)
    with pytest.raises(ConfigError, match="n_channels must be a positive integer"):
        build_model(ModelConfig(), 0, 26, 10)
    with pytest.raises(ValueError, match=r"expected features \(B, T_frames, 22, 26\)"):
        build_model(ModelConfig(**SMALL), 22, 26, 10)(torch.randn(1, 10, 20, 26))


def test_model_args_rebuild_identically():
    from seizure import config

    model = build_model(ModelConfig(cell="gru", **SMALL), 22, 26, 10, seed=5)
    args = model.model_args()
    cfg = config.build(ModelConfig, args["config"], "model")
    again = build_model(cfg, args["n_channels"], args["n_features"], args["frames_per_s"], seed=5)
    assert cfg == model.cfg
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))


@pytest.mark.parametrize("masked", [False, True])
def test_pointwise_first_layer_equals_the_convolution(masked):
    """The matrix-product path (standardisation folded in) equals the plain convolution."""
    cfg = ModelConfig(conv2d_channels=(6, 4), conv2d_kernel=(1, 26), conv2d_padding="valid", conv2d_pool=(1, 1),
                      embed_dim=8, hidden_size=8)
    model = build_model(cfg, 22, 26, 10, seed=2).eval()
    assert model.frontend.pointwise
    model.set_normalization(torch.linspace(-2, 2, 26), torch.linspace(0.5, 3, 26))
    x = torch.randn(2, 40, 22, 26) * 2 + 1
    mask = torch.ones(2, 22)
    if masked:
        mask[0, [3, 9]] = 0
    from seizure.models.frontends import standardise

    xn = standardise(x, model.feature_mean, model.feature_std, mask if masked else None)
    m = mask if masked else None
    with torch.no_grad():
        folded = model.frontend.forward_raw(x, model.feature_mean, model.feature_std, m)
        plain = model.frontend._temporal(model.frontend.blocks(xn.reshape(80, 1, 22, 26)), 2, 40)
        direct = model.frontend(xn)
    assert torch.allclose(folded, plain, atol=1e-5) and torch.allclose(direct, plain, atol=1e-5)


@pytest.mark.parametrize("cell_name", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("training", [True, False])
def test_fused_kernel_equals_the_loop(cell_name, training):
    """Without a dropout mask the cell runs PyTorch's fused kernel: same outputs and gradients."""
    torch.manual_seed(0)
    cell = CELLS[cell_name](6, 5).train(training)
    with torch.no_grad():
        cell.bias_ih.normal_()
        cell.bias_hh.normal_()
    x = torch.randn(3, 11, 6, requires_grad=True)
    h0 = torch.randn(3, 5)
    out_f, last_f = cell(x, h0)
    grads_f = torch.autograd.grad(out_f.square().sum() + last_f.sum(), [x, cell.weight_hh, cell.bias_ih])
    cell.native = None  # force the Python loop
    out_l, last_l = cell(x, h0)
    grads_l = torch.autograd.grad(out_l.square().sum() + last_l.sum(), [x, cell.weight_hh, cell.bias_ih])
    assert torch.allclose(out_f, out_l, atol=1e-6) and torch.allclose(last_f, last_l, atol=1e-6)
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(grads_f, grads_l))


@pytest.mark.parametrize("shape", [(5, 3, 22, 26), (4, 2, 11, 13), (3, 4, 6, 7), (2, 3, 1, 5)])
def test_channels_last_max_pool_equals_torch(shape):
    from seizure.models.frontends import MaxPoolChannelsLast

    x = torch.randn(*shape).contiguous(memory_format=torch.channels_last)
    for kernel in ((2, 2), (1, 2), (3, 1)):
        expected = nn.MaxPool2d(kernel, ceil_mode=True)(x)
        assert torch.equal(MaxPoolChannelsLast(kernel)(x), expected)


POOLED = ModelConfig(frontend="pooled", conv2d_channels=(6,), conv1d_kernel=5, conv1d_stride=5, embed_dim=8,
                     hidden_size=8, cell="gru")


@pytest.mark.parametrize("context_s", [0, 5])
def test_pooled_frontend_ignores_missing_channels_and_their_order(context_s):
    """One encoder for every channel, max and mean over the usable ones: a masked channel's
    values never matter, the channels' order does not, and training and inference agree."""
    import dataclasses

    torch.manual_seed(0)
    model = build_model(dataclasses.replace(POOLED, channel_context_s=context_s), 22, 26, 5)
    model.set_normalization(torch.randn(26), torch.rand(26) + 0.5)
    x = torch.randn(2, 40, 22, 26)
    mask = torch.ones(2, 22)
    mask[1, [3, 4, 17]] = 0
    model.eval()
    with torch.no_grad():
        out = model(x, mask)
        junk = x.clone()
        junk[1, :, [3, 4, 17]] = 1e3
        assert torch.equal(model(junk, mask), out)
        perm = torch.randperm(22)
        assert torch.allclose(model(x[:, :, perm], mask[:, perm]), out, atol=1e-5)
        e = model.frontend.forward_raw(x, model.feature_mean, model.feature_std, mask)
        assert e.shape == (2, 8, 16)
        assert torch.allclose(model.decode(model.encode(x, mask)), model.head(model.recurrent(e)).squeeze(-1))
        # every channel masked: finite zeros, not -inf
        none = model.frontend.forward_raw(x, model.feature_mean, model.feature_std, torch.zeros(2, 22))
        assert torch.isfinite(none).all()


def test_pooled_frontend_refuses_windows_that_straddle_seconds():
    import dataclasses

    with pytest.raises(ConfigError, match="conv1d_kernel == conv1d_stride"):
        build_model(dataclasses.replace(POOLED, conv1d_kernel=7), 22, 26, 5)
    with pytest.raises(ConfigError, match="must divide"):
        build_model(dataclasses.replace(POOLED, conv1d_kernel=3, conv1d_stride=3), 22, 26, 5)
    with pytest.raises(ValueError, match="channel_context_s must be 0 or an odd"):
        dataclasses.replace(POOLED, channel_context_s=4)
