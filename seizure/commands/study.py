"""``seizure study CONFIG --store STORE --out DIR``: run one axis of the paper's study."""

from __future__ import annotations

import argparse
import shlex
import sys

from seizure.commands import _args


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "study",
        help="run a study grid (one axis: cell, initializer or regularizer; several seeds) and tabulate it",
        description="Train every variant of a study file (configs/study/*.toml) with several seeds on a feature "
        "store, score each run on the store's eval split at its dev-chosen operating point, and write "
        "DIR/results.md, results.csv, runs.csv and det.png. Runs live in DIR/runs/<variant>/seed<k>/; a finished "
        "run (same resolved config) is not redone, an interrupted one resumes, a failed one is recorded and the "
        "rest goes on (exit status 1 if any failed).",
    )
    p.add_argument("config", metavar="CONFIG", help="study file, e.g. configs/study/cells.toml")
    p.add_argument("--store", required=True, metavar="STORE", help="feature store made by `seizure preprocess`")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (runs and tables)")
    p.add_argument("--jobs", "-j", type=_args.positive_int, default=1, metavar="N",
                   help="runs trained in parallel processes, each with cores/N torch threads (default 1)")
    _args.add_executor(p)
    p.add_argument("--seeds", type=_args.positive_int, default=None, metavar="N",
                   help="seeds per variant (train.seed 0..N-1; default: the study file's)")
    p.add_argument("--base", metavar="TOML", help="replace the study's base experiment config (e.g. "
                   "configs/study/cpu.toml for a CPU-sized run)")
    p.add_argument("--only", metavar="NAMES", type=lambda t: [n.strip() for n in t.split(",") if n.strip()],
                   help="run and tabulate only these variants (comma-separated)")
    _args.add_set(p, "train.epochs=5")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from seizure.study import StudyInterrupted, run_study

    command = "seizure " + shlex.join(sys.argv[1:]) if sys.argv and sys.argv[0].endswith("seizure") else None
    try:
        result = run_study(args.config, args.store, args.out, jobs=args.jobs, seeds=args.seeds,
                           overrides=args.overrides, base=args.base, only=args.only, command=command,
                           progress=not args.quiet and sys.stderr.isatty(),
                           status=None if args.quiet else (lambda line: print(line, flush=True)),
                           executor=_args.executor(args))
    except StudyInterrupted as exc:
        print(f"interrupted: {exc.reason}", file=sys.stderr)
        return 130
    print(f"study {result.study.name} ({result.study.axis}): {result.planned} runs, {result.skipped} already "
          f"finished, {result.done} run now, {len(result.failed)} failed; scored on the {result.split} split")
    for name, path in result.tables.items():
        print(f"  {name:<12} {path}")
    for f in result.failed:
        print(f"failed: {f['variant']} seed {f['seed']}: {f['message']}", file=sys.stderr)
    return 1 if result.failed else 0
