"""Dev-split evaluation during training: probabilities, loss, and the operating point."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

from seizure.models.inference import inference_batch_size, predict_array
from seizure.postprocess import OperatingPoint
from seizure.scoring import det
from seizure.store import FeatureStore, RecordMeta
from seizure.training.config import PostprocessConfig, TrainConfig
from seizure.training.distributed import SINGLE, Ranks, broadcast, gather

log = logging.getLogger(__name__)


@dataclass
class DevResult:
    loss: float
    sensitivity: float
    fa_per_24h: float
    operating_point: OperatingPoint
    hours: float
    n_seizures: int
    reached: bool = True   # some threshold meets the false-alarm target
    det_area: float = 0.0  # mean best sensitivity over FA budgets 0 .. target (see det_area)

    def selection_key(self) -> tuple[float, float]:
        """Model selection: the partial DET area up to the target (higher), then lower loss."""
        return (self.det_area if self.reached else 0.0, -self.loss)


def dev_probabilities(model: torch.nn.Module, store: FeatureStore, records: list[RecordMeta], cfg: TrainConfig,
                      device: torch.device) -> list[np.ndarray]:
    """Per-second probabilities of every dev recording (bounded-memory windows; at most
    ``cfg.eval_batch_size`` windows at once, fewer when they would not fit the inference
    memory budget: long recordings and large models)."""
    batch = inference_batch_size(model, store.frames_per_s, window_s=cfg.eval_window_s,
                                 context_s=cfg.eval_context_s, max_batch=cfg.eval_batch_size)
    out = []
    for r in records:
        mask = np.asarray(r.channel_mask, dtype=bool) if r.channel_mask else None
        out.append(predict_array(model, store.features(r.rec_id), store.frames_per_s, mask,
                                 window_s=cfg.eval_window_s, context_s=cfg.eval_context_s,
                                 device=device, batch_size=batch))
    return out


def bce(probs: list[np.ndarray], labels: list[np.ndarray]) -> float:
    """Mean binary cross-entropy over all seconds (probabilities clipped to [1e-7, 1 - 1e-7])."""
    p = np.clip(np.concatenate(probs).astype(np.float64), 1e-7, 1 - 1e-7)
    y = np.concatenate(labels).astype(np.float64)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))) if p.size else float("nan")


def det_area(points: list[tuple], target: float, n_budgets: int = 5) -> float:
    """Mean over FA/24h budgets ``0, target/4, ..., target`` of the best sensitivity reachable
    within each budget (any candidate, any threshold): a partial area under the DET curve.
    It rewards models that keep their sensitivity at low false-alarm rates and is far less
    noisy than the sensitivity at the target alone on a small dev split."""
    total = 0.0
    for b in np.linspace(0.0, target, n_budgets):
        total += max((p[0] for p in points if np.isfinite(p[1]) and p[1] <= b + 1e-9), default=0.0)
    return total / n_budgets


def choose_operating_point(probs: list[np.ndarray], records: list[RecordMeta], pp: PostprocessConfig,
                           points_out: list | None = None) -> tuple[OperatingPoint, float, float, bool]:
    """The operating point on dev: over every post-processing candidate and threshold whose
    FA/24h is at most ``pp.target_fa_per_24h``, find the best sensitivity; then, among the
    points within ``pp.tolerance_events`` reference seizures of it, take the fewest false
    alarms, then the highest threshold, then the simplest candidate (listed first).

    The tolerance keeps a small dev split from buying its last seizure with a threshold near
    zero (which transfers badly to unseen patients). Returns the point, its dev sensitivity
    and FA/24h, and whether the target was met; if no point meets it, the fewest false
    alarms (then the highest sensitivity) of the first candidate, with a warning.
    """
    refs = [r.events for r in records]
    durations = [float(len(p)) for p in probs]
    points = []  # (sensitivity, fa, threshold, order, candidate)
    n_ref = 0.0
    for order, (smooth_s, min_dur, gap) in enumerate(pp.candidates()):
        curve = det.sweep(probs, refs, durations, smooth_s=smooth_s, min_duration_s=min_dur, merge_gap_s=gap)
        mc = curve.method(pp.method)
        n_ref = mc.n_ref
        sens = np.nan_to_num(mc.sensitivity, nan=0.0)
        for j, thr in enumerate(curve.thresholds):
            points.append((float(sens[j]), float(mc.fa_per_24h[j]), float(thr), order, (smooth_s, min_dur, gap)))
    if points_out is not None:
        points_out.extend(points)
    ok = [p for p in points if np.isfinite(p[1]) and p[1] <= pp.target_fa_per_24h]
    if not ok:
        first = [p for p in points if p[3] == 0]
        sens, fa, thr, _, (s, d, g) = min(first, key=lambda p: (p[1], -p[0], -p[2]))
        log.warning("no operating point reaches %.3g FA/24h on dev (%s); using the fewest false alarms: "
                    "threshold %.3f at %.3g FA/24h", pp.target_fa_per_24h, pp.method, thr, fa)
        return OperatingPoint(thr, s, d, g), sens, fa, False
    best_sens = max(p[0] for p in ok)
    slack = pp.tolerance_events / n_ref if n_ref else 0.0
    near = [p for p in ok if p[0] >= best_sens - slack - 1e-12]
    sens, fa, thr, _, (s, d, g) = min(near, key=lambda p: (p[1], -p[2], p[3]))
    return OperatingPoint(thr, s, d, g), sens, fa, True


def evaluate_dev(model: torch.nn.Module, store: FeatureStore, records: list[RecordMeta], cfg: TrainConfig,
                 pp: PostprocessConfig, device: torch.device, ranks: Ranks = SINGLE) -> DevResult:
    """Dev loss, operating point and selection figures. Data-parallel: each rank computes the
    probabilities of every ``world``-th recording, they are gathered, and rank 0 chooses the
    operating point once and sends the result to the others."""
    probs = gather(dev_probabilities(model, store, records[ranks.rank::ranks.world], cfg, device), ranks)
    return broadcast(_dev_result(probs, store, records, pp) if ranks.main else None, ranks)


def _dev_result(probs: list[np.ndarray], store: FeatureStore, records: list[RecordMeta],
                pp: PostprocessConfig) -> DevResult:
    labels = [store.labels(r.rec_id)[: len(p)] for r, p in zip(records, probs)]
    points: list = []
    op, sens, fa, reached = choose_operating_point(probs, records, pp, points)
    return DevResult(loss=bce(probs, labels), sensitivity=sens, fa_per_24h=fa, operating_point=op,
                     hours=sum(len(p) for p in probs) / 3600.0, n_seizures=sum(r.n_seizures for r in records),
                     reached=reached, det_area=det_area(points, pp.target_fa_per_24h))
