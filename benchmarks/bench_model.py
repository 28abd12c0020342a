"""Model throughput: training and inference in hours of EEG per second, per config.

For each config (default: configs/demo.toml and configs/paper_cnn_lstm.toml) the network
is built for its recipe's feature geometry (22 TCP channels x n_features x frames_per_s)
and fed random features of that shape (the model's cost does not depend on the values).

- Inference: one recording of ``--hours`` scored with
  :func:`seizure.models.inference.predict_probs` (600 s windows, 120 s context, batches
  of ``--batch`` windows; default: the batch ``seizure score`` uses, bounded by its memory
  budget, :func:`seizure.models.inference.inference_batch_size`): hours of EEG scored per second.
  Baseline (same run, same network): the per-window approach of the paper, every second
  scored by running the network over its own ``--window-s`` (21 s) window centred on it,
  windows batched with the same input volume per batch; measured on a shorter stretch
  and reported as the same rate.
- Training: forward + backward + AdamW step on batches of ``batch_size`` crops of
  ``crop_s`` seconds (the config's values, its regularizers included): hours of EEG per
  second of training (every second of a crop is labelled). Baseline: per-window training,
  one labelled second per 21 s window, batches of ``batch_size * crop_s / window_s``
  windows (same input volume per step): labelled hours per second.

``--bfloat16`` adds inference under bfloat16 autocast, against float32 in the same run
(and the largest probability difference between the two).
Threads, device and batch sizes are printed with the figures. Run:

    .venv/bin/python benchmarks/bench_model.py [--threads 2] [--configs A.toml B.toml] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from seizure.preprocess import features  # noqa: E402
from seizure.models import build_model  # noqa: E402
from seizure.models.inference import inference_batch_size, predict_array  # noqa: E402
from seizure.models.regularizers import param_groups, penalty  # noqa: E402
from seizure.models.sparse_vd import kl_total  # noqa: E402
from seizure.preprocess.montage import get_montage  # noqa: E402
from seizure.training.config import load_config  # noqa: E402


def geometry(cfg) -> tuple[int, int, int]:
    feat = features.get(cfg.recipe.feature)
    p = cfg.recipe.feature_params
    return len(get_montage(cfg.recipe.montage).channels), feat.n_features(p), feat.frames_per_s(p, cfg.recipe.fs_hz)


def best_of(fn, repeats: int) -> tuple[float, float]:
    """(wall, process CPU) seconds of the median of ``repeats`` calls after one warm-up call.
    On a busy machine the CPU time shows what an idle one would take."""
    fn()
    runs = []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        runs.append((time.perf_counter() - t, time.process_time() - c))
    runs.sort()
    return runs[len(runs) // 2]


def rates(amount_h: float, timing: tuple[float, float], threads: int) -> tuple[float, float]:
    """(hours per wall second, hours per second of CPU time spread over ``threads``)."""
    wall, cpu = timing
    return amount_h / wall, amount_h / max(cpu / threads, 1e-9)


def inference(model, n_ch, n_feat, fps, hours, batch, device, repeats, precision="float32"
              ) -> tuple[float, tuple[float, float]]:
    x = np.random.default_rng(0).standard_normal((int(hours * 3600) * fps, n_ch, n_feat)).astype(np.float32)
    return hours, best_of(lambda: predict_array(model, x, fps, chunk_s=600, window_s=600, context_s=120,
                                                device=device, batch_size=batch, precision=precision), repeats)


def per_window_inference(model, n_ch, n_feat, fps, seconds, window_s, batch, device, repeats
                         ) -> tuple[float, tuple[float, float]]:
    x = torch.randn(seconds + window_s, n_ch, n_feat).repeat_interleave(fps, 0)  # (frames, C, F)
    half = window_s // 2

    def run():
        with torch.inference_mode():
            for i in range(0, seconds, batch):
                idx = range(i, min(seconds, i + batch))
                xb = torch.stack([x[k * fps:(k + window_s) * fps] for k in idx]).to(device)
                torch.sigmoid(model(xb)[:, half])
    return seconds / 3600, best_of(run, repeats)


def training(cfg, n_ch, n_feat, fps, device, steps, per_window: bool, window_s: int
             ) -> tuple[float, tuple[float, float]]:
    torch.manual_seed(0)
    model = build_model(cfg.model, n_ch, n_feat, fps).to(device).train()
    reg = cfg.model.reg
    opt = torch.optim.AdamW(param_groups(model, reg.weight_decay if cfg.model.uses("weight_decay") else 0.0),
                            lr=1e-4)
    b, crop = cfg.train.batch_size, cfg.train.crop_s
    if per_window:
        b, crop = max(1, b * crop // window_s), window_s
    x = torch.randn(b, crop * fps, n_ch, n_feat, device=device)
    y = (torch.rand(b, crop, device=device) < 0.1).float()
    l1 = reg.l1 if cfg.model.uses("l1") else 0.0
    l2 = reg.l2 if cfg.model.uses("l2") else 0.0

    def step():
        for _ in range(steps):
            logits = model(x)
            if per_window:
                loss = torch.nn.functional.binary_cross_entropy_with_logits(logits[:, crop // 2], y[:, crop // 2])
            else:
                loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y)
            if l1 or l2:
                loss = loss + penalty(model, l1, l2).to(device)
            if cfg.model.uses("sparse_vd"):
                loss = loss + kl_total(model).to(device) / 1e5
            opt.zero_grad()
            loss.backward()
            opt.step()
    labelled_s = steps * b * (1 if per_window else crop)
    return labelled_s / 3600, best_of(step, 1)


def score_batch_size(model, cfg, fps: int) -> int:
    """The inference batch ``seizure score`` would use for this model (memory-bounded)."""
    tc = cfg.train
    return inference_batch_size(model, fps, window_s=tc.eval_window_s, context_s=tc.eval_context_s,
                                max_batch=tc.eval_batch_size)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", nargs="+", default=[str(ROOT / "configs" / "demo.toml"),
                                                      str(ROOT / "configs" / "paper_cnn_lstm.toml")])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--hours", type=float, default=1.0, help="length of the scored recording")
    ap.add_argument("--batch", type=int, default=0, help="windows per inference batch (0: as seizure score)")
    ap.add_argument("--window-s", type=int, default=21, help="per-window baseline window (the paper's 21 s)")
    ap.add_argument("--baseline-seconds", type=int, default=120, help="seconds scored by the per-window baseline")
    ap.add_argument("--train-steps", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--bfloat16", action="store_true",
                    help="also time inference with precision='bfloat16' (autocast) and report its largest "
                         "probability difference from float32")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {args.threads} thread(s)"
    print(f"device: {name}; torch {torch.__version__}; load average at start {load:.2f}")
    print(f"{'config':22} {'what':34} {'ours h/s':>9} {'(CPU)':>7} {'baseline h/s':>13} {'speed-up':>8}")
    for path in args.configs:
        cfg = load_config(path)
        n_ch, n_feat, fps = geometry(cfg)
        model = build_model(cfg.model, n_ch, n_feat, fps).to(device).eval()
        batch = args.batch or score_batch_size(model, cfg, fps)
        ours, ours_cpu = rates(*inference(model, n_ch, n_feat, fps, args.hours, batch, device, args.repeats),
                               args.threads)
        per_batch = max(1, batch * (600 + 2 * 120) // args.window_s)
        base, _ = rates(*per_window_inference(model, n_ch, n_feat, fps, args.baseline_seconds, args.window_s,
                                              per_batch, device, args.repeats), args.threads)
        stem = Path(path).stem
        print(f"{stem:22} {'inference (batch ' + str(batch) + ' x 600 s windows)':34} {ours:9.2f} "
              f"{ours_cpu:7.2f} {base:13.3f} {ours / base:7.1f}x")
        if args.bfloat16:
            low, low_cpu = rates(*inference(model, n_ch, n_feat, fps, args.hours, batch, device, args.repeats,
                                            "bfloat16"), args.threads)
            x = np.random.default_rng(1).standard_normal((1800 * fps, n_ch, n_feat)).astype(np.float32)
            diff = np.abs(predict_array(model, x, fps, device=device, batch_size=batch, precision="bfloat16")
                          - predict_array(model, x, fps, device=device, batch_size=batch)).max()
            print(f"{stem:22} {'inference, bfloat16 autocast':34} {low:9.2f} {low_cpu:7.2f} {ours:13.2f} "
                  f"{low / ours:7.1f}x  (vs float32; max |dp| {diff:.1e})")
        tr, tr_cpu = rates(*training(cfg, n_ch, n_feat, fps, device, args.train_steps, False, args.window_s),
                           args.threads)
        trb, _ = rates(*training(cfg, n_ch, n_feat, fps, device, args.train_steps, True, args.window_s),
                       args.threads)
        what = f"training (batch {cfg.train.batch_size} x {cfg.train.crop_s} s)"
        print(f"{stem:22} {what:34} {tr:9.2f} {tr_cpu:7.2f} {trb:13.3f} {tr / trb:7.1f}x")
    print(f"baseline: the same network on independent {args.window_s} s windows, one output per window "
          f"(inference: every second, hop 1 s; training: one labelled second per window)")
    print(f"(CPU): the same run's rate per second of process CPU time x {args.threads} thread(s), i.e. what an "
          "idle machine would give if the threads scaled perfectly (device cpu only)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
