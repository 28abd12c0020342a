"""``seizure export``: ONNX and TorchScript give the per-second probabilities of ``seizure score``."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from bids_factory import TINY, make_checkpoint, write_recording
from seizure import checkpoint, cli
from seizure.errors import CheckpointError, ConfigError
from seizure.export import ExportedModel, export, meta_path
from seizure.preprocess.pipeline import process_edf
from seizure.detect import detect_recording as score_recording

HAS_ONNX = all(importlib.util.find_spec(m) is not None for m in ("onnx", "onnxruntime"))
ONNX_REASON = "the onnx extra is not installed (pip install 'seizure[onnx]': onnx, onnxruntime)"


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    # longer than one scoring window (60 s + 2 x 20 s context): several windows are stitched
    edf = write_recording(root / "rec.edf", seconds=250.0, burst=(100.0, 130.0))
    flat = write_recording(root / "short.edf", seconds=45.0, seed=4, burst=None)  # shorter than one window
    model = make_checkpoint(root / "model.pt", overrides=[*TINY, "model.cell=lstm"])
    ckpt = checkpoint.load(model)
    return root, model, {p: score_recording(ckpt, p, root / "out") for p in (edf, flat)}, ckpt


@pytest.mark.parametrize("fmt", ["torchscript", pytest.param("onnx", marks=pytest.mark.skipif(not HAS_ONNX,
                                                                                             reason=ONNX_REASON))])
def test_exported_model_gives_the_probabilities_of_seizure_score(scored, fmt, tmp_path, capsys):
    root, model, results, ckpt = scored
    out = tmp_path / f"model.{'onnx' if fmt == 'onnx' else 'ts'}"
    assert cli.main(["export", str(model), str(out), "--format", fmt]) == 0
    assert "wrote" in capsys.readouterr().out
    meta = json.loads(meta_path(out).read_text())
    assert meta["recipe_hash"] == ckpt.recipe_hash and meta["recipe"] == ckpt.recipe.to_dict()
    assert meta["operating_point"]["threshold"] == pytest.approx(ckpt.operating_point.threshold)
    assert meta["channels"] == list(ckpt.channels) and meta["windows"]["window_s"] == 60
    exported = ExportedModel(out)
    for edf, result in results.items():
        proc = process_edf(edf, ckpt.recipe)
        probs = exported.predict(proc.features, proc.mask)
        assert probs.shape == result.probs.shape
        np.testing.assert_allclose(probs, result.probs, atol=1e-4, rtol=0)
        assert np.ptp(result.probs) > 1e-3  # a constant output would hide a wrong window


def test_export_refuses_unknown_formats_and_a_json_target(scored, tmp_path):
    _, model, _, _ = scored
    with pytest.raises(ConfigError, match="valid formats: onnx, torchscript"):
        export(model, "tflite", tmp_path / "m.tflite")
    with pytest.raises(ConfigError, match="JSON is written beside it"):
        export(model, "torchscript", tmp_path / "m.json")


def test_a_model_traced_for_one_length_only_is_refused(tmp_path):
    """The minimalRNN runs its Python loop over time at inference: tracing unrolls it."""
    model = make_checkpoint(tmp_path / "mrnn.pt", overrides=[*TINY, "model.cell=minimalrnn"])
    with pytest.raises(CheckpointError, match="traced for one length and cannot be exported"):
        export(model, "torchscript", tmp_path / "m.ts")
    assert not (tmp_path / "m.ts").exists() and not (tmp_path / "m.json").exists()


@pytest.mark.parametrize("fmt", ["torchscript", pytest.param("onnx", marks=pytest.mark.skipif(not HAS_ONNX,
                                                                                             reason=ONNX_REASON))])
def test_the_pooled_front_end_exports_too(tmp_path, fmt):
    """The demo's layout (channel-pooled front-end: masked max and mean over channels; each
    recording's median taken out of its features) through both formats."""
    edf = write_recording(tmp_path / "rec.edf", seconds=150.0, burst=(60.0, 90.0))
    model = make_checkpoint(tmp_path / "model.pt", overrides=[*TINY, "model.frontend=pooled",
                                                               "model.conv1d_kernel=1", "model.conv1d_stride=1",
                                                               "recipe.normalize=recording_median"])
    ckpt = checkpoint.load(model)
    result = score_recording(ckpt, edf, tmp_path / "out")
    out = tmp_path / f"model.{'onnx' if fmt == 'onnx' else 'ts'}"
    export(model, fmt, out)
    assert ExportedModel(out).meta["recipe"]["normalize"] == "recording_median"
    proc = process_edf(edf, ckpt.recipe)
    mask = proc.mask.copy()
    np.testing.assert_allclose(ExportedModel(out).predict(proc.features, mask), result.probs, atol=1e-4, rtol=0)
    mask[[0, 5]] = False  # missing channels: left out of the pooling, as in the checkpoint
    expected = checkpoint.load(model)
    from seizure.evaluation import probabilities

    ref = probabilities(expected.model, [proc.features], expected.frames_per_s, mask, expected.config.train)
    np.testing.assert_allclose(ExportedModel(out).predict(proc.features, mask), ref, atol=1e-4, rtol=0)
