"""One trained run on the held-out split: the paper's figures and the DET sweep.

The operating point is the one chosen on dev during training (stored in ``best.pt``);
it is applied unchanged to the evaluation split. Figures (fractions, not percent):

- ``ovlp_sensitivity``, ``ovlp_fa_per_24h``: NEDC any-overlap, pooled over recordings;
- ``specificity``: NEDC epoch scoring's true-negative rate ``TN / (TN + FP)`` over 0.25 s
  epochs of the same hypothesis events (the paper's tables report the specificity of
  per-epoch decisions; OVLP itself has no true negatives);
- ``taes_sensitivity``, ``taes_f1``: NEDC time-aligned scoring, pooled;
- ``szcore_sensitivity``, ``szcore_f1``: SzCORE event scoring pooled over recordings, and
  ``szcore_f1_subject_mean``: its mean over patients.

Files written into the run folder: ``eval_probs.npz`` (per-second probabilities, one
array per recording id), ``eval_report.json`` (every score, per recording too) and
``det.json`` (OVLP and SzCORE sweeps over the default thresholds at the run's post-processing).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from seizure.fsutil import atomic_path, atomic_write
from seizure.scoring import epoch

log = logging.getLogger(__name__)

METRIC_KEYS = ("ovlp_sensitivity", "specificity", "ovlp_fa_per_24h", "taes_sensitivity", "taes_f1",
               "szcore_sensitivity", "szcore_f1", "szcore_f1_subject_mean")


def specificity(durations_s: list[float], epoch_n_ref: float, epoch_false_alarms: float) -> float:
    """Epoch true-negative rate pooled over recordings: ``1 - FP / (all epochs - seizure epochs)``."""
    total = sum(epoch.n_epochs(d) for d in durations_s)
    negatives = total - epoch_n_ref
    return float((negatives - epoch_false_alarms) / negatives) if negatives > 0 else float("nan")


def evaluate_run(best_path: str | Path, store_path: str | Path, split: str, out_dir: str | Path) -> dict[str, Any]:
    """Score ``best_path`` on the store's ``split`` at its dev-chosen operating point; write the
    run's evaluation files into ``out_dir`` and return the figures (see the module docstring)."""
    from seizure import checkpoint
    from seizure.models.inference import predict_array
    from seizure.postprocess import probs_to_events
    from seizure.detect import inference_batch_size
    from seizure.scoring import det
    from seizure.scoring.inputs import RecordingPair
    from seizure.scoring.report import evaluate_pairs
    from seizure.store import FeatureStore

    out = Path(out_dir)
    store = FeatureStore(store_path)
    ckpt = checkpoint.load(best_path)
    ckpt.check_store(store)
    records = store.records(split)
    tc, op = ckpt.config.train, ckpt.operating_point
    batch = inference_batch_size(ckpt)
    n_ch = len(store.channels)
    probs = []
    for r in records:
        mask = np.asarray(r.channel_mask, dtype=bool) if r.channel_mask else np.ones(n_ch, bool)
        probs.append(predict_array(ckpt.model, store.features(r.rec_id), store.frames_per_s, mask,
                                   window_s=tc.eval_window_s, context_s=tc.eval_context_s, batch_size=batch))
    durations = [r.duration_s for r in records]
    report = evaluate_pairs([RecordingPair(r.rec_id, r.events, probs_to_events(p, op), r.duration_s)
                             for r, p in zip(records, probs)])
    curve = det.sweep(probs, [r.events for r in records], durations, smooth_s=op.smooth_s,
                      min_duration_s=op.min_duration_s, merge_gap_s=op.merge_gap_s,
                      subjects=[r.patient for r in records])
    m = report.methods
    figures = {
        "ovlp_sensitivity": m["ovlp"].sensitivity,
        "specificity": specificity(durations, m["epoch"].n_ref, m["epoch"].false_alarms),
        "ovlp_fa_per_24h": m["ovlp"].fa_per_24h,
        "taes_sensitivity": m["taes"].sensitivity,
        "taes_f1": m["taes"].f1,
        "szcore_sensitivity": m["szcore"].sensitivity,
        "szcore_f1": m["szcore"].f1,
        "szcore_f1_subject_mean": report.subject_means["szcore"]["f1"],
    }
    figures = {k: (None if v is None or not np.isfinite(v) else float(v)) for k, v in figures.items()}
    with atomic_path(out / "eval_probs.npz", suffix=".npz") as tmp:
        np.savez_compressed(tmp, **{r.rec_id: p.astype(np.float32) for r, p in zip(records, probs)})
    with atomic_write(out / "eval_report.json") as fh:
        json.dump({"split": split, "operating_point": ckpt.raw["operating_point"], "figures": figures,
                   "report": report.to_dict()}, fh, indent=1, allow_nan=False)
        fh.write("\n")
    with atomic_write(out / "det.json") as fh:
        json.dump(curve.to_dict(), fh, allow_nan=False)
        fh.write("\n")
    log.info("%s on %s: OVLP %.1f%% at %.2f FA/24h, specificity %.2f%%", out, split,
             100 * (figures["ovlp_sensitivity"] or 0), figures["ovlp_fa_per_24h"] or 0,
             100 * (figures["specificity"] or 0))
    return {"figures": figures, "split": split, "n_recordings": len(records), "hours": sum(durations) / 3600,
            "n_seizures": int(sum(r.n_seizures for r in records)),
            "n_patients": len({r.patient for r in records}),
            "operating_point": dict(ckpt.raw["operating_point"])}
