"""The evaluation room: a model and stored (or EDF) recordings -> per-second probabilities
-> events at an operating point -> scores.

* :func:`probabilities` is the one function that turns feature chunks into per-second
  probabilities (the checkpoint's inference windows, a memory-bounded batch size); every
  caller goes through it: :func:`split_probabilities` (stored recordings, with the one
  missing-mask fallback :meth:`seizure.store.RecordMeta.mask`), :mod:`seizure.detect`
  (EDF recordings), training's dev selection, the study and the demo.
* :func:`hypotheses` applies an operating point (events per recording);
  :func:`score_split` gives the report and the DET sweep at it; :func:`figures` the study's
  headline numbers; :func:`equal_fa` the operating points chosen on the tuning split for
  several false-alarm targets, scored on another split; :func:`evaluate_run` writes one
  run's evaluation files and refuses a split the checkpoint was trained or tuned on.
* Dev selection: :func:`choose_operating_point` and :func:`dev_result` (used by training).
* :func:`channel_robustness`: sensitivity with channels removed (masked).

This room imports models, store, postprocess and scoring; it refers to training's config
types for annotations only (training calls it, not the other way round).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from seizure.errors import ConfigError, SeizureError
from seizure.fsutil import atomic_path, atomic_write
from seizure.models import inference
from seizure.postprocess import OperatingPoint, probs_to_events
from seizure.scoring import det, epoch, ovlp
from seizure.scoring.inputs import RecordingPair
from seizure.scoring.report import Report, report_pairs
from seizure.store import FeatureStore, RecordMeta

if TYPE_CHECKING:
    from seizure.checkpoint import Checkpoint
    from seizure.training.config import PostprocessConfig, TrainConfig

log = logging.getLogger(__name__)

METRIC_KEYS = ("ovlp_sensitivity", "specificity", "ovlp_fa_per_24h", "taes_sensitivity", "taes_f1",
               "szcore_sensitivity", "szcore_f1", "szcore_f1_subject_mean")


# --------------------------------------------------------------------------- probabilities


def window_batch_size(model: torch.nn.Module, frames_per_s: int, tc: TrainConfig, budget_mb: float | None = None) -> int:
    """Inference windows run at once for this model and ``tc``'s evaluation settings, within
    ``budget_mb`` (default :data:`seizure.models.inference.INFERENCE_BUDGET_MB`; see
    :func:`seizure.models.inference.inference_batch_size`), at most ``tc.eval_batch_size``."""
    return inference.inference_batch_size(
        model, frames_per_s, window_s=tc.eval_window_s, context_s=tc.eval_context_s, max_batch=tc.eval_batch_size,
        budget_mb=inference.INFERENCE_BUDGET_MB if budget_mb is None else budget_mb)


def probabilities(model: torch.nn.Module, chunks: Iterable[np.ndarray], frames_per_s: int, mask: np.ndarray | None,
                  tc: TrainConfig, *, device: torch.device | None = None, precision: str = "float32") -> np.ndarray:
    """Per-second probabilities of one recording's feature ``chunks`` (whole seconds each, in
    order) with ``tc``'s inference windows (``eval_window_s``, ``eval_context_s``) and a
    memory-bounded batch size (:func:`window_batch_size`)."""
    return inference.predict_probs(model, chunks, frames_per_s, mask, window_s=tc.eval_window_s,
                                   context_s=tc.eval_context_s, device=device,
                                   batch_size=window_batch_size(model, frames_per_s, tc), precision=precision)


def split_probabilities(model: torch.nn.Module, store: FeatureStore, records: Sequence[RecordMeta], tc: TrainConfig,
                        *, device: torch.device | None = None, removed: Sequence[str] = ()) -> list[np.ndarray]:
    """Per-second probabilities of stored ``records``, each with its stored channel mask and
    the channels named in ``removed`` masked too."""
    names = list(store.channels)
    drop = [names.index(c) for c in removed]
    out = []
    for r in records:
        mask = r.mask(len(names))
        mask[drop] = False
        out.append(probabilities(model, inference.array_chunks(store.features(r.rec_id), store.frames_per_s),
                                 store.frames_per_s, mask, tc, device=device))
    return out


# --------------------------------------------------------------------------- operating point -> events -> scores


def hypotheses(records: Sequence[RecordMeta], probs: Sequence[np.ndarray], op: OperatingPoint) -> list[RecordingPair]:
    """Reference and hypothesis events of each recording at the operating point ``op``."""
    return [RecordingPair(r.rec_id, r.events, probs_to_events(p, op), r.duration_s) for r, p in zip(records, probs)]


def score_split(records: Sequence[RecordMeta], probs: Sequence[np.ndarray], op: OperatingPoint
                ) -> tuple[Report, det.DetCurve]:
    """The scoring report at ``op`` and the DET sweep over thresholds at ``op``'s post-processing."""
    report = report_pairs(hypotheses(records, probs, op))
    curve = det.sweep(list(probs), [r.events for r in records], [r.duration_s for r in records],
                      smooth_s=op.smooth_s, min_duration_s=op.min_duration_s, merge_gap_s=op.merge_gap_s,
                      subjects=[r.patient for r in records])
    return report, curve


def specificity(durations_s: list[float], epoch_n_ref: float, epoch_false_alarms: float) -> float:
    """Epoch true-negative rate pooled over recordings: ``1 - FP / (all epochs - seizure epochs)``."""
    total = sum(epoch.n_epochs(d) for d in durations_s)
    negatives = total - epoch_n_ref
    return float((negatives - epoch_false_alarms) / negatives) if negatives > 0 else float("nan")


def figures(records: Sequence[RecordMeta], report: Report) -> dict[str, float | None]:
    """The headline figures (fractions; None where undefined), :data:`METRIC_KEYS`:
    NEDC OVLP sensitivity and FA/24h pooled; ``specificity``, NEDC epoch scoring's
    true-negative rate over 0.25 s epochs of the same events (OVLP has no true negatives);
    TAES sensitivity and F1; SzCORE event sensitivity and F1 pooled, and F1's patient mean."""
    m = report.methods
    values = {
        "ovlp_sensitivity": m["ovlp"].sensitivity,
        "specificity": specificity([r.duration_s for r in records], m["epoch"].n_ref, m["epoch"].false_alarms),
        "ovlp_fa_per_24h": m["ovlp"].fa_per_24h,
        "taes_sensitivity": m["taes"].sensitivity,
        "taes_f1": m["taes"].f1,
        "szcore_sensitivity": m["szcore"].sensitivity,
        "szcore_f1": m["szcore"].f1,
        "szcore_f1_subject_mean": report.subject_means["szcore"]["f1"],
    }
    return {k: (None if v is None or not np.isfinite(v) else float(v)) for k, v in values.items()}


def used_splits(summary: dict[str, Any]) -> set[str]:
    """The store splits a checkpoint was trained or tuned on (its summary's ``splits``; a
    checkpoint from before the split plan trained on train and was tuned on dev)."""
    splits = summary.get("splits")
    if not splits:
        return {"train", "dev"}
    return {"train", str(splits["tune"])}


def check_scored_split(summary: dict[str, Any], split: str, what: str | Path = "checkpoint") -> None:
    """Refuse scoring ``split`` when the checkpoint was trained there or chose its epoch and
    operating point there (the result would be optimistic)."""
    if split in used_splits(summary):
        raise SeizureError(f"the model was trained or had its epoch and operating point chosen on the {split!r} "
                           "split; scoring it there would be optimistic: score another split (a store without eval "
                           "recordings tunes on patients carved from train, so that dev can be scored)", what)


def tuning_resolution(duration_s: float, target_fa_per_24h: float) -> dict[str, float | bool]:
    """How finely a tuning split of ``duration_s`` seconds measures false alarms: one false
    alarm there is ``86400 / duration_s`` FA/24h. When that exceeds the target, only points with
    no false alarm on the split meet it, and the split cannot tell their rate on new data (on a
    1 h split a point with a true 24 FA/24h shows none 37% of the time); ``hours_needed`` (24 /
    target) of tuning recordings make one false alarm equal the target."""
    step = 86400.0 / duration_s if duration_s > 0 else float("inf")
    return {"hours": duration_s / 3600.0, "fa_per_24h_per_false_alarm": step,
            "resolves_target": bool(step <= target_fa_per_24h + 1e-9), "hours_needed": 24.0 / target_fa_per_24h}


def unresolved_targets(duration_s: float, targets: Sequence[float]) -> list[float]:
    """The FA/24h targets a tuning split of ``duration_s`` seconds is too short to resolve."""
    return [float(t) for t in targets if not tuning_resolution(duration_s, t)["resolves_target"]]


def resolution_note(res: dict[str, Any], target_fa_per_24h: float, split: str = "dev") -> str:
    """One sentence for a report or a warning; empty when the split resolves the target."""
    if res["resolves_target"]:
        return ""
    return (f"the {split} split holds {res['hours']:.2f} h, so one false alarm there is "
            f"{res['fa_per_24h_per_false_alarm']:.1f} FA/24h: the {target_fa_per_24h:g} FA/24h target is met only by "
            f"points with no {split} false alarm, whose rate on new recordings it does not measure "
            f"({res['hours_needed']:.1f} h of {split} recordings would resolve it)")


def points_per_target(tune_probs: Sequence[np.ndarray], tune_records: Sequence[RecordMeta], pp: PostprocessConfig,
                      targets: Sequence[float]) -> list[tuple[float, OperatingPoint, float, float, bool]]:
    """For each FA/24h target, ``(target, operating point, tuning sensitivity, tuning FA/24h,
    target reached)`` chosen on the tuning records by :func:`choose_operating_point`."""
    import dataclasses

    return [(float(t), *choose_operating_point(list(tune_probs), list(tune_records),
                                               dataclasses.replace(pp, target_fa_per_24h=float(t))))
            for t in targets]


def equal_fa(tune_records: Sequence[RecordMeta], tune_probs: Sequence[np.ndarray], records: Sequence[RecordMeta],
             probs: Sequence[np.ndarray], pp: PostprocessConfig, targets: Sequence[float]) -> list[dict[str, Any]]:
    """For each FA/24h target, the operating point chosen on the tuning records by the
    model's own rule (:func:`choose_operating_point` with that target) and its NEDC OVLP
    counts on ``records`` (pooled and per recording, with the patient): an equal-false-alarm
    comparison whose thresholds were chosen before the scored split was seen."""
    import dataclasses

    out = []
    for target, op, tune_sens, tune_fa, reached in points_per_target(tune_probs, tune_records, pp, targets):
        rows = []
        for pair, r in zip(hypotheses(records, probs, op), records):
            c = ovlp.score(pair.ref_events, pair.hyp_events, pair.duration_s)
            rows.append({"recording": r.rec_id, "patient": r.patient, "hits": c.hits, "misses": c.misses,
                         "false_alarms": c.false_alarms, "duration_s": c.duration_s})
        hits, n_ref = sum(x["hits"] for x in rows), sum(x["hits"] + x["misses"] for x in rows)
        fa, dur = sum(x["false_alarms"] for x in rows), sum(x["duration_s"] for x in rows)
        out.append({"target_fa_per_24h": float(target), "operating_point": dataclasses.asdict(op),
                    "tune_sensitivity": float(tune_sens), "tune_fa_per_24h": float(tune_fa),
                    "tune_target_reached": bool(reached),
                    "tune_hours": sum(float(len(p)) for p in tune_probs) / 3600.0,
                    "sensitivity": float(hits / n_ref) if n_ref else None,
                    "fa_per_24h": float(fa * 86400.0 / dur) if dur else None, "per_recording": rows})
    return out


def evaluate_run(best_path: str | Path, store_path: str | Path, split: str, out_dir: str | Path, *,
                 tune_records: Sequence[RecordMeta] | None = None, fa_targets: Sequence[float] = ()
                 ) -> dict[str, Any]:
    """Score the checkpoint ``best_path`` on the store's ``split`` at its dev-chosen operating
    point (refused when the checkpoint was trained or tuned on ``split``). Writes
    ``eval_probs.npz`` (per-second probabilities by recording id), ``eval_report.json``
    (every score, per recording too; with ``tune_records`` and ``fa_targets`` also
    ``equal_fa``, see :func:`equal_fa`) and ``det.json`` (OVLP and SzCORE sweeps at the
    run's post-processing) into ``out_dir``; returns the :func:`figures`, the split's size
    and the equal-FA points without their per-recording rows."""
    from seizure import checkpoint

    out = Path(out_dir)
    store = FeatureStore(store_path)
    ckpt = checkpoint.load(best_path)
    ckpt.check_store(store)
    check_scored_split(ckpt.summary, split, best_path)
    records = store.records(split)
    probs = split_probabilities(ckpt.model, store, records, ckpt.config.train)
    report, curve = score_split(records, probs, ckpt.operating_point)
    values = figures(records, report)
    points: list[dict[str, Any]] = []
    if tune_records and fa_targets:
        tune_probs = split_probabilities(ckpt.model, store, tune_records, ckpt.config.train)
        points = equal_fa(tune_records, tune_probs, records, probs, ckpt.config.postprocess, fa_targets)
    with atomic_path(out / "eval_probs.npz", suffix=".npz") as tmp:
        np.savez_compressed(tmp, **{r.rec_id: p.astype(np.float32) for r, p in zip(records, probs)})
    with atomic_write(out / "eval_report.json") as fh:
        json.dump({"split": split, "operating_point": ckpt.raw["operating_point"], "figures": values,
                   "splits": ckpt.summary.get("splits"), "equal_fa": points, "report": report.to_dict()}, fh,
                  indent=1, allow_nan=False)
        fh.write("\n")
    with atomic_write(out / "det.json") as fh:
        json.dump(curve.to_dict(), fh, allow_nan=False)
        fh.write("\n")
    log.info("%s on %s: OVLP %.1f%% at %.2f FA/24h, specificity %.2f%%", out, split,
             100 * (values["ovlp_sensitivity"] or 0), values["ovlp_fa_per_24h"] or 0,
             100 * (values["specificity"] or 0))
    return {"figures": values, "split": split, "n_recordings": len(records),
            "hours": sum(r.duration_s for r in records) / 3600,
            "n_seizures": int(sum(r.n_seizures for r in records)),
            "n_patients": len({r.patient for r in records}),
            "operating_point": dict(ckpt.raw["operating_point"]),
            "equal_fa": [{k: v for k, v in p.items() if k != "per_recording"} for p in points]}


def channel_robustness(ckpt: Checkpoint, store: FeatureStore, records: Sequence[RecordMeta],
                       removals: dict[str, tuple[str, ...]],
                       full_probs: Sequence[np.ndarray] | None = None) -> list[dict[str, Any]]:
    """OVLP sensitivity and FA/24h (pooled) of the checkpoint at its operating point on stored
    ``records`` with each set of ``removals`` masked in every recording, and the change from the
    first set in points. ``full_probs`` (the records' probabilities with nothing removed) saves
    recomputing them."""
    from seizure.scoring import ovlp
    from seizure.scoring.counts import pool

    names = list(store.channels)
    unknown = sorted({c for chans in removals.values() for c in chans} - set(names))
    if unknown:
        raise ConfigError(f"removals name channels the store does not have: {', '.join(unknown)}; "
                          f"valid: {', '.join(names)}")
    rows = []
    for label, chans in removals.items():
        if not chans and full_probs is not None:
            probs = list(full_probs)
        else:
            probs = split_probabilities(ckpt.model, store, records, ckpt.config.train, removed=chans)
        total = pool([ovlp.score(pair.ref_events, pair.hyp_events, pair.duration_s)
                      for pair in hypotheses(records, probs, ckpt.operating_point)])
        rows.append({"removed": label, "channels": list(chans), "sensitivity": total.sensitivity,
                     "fa_per_24h": total.fa_per_24h, "hits": total.hits, "n_ref": total.n_ref})
    for row in rows:
        row["change_points"] = 100 * (row["sensitivity"] - rows[0]["sensitivity"])
    return rows


# --------------------------------------------------------------------------- dev selection (training)


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
    alarms, then the highest threshold, then the simplest candidate (listed first); with
    ``pp.plateau = "middle"``, the middle of the widest run of thresholds tied at those
    fewest false alarms instead (:func:`_widest_plateau`).

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
    if pp.plateau == "middle":
        widest = _widest_plateau(points, near)
        sens, fa, thr, _, (s, d, g) = widest[(len(widest) - 1) // 2]
    else:
        sens, fa, thr, _, (s, d, g) = min(near, key=lambda p: (p[1], -p[2], p[3]))
    return OperatingPoint(thr, s, d, g), sens, fa, True


def _widest_plateau(points: list, near: list) -> list:
    """The longest run of consecutive thresholds (one candidate's sweep, in threshold order)
    that all tie at the fewest false alarms among ``near``; ties: the higher run, then the
    candidate listed first. Runs, not all tied points: a threshold under the whole
    background makes one event per recording that also "detects" every seizure."""
    fewest = min(p[1] for p in near)
    tied = {(p[3], p[2]) for p in near if p[1] <= fewest + 1e-9}
    best: tuple = ()
    for order in sorted({p[3] for p in points}):
        sweep = sorted((p for p in points if p[3] == order), key=lambda p: p[2])
        run: list = []
        for p in [*sweep, None]:
            if p is not None and (order, p[2]) in tied:
                run.append(p)
                continue
            if run and (not best or (len(run), run[-1][2], -order) > (len(best[0]), best[0][-1][2], -best[1])):
                best = (run, order)
            run = []
    return best[0]


def dev_result(model: torch.nn.Module, store: FeatureStore, records: list[RecordMeta], cfg: TrainConfig,
               pp: PostprocessConfig, device: torch.device) -> DevResult:
    """Loss, operating point and its sensitivity on the dev ``records`` (training's model selection)."""
    return dev_result_of(split_probabilities(model, store, records, cfg, device=device), store, records, pp)


def dev_result_of(probs: list[np.ndarray], store: FeatureStore, records: list[RecordMeta],
                  pp: PostprocessConfig) -> DevResult:
    """:func:`dev_result` from the records' probabilities (data-parallel training gathers them)."""
    labels = [store.labels(r.rec_id)[: len(p)] for r, p in zip(records, probs)]
    points: list = []
    op, sens, fa, reached = choose_operating_point(probs, records, pp, points)
    return DevResult(loss=bce(probs, labels), sensitivity=sens, fa_per_24h=fa, operating_point=op,
                     hours=sum(len(p) for p in probs) / 3600.0, n_seizures=sum(r.n_seizures for r in records),
                     reached=reached, det_area=det_area(points, pp.target_fa_per_24h))
