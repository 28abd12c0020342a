"""``seizure preprocess CORPUS STORE``: a TUSZ-layout corpus -> a feature store."""

from __future__ import annotations

import argparse
import sys

from seizure.commands import _args


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "preprocess",
        help="turn a TUSZ-layout corpus into a feature store (parallel, resumable)",
        description="Discover the EDF files of a TUSZ v2 or v1.5 tree (CORPUS may be the corpus, its edf "
        "folder or one split) or of a BIDS dataset (sub-*/[ses-*/]eeg/*_eeg.edf with *_events.tsv; split "
        "by --splits or a seeded split by subject, recorded in the manifest), montage, filter, resample and "
        "featurise each one, and write a feature store with per-second labels and a manifest. Re-running skips finished recordings and retries "
        "failed ones; a store made with another recipe is refused.",
    )
    p.add_argument("corpus", metavar="CORPUS", help="the corpus folder (TUSZ layout) or a BIDS dataset root")
    p.add_argument("store", metavar="STORE", help="the feature-store folder (created if needed)")
    p.add_argument("--config", metavar="TOML", help="experiment config whose [recipe] table is used")
    _args.add_set(p, "recipe.feature=raw", metavar="recipe.KEY=VALUE")
    p.add_argument("-j", "--jobs", type=_args.positive_int, default=1, metavar="N", help="worker processes (default 1)")
    p.add_argument("--split", metavar="LIST", help="only these splits, comma-separated (train,dev,eval)")
    p.add_argument("--splits", metavar="TSV", help="BIDS: split file, columns participant_id and split "
                   "(train/dev/eval); default: a seeded 60/20/20 split by subject")
    p.add_argument("--split-seed", type=int, default=0, metavar="N",
                   help="BIDS: seed of the split by subject when no --splits is given (default 0)")
    _args.add_executor(p)
    p.add_argument("--shard", metavar="I/N", default=None,
                   help="process only the I-th of N deterministic shards of the corpus into STORE (one job of a "
                   "cluster array); join the shard stores with `seizure merge`")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from seizure.corpus import preprocess, recipe_from_config
    from seizure.parallel import parse_shard

    recipe = recipe_from_config(args.config, args.overrides)
    splits = None if args.split is None else [s.strip() for s in args.split.split(",") if s.strip()]
    shard = None if args.shard is None else parse_shard(args.shard)
    summary = preprocess(args.corpus, args.store, recipe, jobs=args.jobs, splits=splits,
                         split_file=args.splits, split_seed=args.split_seed,
                         progress=not args.quiet and sys.stderr.isatty(), executor=_args.executor(args), shard=shard)
    print(f"recipe {recipe.hash()}: {recipe.feature}, montage {recipe.montage}, {recipe.fs_hz:g} Hz")
    for line in summary.lines():
        print(line)
    return 1 if summary.failed else 0
