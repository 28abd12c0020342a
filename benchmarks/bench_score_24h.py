"""Scoring a 24-hour recording: peak memory and hours of EEG per second, streaming against whole-file.

    python benchmarks/bench_score_24h.py [--hours 24] [--model best.pt | --config configs/demo.toml]
                                         [--workdir DIR] [--skip-baseline]

1. Writes one synthetic recording of ``--hours`` hours (``seizure.synth.synthesize_long_recording``:
   TUH ``01_tcp_ar`` layout, 256 Hz, streamed to disk) into ``--workdir`` (reused when present).
2. The model: ``--model`` (a trained checkpoint), else an untrained network of ``--config``'s
   ``[model]`` and ``[recipe]`` (default ``configs/demo.toml``): the same architecture costs
   the same time and memory whatever its weights.
3. Each method runs in a fresh Python process, so its peak RSS (``VmHWM``, reset by exec unlike
   ``ru_maxrss``) is its own:
   * ``streaming``: ``seizure.detect.detect_recording`` (chunked read -> montage -> filters ->
     features -> windowed inference, one probability per second kept; csv_bi + TSV written);
   * ``whole-file`` (the named baseline): ``seizure.preprocess.pipeline.process_edf`` (every feature of the
     recording in one array) then ``seizure.models.inference.predict_array`` with the same
     inference windows and batch size, and the same post-processing;
   * ``imports``: the imports alone (torch and ``seizure.detect``), the floor under both.
   Prints one row per method: wall time, hours of EEG per second, peak RSS, and the largest
   difference between the two methods' probabilities.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def peak_rss_mb() -> float:
    """This process's peak resident set size in MB (``VmHWM``, in KiB)."""
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024


def worker(method: str, edf: str, model: str, out: str) -> dict:
    """Run one method in this (fresh) process and report time, memory and the probabilities' file."""
    import numpy as np

    from seizure import checkpoint

    result: dict = {"method": method}
    if method == "imports":
        import torch  # noqa: F401

        import seizure.detect  # noqa: F401

        result.update(elapsed_s=0.0, peak_rss_mb=peak_rss_mb())
        return result
    ckpt = checkpoint.load(model)
    t0 = time.perf_counter()
    if method == "streaming":
        from seizure.detect import detect_recording

        res = detect_recording(ckpt, edf, out)
        probs, n_events, duration_s = res.probs, len(res.events), res.duration_s
    else:
        from seizure.evaluation import probabilities
        from seizure.models.inference import array_chunks
        from seizure.postprocess import probs_to_events
        from seizure.preprocess.pipeline import process_edf

        whole = process_edf(edf, ckpt.recipe)
        probs = probabilities(ckpt.model, array_chunks(whole.features, whole.frames_per_s), whole.frames_per_s,
                              whole.mask, ckpt.config.train)
        n_events, duration_s = len(probs_to_events(probs, ckpt.operating_point)), whole.duration_s
    elapsed = time.perf_counter() - t0
    probs_path = Path(out) / f"{method}_probs.npy"
    np.save(probs_path, probs)
    result.update(elapsed_s=elapsed, peak_rss_mb=peak_rss_mb(), duration_s=duration_s, n_events=n_events,
                  probs=str(probs_path))
    return result


def make_model(config: Path, path: Path) -> Path:
    """An untrained checkpoint of ``config``'s model and recipe."""
    from seizure import checkpoint
    from seizure.models import build_model
    from seizure.store import feature_info
    from seizure.training.config import load_config

    cfg = load_config(config)
    info = feature_info(cfg.recipe)
    model = build_model(cfg.model, len(info.channels), info.n_features, info.frames_per_s, seed=cfg.train.seed)
    return checkpoint.save(path, checkpoint.make(model, cfg, cfg.recipe, None, list(info.channels), {}))


def run_worker(method: str, edf: Path, model: Path, out: Path) -> dict:
    cmd = [sys.executable, __file__, "--worker", method, "--edf", str(edf), "--model", str(model), "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{method} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", type=Path, help="trained checkpoint (default: untrained network of --config)")
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "demo.toml")
    parser.add_argument("--workdir", type=Path, help="keeps the recording between runs (default: a temporary folder)")
    parser.add_argument("--skip-baseline", action="store_true", help="only the streaming method")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--edf", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.edf, str(args.model), args.out)))
        return

    import platform

    import numpy as np
    import torch

    from seizure.synth import synthesize_long_recording
    from seizure.synth.corpus import long_recording_plan

    tmp = None
    if args.workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench_score_")
        args.workdir = Path(tmp.name)
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    plan = long_recording_plan(args.hours, args.seed)
    edf = next(iter(work.glob(f"edf/**/{plan.patient}_*.edf")), None)
    if edf is None:
        t0 = time.perf_counter()
        info = synthesize_long_recording(work, args.hours, args.seed)
        edf = work / info.path
        print(f"wrote {edf} ({info.duration_s / 3600:.1f} h, {edf.stat().st_size / 1e9:.2f} GB) in "
              f"{time.perf_counter() - t0:.0f} s")
    model = args.model or make_model(args.config, work / "untrained.pt")
    print(f"recording {edf} ({edf.stat().st_size / 1e9:.2f} GB); model {model}"
          + ("" if args.model else f" (untrained network of {args.config.name})"))
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
          f"python {platform.python_version()}, torch {torch.__version__}")

    methods = ["imports", "streaming"] + ([] if args.skip_baseline else ["whole-file"])
    rows = []
    for method in methods:
        out = work / f"out_{method}"
        out.mkdir(exist_ok=True)
        rows.append(run_worker(method, edf, model, out))
        r = rows[-1]
        rate = f"{r['duration_s'] / 3600 / r['elapsed_s']:.3f}" if r["elapsed_s"] else "-"
        print(f"{method:<11} {r['elapsed_s']:8.1f} s  {rate:>7} h/s  peak RSS {r['peak_rss_mb']:7.0f} MB", flush=True)
    if len(rows) == 3:
        a, b = (np.load(r["probs"]) for r in rows[1:])
        print(f"probabilities: {a.size} seconds; largest difference streaming vs whole-file {np.abs(a - b).max():.2e}; "
              f"events {rows[1]['n_events']} vs {rows[2]['n_events']}")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
