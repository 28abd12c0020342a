"""``seizure evaluate --ref REF --hyp HYP``: NEDC and SzCORE scores of hypothesis annotations."""

from __future__ import annotations

import argparse

from seizure.commands import _args


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="score hypothesis annotations against references (NEDC OVLP/TAES/epoch, SzCORE)",
        description="Match reference and hypothesis annotation files by recording name and score them "
        "with NEDC OVLP, TAES and epoch scoring (pooled over recordings) and SzCORE event and sample "
        "scoring (pooled and averaged per subject), with 95% intervals from a patient-level bootstrap "
        "(patients resampled with replacement). REF and HYP are directories (searched recursively), "
        "text files listing annotation paths, or single files; formats .csv_bi, .csv, .tse, .tse_bi, "
        ".lbl, .lbl_bi and SzCORE *_events.tsv.",
    )
    p.add_argument("--ref", required=True, metavar="REF", help="reference annotations (directory or list file)")
    p.add_argument("--hyp", required=True, metavar="HYP", help="hypothesis annotations (directory or list file)")
    p.add_argument("--out", metavar="DIR", help="write DIR/report.json and DIR/report.md")
    p.add_argument("--json", metavar="FILE", help="write the JSON report to FILE")
    p.add_argument("--missing-as-empty", action="store_true",
                   help="score a reference without a hypothesis as detecting nothing (default: error)")
    p.add_argument("--duration-tolerance", type=_args.seconds, default=1.0, metavar="S",
                   help="largest allowed disagreement between reference and hypothesis durations (default 1 s)")
    p.add_argument("--bootstrap", type=_args.count, default=1000, metavar="N",
                   help="patient-level bootstrap resamples for the 95%% intervals (default 1000; 0: none)")
    p.add_argument("--seed", type=_args.seed, default=0, help="seed of the bootstrap resamples (default 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from seizure.scoring.report import report_paths

    report = report_paths(
        args.ref, args.hyp, missing_as_empty=args.missing_as_empty,
        duration_tolerance_s=args.duration_tolerance, bootstrap=args.bootstrap, seed=args.seed,
        progress=sys.stderr.isatty() and not getattr(args, "quiet", False),
    )
    print(f"{report.n_recordings} recordings, {report.duration_s / 3600:.2f} h, {report.n_ref_events} reference seizures")
    print(report.table())
    for path in report.write(json_path=args.json, out_dir=args.out):
        print(f"wrote {path}")
    return 0
