#!/usr/bin/env python
"""Run the paper's three studies (cells, initializers, regularizers) on one feature store.

A thin wrapper around ``seizure study`` (:func:`seizure.study.run_study`): each study file
of ``configs/study/`` runs into ``OUT/<study>/`` (resumable: run it again to continue),
and with ``--docs DIR`` its tables and DET plot are copied to ``DIR/<study>/``::

    python scripts/reproduce_paper.py --store STORE --out studies --jobs 2
    python scripts/reproduce_paper.py --store /tmp/h8/store --out /tmp/h8/studies --jobs 2 \\
        --base configs/study/cpu.toml --docs docs/study          # the CPU-sized run of docs/study

Exit status: 0 when every run finished, 1 when some failed (the rest still ran), 130 when
interrupted.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STUDIES = ("cells", "initializers", "regularizers")
TABLES = ("results.md", "results.csv", "comparisons.csv", "runs.csv", "det.png")


def _shown(path: Path) -> Path:
    """``path`` relative to the current folder when inside it (as the tables will show it)."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--store", required=True, help="feature store made by `seizure preprocess`")
    p.add_argument("--out", required=True, help="output folder; each study goes to OUT/<study>/")
    p.add_argument("--jobs", "-j", type=int, default=1, help="runs in parallel processes (default 1)")
    p.add_argument("--seeds", type=int, default=None, help="seeds per variant (default: each study file's)")
    p.add_argument("--base", help="replace the studies' base config (e.g. configs/study/cpu.toml)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one base config value for every variant (repeatable)")
    p.add_argument("--studies", default=",".join(STUDIES), help=f"comma-separated subset of {', '.join(STUDIES)}")
    p.add_argument("--docs", metavar="DIR", help="copy each study's tables and DET plot to DIR/<study>/")
    args = p.parse_args(argv)
    names = [n.strip() for n in args.studies.split(",") if n.strip()]
    unknown = sorted(set(names) - set(STUDIES))
    if unknown:
        p.error(f"--studies: unknown study {unknown[0]!r}; valid: {', '.join(STUDIES)}")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s", stream=sys.stderr)

    from seizure.errors import SeizureError
    from seizure.fsutil import atomic_path
    from seizure.study import StudyInterrupted, run_study

    command = "python " + shlex.join(sys.argv) if argv is None else None
    failed = 0
    t0 = time.monotonic()
    for name in names:
        t_study = time.monotonic()
        try:
            result = run_study(_shown(ROOT / "configs" / "study" / f"{name}.toml"), args.store, Path(args.out) / name,
                               jobs=args.jobs, seeds=args.seeds, overrides=args.overrides, base=args.base,
                               command=command, status=lambda line: print(line, flush=True))
        except StudyInterrupted as exc:
            print(f"interrupted: {exc.reason}", file=sys.stderr)
            return 130
        except SeizureError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        failed += len(result.failed)
        print(f"study {name}: {result.planned} runs ({result.skipped} already finished, {result.done} run now, "
              f"{len(result.failed)} failed) in {(time.monotonic() - t_study) / 60:.1f} min -> "
              f"{result.tables['results.md']}", flush=True)
        if args.docs:
            dest = Path(args.docs) / name
            dest.mkdir(parents=True, exist_ok=True)
            for table in TABLES:
                if table in result.tables:
                    with atomic_path(dest / table, suffix=Path(table).suffix) as tmp:
                        shutil.copyfile(result.tables[table], tmp)
    print(f"all studies done in {(time.monotonic() - t0) / 60:.1f} min of wall time", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
