"""Bounded-memory chunked inference equals the one-shot pass within the stated tolerance."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seizure.models import ModelConfig, build_model
from seizure.errors import ConfigError
from seizure.models.inference import inference_batch_size, predict_array, predict_probs

SMALL = dict(conv2d_channels=(4,), embed_dim=16, hidden_size=32)
FPS, NF = 2, 6  # a small feature geometry keeps the test fast


def one_shot(model, x, mask=None):
    with torch.no_grad():
        m = None if mask is None else torch.as_tensor(mask, dtype=torch.float32)[None]
        return torch.sigmoid(model(torch.from_numpy(x)[None], m))[0].numpy()


@pytest.fixture(scope="module")
def features():
    return np.random.default_rng(0).standard_normal((900 * FPS, 22, NF)).astype(np.float32)


@pytest.mark.parametrize("cell, bidirectional", [("lstm", True), ("gru", False), ("minimalrnn", True)])
def test_chunked_equals_one_shot(features, cell, bidirectional):
    model = build_model(ModelConfig(cell=cell, bidirectional=bidirectional, **SMALL), 22, NF, FPS, seed=1)
    ref = one_shot(model, features)
    errors = []
    for context_s in (10, 60, 300):
        p = predict_array(model, features, FPS, chunk_s=77, window_s=100, context_s=context_s, batch_size=8)
        assert p.shape == ref.shape and p.dtype == np.float32
        errors.append(np.abs(p - ref).max())
    assert errors[-1] < 1e-3           # measured 1e-7 .. 3e-4 at 300 s of context for these models
    assert errors[0] > errors[-1]      # and the error shrinks with context
    # one window covering the recording: identical to the one-shot pass
    whole = predict_array(model, features, FPS, chunk_s=100, window_s=900, context_s=0)
    assert np.abs(whole - ref).max() < 1e-6


def test_mask_and_training_mode_are_respected(features):
    model = build_model(ModelConfig(regularizers=("dropout",), **SMALL), 22, NF, FPS)
    model.train()
    mask = np.ones(22, dtype=bool)
    mask[[8, 13]] = False
    p = predict_array(model, features[:600 * FPS], FPS, mask, window_s=100, context_s=300)
    assert model.training  # restored
    model.eval()
    assert np.abs(p - one_shot(model, features[:600 * FPS], mask)).max() < 1e-3


def test_memory_is_bounded_by_windows_not_recording(features):
    """The largest batch ever run is batch_size windows, whatever the length, and every frame
    is encoded exactly once although the windows overlap."""
    model = build_model(ModelConfig(**SMALL), 22, NF, FPS)
    encoded, decoded = [], []
    encode, decode = model.encode, model.decode

    def spy_encode(x, mask=None):
        encoded.append(tuple(x.shape))
        return encode(x, mask)

    def spy_decode(e):
        decoded.append(tuple(e.shape))
        return decode(e)

    model.encode, model.decode = spy_encode, spy_decode
    long = np.concatenate([features] * 2)  # 30 min
    p = predict_array(model, long, FPS, chunk_s=60, window_s=60, context_s=10, batch_size=4)
    assert p.shape == (1800,)
    assert max(s[0] for s in decoded) <= 4
    assert max(s[1] for s in decoded) <= (60 + 2 * 10) * FPS
    assert sum(s[1] for s in encoded) == long.shape[0]  # each frame once
    assert max(s[1] for s in encoded) == 60 * FPS       # one chunk at a time


def test_identical_windows_run_once(features):
    """A recording shorter than a window plus its context: every core has the same input."""
    model = build_model(ModelConfig(**SMALL), 22, NF, FPS)
    decoded = []
    decode = model.decode
    model.decode = lambda e: decoded.append(tuple(e.shape)) or decode(e)
    short = features[:150 * FPS]
    p = predict_array(model, short, FPS, window_s=50, context_s=100, batch_size=8)
    assert decoded == [(1, 150 * FPS, model.encoded_dim)]
    assert np.abs(p - one_shot(model, short)).max() < 1e-6


def test_any_module_runs_whole_windows(features):
    """A module without the encode/decode stages is run on whole windows: same probabilities."""
    model = build_model(ModelConfig(cell="gru", **SMALL), 22, NF, FPS, seed=4)

    class Plain(torch.nn.Module):
        bidirectional = True

        def __init__(self):
            super().__init__()
            self.net = model

        def forward(self, x, mask=None):
            return self.net(x, mask)

    mask = np.ones(22, dtype=bool)
    mask[5] = False
    x = features[:400 * FPS]
    kwargs = dict(window_s=100, context_s=30, batch_size=3)
    np.testing.assert_allclose(predict_array(Plain(), x, FPS, mask, **kwargs),
                               predict_array(model, x, FPS, mask, **kwargs), atol=1e-6)


def test_bfloat16_is_opt_in_and_close(features):
    model = build_model(ModelConfig(conv2d_channels=(4, 8), **{k: v for k, v in SMALL.items() if k != "conv2d_channels"}),
                        22, NF, FPS, seed=2)
    x = features[:300 * FPS]
    ref = predict_array(model, x, FPS, window_s=100, context_s=30)
    low = predict_array(model, x, FPS, window_s=100, context_s=30, precision="bfloat16")
    assert low.dtype == np.float32 and low.shape == ref.shape
    assert 0 < np.abs(low - ref).max() < 3e-2  # bf16 keeps ~3 significant digits
    with pytest.raises(ConfigError, match="unknown precision 'half'; valid: bfloat16, float32"):
        predict_array(model, x, FPS, precision="half")


def test_batch_size_fits_the_memory_budget():
    """Windows per batch = budget // (4 encoded-frame copies + 3 x the largest layer tensor) per window."""
    model = build_model(ModelConfig(**SMALL), 22, NF, FPS)
    model.train()
    settings = dict(window_s=60, context_s=20)
    assert inference_batch_size(model, FPS, max_batch=16, budget_mb=1e9, **settings) == 16
    assert inference_batch_size(model, FPS, max_batch=16, budget_mb=1e-3, **settings) == 1
    assert model.training  # restored after the probe
    # SMALL: each frame is encoded as its projection by the 3 taps of the temporal convolution
    # (3 x 16 values); the largest layer tensor is the recurrent output, 2 directions x 32 per second
    assert model.encoded_dim == 3 * 16 and model.encode_step == 1
    encoded = 3 * 16 * FPS * 4 / 2**20
    largest = 2 * 32 * 4 / 2**20
    window_mb = (4 * encoded + 3 * largest) * (60 + 2 * 20)
    assert inference_batch_size(model, FPS, max_batch=16, budget_mb=4.5 * window_mb, **settings) == 4
    assert inference_batch_size(model, FPS, max_batch=3, budget_mb=4.5 * window_mb, **settings) == 3
    with pytest.raises(ConfigError, match="max_batch must be a positive integer, got 0"):
        inference_batch_size(model, FPS, max_batch=0, **settings)


def test_edge_cases():
    model = build_model(ModelConfig(**SMALL), 22, NF, FPS)
    assert predict_probs(model, iter([]), FPS).shape == (0,)
    short = np.random.default_rng(1).standard_normal((30 * FPS, 22, NF)).astype(np.float32)
    assert np.abs(predict_array(model, short, FPS) - one_shot(model, short)).max() < 1e-6
    with pytest.raises(ValueError, match="whole seconds"):
        predict_probs(model, iter([short[:3]]), FPS)
    with pytest.raises(ValueError, match="window_s must be"):
        predict_array(model, short, FPS, window_s=0)
