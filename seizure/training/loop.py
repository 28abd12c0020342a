"""The training loop: ``train(store_path, out_dir, cfg, progress) -> TrainResult``.

Patient-wise splits come from the store's split plan (:func:`seizure.store.split_plan`):
train on ``train`` and select on ``dev``; a store without eval recordings trains on part
of ``train`` and selects on the patients carved from it (the ``tune`` split, recorded in
the store and in ``best.pt``'s summary), so that dev stays unseen. "dev" below is the
split selected on. Every epoch ends with a dev evaluation (loss, and the best OVLP/SzCORE sensitivity at the target
false-alarm rate over the post-processing candidates), a row in ``metrics.csv``, the
training-curve PNG and ``last.pt`` (everything needed to resume: optimiser, scheduler,
RNG state, the sampler position, the best weights so far). The best epoch on dev (the
higher partial DET area: mean best sensitivity over false-alarm budgets from 0 to the
target, 0 if no threshold meets the target; ties broken by lower dev loss), or the last
epoch with ``train.select = "last"``, is written as ``best.pt`` with the operating point
chosen on dev for it. ``resolved_config.toml`` is written first.

Resuming: when ``OUTDIR/last.pt`` exists (and ``resume``), training continues from the
saved ``(epoch, step)``; the crops of an epoch depend only on ``(seed, epoch)`` and the
torch RNG state is restored, so a resumed run ends with the same weights and metrics as
an uninterrupted one (on CPU). SIGINT (Ctrl-C) or ``should_stop()`` returning True stops
at the next step boundary after saving ``last.pt``.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import logging
import math
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from seizure import checkpoint
from seizure.errors import CheckpointError, ConfigError, SeizureError
from seizure.fsutil import atomic_write, save_figure
from seizure.models import build_model
from seizure.models.objective import Objective
from seizure.models.regularizers import param_groups
from seizure.models.sparse_vd import kl_total, sparsity_report
from seizure.postprocess import OperatingPoint
from seizure.store import FeatureStore, SplitPlan, split_plan
from seizure.training import distributed
from seizure.training.config import ExperimentConfig, from_dict, to_toml
from seizure.evaluation import dev_result, dev_result_of, split_probabilities, tuning_resolution
from seizure.training.distributed import SINGLE, Ranks, any_rank, broadcast, device_for, gather, global_loss, rank_share
from seizure.training.sampler import CropSampler, feature_statistics

log = logging.getLogger(__name__)

METRIC_FIELDS = ("epoch", "steps", "train_loss", "dev_loss", "dev_sensitivity", "dev_fa_per_24h",
                 "dev_threshold", "dev_det_area", "lr", "kl", "sparsity", "elapsed_s")


@dataclass
class TrainResult:
    best_path: Path
    last_path: Path
    operating_point: OperatingPoint
    summary: dict[str, Any]
    metrics: list[dict[str, float]] = field(default_factory=list)
    interrupted: bool = False


class TrainingInterrupted(SeizureError):
    """Training stopped before the end; ``last.pt`` holds the state to resume from."""


def pick_device(name: str, ranks: Ranks = SINGLE) -> torch.device:
    """``train.device`` for this process (``auto``: CUDA when present, the rank's GPU under torchrun)."""
    return device_for(name, ranks)


def _lr_lambda(cfg, total_steps: int) -> Callable[[int], float]:
    warm = int(round(cfg.warmup_fraction * total_steps))
    if cfg.schedule == "constant":
        return lambda s: 1.0
    if cfg.schedule == "inverse_time":
        return lambda s: 1.0 / (1.0 + cfg.lr_decay * s)
    if cfg.schedule == "onecycle":  # linear up to the peak, cosine down to 1/1000 of it
        def onecycle(s: int) -> float:
            if s < warm:
                return 0.04 + 0.96 * s / max(1, warm)
            frac = (s - warm) / max(1, total_steps - warm)
            return 1e-3 + (1 - 1e-3) * 0.5 * (1 + math.cos(math.pi * min(1.0, frac)))
        return onecycle

    def cosine(s: int) -> float:
        if s < warm:
            return (s + 1) / (warm + 1)
        frac = (s - warm) / max(1, total_steps - warm)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, frac)))
    return cosine


def _optimizer(model: torch.nn.Module, cfg: ExperimentConfig) -> torch.optim.Optimizer:
    wd = cfg.model.reg.weight_decay if cfg.model.uses("weight_decay") else 0.0
    groups = param_groups(model, wd)
    cls = torch.optim.AdamW if cfg.train.optimizer == "adamw" else torch.optim.Adam
    return cls(groups, lr=cfg.train.lr, betas=tuple(cfg.train.betas), eps=cfg.train.eps)


class _StopFlag:
    """Set by SIGINT (main thread only) or a caller's ``should_stop``; checked between steps."""

    def __init__(self, should_stop: Callable[[], bool] | None):
        self.should_stop = should_stop
        self.signalled = False
        self._old = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.signalled:  # a second Ctrl-C: stop now
            raise KeyboardInterrupt
        self.signalled = True
        log.warning("interrupt received: stopping after this step and saving last.pt")

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)

    def __call__(self) -> bool:
        return self.signalled or bool(self.should_stop and self.should_stop())


def train(store_path: str | Path, out_dir: str | Path, cfg: ExperimentConfig, progress: bool = False, *,
          resume: bool = True, should_stop: Callable[[], bool] | None = None) -> TrainResult:
    """Train ``cfg`` on the store's train split, select on dev, write checkpoints to ``out_dir``.

    Raises :class:`TrainingInterrupted` (after saving ``last.pt``) when stopped early by
    SIGINT or ``should_stop``; running again with the same arguments resumes. Under
    ``torchrun`` every process trains its share of each batch with DDP
    (:mod:`seizure.training.distributed`) and rank 0 alone writes.
    """
    store = FeatureStore(store_path)
    store.check_recipe(cfg.recipe.hash(), what="config")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ranks = distributed.from_env()
    splits = split_plan(store, seed=cfg.train.tuning_seed, fraction=cfg.train.tuning_fraction, record=ranks.main)
    device = pick_device(cfg.train.device, ranks)
    if cfg.train.batch_size < ranks.world:
        raise ConfigError(f"train.batch_size ({cfg.train.batch_size}) is the global batch: it must be at least "
                          f"the number of processes ({ranks.world})")
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    pkg, level = logging.getLogger("seizure"), logging.getLogger("seizure").level
    try:
        if cfg.train.threads:
            torch.set_num_threads(cfg.train.threads)
        torch.use_deterministic_algorithms(device.type == "cpu", warn_only=True)
        if not ranks.main:  # rank 0 reports for all
            pkg.setLevel(logging.WARNING)
        with distributed.process_group(ranks, device):
            return _train(store, out, splits, cfg, device, progress and ranks.main, resume, should_stop, ranks)
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)
        pkg.setLevel(level)


def _train(store: FeatureStore, out: Path, splits: SplitPlan, cfg: ExperimentConfig, device: torch.device,
           progress: bool, resume: bool, should_stop: Callable[[], bool] | None, ranks: Ranks = SINGLE
           ) -> TrainResult:
    tc = cfg.train
    train_recs, dev_recs = splits.fit, splits.tune

    last_path, best_path = out / "last.pt", out / "best.pt"
    state = _resume_state(last_path, cfg) if resume else None
    distributed.barrier(ranks)  # every rank has read last.pt before rank 0 may write it again
    if ranks.main:
        with atomic_write(out / "resolved_config.toml") as fh:
            fh.write(to_toml(cfg))

    torch.manual_seed(tc.seed)
    model = build_model(cfg.model, len(store.channels), store.n_features, store.frames_per_s, seed=tc.seed)
    sampler = CropSampler(store, train_recs, tc)
    if state is None:
        mean, std = feature_statistics(store, train_recs, tc.normalization_seconds, tc.seed)
        model.set_normalization(torch.from_numpy(mean), torch.from_numpy(std))
        if model.uses_critical():  # the mean-field solution for the input each layer really receives
            x0, _, _, m0 = (torch.from_numpy(a) for a in sampler.load(sampler.epoch_plan(0)[0]))
            log.info("critical initialization for measured input mean squares %s",
                     [round(v, 4) for v in model.calibrate_critical(x0, m0, seed=tc.seed)])
    model.to(device)
    net = distributed.wrap(model, device, ranks)  # what the training step calls
    optimizer = _optimizer(model, cfg)
    steps = sampler.steps_per_epoch
    total_steps = steps * tc.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(tc, total_steps))
    pos_weight = torch.tensor(sampler.pos_weight(), device=device)
    reg = cfg.model.reg
    objective = Objective.from_config(cfg.model, sampler.total_s, steps)
    svd = cfg.model.uses("sparse_vd")

    epoch, step, history = 0, 0, []
    run_loss, run_n, best = 0.0, 0, None
    best_dev: tuple[int, tuple] | None = None  # (epoch, key) of the best epoch on dev, for early stopping
    ema = _Ema(model, tc.ema_decay) if tc.ema_decay > 0 else None
    elapsed0, stopped = 0.0, False
    if state is not None:
        model.load_state_dict(state["model_state"])
        ts = state["train_state"]
        optimizer.load_state_dict(ts["optimizer"])
        scheduler.load_state_dict(ts["scheduler"])
        rng = ts.get("rng_states") or [ts["rng_state"]]
        torch.set_rng_state(rng[ranks.rank] if len(rng) == ranks.world else ts["rng_state"])
        epoch, step = int(ts["epoch"]), int(ts["step"])
        run_loss, run_n = float(ts["run_loss"]), int(ts["run_n"])
        history = [dict(row) for row in ts["history"]]
        best = ts.get("best")
        if ts.get("best_dev"):
            best_dev = (int(ts["best_dev"][0]), tuple(ts["best_dev"][1]))
        if ema is not None:
            ema.load(ts["ema_state"])
        if ts.get("hard_weights") is not None:
            sampler.set_hard_weights(ts["hard_weights"].numpy())
        elapsed0 = float(ts.get("elapsed_s", 0.0))
        stopped = bool(ts.get("stopped", False))  # early stopping or the time budget ended the epochs
        if ts.get("finished"):
            log.info("training in %s already finished; reporting %s", out, best_path)
            return _result(out, cfg, history, interrupted=False)
        log.info("resuming from %s at epoch %d step %d", last_path, epoch + 1, step)

    log.info("training on %d recordings (%.2f h, %d seizure s), selecting on %s (%d recordings); %d steps/epoch, "
             "device %s%s", len(train_recs), sampler.total_s / 3600, sampler.positive_s, splits.tune_split,
             len(dev_recs), steps, device,
             f", {ranks.world} processes (DDP) sharing each batch of {tc.batch_size}" if ranks.enabled else "")
    t0 = time.monotonic() - elapsed0
    patience = reg.early_stopping_patience if cfg.model.uses("early_stopping") else None
    time_up = False

    def save_last(finished: bool = False) -> None:
        """Every rank calls it (the RNG states are gathered); rank 0 writes."""
        rng_states = distributed.all_objects(torch.get_rng_state(), ranks)
        if not ranks.main:
            return
        train_state = {
            "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "rng_state": rng_states[0], "epoch": epoch, "step": step, "run_loss": run_loss,
            "run_n": run_n, "history": history, "best": best, "finished": finished, "stopped": stopped,
            "best_dev": None if best_dev is None else [best_dev[0], list(best_dev[1])],
            "elapsed_s": time.monotonic() - t0,
        }
        if ranks.enabled:
            train_state["rng_states"] = rng_states
        if ema is not None:
            train_state["ema_state"] = ema.state
        if sampler.hard_weights is not None:
            train_state["hard_weights"] = torch.from_numpy(sampler.hard_weights)
        checkpoint.save(last_path, checkpoint.make(model, cfg, cfg.recipe, None, list(store.channels),
                                                   _summary(cfg, history, best, None), train_state))

    stop = _StopFlag(should_stop)
    epochs_bar = _bar(progress, tc.epochs, epoch, "epochs", leave=True)
    with stop:
        while epoch < tc.epochs and not stopped:
            plan = sampler.epoch_plan(epoch)
            model.train()
            bar = _bar(progress, steps, step, f"epoch {epoch + 1}/{tc.epochs}")
            while step < steps:
                if any_rank(stop(), ranks):
                    save_last()
                    bar.close()
                    epochs_bar.close()
                    raise TrainingInterrupted(f"training stopped at epoch {epoch + 1} step {step}; run the same "
                                              "command again to resume from last.pt", out)
                batch = rank_share(plan[step], [c.seizure for c in plan[step]], ranks)
                x, y, w, m = (torch.from_numpy(a).to(device) for a in sampler.load(batch))
                loss, batch_loss = global_loss(objective.weighted_sum(net(x, m), y, w, pos_weight), w, ranks)
                total = objective.regularized(model, loss, epoch * steps + step)
                optimizer.zero_grad(set_to_none=True)
                total.backward()
                if tc.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
                optimizer.step()
                scheduler.step()
                if ema is not None:
                    ema.update(model)
                run_loss += batch_loss
                run_n += 1
                step += 1
                bar.update(1)
                bar.set_postfix(loss=f"{run_loss / run_n:.4f}")
                if tc.max_minutes and any_rank(time.monotonic() - t0 > 60 * tc.max_minutes, ranks):
                    time_up = True
                    break
            bar.close()
            with _weights(model, ema):
                dev = _dev(model, store, dev_recs, cfg, device, ranks)
                state_now = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
                sparsity = sparsity_report(model)["sparsity"] if svd else 0.0
                if tc.hard_negative_fraction > 0 and epoch + 1 < tc.epochs:  # rank 0 mines, every rank draws
                    if ranks.main:
                        sampler.set_hard_negatives(split_probabilities(model, store, train_recs, tc, device=device))
                    sampler.set_hard_weights(broadcast(sampler.hard_weights, ranks))
            row = {
                "epoch": epoch + 1, "steps": epoch * steps + step, "train_loss": run_loss / max(1, run_n),
                "dev_loss": dev.loss, "dev_sensitivity": dev.sensitivity, "dev_fa_per_24h": dev.fa_per_24h,
                "dev_threshold": dev.operating_point.threshold, "dev_det_area": dev.det_area,
                "lr": scheduler.get_last_lr()[0],
                "kl": float(kl_total(model).detach()) if svd else 0.0,
                "sparsity": sparsity,
                "elapsed_s": time.monotonic() - t0,
            }
            history.append(row)
            key = dev.selection_key()
            improved = best_dev is None or key > best_dev[1]
            if improved:
                best_dev = (epoch + 1, key)
            if improved or tc.select == "last":
                best = {"epoch": epoch + 1, "key": list(key), "dev_sensitivity": dev.sensitivity,
                        "dev_loss": dev.loss, "dev_fa_per_24h": dev.fa_per_24h, "dev_reached": dev.reached,
                        "dev_det_area": dev.det_area, "operating_point": dataclasses.asdict(dev.operating_point),
                        "model_state": state_now}
            epochs_bar.update(1)
            epochs_bar.set_postfix(dev_sens=f"{100 * dev.sensitivity:.1f}%", dev_fa=f"{dev.fa_per_24h:.2f}",
                                   dev_loss=f"{dev.loss:.4f}")
            log.info("epoch %d/%d: train loss %.4f, dev loss %.4f, dev sensitivity %.1f%% at %.2f FA/24h (%s)%s",
                     epoch + 1, tc.epochs, row["train_loss"], dev.loss, 100 * dev.sensitivity, dev.fa_per_24h,
                     cfg.postprocess.method, f", sparse VD: {100 * sparsity:.1f}% of weights pruned" if svd else "")
            epoch, step, run_loss, run_n = epoch + 1, 0, 0.0, 0
            if ranks.main:
                _write_metrics(out, history)
            if patience is not None and epoch - best_dev[0] >= patience:
                log.info("early stopping: no dev improvement for %d epochs", patience)
                stopped = True
            if time_up:
                log.info("time budget of %.1f min reached after epoch %d", tc.max_minutes, epoch)
                stopped = True
            save_last()
    epochs_bar.close()

    # the best epoch with the operating point chosen for it on dev -> best.pt
    model.load_state_dict(best["model_state"])
    op = OperatingPoint(**best["operating_point"])
    summary = _summary(cfg, history, best, dev_recs)
    summary["splits"] = splits.to_dict()
    if svd:
        summary["sparsity"] = sparsity_report(model)
    if ranks.main:
        checkpoint.save(best_path, checkpoint.make(model, cfg, cfg.recipe, op, list(store.channels), summary))
    save_last(finished=True)
    if ranks.main:
        _plot_curves(out / "training_curve.png", history)
    distributed.barrier(ranks)  # best.pt and last.pt are written when any rank returns
    return TrainResult(best_path, last_path, op, summary, history)


def _dev(model: torch.nn.Module, store: FeatureStore, dev_recs, cfg: ExperimentConfig, device: torch.device,
         ranks: Ranks):
    """The epoch's dev evaluation. Data-parallel: each rank computes every ``world``-th dev
    recording's probabilities, they are gathered, and rank 0 chooses the operating point once
    and sends the result to the others."""
    if not ranks.enabled:
        return dev_result(model, store, dev_recs, cfg.train, cfg.postprocess, device)
    probs = gather(split_probabilities(model, store, dev_recs[ranks.rank::ranks.world], cfg.train, device=device),
                   ranks)
    return broadcast(dev_result_of(probs, store, dev_recs, cfg.postprocess) if ranks.main else None, ranks)


class _Ema:
    """Exponential moving average of a model's floating-point state (weights and buffers)."""

    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = decay
        self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def update(self, model: torch.nn.Module) -> None:
        with torch.no_grad():
            for k, v in model.state_dict().items():
                if v.is_floating_point():
                    self.state[k].lerp_(v, 1.0 - self.decay)
                else:
                    self.state[k].copy_(v)

    def load(self, state: dict[str, torch.Tensor]) -> None:
        for k, v in state.items():
            self.state[k].copy_(v)


@contextlib.contextmanager
def _weights(model: torch.nn.Module, ema: _Ema | None):
    """Run the block with the averaged weights in ``model`` (if any), then put the live ones back."""
    if ema is None:
        yield
        return
    live = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.load_state_dict(ema.state)
    try:
        yield
    finally:
        model.load_state_dict(live)


def _bar(progress: bool, total: int, done: int, desc: str, leave: bool = False):
    from tqdm import tqdm

    return tqdm(total=total, initial=done, desc=desc, disable=not progress, leave=leave,
                unit="epoch" if leave else "step")


def _summary(cfg: ExperimentConfig, history: list[dict], best: dict | None, dev_recs=None) -> dict[str, Any]:
    out: dict[str, Any] = {"epochs_run": len(history), "steps": int(history[-1]["steps"]) if history else 0}
    if best is not None:
        out.update(best_epoch=int(best["epoch"]), dev_loss=float(best["dev_loss"]),
                   dev_sensitivity=float(best["dev_sensitivity"]), dev_fa_per_24h=float(best["dev_fa_per_24h"]),
                   dev_target_reached=bool(best["dev_reached"]), dev_det_area=float(best["dev_det_area"]))
    if dev_recs is not None:
        target = float(cfg.postprocess.target_fa_per_24h)
        seconds = float(sum(r.n_seconds for r in dev_recs))
        out.update(dev_hours=seconds / 3600.0, dev_seizures=sum(r.n_seizures for r in dev_recs),
                   target_fa_per_24h=target, method=cfg.postprocess.method,
                   dev_resolution=tuning_resolution(seconds, target))
    return out


def _resume_state(path: Path, cfg: ExperimentConfig) -> dict | None:
    if not path.exists():
        return None
    data = checkpoint.read(path)
    if "train_state" not in data:
        raise CheckpointError("last.pt has no training state to resume from; use a new output folder", path)
    if from_dict(data["config"]) != cfg:
        raise CheckpointError("this output folder holds a run with another config; use a new output folder "
                              "(or --restart to overwrite it)", path)
    return data


def _result(out: Path, cfg: ExperimentConfig, history: list[dict], interrupted: bool) -> TrainResult:
    best = checkpoint.read(out / "best.pt")
    return TrainResult(out / "best.pt", out / "last.pt", OperatingPoint(**best["operating_point"]),
                       dict(best["summary"]), history, interrupted)


def _write_metrics(out: Path, history: list[dict]) -> None:
    with atomic_write(out / "metrics.csv") as fh:
        writer = csv.DictWriter(fh, fieldnames=METRIC_FIELDS)
        writer.writeheader()
        for row in history:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})


def _plot_curves(path: Path, history: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = [r["epoch"] for r in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6), dpi=110)
    a.plot(ep, [r["train_loss"] for r in history], marker="o", label="train (crops)")
    a.plot(ep, [r["dev_loss"] for r in history], marker="o", label="dev (whole recordings)")
    a.set_xlabel("epoch")
    a.set_ylabel("binary cross-entropy")
    a.legend()
    a.grid(alpha=0.3)
    b.plot(ep, [100 * r["dev_sensitivity"] for r in history], marker="o", color="C2")
    b.set_xlabel("epoch")
    b.set_ylabel("dev sensitivity at target FA/24h (%)", color="C2")
    b.set_ylim(0, 100)
    c = b.twinx()
    c.plot(ep, [r["dev_fa_per_24h"] for r in history], marker="x", color="C3")
    c.set_ylabel("dev FA/24h", color="C3")
    b.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path)

