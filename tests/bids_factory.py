"""Small synthetic BIDS datasets and tiny checkpoints for the BIDS, MNE and export tests."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np

from seizure import checkpoint
from seizure.events import Event
from seizure.io.annotations import write_szcore_tsv
from seizure.io.edf import write_edf
from seizure.models import build_model
from seizure.store import feature_info
from seizure.postprocess import OperatingPoint
from seizure.training.config import load_config

ELECTRODES = "FP1 FP2 F3 F4 C3 C4 P3 P4 O1 O2 F7 F8 T3 T4 T5 T6 A1 A2 FZ CZ PZ".split()
TINY = ["recipe.feature=spectrogram", "model.conv2d_channels=[4]", "model.embed_dim=8", "model.hidden_size=8",
        "model.cell=gru", "train.eval_window_s=60", "train.eval_context_s=20"]
TRAIN_TINY = [*TINY, "train.batch_size=4", "train.crop_s=40", "train.steps_per_epoch=4", "train.epochs=2"]
START = dt.datetime(2013, 1, 1, 10, 20, 30)


def eeg(seconds: float, fs_hz: float, seed: int, burst: tuple[float, float] | None, n: int = len(ELECTRODES)
        ) -> np.ndarray:
    """20 uV noise with alpha, and a large 6 Hz burst (the 'seizure')."""
    rng = np.random.default_rng(seed)
    samples = int(round(seconds * fs_hz))
    t = np.arange(samples) / fs_hz
    x = 20 * rng.standard_normal((n, samples)) + 15 * np.sin(2 * np.pi * 10 * t)
    if burst is not None:
        on = (t >= burst[0]) & (t < burst[1])
        x[:, on] += 150 * np.sin(2 * np.pi * 6 * t[on]) * rng.uniform(0.5, 1.0, (n, 1))
    return x.astype(np.float32)


def write_recording(path: Path, seconds: float = 130.5, fs_hz: float = 256.0, seed: int = 0,
                    burst: tuple[float, float] | None = (50.0, 70.0), labels: list[str] | None = None) -> Path:
    labels = labels or [f"EEG {e}-REF" for e in ELECTRODES]
    return write_edf(path, eeg(seconds, fs_hz, seed, burst, len(labels)), labels, fs_hz, start_time=START,
                     record_duration_s=0.5)


def make_checkpoint(path: Path, threshold: float = 0.5, overrides: list[str] | None = None) -> Path:
    cfg = load_config(None, overrides or TINY)
    info = feature_info(cfg.recipe)
    model = build_model(cfg.model, len(info.channels), info.n_features, info.frames_per_s, seed=3)
    op = OperatingPoint(threshold, 0.0, 0.0, 0.0)
    return checkpoint.save(path, checkpoint.make(model, cfg, cfg.recipe, op, list(info.channels), {}))


def write_bids(root: Path, subjects: int = 5, runs: int = 2, seconds: float = 130.5, sessions: bool = True) -> Path:
    """A BIDS dataset as epilepsy2bids lays one out: every second run of a subject has a
    seizure (a 20 s burst at a subject-dependent time), the others none."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "dataset_description.json").write_text(json.dumps({"Name": "synthetic", "BIDSVersion": "1.9.0",
                                                               "DatasetType": "raw"}))
    (root / "participants.tsv").write_text("participant_id\n" + "".join(f"sub-{s:02d}\n" for s in range(1, subjects + 1)))
    for s in range(1, subjects + 1):
        for r in range(runs):
            folder = root / f"sub-{s:02d}" / ("ses-01" if sessions else "") / "eeg"
            name = f"sub-{s:02d}{'_ses-01' if sessions else ''}_task-szMonitoring_run-{r:02d}"
            burst = (30.0 + 7 * s, 50.0 + 7 * s) if r % 2 else None
            write_recording(folder / f"{name}_eeg.edf", seconds, seed=100 * s + r, burst=burst)
            write_szcore_tsv(folder / f"{name}_events.tsv", [Event(*burst, "sz")] if burst else [], seconds,
                             date_time=START)
    return root
