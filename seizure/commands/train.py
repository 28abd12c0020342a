"""``seizure train STORE OUTDIR``: train a model on a feature store, select it on dev."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seizure.commands import _args


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a CNN + recurrent model on a feature store (train split; dev, or a tuning split carved "
        "from train when the store has no eval split, for selection)",
        description="Train the model of an experiment config on the store's train split, evaluate on dev "
        "every epoch, keep the best epoch and choose the post-processing operating point on dev for the "
        "config's false-alarm target. A store without eval recordings: a seeded, patient-disjoint share of "
        "the train patients (train.tuning_fraction, train.tuning_seed; recorded in STORE/tuning.json, the "
        "manifest and best.pt) replaces dev for selection, and dev is left to be scored. Writes "
        "OUTDIR/best.pt (for `seizure score`), last.pt (resume), metrics.csv, training_curve.png and "
        "resolved_config.toml. Re-running with the same config resumes an interrupted run. Data-parallel on N "
        "processes or GPUs (DDP; train.batch_size is the global batch): torchrun --nproc-per-node N -m seizure "
        "train STORE OUTDIR ...",
    )
    p.add_argument("store", metavar="STORE", help="feature store made by `seizure preprocess`")
    p.add_argument("out", metavar="OUTDIR", help="output folder (created if needed)")
    p.add_argument("--config", metavar="TOML", help="experiment config (e.g. configs/demo.toml); default: built-in")
    _args.add_set(p, "train.epochs=5")
    p.add_argument("--restart", action="store_true", help="discard OUTDIR/last.pt and train from scratch")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from seizure.evaluation import resolution_note
    from seizure.training.config import load_config
    from seizure.training.loop import TrainingInterrupted, train
    from seizure.training.distributed import from_env

    cfg = load_config(args.config, args.overrides)
    out = Path(args.out)
    if args.restart and (out / "last.pt").exists():
        for name in ("last.pt", "best.pt", "metrics.csv", "training_curve.png"):
            (out / name).unlink(missing_ok=True)
    try:
        result = train(args.store, out, cfg, progress=not args.quiet and sys.stderr.isatty())
    except TrainingInterrupted as exc:
        print(f"interrupted: {exc.reason}", file=sys.stderr)
        return 130
    if not from_env().main:  # under torchrun, rank 0 reports
        return 0
    s = result.summary
    op = result.operating_point
    print(f"epochs run: {s.get('epochs_run')}, best epoch: {s.get('best_epoch')}")
    splits = s.get("splits", {})
    print(f"selected on {splits.get('tune', 'dev')} ({s.get('dev_hours', 0):.2f} h, {s.get('dev_seizures', 0)} "
          f"seizures): sensitivity {100 * s.get('dev_sensitivity', 0):.1f}% at {s.get('dev_fa_per_24h', 0):.2f} FA/24h "
          f"({s.get('method')}, target {s.get('target_fa_per_24h')})")
    if splits.get("tuning"):
        t = splits["tuning"]
        print(f"the store has no eval split: {len(t['patients'])} train patients carved as the tuning split "
              f"(seed {t['seed']}, fraction {t['fraction']:g}); score this model on dev")
    for name, e in (splits.get("external") or {}).items():
        print(f"fitted on external training data too: {name}, {e['recordings']} recording(s), {e['hours']:.2f} h, "
              f"{e['seizures']} seizure(s)")
    print(f"operating point: threshold {op.threshold:.3f}, smooth {op.smooth_s:g} s, min duration "
          f"{op.min_duration_s:g} s, merge gap {op.merge_gap_s:g} s")
    if s.get("dev_resolution"):
        note = resolution_note(s["dev_resolution"], s["target_fa_per_24h"], splits.get("tune", "dev"))
        if note:
            print(f"note: {note}")
    if "sparsity" in s:
        sp = s["sparsity"]
        print(f"sparse VD: {100 * sp['sparsity']:.1f}% of {sp['svd_weights']} weights pruned; "
              f"{sp['dense_bytes'] / 1024:.0f} KiB dense -> {sp['compressed_bytes'] / 1024:.0f} KiB compressed")
    print(f"metrics: {out / 'metrics.csv'}, curve: {out / 'training_curve.png'}")
    print(f"best checkpoint: {result.best_path}")
    return 0

