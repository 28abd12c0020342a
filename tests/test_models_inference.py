"""Bounded-memory chunked inference equals the one-shot pass within the stated tolerance."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seizure.models import ModelConfig, build_model
from seizure.models.inference import predict_array, predict_probs

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
    """The largest batch ever passed to the model is batch_size windows, whatever the length."""
    model = build_model(ModelConfig(**SMALL), 22, NF, FPS)
    seen = []
    original = model.forward

    def spy(x, mask=None):
        seen.append(tuple(x.shape))
        return original(x, mask)

    model.forward = spy
    long = np.concatenate([features] * 2)  # 30 min
    p = predict_array(model, long, FPS, chunk_s=60, window_s=60, context_s=10, batch_size=4)
    assert p.shape == (1800,)
    assert max(s[0] for s in seen) <= 4
    assert max(s[1] for s in seen) <= (60 + 2 * 10) * FPS


def test_edge_cases():
    model = build_model(ModelConfig(**SMALL), 22, NF, FPS)
    assert predict_probs(model, iter([]), FPS).shape == (0,)
    short = np.random.default_rng(1).standard_normal((30 * FPS, 22, NF)).astype(np.float32)
    assert np.abs(predict_array(model, short, FPS) - one_shot(model, short)).max() < 1e-6
    with pytest.raises(ValueError, match="whole seconds"):
        predict_probs(model, iter([short[:3]]), FPS)
    with pytest.raises(ValueError, match="window_s must be"):
        predict_array(model, short, FPS, window_s=0)
