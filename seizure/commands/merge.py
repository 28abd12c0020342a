"""``seizure merge STORE [SHARD...] [--external NAME=STORE...]``: join the stores of sharded
``seizure preprocess --shard`` runs, and other corpora as training data only."""

from __future__ import annotations

import argparse

from seizure.errors import ConfigError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "merge",
        help="join the feature stores of `seizure preprocess --shard I/N` runs, or another corpus as training data",
        description="Hard-link (or copy) every record of the shard stores into STORE and rebuild its manifest: "
        "the result equals a store preprocessed in one run. The shards must share a recipe; a recording in two "
        "shards is refused. Re-running adds what is new. --external NAME=OTHER joins another corpus's "
        "recordings as training data only (split train, role 'external' in the manifest, ids and patients "
        "prefixed NAME__): they are fitted on, never used to choose an epoch or an operating point, never "
        "scored. With no SHARD, STORE must be a feature store already.",
    )
    p.add_argument("store", metavar="STORE", help="the merged feature store (created if needed)")
    p.add_argument("shards", metavar="SHARD", nargs="*", help="feature stores of the shard runs")
    p.add_argument("--external", metavar="NAME=STORE", action="append", default=[],
                   help="another corpus's feature store (same recipe), joined as training data only (repeatable)")
    p.add_argument("--external-splits", metavar="SPLIT", nargs="+", default=["train", "dev", "eval"],
                   help="which splits of the external stores to join (default: all)")
    p.set_defaults(func=run)


def parse_external(values: list[str]) -> list[tuple[str, str]]:
    """``NAME=STORE`` strings -> ``(name, store)`` pairs."""
    out = []
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise ConfigError(f"--external wants NAME=STORE, got {value!r}")
        out.append((name, path))
    return out


def run(args: argparse.Namespace) -> int:
    from seizure.corpus import merge_stores
    from seizure.store import FeatureStore, external_summary

    summary = merge_stores(args.store, args.shards, parse_external(args.external), args.external_splits)
    for line in summary.lines():
        print(line)
    for name, e in external_summary(FeatureStore(args.store).records()).items():
        print(f"external training data {name}: {e['recordings']} recording(s), {e['patients']} patient(s), "
              f"{e['hours']:.2f} h, {e['seizures']} seizure(s)")
    return 0
