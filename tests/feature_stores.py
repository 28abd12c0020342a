"""Tiny feature stores for the training, study and checkpoint tests (one builder).

Session-scoped fixtures in ``conftest.py`` build each store once per test session.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from seizure.preprocess.recipe import Recipe
from seizure.store import FeatureInfo, FeatureStore, RecordMeta, StoreWriter

TCP = ("FP1-F7 F7-T3 T3-T5 T5-O1 FP2-F8 F8-T4 T4-T6 T6-O2 A1-T3 T3-C3 C3-CZ CZ-C4 C4-T4 T4-A2 "
       "FP1-F3 F3-C3 C3-P3 P3-O1 FP2-F4 F4-C4 C4-P4 P4-O2").split()
FPS, NF = 2, 5
RECIPE = Recipe(feature="spectrogram")


def make_store(root: str | Path, seed: int = 0, splits=(("train", 3), ("dev", 1), ("eval", 1)), *,
               dev_patient_in_train: bool = False, varied: bool = True) -> FeatureStore:
    """Two recordings per patient, a seizure (a +2.5 shift in 2 features) in the first of each.

    ``varied`` (the training tests' store): one short train recording (40 s), features around
    3, every third recording without A1/A2 (masked, zeros) and dev in session s002; otherwise
    (the study's store) every recording whole, features around 0, session s001."""
    writer = StoreWriter(root, RECIPE, FeatureInfo(tuple(TCP), NF, FPS))
    rng = np.random.default_rng(seed)
    k = 0
    for split, n_patients in splits:
        for p in range(n_patients):
            patient = f"{split[:2]}{p:06d}" if not (dev_patient_in_train and split == "dev") else "tr000000"
            for r in range(2):
                short = varied and split == "train" and p == 0 and r == 1
                n_s = 40 if short else int(rng.integers(150, 220))
                x = rng.standard_normal((n_s * FPS, len(TCP), NF)).astype(np.float32) + (3.0 if varied else 0.0)
                y = np.zeros(n_s, np.uint8)
                seizures = []
                if r == 0:
                    a = int(rng.integers(20, n_s - 60))
                    b = a + int(rng.integers(15, 40))
                    y[a:b] = 1
                    seizures.append([float(a), float(b)])
                    x[a * FPS:b * FPS, :, :2] += 2.5
                mask = [True] * len(TCP)
                if varied and k % 3 == 0:  # some recordings lack A1/A2
                    mask[8] = mask[13] = False
                    x[:, [8, 13]] = 0.0
                session = 1 + (varied and split == "dev")
                meta = RecordMeta(rec_id=f"{patient}_s{session:03d}_t{r:03d}", split=split, patient=patient,
                                  edf_path="x.edf", duration_s=float(n_s), n_seconds=n_s, n_frames=n_s * FPS,
                                  channel_mask=mask, seizures=seizures)
                writer.write_ok(meta, y, x)
                k += 1
    return FeatureStore(root)
