"""Run every benchmark in this folder, one after the other, and print their figures.

    python benchmarks/run_all.py [--only read scoring ...] [--quick]

Each benchmark runs in its own process with this interpreter (``make bench`` uses the
project's virtual environment); its output is streamed as it comes. ``--quick`` passes each
script smaller sizes (a smoke run: the figures are not the ones in benchmarks/README.md).
Exit status 1 if any benchmark failed, naming it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# name -> (script, arguments of the full run, arguments of a quick run)
BENCHMARKS: dict[str, tuple[str, list[str], list[str]]] = {
    "read": ("bench_read.py", [], ["--hours", "0.25", "--repeat", "1"]),
    "scoring": ("bench_scoring.py", [], ["--recordings", "100", "--thresholds", "20", "--loop-thresholds", "2"]),
    "preprocess": ("bench_preprocess.py", [], ["--files", "2", "--minutes", "10"]),
    "model": ("bench_model.py", ["--threads", "2"], ["--threads", "2", "--configs", "configs/demo.toml", "--hours", "0.25", "--repeats", "1"]),
    "score_24h": ("bench_score_24h.py", [], ["--hours", "1"]),
    "baseline": ("bench_baseline.py", [], ["--synth-hours", "1.5", "--synth-seed", "3", "--resamples", "200"]),
    "critical": ("bench_critical.py", [], ["--seeds", "1"]),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), metavar="NAME",
                        help=f"run only these ({', '.join(BENCHMARKS)})")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run, not the reported figures")
    args = parser.parse_args(argv)
    failed = []
    for name in args.only or list(BENCHMARKS):
        script, full, quick = BENCHMARKS[name]
        cmd = [sys.executable, str(HERE / script), *(quick if args.quick else full)]
        print(f"\n=== {name}: {' '.join(cmd[1:])}", flush=True)
        start = time.perf_counter()
        rc = subprocess.run(cmd, cwd=HERE.parent, check=False).returncode
        print(f"=== {name}: exit {rc} after {time.perf_counter() - start:.0f} s", flush=True)
        if rc:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
