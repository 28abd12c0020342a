"""``seizure inspect EDF``: header, channels, rates, montages and annotations of one EDF file."""

from __future__ import annotations

import argparse
import json


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "inspect",
        help="show what an EDF file holds and which montages it can form",
        description="Header, channels (original -> normalised), rates, duration, dropped signals, "
        "montage feasibility and the annotation sidecar of one EDF/EDF+ file.",
    )
    p.add_argument("edf", metavar="EDF", help="the EDF/EDF+ file")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--montage", metavar="NAME", help="check only this montage and show how each pair is formed")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from seizure.inspect import format_report, inspect_edf

    report = inspect_edf(args.edf, montages=None if args.montage is None else [args.montage])
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0
