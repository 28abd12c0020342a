"""Render one planned recording: background + artifacts + seizures -> EDF + .csv + .csv_bi.

Samples are produced in blocks (5 min by default) and streamed through
:class:`seizure.io.edf.EdfWriter`, so memory stays bounded whatever the duration.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seizure.events import Event
from seizure.io.annotations import write_csv, write_csv_bi
from seizure.io.edf import EdfWriter
from seizure.synth import artifacts, head, seizures
from seizure.synth.background import Background
from seizure.synth.channels import map_block, tcp_channels
from seizure.synth.params import SynthParams
from seizure.synth.plan import RecordingPlan
from seizure.synth.scene import Scene, build_scene

BLOCK_S = 300


@dataclass(frozen=True)
class RecordingInfo:
    """What was written for one recording (one row of the corpus summary)."""

    path: str
    split: str
    patient: str
    session: str
    montage_dir: str
    fs_hz: float
    duration_s: int
    seizures: tuple[tuple[float, float, str], ...]
    missing_electrodes: tuple[str, ...] = ()

    @property
    def seizure_s(self) -> float:
        return sum(stop - start for start, stop, _ in self.seizures)


def _events(scene: Scene) -> list[tuple[int, int, object]]:
    """(start_sample, n_samples, thing to render) for every transient and seizure, by start."""
    fs = scene.fs_hz
    out: list[tuple[int, int, object]] = []
    for ev in scene.transients:
        out.append((int(round(ev.start_s * fs)), int(round(ev.duration_s * fs)), ev))
    for sz in scene.plan.seizures:
        n = int(round(sz.duration_s * fs)) + int(round(sz.postictal_s * fs))
        out.append((int(round(sz.onset_s * fs)), n, sz))
    out.sort(key=lambda e: e[0])
    return out


def _render(thing: object, ctx: artifacts.Ctx) -> artifacts.Wave:
    if isinstance(thing, artifacts.Transient):
        return artifacts.RENDERERS[thing.kind](thing, ctx)
    return seizures.render(thing, ctx)  # type: ignore[arg-type]


def virtual_blocks(scene: Scene, block_s: int = BLOCK_S) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(start_sample, block)``: the virtual channels (``head.VIRTUAL``) with all events added."""
    ctx = artifacts.Ctx(scene.fs_hz, float(scene.consts["alpha_hz"]), float(scene.consts["line_hz"]))
    events = _events(scene)
    nxt = 0
    active: dict[int, artifacts.Wave | None] = {}
    for start, block in Background(scene).blocks(block_s):
        stop = start + block.shape[1]
        while nxt < len(events) and events[nxt][0] < stop:
            active[nxt] = None
            nxt += 1
        for idx in list(active):
            e0, n, thing = events[idx]
            if e0 + n <= start:
                del active[idx]
                continue
            wave = active[idx]
            if wave is None:
                wave = active[idx] = _render(thing, ctx)
            n = wave.data.shape[1]
            lo, hi = max(start, e0), min(stop, e0 + n)
            if hi > lo:
                block[wave.rows, lo - start:hi - start] += wave.data[:, lo - e0:hi - e0]
            if e0 + n <= stop:
                del active[idx]
        yield start, block


def annotation_events(plan: RecordingPlan) -> tuple[list[Event], list[Event]]:
    """(.csv_bi events, .csv per-channel events) of a planned recording."""
    channels = tcp_channels(plan.layout)
    term = [Event(s.onset_s, s.stop_s, "seiz") for s in plan.seizures]
    per_channel = [ev for s in plan.seizures for ev in seizures.channel_events(s, channels)]
    return term, per_channel


def write_recording(plan: RecordingPlan, params: SynthParams, root: str | Path, *,
                    progress: bool = False) -> RecordingInfo:
    """Render ``plan`` and write its EDF, ``.csv`` and ``.csv_bi`` under ``root`` (TUSZ v2 paths)."""
    template = plan.layout
    path = Path(root) / plan.relpath
    scene = build_scene(plan, params)
    fs = plan.fs_hz
    rates = [s.fs_hz_fixed or fs for s in template.signals]
    ranges = [s.physical_range for s in template.signals]
    lo = np.array([r[0] for r in ranges])
    hi = np.array([r[1] for r in ranges])
    start_time = dt.datetime(plan.year, 1, 1)
    extras = {"unconnected_uv": scene.consts["unconnected_uv"], "line_phase": scene.consts["line_phase_ref"],
              "fs_hz": fs, "line_hz": scene.consts["line_hz"]}
    gain = np.float32(plan.traits.gain)
    rng = np.random.default_rng(np.random.SeedSequence([plan.seed, 4]))
    blocks = virtual_blocks(scene)
    if progress:
        from tqdm import tqdm

        blocks = tqdm(blocks, total=-(-scene.n_samples // int(BLOCK_S * fs)), desc=plan.bname, unit="block")
    with EdfWriter(path, [s.label for s in template.signals], rates, physical_ranges=ranges,
                   physical_dim=[s.dim for s in template.signals], start_time=start_time,
                   patient="X X X X", recording=f"Startdate 01-JAN-{plan.year} X X X",
                   transducer=template.transducer, prefilter=template.prefilter) as writer:
        for start, v in blocks:
            if gain != 1.0:  # the patient's overall EEG amplitude (patient_gain_sigma)
                v[:head.N_ELEC] *= gain
            t = (start + np.arange(v.shape[1])) / fs
            sigs = map_block(template, v, t, rng, extras)
            writer.write([np.clip(x, lo[i], hi[i]) for i, x in enumerate(sigs)])
    term, per_channel = annotation_events(plan)
    write_csv_bi(path.with_suffix(".csv_bi"), term, float(plan.duration_s), plan.bname)
    write_csv(path.with_suffix(".csv"), per_channel, float(plan.duration_s), plan.bname,
              channels=tcp_channels(template))
    return RecordingInfo(plan.relpath, plan.split, plan.patient, f"s{plan.session:03d}_{plan.year}",
                         plan.montage_dir, fs, plan.duration_s,
                         tuple((s.onset_s, s.stop_s, s.label) for s in plan.seizures), plan.missing)
