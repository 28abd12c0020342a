"""``seizure merge STORE SHARD...``: join the stores of sharded ``seizure preprocess --shard`` runs."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "merge",
        help="join the feature stores of `seizure preprocess --shard I/N` runs into one store",
        description="Hard-link (or copy) every record of the shard stores into STORE and rebuild its manifest: "
        "the result equals a store preprocessed in one run. The shards must share a recipe; a recording in two "
        "shards is refused. Re-running adds what is new.",
    )
    p.add_argument("store", metavar="STORE", help="the merged feature store (created if needed)")
    p.add_argument("shards", metavar="SHARD", nargs="+", help="feature stores of the shard runs")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from seizure.corpus import merge_stores

    summary = merge_stores(args.store, args.shards)
    for line in summary.lines():
        print(line)
    return 0
