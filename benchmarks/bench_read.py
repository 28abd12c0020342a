"""EDF read speed: our numpy decoder against pyedflib and MNE on the same file.

Writes a 33-channel 256 Hz EDF+C of ``--hours`` hours with :func:`seizure.io.write_edf`
into a temporary folder, then reads it (warm page cache) with

* ``seizure.io.read_edf`` (whole file),
* ``EdfReader.read`` in 60 s chunks, each dropped after use (how the chunked pipeline reads),
* pyedflib ``readSignal`` per channel (float64),
* MNE ``read_raw_edf(preload=True)``,

checks that all four give the same microvolts, and prints seconds per hour of EEG (best of
``--repeat``) and each reader's time relative to ours.

    .venv/bin/python benchmarks/bench_read.py [--hours 1] [--repeat 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from seizure.io import EdfReader, read_edf, write_edf

N_CHANNELS = 33
FS_HZ = 256


def make_file(folder: Path, hours: float) -> tuple[Path, float]:
    n = int(hours * 3600 * FS_HZ)
    rng = np.random.default_rng(0)
    x = rng.normal(0, 30, size=(N_CHANNELS, n)).astype(np.float32)
    labels = [f"EEG {i:02d}-REF" for i in range(N_CHANNELS)]
    t0 = time.perf_counter()
    path = write_edf(folder / "bench.edf", x, labels, FS_HZ, physical_range=(-500, 500))
    return path, time.perf_counter() - t0


def ours_whole(path: Path) -> np.ndarray:
    return read_edf(path).data


def ours_chunked(path: Path, keep: bool = False) -> np.ndarray | None:
    """60 s chunks, each dropped after use as the pipeline does (``keep`` joins them to check)."""
    parts = []
    with EdfReader(path) as r:
        for t in np.arange(0.0, r.duration_s, 60.0):
            chunk = r.read(t, min(t + 60.0, r.duration_s))
            if keep:
                parts.append(chunk)
    return np.concatenate(parts, axis=1) if keep else None


def pyedflib_per_channel(path: Path) -> np.ndarray:
    import pyedflib

    with pyedflib.EdfReader(str(path)) as f:
        return np.stack([f.readSignal(i) for i in range(N_CHANNELS)])


def mne_preload(path: Path) -> np.ndarray:
    import mne

    return mne.io.read_raw_edf(path, preload=True, verbose="ERROR").get_data() * 1e6


READERS = {
    "seizure read_edf": ours_whole,
    "seizure EdfReader 60 s chunks": ours_chunked,
    "pyedflib readSignal": pyedflib_per_channel,
    "mne read_raw_edf": mne_preload,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path, write_s = make_file(Path(tmp), args.hours)
        size_mb = path.stat().st_size / 2**20
        print(f"file: {args.hours:g} h, {N_CHANNELS} channels at {FS_HZ} Hz, {size_mb:.0f} MB; "
              f"write_edf took {write_s:.2f} s ({write_s / args.hours:.2f} s per hour)")
        reference = None
        best: dict[str, float] = {}
        for name, fn in READERS.items():
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                data = fn(path)
                times.append(time.perf_counter() - t0)
            best[name] = min(times)
            if data is None:
                data = fn(path, keep=True)
            if reference is None:
                reference = data
            else:
                err = float(np.max(np.abs(data - reference)))
                assert err < 1e-3, f"{name} differs from ours by {err} uV"
            del data
        ours = best["seizure read_edf"]
        print(f"{'reader':<32}{'s per hour':>12}{'x ours':>9}")
        for name, t in best.items():
            print(f"{name:<32}{t / args.hours:>12.3f}{t / ours:>9.1f}")


if __name__ == "__main__":
    main()
