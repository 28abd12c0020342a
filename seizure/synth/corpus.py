"""Write a whole synthetic corpus (TUSZ v2 layout) or one long recording, with a summary.

``OUT/edf/{train,dev,eval}/<patient>/<sNNN_YYYY>/<montage>/<patient>_sNNN_tNNN.edf``
plus ``.csv`` and ``.csv_bi`` beside each EDF; ``OUT/synth.json`` (machine-readable:
seed, version, parameters, per-split counts, one row per recording) and ``OUT/SYNTH.md``
(the same counts as a table).
"""

from __future__ import annotations

import json
import logging
import shutil
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seizure import __version__
from seizure.config import to_dict
from seizure.errors import ConfigError, SeizureError
from seizure.fsutil import atomic_write
from seizure.synth.params import SynthParams
from seizure.synth.plan import (SPLITS, RecordingPlan, allocate_seizures, missing_electrodes, patient_traits,
                                plan_corpus, shift_traits)
from seizure.synth.render import RecordingInfo, write_recording

log = logging.getLogger(__name__)

SUMMARY_JSON = "synth.json"
SUMMARY_MD = "SYNTH.md"
FS_RANGE_HZ = (200, 1024)


@dataclass(frozen=True)
class SplitSummary:
    files: int = 0
    patients: int = 0
    hours: float = 0.0
    seizures: int = 0
    seizure_s: float = 0.0
    files_with_seizures: int = 0
    seizure_types: dict[str, int] = field(default_factory=dict)

    @property
    def seizure_fraction(self) -> float:
        return self.seizure_s / (self.hours * 3600.0) if self.hours else 0.0


@dataclass(frozen=True)
class SynthSummary:
    """What :func:`synthesize` wrote: per-split counts and one entry per recording."""

    out_dir: Path
    seed: int
    version: str
    params: SynthParams
    splits: dict[str, SplitSummary]
    recordings: tuple[RecordingInfo, ...]
    profile: str = "default"

    @property
    def hours(self) -> float:
        return sum(s.hours for s in self.splits.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "seizure-synth-corpus",
            "version": self.version,
            "seed": self.seed,
            "profile": self.profile,
            "params": to_dict(self.params),
            "splits": {k: {**asdict(v), "seizure_fraction": round(v.seizure_fraction, 5)} for k, v in self.splits.items()},
            "recordings": [{**asdict(r), "seizures": [list(s) for s in r.seizures]} for r in self.recordings],
        }


def _check_fs(fs_hz: float | None) -> None:
    if fs_hz is None:
        return
    lo, hi = FS_RANGE_HZ
    if not isinstance(fs_hz, (int, float)) or not lo <= fs_hz <= hi or float(fs_hz) != int(fs_hz):
        raise ConfigError(f"fs_hz must be a whole number of Hz in [{lo}, {hi}] (TUSZ uses 250, 256, 400, 512), got {fs_hz!r}")


def _prepare(out_dir: Path, overwrite: bool) -> None:
    edf = out_dir / "edf"
    if edf.exists() and any(edf.iterdir()):
        if not overwrite:
            raise SeizureError("already holds a corpus (edf/ is not empty); choose an empty folder or overwrite it (--overwrite)",
                               out_dir)
        if not (out_dir / SUMMARY_JSON).is_file():
            raise SeizureError(f"edf/ is not empty and there is no {SUMMARY_JSON}: refusing to delete files "
                               "this tool did not write", out_dir)
        shutil.rmtree(edf)
    out_dir.mkdir(parents=True, exist_ok=True)


def _write_one(args: tuple[RecordingPlan, SynthParams, str]) -> RecordingInfo:
    plan, params, root = args
    return write_recording(plan, params, root)


def synthesize(out_dir: str | Path, hours: float, seed: int, *, patients: int | None = None,
               fs_hz: float | None = None, params: SynthParams | None = None, jobs: int = 1,
               overwrite: bool = False, progress: bool = False, profile: str = "default") -> SynthSummary:
    """Write a synthetic TUSZ-v2-layout corpus of ``hours`` of EEG under ``out_dir``.

    Deterministic: the same ``seed``, arguments and package version give the same
    bytes (``jobs`` only changes speed). ``patients`` defaults to about 2.5 per hour
    (at least 8 when the hours allow; see :func:`seizure.synth.plan.default_patients`);
    ``fs_hz`` forces one sampling rate (default: TUSZ's mix of 250, 256, 400 and 512 Hz).
    ``overwrite`` replaces a corpus this function wrote before. ``profile`` names a
    :data:`seizure.synth.profiles.PROFILES` entry: without ``params`` its parameters are
    used; it is recorded in ``synth.json`` and ``SYNTH.md`` either way.
    """
    from seizure.synth.profiles import get_profile

    prof = get_profile(profile)
    params = prof.params() if params is None else params
    if not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be an integer >= 0, got {seed!r}")
    if not isinstance(jobs, int) or jobs < 1:
        raise ConfigError(f"jobs must be an integer >= 1, got {jobs!r}")
    _check_fs(fs_hz)
    plans = plan_corpus(hours, seed, params, patients, fs_hz)
    out_dir = Path(out_dir)
    _prepare(out_dir, overwrite)
    log.info("synthesizing %d recordings (%.2f h, seed %d) into %s", len(plans), hours, seed, out_dir)
    work = [(p, params, str(out_dir)) for p in plans]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(plans), desc="synth", unit="file")
    infos: list[RecordingInfo] = []
    if jobs == 1:
        for item in work:
            infos.append(_write_one(item))
            if bar:
                bar.update()
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for info in pool.map(_write_one, work):
                infos.append(info)
                if bar:
                    bar.update()
    if bar:
        bar.close()
    summary = SynthSummary(out_dir, seed, __version__, params, _split_summaries(infos), tuple(infos), profile)
    _write_summary(summary)
    return summary


def _split_summaries(infos: list[RecordingInfo]) -> dict[str, SplitSummary]:
    out = {}
    for split in SPLITS:
        mine = [r for r in infos if r.split == split]
        types = Counter(label for r in mine for _, _, label in r.seizures)
        out[split] = SplitSummary(
            files=len(mine), patients=len({r.patient for r in mine}),
            hours=round(sum(r.duration_s for r in mine) / 3600.0, 4),
            seizures=sum(len(r.seizures) for r in mine), seizure_s=round(sum(r.seizure_s for r in mine), 4),
            files_with_seizures=sum(1 for r in mine if r.seizures), seizure_types=dict(sorted(types.items())),
        )
    return out


def _write_summary(summary: SynthSummary) -> None:
    with atomic_write(summary.out_dir / SUMMARY_JSON) as fh:
        json.dump(summary.to_dict(), fh, indent=1)
        fh.write("\n")
    lines = [
        "# Synthetic TUSZ-layout corpus",
        "",
        f"Written by `seizure synth` {summary.version}, seed {summary.seed}, profile `{summary.profile}`. Synthetic EEG: see "
        "docs/synthetic_corpus.md for what is modelled and its limits. Never report these numbers as TUSZ results.",
        "",
        "| split | files | patients | hours | seizures | seizure s | seizure % | files with seizures | types |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in summary.splits.items():
        types = ", ".join(f"{k} {v}" for k, v in s.seizure_types.items()) or "-"
        lines.append(f"| {name} | {s.files} | {s.patients} | {s.hours:.2f} | {s.seizures} | {s.seizure_s:.1f} | "
                     f"{100 * s.seizure_fraction:.1f} | {s.files_with_seizures} | {types} |")
    montages = Counter(r.montage_dir for r in summary.recordings)
    rates = Counter(f"{r.fs_hz:g} Hz" for r in summary.recordings)
    missing = Counter(e for r in summary.recordings for e in r.missing_electrodes)
    lines += ["", "Montages: " + ", ".join(f"{k} {v}" for k, v in sorted(montages.items())),
              "Sampling rates: " + ", ".join(f"{k} {v}" for k, v in sorted(rates.items()))]
    if missing:
        n = sum(1 for r in summary.recordings if r.missing_electrodes)
        lines.append(f"Recordings with missing electrodes: {n} (" + ", ".join(
            f"{k} {v}" for k, v in sorted(missing.items())) + ")")
    lines.append("")
    with atomic_write(summary.out_dir / SUMMARY_MD) as fh:
        fh.write("\n".join(lines))


LONG_PATIENT = "aaaalong"


def long_recording_plan(hours: float, seed: int, fs_hz: float = 256.0, params: SynthParams | None = None) -> RecordingPlan:
    """The plan of one long recording (a seizure patient; ``01_tcp_ar`` layout at ``fs_hz``)."""
    params = SynthParams() if params is None else params
    if not isinstance(hours, (int, float)) or not 0 < hours <= 72:
        raise ConfigError(f"hours must be a number in (0, 72], got {hours!r}")
    _check_fs(fs_hz)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    traits = shift_traits(np.random.default_rng(np.random.SeedSequence([seed, 7, 17])),
                          patient_traits(rng, params, params.seizure_fraction > 0), params)
    plan = RecordingPlan("eval", LONG_PATIENT, 1, 2020, 0, "ar_256", float(fs_hz), int(round(hours * 3600)),
                         int(rng.integers(0, 2**62)), traits)
    plan = allocate_seizures(rng, [plan], params)[0]
    return missing_electrodes(np.random.default_rng(np.random.SeedSequence([seed, 7, 29])), [plan], params)[0]


def synthesize_long_recording(out_dir: str | Path, hours: float, seed: int, *, fs_hz: float = 256.0,
                              params: SynthParams | None = None, progress: bool = False) -> RecordingInfo:
    """Write one long recording (e.g. 24 h for a memory benchmark) in TUSZ layout under ``out_dir``.

    Generated and written in 5-minute blocks through the streaming EDF writer, so memory
    stays bounded (tens of MB) whatever ``hours`` is. Returns its :class:`RecordingInfo`
    (``path`` relative to ``out_dir``).
    """
    params = SynthParams() if params is None else params
    plan = long_recording_plan(hours, seed, fs_hz, params)
    info = write_recording(plan, params, out_dir, progress=progress)
    log.info("wrote %s (%.1f h, %d seizures)", Path(out_dir) / info.path, plan.duration_s / 3600, len(plan.seizures))
    return info
