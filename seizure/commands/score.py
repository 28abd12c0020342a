"""``seizure score MODEL INPUT... --out DIR``: seizure events of new EDF recordings."""

from __future__ import annotations

import argparse
import sys

from seizure.commands import _args


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "score",
        help="detect seizures in EDF recordings with a trained model (csv_bi, SzCORE TSV, plot)",
        description="Apply a checkpoint's own preprocessing recipe and operating point to each recording "
        "(read and processed in chunks: memory stays bounded for day-long files) and write, in DIR, "
        "NAME.csv_bi (TUSZ; rows cover the whole file, seiz rows carry the mean probability as "
        "confidence) and NAME_events.tsv (SzCORE/BIDS). NAME is the EDF's stem; inputs sharing a stem "
        "get their parent folders prepended. For a BIDS dataset (--layout auto or bids) DIR becomes a BIDS "
        "derivative: DIR/sub-*/[ses-*/]eeg/<recording>_events.tsv, the reference events' own name, and "
        "DIR/dataset_description.json. Channels a recording lacks are zero-filled and masked (a "
        "warning lists them); below the minimum number of usable channels the file is refused. "
        "Exit status: 0 all scored, 1 some failed (each named with its reason; the others are written), "
        "2 usage errors.",
    )
    p.add_argument("model", metavar="MODEL", help="checkpoint written by `seizure train` (best.pt)")
    p.add_argument("inputs", metavar="INPUT", nargs="+",
                   help="EDF file, folder (searched recursively) or text file listing paths (# comments)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created if needed)")
    p.add_argument("--plot", action="store_true",
                   help="also write NAME.png: compressed EEG, probability trace, threshold, detected events and "
                   "the reference events of an annotation sidecar when there is one")
    p.add_argument("--probabilities", action="store_true",
                   help="also write NAME_probs.csv: 'second,probability', one row per whole second")
    p.add_argument("--layout", choices=("auto", "bids", "flat"), default="auto",
                   help="bids: a BIDS derivative mirroring sub-*/[ses-*/]eeg/ with <recording>_events.tsv named as "
                   "the reference (what szcore-evaluation reads) and dataset_description.json; flat: every output in "
                   "DIR; auto (default): bids when every input lies in a BIDS dataset")
    p.add_argument("-j", "--jobs", type=_args.positive_int, default=1, metavar="N",
                   help="recordings scored in parallel processes (default 1)")
    _args.add_executor(p)
    p.add_argument("--shard", metavar="I/N", default=None,
                   help="score only the I-th of N shards of the inputs (every N-th file; output names are chosen "
                   "over all inputs, so N jobs can share one --out)")
    p.add_argument("--min-channels", type=_args.positive_int, default=None, metavar="N",
                   help="usable montage channels needed to score a file (default: the model recipe's min_channels)")
    p.add_argument("--precision", choices=("float32", "bfloat16"), default="float32",
                   help="inference arithmetic (default float32); bfloat16 autocast is faster for large models on "
                   "CPUs with AMX and on GPUs, probabilities within about 1e-3")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from seizure.detect import InputError, detect_files

    try:
        summary = detect_files(args.model, args.inputs, args.out, plot=args.plot, probabilities=args.probabilities,
                              jobs=args.jobs, min_channels=args.min_channels, precision=args.precision,
                              layout=args.layout,
                              progress=not args.quiet and sys.stderr.isatty(), executor=_args.executor(args),
                              shard=args.shard)
    except InputError as exc:
        print(f"seizure score: error: {exc}", file=sys.stderr)
        return 2
    print(summary.table())
    if summary.failures:
        print(f"{len(summary.failures)} recording(s) failed:", file=sys.stderr)
        for _, reason in summary.failures:
            print(f"  {reason}", file=sys.stderr)
        return 1
    return 0
