"""Preprocessing speed and memory: our pipeline against an equivalent MNE pipeline.

    python benchmarks/bench_preprocess.py [--files 48] [--minutes 60] [--jobs 2] [--long-hours 0]

Writes a TUSZ v2 tree of ``--files`` recordings (33 signals as TUH records them: 21 EEG
electrodes + 12 extra channels, 256 Hz, ``.csv_bi`` beside each) with ``write_edf``, then:

1. Per file, in this process, the same work two ways: read -> TCP montage -> 0.5-70 Hz
   zero-phase Butterworth band-pass -> 60 Hz notch -> resample to 250 Hz -> 1 s windows.
   * ours: ``seizure.preprocess.pipeline.process_edf`` with the ``raw`` feature (and, separately,
     the default ``lfcc`` recipe);
   * MNE: ``read_raw_edf(preload=True)``, the bipolar montage as a matrix product into a
     ``RawArray`` (MNE's ``set_bipolar_reference`` is slower still), ``filter`` (IIR, SOS,
     order 4, zero phase), ``notch_filter`` (IIR, the same notch design as ours),
     ``resample`` (FFT), and
     1 s windows by reshaping.
   The two outputs are compared (relative RMS difference away from the edges) to show the
   work is equivalent. Prints hours of EEG per second for both and the ratio.
2. Corpus level: ``seizure.corpus.preprocess`` over the whole tree with ``--jobs`` workers
   (default recipe: LFCC), wall clock including worker start-up (also measured alone) and
   the durable store writes (reported in MB/s: the float32 LFCC store is about as large as
   the EDF input, so a slow disk bounds this rate).
3. Memory: one worker's peak RSS (a fresh process running the store worker on one file)
   against the recording's float32 size (all its signals). ``--long-hours 24`` adds a
   24-hour recording.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from seizure.preprocess import montage
from seizure.corpus import preprocess
from seizure.events import Event
from seizure.io.annotations import write_csv_bi
from seizure.io.edf import EdfWriter
from seizure.preprocess.pipeline import process_edf
from seizure.preprocess.recipe import Recipe
from seizure.preprocess.signal import NOTCH_QUALITY

FS = 256
ELECTRODES = "FP1 FP2 F3 F4 C3 C4 P3 P4 O1 O2 F7 F8 T3 T4 T5 T6 A1 A2 FZ CZ PZ".split()
EXTRA = ["EEG T1-REF", "EEG T2-REF", "EEG ROC-REF", "EEG LOC-REF", "EEG EKG1-REF", "EMG-REF", "EEG 26-REF",
         "EEG 27-REF", "EEG 28-REF", "EEG 29-REF", "EEG 30-REF", "PHOTIC-REF"]
LABELS = [f"EEG {e}-REF" for e in ELECTRODES] + EXTRA


def write_recording(path: Path, seconds: int, seed: int) -> None:
    """Correlated background with alpha and line noise, written a minute at a time."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = len(LABELS)
    mix = np.eye(n) + 0.3 * rng.standard_normal((n, n)) / np.sqrt(n)
    with EdfWriter(path, LABELS, [FS] * n, physical_ranges=[(-3276.8, 3276.7)] * n) as w:
        for m in range(0, seconds, 60):
            k = min(60, seconds - m) * FS
            t = (m * FS + np.arange(k)) / FS
            x = mix @ np.cumsum(rng.standard_normal((n, k)), axis=1) * 0.5
            x += 15 * rng.standard_normal((n, k)) + 20 * np.sin(2 * np.pi * 10 * t) + 5 * np.sin(2 * np.pi * 60 * t)
            w.write((x - x.mean(axis=1, keepdims=True)).astype(np.float32))
    write_csv_bi(path.with_suffix(".csv_bi"), [Event(seconds * 0.4, seconds * 0.4 + 60, "seiz")], float(seconds))


def make_corpus(root: Path, files: int, seconds: int) -> list[Path]:
    paths = []
    for i in range(files):
        split = ("train", "dev", "eval")[i % 3]
        patient = f"aaaaa{i:03d}"
        paths.append(root / "edf" / split / patient / "s001_2015" / "01_tcp_ar" / f"{patient}_s001_t000.edf")
        write_recording(paths[-1], seconds, i)
    return paths


def mne_windows(path: Path, recipe: Recipe) -> np.ndarray:
    """The same job through MNE: (n_seconds, 22, fs) float32 windows."""
    import mne
    from scipy import signal as sps  # here, not at the top: spawned workers re-import this file

    raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
    plan = montage.plan(raw.ch_names, recipe.montage)
    m = plan.apply(np.eye(len(plan.needed_indices), dtype=np.float32))  # (22, needed) bipolar matrix
    data = m @ raw.get_data(picks=plan.needed_indices) * 1e6  # V -> uV
    info = mne.create_info(plan.channels, raw.info["sfreq"], "eeg")
    bip = mne.io.RawArray(data, info, verbose="error")
    iir = {"order": 4, "ftype": "butter", "output": "sos"}
    bip.filter(recipe.highpass_hz, recipe.lowpass_hz, method="iir", iir_params=iir, phase="zero", verbose="error")
    for f0 in recipe.notch_hz:  # the same IIR notch design as ours (MNE's default is a Butterworth band-stop)
        b, a = sps.iirnotch(f0, NOTCH_QUALITY, fs=bip.info["sfreq"])
        bip.notch_filter(f0, method="iir", iir_params={"sos": sps.tf2sos(b, a)}, verbose="error")
    bip.resample(recipe.fs_hz, verbose="error")
    out = bip.get_data().astype(np.float32)
    fs, n_s = int(recipe.fs_hz), out.shape[1] // int(recipe.fs_hz)
    return np.ascontiguousarray(out[:, :n_s * fs].reshape(len(plan.channels), n_s, fs).transpose(1, 0, 2))


def clock(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def cpu_s() -> float:
    """CPU seconds used so far by this process and its finished children."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def compare_single(paths: list[Path], seconds: int) -> dict:
    raw_recipe = Recipe(feature="raw")
    process_edf(paths[0], raw_recipe)  # warm caches (filter designs, imports) on both sides
    mne_windows(paths[0], raw_recipe)
    wall = {"ours": 0.0, "lfcc": 0.0, "mne": 0.0}
    cpu = dict(wall)
    diffs = []

    def timed(key, fn):
        c0, t0 = cpu_s(), time.perf_counter()
        out = fn()
        wall[key] += time.perf_counter() - t0
        cpu[key] += cpu_s() - c0
        return out

    for path in paths:  # interleaved, so that a busy machine slows all three alike
        ours = timed("ours", lambda: process_edf(path, raw_recipe))
        timed("lfcc", lambda: process_edf(path, Recipe()))
        theirs = timed("mne", lambda: mne_windows(path, raw_recipe))
        a = ours.features[:, :, 0].T.reshape(22, -1)[:, 10 * 250:-10 * 250]
        b = theirs.transpose(1, 0, 2).reshape(22, -1)[:, 10 * 250:-10 * 250]
        diffs.append(float(np.sqrt(np.mean((a - b) ** 2)) / np.sqrt(np.mean(b ** 2))))
    hours = len(paths) * seconds / 3600
    return {"hours": hours, "max_rel_rms_diff": max(diffs),
            **{f"{k}_h_per_s": hours / v for k, v in wall.items()},
            **{f"{k}_cpu_s_per_h": v / hours for k, v in cpu.items()}}


def _noop(x: int) -> int:
    return x


def _import_pipeline() -> None:
    import seizure.corpus  # noqa: F401  (what a preprocessing worker imports)


def pool_startup(jobs: int) -> None:
    """Start and stop a pool like ``preprocess`` does (spawn, the same imports)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_import_pipeline) as pool:
        list(pool.map(_noop, range(jobs)))


_RSS_CHILD = r"""
import json, sys
from pathlib import Path
from seizure import corpus
from seizure.store import feature_info
from seizure.preprocess.recipe import Recipe
from seizure.store import StoreWriter

def hwm_kb():  # peak resident set size (reset below: a fork inherits the parent's peak)
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1])

root, store = Path(sys.argv[1]), Path(sys.argv[2])
entry = [e for e in corpus.discover(root) if e.path == Path(sys.argv[3])][0]
recipe = Recipe()
StoreWriter(store, recipe, feature_info(recipe))
task = corpus._Preprocess(str(store), recipe, corpus.CHUNK_S)
with open("/proc/self/clear_refs", "w") as fh:
    fh.write("5")
base = hwm_kb()
out = task(entry)
assert out.ok, out.reason
print(json.dumps({"base_kb": base, "peak_kb": hwm_kb()}))
"""


def worker_rss(root: Path, path: Path, store: Path) -> dict:
    res = subprocess.run([sys.executable, "-c", _RSS_CHILD, str(root), str(store), str(path)],
                         capture_output=True, text=True, check=True)
    rss = json.loads(res.stdout.strip().splitlines()[-1])
    from seizure.io.edf import EdfReader

    with EdfReader(path) as r:
        size = sum(r.n_samples(s.index) for s in r.signals if not s.is_annotation) * 4
    return {"file": path.name, "hours": EdfReader(path).duration_s / 3600, "float32_mb": size / 2**20,
            "peak_rss_mb": rss["peak_kb"] / 1024, "rss_after_imports_mb": rss["base_kb"] / 1024,
            "peak_over_float32": rss["peak_kb"] * 1024 / size}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=48, help="recordings in the corpus (default 48: start-up amortised as on a real corpus)")
    ap.add_argument("--minutes", type=int, default=60, help="length of each recording (default 60)")
    ap.add_argument("--compare", type=int, default=3, help="files timed against MNE (default 3)")
    ap.add_argument("--jobs", type=int, default=2, help="workers for the corpus run (default 2)")
    ap.add_argument("--long-hours", type=int, default=0, help="also measure a recording this long (e.g. 24)")
    ap.add_argument("--workdir", type=Path, help="where to write the corpus (default: a temporary folder)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        tmp = Path(tmp)
        seconds = args.minutes * 60
        t0 = time.perf_counter()
        paths = make_corpus(tmp / "tusz", args.files, seconds)
        print(f"corpus: {args.files} x {args.minutes} min, {len(LABELS)} signals at {FS} Hz "
              f"(written in {time.perf_counter() - t0:.1f} s)")

        single = compare_single(paths[:args.compare], seconds)
        print(f"\n1. one process, {single['hours']:.1f} h of EEG, read+montage+filter+notch+resample+1 s windows:")
        for key, name in (("ours", "ours (raw windows)"), ("mne", "MNE"), ("lfcc", "ours (LFCC)")):
            print(f"   {name:18s} {single[key + '_h_per_s']:6.2f} h/s  ({single[key + '_cpu_s_per_h']:.2f} CPU s "
                  "per hour of EEG)")
        print(f"   ratio ours/MNE     {single['ours_h_per_s'] / single['mne_h_per_s']:6.2f}x   "
              f"(outputs differ by {100 * single['max_rel_rms_diff']:.4f}% RMS)")

        hours = args.files * seconds / 3600
        print(f"\n2. corpus: {hours:.1f} h of EEG, seizure.corpus.preprocess, wall clock incl. start-up and "
              "durable (fsync'd) store writes:")
        _, startup = clock(lambda: pool_startup(args.jobs))
        print(f"   worker start-up alone (spawn {args.jobs} processes + imports): {startup:.1f} s")
        for jobs, recipe in ((1, Recipe()), (args.jobs, Recipe()), (args.jobs, Recipe(feature="raw"))):
            store = tmp / f"store_{recipe.feature}_{jobs}"
            c0 = cpu_s()
            summary, dt = clock(lambda: preprocess(tmp / "tusz", store, recipe, jobs=jobs))
            used = cpu_s() - c0
            assert summary.done == args.files and summary.failed == 0, summary.lines()
            written = sum(p.stat().st_size for p in (store / "records").glob("*.npy")) / 2**20
            steady = f", {hours / (dt - startup):.2f} h/s after start-up" if jobs > 1 and dt > startup else ""
            print(f"   {recipe.feature:4s} --jobs {jobs}: {hours / dt:6.2f} h/s ({dt:.1f} s{steady}); "
                  f"{used / hours:.2f} CPU s per hour of EEG; {written:.0f} MB written ({written / dt:.0f} MB/s)")

        print("\n3. memory of one store worker (fresh process, default LFCC recipe):")
        targets = [paths[0]]
        if args.long_hours:
            long = tmp / "long" / "edf" / "train" / "aaaaazzz" / "s001_2015" / "01_tcp_ar" / "aaaaazzz_s001_t000.edf"
            write_recording(long, args.long_hours * 3600, 99)
            targets.append(long)
        for path in targets:
            root = tmp / "tusz" if path in paths else tmp / "long"
            r = worker_rss(root, path, tmp / f"rss_{path.stem}")
            print(f"   {r['hours']:5.1f} h file: peak RSS {r['peak_rss_mb']:7.1f} MB "
                  f"(after imports {r['rss_after_imports_mb']:.1f} MB); float32 recording {r['float32_mb']:.1f} MB; "
                  f"peak/recording {r['peak_over_float32']:.2f}x")


if __name__ == "__main__":
    main()
