"""Every shipped config trains one epoch through ``train()`` (its own regularizers, initializers,
optimizer and schedule; only the sizes of the run are shrunk) and its checkpoint scores an EDF."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from seizure import checkpoint
from seizure.detect import detect_recording
from seizure.store import RecordMeta, StoreWriter, feature_info
from seizure.training.config import load_config
from seizure.training.loop import train

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_detect import write_recording  # noqa: E402

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.toml"))
SMALL_RUN = ["train.epochs=1", "train.steps_per_epoch=2", "train.batch_size=2", "train.crop_s=30",
             "train.eval_window_s=60", "train.eval_context_s=10", "train.threads=1", "train.max_minutes=0",
             "train.normalization_seconds=60", "postprocess.smooth_s=[0]", "postprocess.min_duration_s=[0]",
             "postprocess.merge_gap_s=[0]"]
FAST = {"demo", "minimalrnn_critical", "sparse_vd"}  # the paper-sized models run in the slow suite


def _store(root: Path, recipe) -> Path:
    """Train (2 patients) and dev (1 patient) recordings with the recipe's geometry; seizure
    seconds carry a shift in two features."""
    info = feature_info(recipe)
    writer = StoreWriter(root, recipe, info)
    rng = np.random.default_rng(0)
    fps, n_ch, n_f = info.frames_per_s, len(info.channels), info.n_features
    for split, patient in (("train", "tr000000"), ("train", "tr000001"), ("dev", "de000000")):
        n_s = 90
        x = rng.standard_normal((n_s * fps, n_ch, n_f)).astype(np.float32)
        y = np.zeros(n_s, np.uint8)
        y[30:50] = 1
        x[30 * fps:50 * fps, :, :2] += 2.0
        meta = RecordMeta(rec_id=f"{patient}_s001_t000", split=split, patient=patient, edf_path="x.edf",
                          duration_s=float(n_s), n_seconds=n_s, n_frames=n_s * fps, channel_mask=[True] * n_ch,
                          seizures=[[30.0, 50.0]])
        writer.write_ok(meta, y, x)
    return root


@pytest.fixture(scope="module")
def edf(tmp_path_factory):
    return write_recording(tmp_path_factory.mktemp("edf") / "aaaaaaaa_s001_t000.edf", seconds=60.0,
                           burst=(20.0, 35.0))


@pytest.mark.parametrize("path", [pytest.param(p, id=p.stem, marks=() if p.stem in FAST else pytest.mark.slow)
                                  for p in CONFIGS])
def test_config_trains_one_epoch_and_scores(path, tmp_path, edf):
    cfg = load_config(path, SMALL_RUN)
    shipped = load_config(path)
    assert (cfg.model, cfg.train.schedule, cfg.train.optimizer, cfg.train.lr) == (
        shipped.model, shipped.train.schedule, shipped.train.optimizer, shipped.train.lr)
    store = _store(tmp_path / "store", cfg.recipe)
    result = train(store, tmp_path / "out", cfg)
    assert len(result.metrics) == 1 and result.metrics[0]["steps"] == 2
    assert np.isfinite(result.metrics[0]["train_loss"])
    if cfg.model.uses("sparse_vd"):
        assert result.metrics[0]["kl"] > 0
    ckpt = checkpoint.load(result.best_path)
    assert ckpt.config == cfg
    scored = detect_recording(ckpt, edf, tmp_path / "scored")
    assert scored.probs.shape == (60,) and np.isfinite(scored.probs).all()
    assert ((scored.probs >= 0) & (scored.probs <= 1)).all()
