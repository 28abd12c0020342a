"""Plot a synthetic focal-onset seizure in the TCP montage (docs/synth_focal_onset.png).

Renders one recording with a left temporal focal seizure through the same code as
``seizure synth`` (EDF written, read back, TCP montage), filters it as a reader would
(1-70 Hz, 60 Hz notch) and draws the 22 bipolar channels from 30 s before to 60 s after
the annotated onset, with the onset and the per-channel .csv onsets marked, plus two
10-second close-ups (onset, evolution).

    .venv/bin/python scripts/plot_synth_example.py [--out docs/synth_focal_onset.png] [--seed 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import tempfile
from pathlib import Path

import numpy as np


def make_recording(root: Path, seed: int, focus: str, label: str):
    from seizure.synth.params import SynthParams
    from seizure.synth.plan import RecordingPlan, make_seizure, patient_traits
    from seizure.synth.render import write_recording

    params = SynthParams(subtle_fraction=0.0)
    rng = np.random.default_rng(seed)
    traits = dataclasses.replace(patient_traits(rng, params, True), syndrome="focal", focus=focus)
    spec = make_seizure(rng, traits, label, 90.0, 75.0, params)
    spec = dataclasses.replace(spec, focus=focus, bilateral_s=float("inf"))
    plan = RecordingPlan("eval", "aaaaplot", 1, 2012, 0, "ar_250", 250.0, 300, int(rng.integers(2**62)), traits, (spec,))
    info = write_recording(plan, params, root)
    return root / info.path, spec


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="docs/synth_focal_onset.png")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--focus", default="T3")
    ap.add_argument("--label", default="fnsz")
    args = ap.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image
    from scipy import signal

    from seizure.fsutil import atomic_path
    from seizure.io import read_edf
    from seizure.io.annotations import read_annotations
    from seizure.preprocess.montage import apply

    with tempfile.TemporaryDirectory() as tmp:
        edf, spec = make_recording(Path(tmp), args.seed, args.focus, args.label)
        rec = read_edf(edf)
        per_channel = read_annotations(edf.with_suffix(".csv")).events
    mont = apply(rec, "tcp")
    fs = mont.fs_hz
    sos = signal.butter(4, [1.0, 70.0], btype="bandpass", fs=fs, output="sos")
    x = signal.sosfiltfilt(sos, mont.data, axis=1)
    b, a = signal.iirnotch(60.0, 30.0, fs)
    x = signal.filtfilt(b, a, x, axis=1)
    onset = spec.onset_s
    chan_onset = {e.channel: e.start_s for e in per_channel if e.is_seizure}

    fig = plt.figure(figsize=(22, 15))
    grid = fig.add_gridspec(2, 2, height_ratios=[1.25, 1.0], hspace=0.18, wspace=0.06)
    panels = [(fig.add_subplot(grid[0, :]), onset - 30.0, onset + 60.0, 150.0),
              (fig.add_subplot(grid[1, 0]), onset - 3.0, onset + 7.0, 150.0),
              (fig.add_subplot(grid[1, 1]), onset + 35.0, onset + 45.0, 300.0)]
    for ax, t0, t1, spacing in panels:
        i0, i1 = int(t0 * fs), int(t1 * fs)
        t = np.arange(i0, i1) / fs
        for k, ch in enumerate(mont.channels):
            y = -k * spacing
            ax.plot(t, x[k, i0:i1] + y, lw=0.45 if t1 - t0 > 20 else 0.7, color="k")
            if ch in chan_onset and t0 <= chan_onset[ch] <= t1:
                ax.plot([chan_onset[ch]] * 2, [y - 0.45 * spacing, y + 0.45 * spacing], color="tab:red", lw=1.6)
        ax.axvline(onset, color="tab:red", lw=1.0, ls="--")
        if t0 < spec.stop_s < t1:
            ax.axvline(spec.stop_s, color="tab:blue", lw=1.0, ls="--")
        ax.set_yticks([-k * spacing for k in range(len(mont.channels))])
        ax.set_yticklabels(mont.channels if ax is panels[0][0] or ax is panels[1][0] else [], fontsize=8)
        ax.set_xlim(t0, t1)
        ax.set_ylim(-(len(mont.channels) - 0.3) * spacing, 0.8 * spacing)
        ax.set_xlabel("time (s)")
        ax.plot([t1 - 0.02 * (t1 - t0)] * 2, [0.3 * spacing, 0.3 * spacing - 100.0], color="tab:blue", lw=2)
        ax.text(t1 - 0.025 * (t1 - t0), 0.2 * spacing, "100 uV", ha="right", va="center", fontsize=8, color="tab:blue")
    panels[0][0].set_title(
        f"Synthetic {spec.label} seizure, focus {spec.focus}, TCP montage (1-70 Hz, 60 Hz notch): onset {onset:.1f} s "
        f"(dashed red), per-channel .csv onsets (red ticks), {spec.f_start_hz:.1f} -> {spec.f_end_hz:.1f} Hz", fontsize=11)
    panels[1][0].set_title("close-up: onset", fontsize=10)
    panels[2][0].set_title("close-up: 35-45 s after onset (slower, larger, sharper, spread)", fontsize=10)
    out = Path(args.out)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    image = Image.open(buf).convert("RGB").quantize(colors=64, method=Image.Quantize.FASTOCTREE)  # palette PNG: ~1/3 the bytes
    with atomic_path(out, suffix=".png") as tmp:
        image.save(tmp, optimize=True)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
