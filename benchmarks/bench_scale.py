"""Scale-out overheads: preprocessing on local processes vs a Dask LocalCluster, and DDP training
on 1 vs 2 CPU processes.

    python benchmarks/bench_scale.py [--files 12] [--minutes 10] [--steps 30] [--skip-ddp]

1. Preprocessing (default LFCC recipe) of one TUSZ v2 tree of ``--files`` recordings
   (33 signals, 256 Hz, as ``bench_preprocess.py`` writes them) into a fresh store each time:
   ``--executor local`` with ``--jobs 1`` and ``2`` (the baseline) and ``--executor dask``
   with a LocalCluster of 1 and 2 workers. Wall clock includes starting the workers (the
   pool, or the cluster); the stores are checked to be byte-identical. The Dask overhead
   per recording is ``(dask wall - local wall) / files`` at the same number of workers;
   the CPU time of the one-worker local run gives the per-core throughput (less sensitive to a
   busy machine than the wall clock);
   the cluster start-up alone and the scheduling cost of a no-op task are also measured.
2. DDP training (``configs/demo.toml``, 2 epochs of ``--steps`` steps of the global batch of
   16 crops of 120 s, no time budget) on a store of that corpus: one process with 1 torch
   thread (the baseline) and with 2, then ``torchrun --nproc-per-node 2`` with 1 thread each. Throughput is hours of
   EEG in training crops per second over the second epoch (from ``metrics.csv``: its
   training steps plus its dev evaluation), so process start-up and the first epoch's
   warm-up are left out; the wall clock and the CPU time of the whole command (all its
   processes: on a busy machine two processes also get a larger share of the CPU, which the
   CPU time shows) are printed too. On 2 cores no
   speed-up is expected: the figure is the cost of the gradient all-reduce and the split.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))


def _noop(x: int) -> int:
    return x


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != ".preprocess.lock"}


def preprocessing(corpus: Path, work: Path, files: int, hours: float) -> None:
    from seizure import parallel
    from seizure.corpus import preprocess
    from seizure.preprocess.recipe import Recipe

    rows, walls, stores = [], {}, {}
    for kind, jobs in (("local", 1), ("local", 2), ("dask", 1), ("dask", 2)):
        store = work / f"store-{kind}-{jobs}"
        c0, t0 = time.process_time(), time.perf_counter()
        summary = preprocess(corpus, store, Recipe(), jobs=jobs, executor=parallel.Executor(kind))
        wall = time.perf_counter() - t0
        if (kind, jobs) == ("local", 1):  # in this process: its CPU time is the work's
            cpu_per_h = (time.process_time() - c0) / hours
        assert summary.done == files and not summary.failed, summary.lines()
        walls[kind, jobs] = wall
        stores[kind, jobs] = tree_bytes(store)
        rows.append(f"  {kind:<6} {jobs} worker(s): {wall:6.1f} s wall, {hours / wall:5.2f} h of EEG per second")
    identical = all(s == stores["local", 1] for s in stores.values())
    print(f"preprocessing {files} recordings, {hours:.2f} h of EEG (LFCC recipe), wall clock including worker start:")
    print("\n".join(rows))
    print(f"  stores byte-identical across executors: {identical}")
    print(f"  CPU time, local 1 worker: {cpu_per_h:.2f} CPU s per hour of EEG, i.e. {1 / cpu_per_h:.2f} h of EEG "
          "per second per fully available core (the sizing figure of docs/scale-out.md)")
    for jobs in (1, 2):
        extra = (walls["dask", jobs] - walls["local", jobs]) / files
        print(f"  Dask overhead per recording at {jobs} worker(s): {1000 * extra:+.0f} ms "
              f"(({walls['dask', jobs]:.1f} - {walls['local', jobs]:.1f}) s / {files}, cluster start included)")
    t0 = time.perf_counter()
    with parallel.dask_client(2, parallel.Executor("dask")):
        start = time.perf_counter() - t0
    n = 200
    t0 = time.perf_counter()
    parallel.run(range(n), _noop, 2, executor=parallel.Executor("dask"))
    noop = time.perf_counter() - t0
    print(f"  LocalCluster start-up (2 workers) alone: {start:.1f} s; {n} no-op tasks on a fresh 2-worker "
          f"cluster: {noop:.1f} s, i.e. {1000 * (noop - start) / n:.1f} ms of scheduling per task")


def children_cpu_s() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def epoch_seconds(out: Path) -> tuple[float, int]:
    with open(out / "metrics.csv") as fh:
        rows = list(csv.DictReader(fh))
    return float(rows[1]["elapsed_s"]) - float(rows[0]["elapsed_s"]), int(rows[1]["steps"]) - int(rows[0]["steps"])


def ddp(corpus: Path, work: Path, steps: int) -> None:
    from seizure.corpus import preprocess, recipe_from_config

    config = ROOT / "configs" / "demo.toml"
    store = work / "store-demo"
    preprocess(corpus, store, recipe_from_config(config), jobs=2)
    sets = ["train.epochs=2", f"train.steps_per_epoch={steps}", "train.max_minutes=0", "train.device=cpu"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    print(f"DDP training, {config.relative_to(ROOT)} (global batch 16 x 120 s crops), 2 epochs of {steps} steps, CPU:")
    base = None
    for procs, threads in ((1, 1), (1, 2), (2, 1)):
        out = work / f"train-{procs}x{threads}"
        args = [a for s in [*sets, f"train.threads={threads}"] for a in ("--set", s)]
        launch = [sys.executable, "-m", "seizure", "-q"] if procs == 1 else \
            [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(procs),
             "-m", "seizure", "-q"]
        c0, t0 = children_cpu_s(), time.perf_counter()
        subprocess.run([*launch, "train", str(store), str(out), "--config", str(config), *args], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        wall, cpu = time.perf_counter() - t0, children_cpu_s() - c0
        secs, n = epoch_seconds(out)
        rate = n * 16 * 120 / 3600 / secs
        base = base or rate
        print(f"  {procs} process(es) x {threads} thread(s): epoch 2 took {secs:.1f} s ({n} steps + dev "
              f"evaluation): {rate:.3f} h of EEG trained per second ({rate / base:.2f}x); whole command "
              f"{wall:.1f} s wall, {cpu:.1f} CPU s (start-up and both epochs, all processes)")


def main(argv: list[str] | None = None) -> int:
    from bench_preprocess import make_corpus

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=12)
    ap.add_argument("--minutes", type=int, default=10)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--skip-ddp", action="store_true")
    ap.add_argument("--skip-preprocess", action="store_true", help="only the DDP figures")
    args = ap.parse_args(argv)
    print(f"machine: {os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f} at start")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        make_corpus(work / "corpus", args.files, args.minutes * 60)
        hours = args.files * args.minutes / 60
        if not args.skip_preprocess:
            preprocessing(work / "corpus", work, args.files, hours)
        if not args.skip_ddp:
            ddp(work / "corpus", work, args.steps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
