"""``seizure evaluate --ref REF --hyp HYP [--hyp NAME=HYP ...]``: NEDC and SzCORE scores of
hypothesis annotations; with several ``--hyp``, each system's intervals and the paired
differences against the first (:mod:`seizure.scoring.comparison`)."""

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
        ".lbl, .lbl_bi and SzCORE *_events.tsv. Repeat --hyp (NAME=HYP names a system) to compare systems "
        "on the same references: each system's intervals and its paired difference from the first system "
        "(the same patient resamples for both; \"not distinguishable\" when the interval covers 0).",
    )
    p.add_argument("--ref", required=True, metavar="REF", help="reference annotations (directory or list file)")
    p.add_argument("--hyp", required=True, action="append", metavar="[NAME=]HYP",
                   help="hypothesis annotations (directory or list file); repeat to compare systems, the first "
                   "being the one the others are compared with (NAME: the system's name, default the folder's)")
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


def systems(values: list[str]) -> dict[str, str]:
    """System name -> hypothesis path of the ``--hyp`` values (``NAME=PATH`` or ``PATH``, named
    by the path's last part); ConfigError on a repeated name."""
    import re
    from pathlib import Path

    from seizure.errors import ConfigError

    out: dict[str, str] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not re.fullmatch(r"[\w.+-]+", name) or Path(value).exists():
            name, path = Path(value).name or value, value
        if name in out:
            raise ConfigError(f"--hyp: two systems are named {name!r}; name them with NAME=HYP")
        out[name] = path
    return out


def run(args: argparse.Namespace) -> int:
    import sys

    from seizure.errors import ConfigError
    from seizure.scoring.report import report_paths

    hyps = systems(args.hyp)
    if len(hyps) > 1 and args.bootstrap < 1:
        raise ConfigError("comparing systems needs bootstrap resamples: --bootstrap N with N >= 1")
    progress = sys.stderr.isatty() and not getattr(args, "quiet", False)
    reports = {name: report_paths(args.ref, hyp, missing_as_empty=args.missing_as_empty,
                                  duration_tolerance_s=args.duration_tolerance, bootstrap=args.bootstrap,
                                  seed=args.seed, progress=progress)
               for name, hyp in hyps.items()}
    if len(reports) == 1:
        report = next(iter(reports.values()))
        print(f"{report.n_recordings} recordings, {report.duration_s / 3600:.2f} h, "
              f"{report.n_ref_events} reference seizures")
        print(report.table())
        for path in report.write(json_path=args.json, out_dir=args.out):
            print(f"wrote {path}")
        return 0
    return _compare(reports, args)


def _compare(reports: dict, args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from seizure.errors import SeizureError
    from seizure.fsutil import atomic_write
    from seizure.scoring import comparison

    try:
        result = comparison.compare_reports(reports, n_resamples=args.bootstrap, seed=args.seed)
    except ValueError as exc:
        raise SeizureError(str(exc), args.ref) from None
    first = next(iter(reports.values()))
    print(f"{first.n_recordings} recordings, {first.duration_s / 3600:.2f} h, {first.n_ref_events} reference "
          f"seizures, {len(reports)} systems")
    for name, report in reports.items():
        print(f"\n== {name}")
        print(report.table())
    print()
    print("\n".join(comparison.systems_table({n: r.bootstrap for n, r in reports.items()})))
    print()
    print("\n".join(comparison.differences_table(result)))
    blob = json.dumps({"systems": {n: r.to_dict() for n, r in reports.items()}, "comparison": result},
                      indent=2, allow_nan=False) + "\n"
    written = []
    if args.out:
        for name, text in (("report.json", blob), ("report.md", comparison.markdown(reports, result))):
            with atomic_write(Path(args.out) / name) as fh:
                fh.write(text)
            written.append(Path(args.out) / name)
    if args.json:
        with atomic_write(args.json) as fh:
            fh.write(blob)
        written.append(Path(args.json))
    for path in written:
        print(f"wrote {path}")
    return 0
