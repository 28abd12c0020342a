"""``seizure synth OUT``: write a synthetic corpus in the TUSZ v2 layout (or one long recording)."""

from __future__ import annotations

import argparse
import sys

from seizure.commands import _args


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from seizure.synth.profiles import PROFILES

    p = subparsers.add_parser(
        "synth",
        help="write a realistic synthetic EEG corpus in the TUSZ v2 layout",
        description="Write OUT/edf/{train,dev,eval}/<patient>/<sNNN_YYYY>/<montage>/*.edf with .csv and "
        ".csv_bi annotations, split 60/20/20 by patient, plus OUT/SYNTH.md and OUT/synth.json. "
        "Deterministic for a seed. Difficulty knobs (see docs/synthetic_corpus.md) are set with "
        "--set, e.g. --set seizure_snr=0.8 --set artifact_scale=2 --set seizure_mix.absz=0. Named profiles "
        "(--profile) shift the data away from the default the ways real EEG does: "
        + "; ".join(f"{p.name}: {p.description}" for p in PROFILES.values()) + ".",
    )
    p.add_argument("out", metavar="OUT", help="output folder")
    p.add_argument("--hours", type=float, default=None,
                   help="hours of EEG in the corpus (default: the profile's size, 1 for the default profile)")
    p.add_argument("--profile", default="default", metavar="NAME",
                   help=f"named corpus profile, one of: {', '.join(PROFILES)} (default: default); "
                        "--config and --set apply on top of it")
    p.add_argument("--seed", type=_args.seed, default=0, help="random seed (default 0)")
    p.add_argument("--patients", type=int, default=None, help="number of patients (default about 2.5 per hour, at least 8 when the hours allow)")
    p.add_argument("--fs", type=float, default=None, metavar="HZ",
                   help="one sampling rate for every file (default: TUSZ's mix of 250/256/400/512 Hz)")
    p.add_argument("--jobs", type=_args.positive_int, default=1, help="parallel worker processes (same bytes for any value)")
    p.add_argument("--config", metavar="TOML", help="TOML file whose [synth] table sets the knobs")
    _args.add_set(p, "seizure_fraction=0.05")
    p.add_argument("--long-hours", type=float, default=None, metavar="H",
                   help="instead of a corpus, write ONE recording of H hours (streamed; for memory benchmarks)")
    p.add_argument("--overwrite", action="store_true", help="replace a corpus this command wrote before in OUT")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from seizure.config import apply_overrides, build, load_toml, merge
    from seizure.errors import ConfigError
    from seizure.synth import SynthParams, synthesize, synthesize_long_recording
    from seizure.synth.profiles import get_profile

    profile = get_profile(args.profile)
    data = profile.data()
    if args.config:
        section = load_toml(args.config).get("synth", {})
        if not isinstance(section, dict):
            raise ConfigError("[synth] must be a table", args.config)
        data = merge(data, section)
    params = build(SynthParams, apply_overrides(data, args.overrides), "synth")
    progress = sys.stderr.isatty() and not getattr(args, "quiet", False)
    if args.long_hours is not None:
        info = synthesize_long_recording(args.out, args.long_hours, args.seed, fs_hz=args.fs or 256.0,
                                         params=params, progress=progress)
        print(f"wrote {args.out}/{info.path}: {info.duration_s / 3600:.2f} h at {info.fs_hz:g} Hz, "
              f"{len(info.seizures)} seizures ({info.seizure_s:.0f} s)")
        return 0
    hours = profile.hours if args.hours is None else args.hours
    summary = synthesize(args.out, hours, args.seed, patients=args.patients, fs_hz=args.fs, params=params,
                         jobs=args.jobs, overwrite=args.overwrite, progress=progress, profile=profile.name)
    print(f"wrote {len(summary.recordings)} recordings ({summary.hours:.2f} h, profile {profile.name}) to {args.out}")
    print(f"{'split':6} {'files':>5} {'patients':>8} {'hours':>6} {'seizures':>8} {'seizure s':>9} {'seizure %':>9}")
    for name, s in summary.splits.items():
        print(f"{name:6} {s.files:5d} {s.patients:8d} {s.hours:6.2f} {s.seizures:8d} {s.seizure_s:9.1f} "
              f"{100 * s.seizure_fraction:9.1f}")
    return 0
