"""How much OVLP sensitivity drops when channels are removed (masked) at scoring time.

Fast: a feature store whose seizures show only in the left temporal chain; a tiny model
trained on it must lose them when that chain is removed, and nothing when A1/A2 are.
Slow: a small synthetic EEG corpus, a small model trained with channel dropout, the eval
split scored with A1/A2 or a whole temporal chain removed (the demo reports the same table
for its own model: ``docs/channel_robustness.md``).
"""

from __future__ import annotations

import numpy as np
import pytest

from seizure import checkpoint
from seizure.corpus import preprocess
from seizure.demo import removals
from seizure.errors import ConfigError
from seizure.evaluation import channel_robustness
from seizure.preprocess.recipe import Recipe
from seizure.store import FeatureInfo, FeatureStore, RecordMeta, StoreWriter
from seizure.synth import SynthParams, synthesize
from seizure.training.config import load_config
from seizure.training.loop import train

TCP = ("FP1-F7 F7-T3 T3-T5 T5-O1 FP2-F8 F8-T4 T4-T6 T6-O2 A1-T3 T3-C3 C3-CZ CZ-C4 C4-T4 T4-A2 "
       "FP1-F3 F3-C3 C3-P3 P3-O1 FP2-F4 F4-C4 C4-P4 P4-O2").split()
LEFT_TEMPORAL = [TCP.index(c) for c in ("FP1-F7", "F7-T3", "T3-T5", "T5-O1")]
FPS, NF = 2, 5
REMOVALS = removals("tcp")
NAMES = list(REMOVALS)


def left_temporal_store(root) -> FeatureStore:
    """Background N(3, 1) everywhere; seizure seconds shifted by +3 in two features of the
    left temporal chain only."""
    writer = StoreWriter(root, Recipe(feature="spectrogram"), FeatureInfo(tuple(TCP), NF, FPS))
    rng = np.random.default_rng(0)
    for split, n_patients in (("train", 4), ("dev", 2), ("eval", 3)):
        for p in range(n_patients):
            patient = f"{split[:2]}{p:06d}"
            for r in range(2):
                n_s = 240
                x = rng.standard_normal((n_s * FPS, len(TCP), NF)).astype(np.float32) + 3.0
                y = np.zeros(n_s, np.uint8)
                seizures = []
                for a in (40, 150) if r == 0 else (90,):
                    b = a + int(rng.integers(20, 40))
                    y[a:b] = 1
                    seizures.append([float(a), float(b)])
                    x[a * FPS:b * FPS, LEFT_TEMPORAL, :2] += 3.0
                meta = RecordMeta(rec_id=f"{patient}_s001_t{r:03d}", split=split, patient=patient, edf_path="x.edf",
                                  duration_s=float(n_s), n_seconds=n_s, n_frames=n_s * FPS,
                                  channel_mask=[True] * len(TCP), seizures=seizures)
                writer.write_ok(meta, y, x)
    return FeatureStore(root)


def test_removing_the_chain_that_carries_the_seizures_loses_them(tmp_path):
    store = left_temporal_store(tmp_path / "store")
    cfg = load_config(None, ["recipe.feature=spectrogram", "model.conv2d_channels=[4]", "model.embed_dim=8",
                             "model.hidden_size=8", "model.cell=gru", "train.batch_size=8", "train.crop_s=60",
                             "train.steps_per_epoch=40", "train.epochs=1", "train.lr=0.01", "train.threads=1",
                             "train.eval_window_s=120", "train.eval_context_s=30", "postprocess.smooth_s=[0]",
                             "postprocess.min_duration_s=[0, 5]", "postprocess.merge_gap_s=[0]"])
    result = train(store.root, tmp_path / "model", cfg)
    ckpt = checkpoint.load(result.best_path)
    rows = {r["removed"]: r for r in channel_robustness(ckpt, store, store.records("eval"), REMOVALS)}
    assert rows[NAMES[0]]["n_ref"] == 9 and rows[NAMES[0]]["sensitivity"] >= 8 / 9  # it learned the seizures
    assert rows[NAMES[1]]["change_points"] >= -100 / 9  # A1/A2 carry nothing: at most one seizure lost
    assert rows[NAMES[3]]["change_points"] >= -100 / 9  # nor does the right temporal chain
    assert rows[NAMES[2]]["sensitivity"] <= 1 / 9  # the left temporal chain carried everything
    assert rows[NAMES[2]]["change_points"] == pytest.approx(100 * (rows[NAMES[2]]["sensitivity"]
                                                                  - rows[NAMES[0]]["sensitivity"]))


def test_unknown_channel_names_are_refused(tmp_path):
    store = left_temporal_store(tmp_path / "store")
    with pytest.raises(ConfigError, match=r"removals name channels the store does not have: T7-P7; valid: FP1-F7"):
        channel_robustness(None, store, [], {"x": ("T7-P7",)})


@pytest.mark.slow
def test_synthetic_eval_split_with_channels_removed(tmp_path):
    """A model trained with channel dropout on synthetic EEG keeps its sensitivity without A1/A2."""
    params = SynthParams(seizure_snr=2.0, seizure_fraction=0.15, seizure_patient_fraction=1.0)
    synthesize(tmp_path / "corpus", 3.0, 5, params=params, jobs=2)
    recipe = Recipe(feature="spectrogram")
    preprocess(tmp_path / "corpus", tmp_path / "store", recipe, jobs=2)
    cfg = load_config(None, ["recipe.feature=spectrogram", "model.conv2d_channels=[8]", "model.embed_dim=16",
                             "model.hidden_size=16", "model.cell=gru", "train.batch_size=8", "train.crop_s=60",
                             "train.steps_per_epoch=40", "train.epochs=2", "train.lr=0.003",
                             "train.channel_dropout=0.5", "train.eval_window_s=300", "train.eval_context_s=60"])
    result = train(tmp_path / "store", tmp_path / "model", cfg)
    ckpt = checkpoint.load(result.best_path)
    store = FeatureStore(tmp_path / "store")
    rows = channel_robustness(ckpt, store, store.records("eval"), REMOVALS)
    for r in rows:
        print(f"{r['removed']:<55} {100 * r['sensitivity']:5.1f}% ({r['hits']:g}/{r['n_ref']:g}) "
              f"{r['fa_per_24h']:6.1f} FA/24h  {r['change_points']:+6.1f} points")
    full, ears = rows[0], rows[1]
    assert full["n_ref"] >= 5 and full["sensitivity"] >= 0.5
    assert ears["change_points"] >= -20.0  # removing A1/A2 costs at most 20 points
