"""Scoring a set of recordings with every method, and the report (JSON, Markdown, table).

:func:`report_pairs` scores :class:`~seizure.scoring.inputs.RecordingPair` items;
:func:`report_paths` reads them from reference and hypothesis sets first. The report's
JSON has this shape (NaN written as ``null``)::

    {"n_recordings", "duration_s", "n_ref_events",
     "methods": {"ovlp": M, "taes": M, "epoch": M,
                 "szcore": M + {"per_subject_mean": S, "sample": M + {"per_subject_mean": S}}},
     "per_recording": [{"recording", "subject", "ref", "hyp", "duration_s", "n_ref_events",
                        "n_hyp_events", "ovlp": C, "taes": C, "epoch": C, "szcore": C}, ...],
     "bootstrap": {"n_resamples", "seed", "level", "n_patients", "unit": "patient",
                   "methods": {"ovlp" | "taes" | "epoch" | "szcore" | "szcore_sample":
                               {measure: {"estimate", "low", "high", "n_defined"}}}}}

with ``M = {sensitivity, precision, f1, fa_per_24h, hits, misses, false_alarms}``,
``S = {sensitivity, precision, f1, fa_per_24h, n_subjects}`` and ``C = {hits, misses,
false_alarms}``. Which tradition each figure follows is stated in :data:`TRADITION`.
``bootstrap`` (absent when switched off) holds patient-level percentile intervals of the
pooled measures (:mod:`seizure.scoring.bootstrap`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seizure.fsutil import atomic_write
from seizure.scoring import METHODS, NEDC_METHODS, SZCORE_METHODS
from seizure.scoring.bootstrap import DEFAULT_RESAMPLES, HEADLINE, bootstrap_methods, count_table
from seizure.scoring.aggregate import MEASURES, per_subject, subject_id, subject_mean
from seizure.scoring.counts import Counts, pool, prepare
from seizure.scoring.inputs import DURATION_TOLERANCE_S, RecordingPair, pairs

COUNT_KEYS = ("hits", "misses", "false_alarms")

TRADITION = {
    "ovlp": "NEDC any-overlap; counts pooled over recordings; undefined ratios 0",
    "taes": "NEDC time-aligned (fractional counts); pooled; undefined ratios 0",
    "epoch": "NEDC epoch (0.25 s epochs, counts are epochs; FA/24h is false-alarm time: epochs x 0.25 s per day); pooled",
    "szcore": "SzCORE event scoring (timescoring: 90 s merge, 300 s split, -30/+60 s tolerance); counts pooled over recordings; undefined ratios NaN",
    "szcore_subject": "SzCORE event scoring, mean over subjects (NaN ignored)",
    "szcore_sample": "SzCORE 1 Hz sample scoring (counts are seconds); pooled",
    "szcore_sample_subject": "SzCORE 1 Hz sample scoring, mean over subjects (NaN ignored)",
}


_SHORT = {"sensitivity": "sens", "precision": "prec", "f1": "F1", "fa_per_24h": "FA/24h"}
INTERVAL_LABELS = {"ovlp": ("OVLP", _SHORT), "taes": ("TAES", _SHORT), "epoch": ("EPOCH", _SHORT),
                   "szcore": ("SzCORE event", _SHORT), "szcore_sample": ("SzCORE sample", _SHORT)}

TABLE_NOTE = (
    "NEDC rows: pooled over recordings, undefined = 0; EPOCH counts 0.25 s epochs, its FA/24h is false-alarm "
    "seconds per day. SzCORE rows: timescoring semantics, undefined = n/a; sample counts are seconds."
)


@dataclass
class Report:
    """Pooled counts per method, per-subject SzCORE means, and per-recording counts."""

    n_recordings: int
    duration_s: float
    n_ref_events: int
    methods: dict[str, Counts]
    subject_means: dict[str, dict[str, float]]
    per_recording: list[dict[str, Any]] = field(default_factory=list)
    bootstrap: dict[str, Any] | None = None
    recording_counts: dict[str, dict[str, Counts]] = field(default_factory=dict, repr=False)

    def count_table(self, method: str, subject_of: Callable[[str], str] = subject_id):
        """One method's counts per patient (:func:`seizure.scoring.bootstrap.count_table`), for
        paired comparisons of two reports on the same recordings."""
        return count_table(self.recording_counts[method], subject_of)

    def to_dict(self) -> dict[str, Any]:
        def main(c: Counts) -> dict[str, Any]:
            m = c.measures()
            return {**{k: _clean(m[k]) for k in MEASURES}, **{k: _count(m[k]) for k in COUNT_KEYS}}

        def mean(name: str) -> dict[str, Any]:
            s = self.subject_means[name]
            return {**{k: _clean(s[k]) for k in MEASURES}, "n_subjects": int(s["n_subjects"])}

        methods: dict[str, Any] = {name: main(self.methods[name]) for name in NEDC_METHODS}
        methods["szcore"] = {
            **main(self.methods["szcore"]),
            "per_subject_mean": mean("szcore"),
            "sample": {**main(self.methods["szcore_sample"]), "per_subject_mean": mean("szcore_sample")},
        }
        out = {
            "n_recordings": self.n_recordings,
            "duration_s": self.duration_s,
            "n_ref_events": self.n_ref_events,
            "methods": methods,
            "per_recording": self.per_recording,
        }
        if self.bootstrap is not None:
            out["bootstrap"] = self.bootstrap
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    def rows(self) -> list[tuple[str, str, dict[str, float]]]:
        """(method label, tradition key, measures) rows in display order."""
        out = [(name.upper(), name, self.methods[name].measures()) for name in NEDC_METHODS]
        out.append(("SzCORE event", "szcore", self.methods["szcore"].measures()))
        out.append(("SzCORE event, subject mean", "szcore_subject", self.subject_means["szcore"]))
        out.append(("SzCORE sample", "szcore_sample", self.methods["szcore_sample"].measures()))
        out.append(("SzCORE sample, subject mean", "szcore_sample_subject", self.subject_means["szcore_sample"]))
        return out

    def table(self) -> str:
        """A compact fixed-width table for the terminal."""
        head = ("method", "sens", "prec", "F1", "FA/24h", "hits", "misses", "false alarms")
        lines = [f"{head[0]:<28}{head[1]:>8}{head[2]:>8}{head[3]:>8}{head[4]:>10}{head[5]:>10}{head[6]:>10}{head[7]:>14}"]
        for label, _, m in self.rows():
            lines.append(
                f"{label:<28}{_pct(m['sensitivity']):>8}{_pct(m['precision']):>8}{_pct(m['f1']):>8}"
                f"{_rate(m['fa_per_24h']):>10}{_num(m.get('hits')):>10}{_num(m.get('misses')):>10}"
                f"{_num(m.get('false_alarms')):>14}"
            )
        lines.append(TABLE_NOTE)
        if self.bootstrap is not None:
            b = self.bootstrap
            cells = [f"{INTERVAL_LABELS[m][0]} {INTERVAL_LABELS[m][1][k]} {_span(b['methods'][m][k], k)}"
                     for m, k in HEADLINE]
            lines.append(f"{100 * b['level']:g}% intervals, patient bootstrap ({b['n_resamples']} resamples of "
                         f"{b['n_patients']} patients, seed {b['seed']}): " + "; ".join(cells))
        return "\n".join(lines)

    def _interval_lines(self) -> list[str]:
        """The markdown section of bootstrap intervals (none when switched off)."""
        if self.bootstrap is None:
            return []
        b = self.bootstrap
        lines = [
            f"## {100 * b['level']:g}% intervals (patient-level bootstrap)",
            "",
            f"{b['n_resamples']} resamples of the {b['n_patients']} patients with replacement (seed {b['seed']}); "
            "each resample pools its patients' counts as above; percentile intervals. Resamples in which a "
            "measure is undefined are left out of its interval.",
            "",
            "| method | sensitivity | precision | F1 | FA/24h |",
            "|---|---|---|---|---|",
        ]
        for m, (label, _) in INTERVAL_LABELS.items():
            iv = b["methods"][m]
            lines.append(f"| {label} | " + " | ".join(_span(iv[k], k) for k in MEASURES) + " |")
        return lines + [""]

    def markdown(self) -> str:
        """``report.md``: summary, the table with each row's tradition, per-recording counts."""
        hours = self.duration_s / 3600
        lines = [
            "# Seizure detection scores",
            "",
            f"{self.n_recordings} recordings, {hours:.2f} h, {self.n_ref_events} reference seizures.",
            "",
            "| method | sensitivity | precision | F1 | FA/24h | hits | misses | false alarms | tradition |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for label, key, m in self.rows():
            lines.append(
                f"| {label} | {_pct(m['sensitivity'])} | {_pct(m['precision'])} | {_pct(m['f1'])} | "
                f"{_rate(m['fa_per_24h'])} | {_num(m.get('hits'))} | {_num(m.get('misses'))} | "
                f"{_num(m.get('false_alarms'))} | {TRADITION[key]} |"
            )
        lines += [
            "",
            "NEDC rows (OVLP, TAES, epoch) follow Temple's NEDC tradition: counts pooled over all "
            "recordings before ratios are taken, undefined ratios reported as 0. SzCORE rows follow the "
            "timescoring package: pooled rows sum counts over recordings, subject-mean rows score each "
            "subject (the recording name before its first '_') and average, ignoring undefined (n/a) values.",
            "",
            *self._interval_lines(),
            "## Per recording",
            "",
            "| recording | duration (s) | ref events | hyp events | OVLP hits/misses/FA | TAES hits/misses/FA | SzCORE hits/misses/FA |",
            "|---|---:|---:|---:|---|---|---|",
        ]
        for r in self.per_recording:
            cells = [" / ".join(_num(r[m][k]) for k in COUNT_KEYS) for m in ("ovlp", "taes", "szcore")]
            lines.append(
                f"| {r['recording']} | {_num(r['duration_s'])} | {r['n_ref_events']} | {r['n_hyp_events']} | "
                + " | ".join(cells) + " |"
            )
        return "\n".join(lines) + "\n"

    def write(self, json_path: str | Path | None = None, out_dir: str | Path | None = None) -> list[Path]:
        """Write ``json_path`` and/or ``out_dir/report.json`` + ``out_dir/report.md``."""
        written = []
        if out_dir is not None:
            out = Path(out_dir)
            for name, text in (("report.json", self.to_json() + "\n"), ("report.md", self.markdown())):
                with atomic_write(out / name) as fh:
                    fh.write(text)
                written.append(out / name)
        if json_path is not None:
            with atomic_write(json_path) as fh:
                fh.write(self.to_json() + "\n")
            written.append(Path(json_path))
        return written


def _clean(x: float) -> float | None:
    """A JSON-safe float (NaN -> None)."""
    x = float(x)
    return None if math.isnan(x) else x


def _count(x: float) -> int | float:
    """Counts as integers unless fractional (TAES)."""
    x = float(x)
    return int(x) if x.is_integer() else x


def _pct(x: float | None) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.2f}%"


def _span(iv: dict[str, Any], measure: str) -> str:
    """``[low, high]`` of an interval dict: percentages, or a rate for FA/24h."""
    fmt = _rate if measure == "fa_per_24h" else _pct
    low, high = (math.nan if v is None else v for v in (iv["low"], iv["high"]))
    return "n/a" if math.isnan(low) else f"[{fmt(low)}, {fmt(high)}]"


def _rate(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:.2f}"


def _num(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a" if x is not None else ""
    if float(x).is_integer():
        return str(int(x))
    return f"{x:.2f}"


def report_pairs(
    items: Iterable[RecordingPair], *, subject_of: Callable[[str], str] = subject_id, progress: bool = False,
    bootstrap: int = DEFAULT_RESAMPLES, seed: int = 0,
) -> Report:
    """Score every recording with every method and aggregate; ``bootstrap`` resamples of the
    patients (seeded by ``seed``; 0 switches it off) give the intervals."""
    if progress:
        from tqdm import tqdm

        items = tqdm(items, desc="scoring", unit="rec")
    per_method: dict[str, dict[str, Counts]] = {m: {} for m in METHODS}
    per_recording = []
    total_s = 0.0
    for item in items:
        if item.name in per_method["ovlp"]:
            raise ValueError(f"recording {item.name!r} given twice")
        counts = {m: fn(item.ref_events, item.hyp_events, item.duration_s) for m, fn in METHODS.items()}
        for m, c in counts.items():
            per_method[m][item.name] = c
        total_s += item.duration_s
        per_recording.append({
            "recording": item.name,
            "subject": subject_of(item.name),
            "ref": None if item.ref_path is None else str(item.ref_path),
            "hyp": None if item.hyp_path is None else str(item.hyp_path),
            "duration_s": item.duration_s,
            "n_ref_events": int(counts["ovlp"].n_ref),
            "n_hyp_events": int(prepare(item.hyp_events, item.duration_s)[0].size),
            **{m: {k: _count(getattr(counts[m], k)) for k in COUNT_KEYS} for m in METHODS if m != "szcore_sample"},
        })
    if not per_recording:
        raise ValueError("nothing to score: no recordings")
    pooled = {m: pool(per_method[m].values()) for m in METHODS}
    means = {m: subject_mean(per_subject(per_method[m], subject_of).values()) for m in SZCORE_METHODS}
    intervals = None
    if bootstrap:
        intervals = bootstrap_methods(per_method, n_resamples=bootstrap, seed=seed, subject_of=subject_of)
    return Report(
        len(per_recording), total_s, int(pooled["ovlp"].n_ref), pooled, means, per_recording,  # type: ignore[arg-type]
        intervals, per_method,
    )


def report_paths(
    ref: str | Path,
    hyp: str | Path,
    *,
    missing_as_empty: bool = False,
    duration_tolerance_s: float = DURATION_TOLERANCE_S,
    progress: bool = False,
    bootstrap: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> Report:
    """Read reference and hypothesis sets (directories or list files) and score them."""
    items = list(pairs(ref, hyp, missing_as_empty=missing_as_empty, duration_tolerance_s=duration_tolerance_s))
    return report_pairs(items, progress=progress, bootstrap=bootstrap, seed=seed)
