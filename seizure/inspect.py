"""What an EDF file holds and what the pipeline can make of it (``seizure inspect``).

:func:`inspect_edf` returns a JSON-ready dict: the header, every signal (original label
-> normalised name, rate, units, kept or dropped and why), which montages can be formed
and what is missing, and a summary of the annotation sidecar when there is one. An
unreadable EDF raises :class:`~seizure.errors.EDFError`; a bad sidecar does not stop the
inspection, its error is reported in the result. :func:`format_report` renders the dict
for people.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from seizure.errors import SeizureError
from seizure.io.edf import EdfReader
from seizure.io.channels import normalise_label
from seizure.preprocess.montage import MONTAGES, get_montage, plan

DURATION_TOLERANCE_S = 1.0
_ANNOTATION = "EDF+ annotation signal"  # the reader's reason for dropping an annotation signal


def inspect_edf(path: str | Path, montages: Sequence[str] | None = None) -> dict[str, Any]:
    """Describe ``path``; ``montages`` limits the montage check (default: all registered)."""
    names = sorted(MONTAGES) if montages is None else [get_montage(m).name for m in montages]
    with EdfReader(path) as r:
        h = r.header
        kept = set(r.eeg_indices)
        reasons = {d.index: d.reason for d in r.dropped}
        report: dict[str, Any] = {
            "path": str(r.path),
            "header": {
                "format": "EDF+D" if h.is_discontinuous else "EDF+C" if h.is_edf_plus else "EDF",
                "patient": h.patient,
                "recording": h.recording,
                "start_time": h.start_time.isoformat() if h.start_time else None,
                "n_records": h.n_records,
                "record_duration_s": h.record_duration_s,
                "n_signals": h.n_signals,
            },
            "duration_s": r.duration_s,
            "fs_hz": r.fs_hz,
            "rates_hz": {f"{rate:g}": n for rate, n in
                         sorted(Counter(s.fs_hz for s in r.signals if not s.is_annotation).items())},
            "signals": [
                {
                    "index": s.index,
                    "label": s.label,
                    "name": normalise_label(s.label),
                    "fs_hz": s.fs_hz,
                    "physical_dim": s.physical_dim,
                    "physical_range": [s.physical_min, s.physical_max],
                    "digital_range": [s.digital_min, s.digital_max],
                    "kept": s.index in kept,
                    "reason": reasons.get(s.index, ""),
                }
                for s in r.signals
            ],
            "channels": dict(zip(r.labels, r.channels)),
            "dropped": [{"index": d.index, "label": d.label, "fs_hz": d.fs_hz, "reason": d.reason} for d in r.dropped],
            "montages": {name: _montage(r.labels, name) for name in names},
        }
    report["annotations"] = _annotations(Path(path), report["duration_s"])
    from seizure.io.bids import check_sidecars

    report["bids"] = check_sidecars(path, report["fs_hz"], [(s["label"], s["fs_hz"], s["kept"])
                                                           for s in report["signals"] if s["reason"] != _ANNOTATION])
    return report


def _montage(labels: list[str], name: str) -> dict[str, Any]:
    try:
        p = plan(labels, name, missing="zero")
    except SeizureError as exc:
        montage = MONTAGES[name]
        return {"name": name, "ok": False, "n_pairs": len(montage.pairs), "error": exc.reason}
    return {"ok": True, **p.to_dict()}


def _annotations(edf_path: Path, duration_s: float) -> dict[str, Any] | None:
    from seizure.io.annotations import find_sidecar, read_annotations

    sidecar = find_sidecar(edf_path)
    if sidecar is None:
        return None
    try:
        ann = read_annotations(sidecar)
    except SeizureError as exc:
        return {"path": str(sidecar), "ok": False, "error": exc.reason}
    seizures = ann.seizures
    out: dict[str, Any] = {
        "path": str(sidecar),
        "ok": True,
        "format": ann.format,
        "duration_s": ann.duration_s,
        "n_events": len(ann.events),
        "labels": dict(sorted(Counter(e.label for e in ann.events).items())),
        "n_seizures": len(seizures),
        "seizure_s": round(sum(e.duration_s for e in seizures), 4),
        "seizures": [[e.start_s, e.stop_s] for e in seizures],
        "warnings": [],
    }
    if ann.duration_s is not None and abs(ann.duration_s - duration_s) > DURATION_TOLERANCE_S:
        out["warnings"].append(
            f"annotation duration {ann.duration_s:g} s differs from the EDF's {duration_s:g} s"
        )
    late = [e for e in ann.events if e.stop_s > duration_s + DURATION_TOLERANCE_S]
    if late:
        out["warnings"].append(f"{len(late)} events end after the EDF's {duration_s:g} s")
    return out


def format_report(report: dict[str, Any]) -> str:
    """A readable multi-line rendering of :func:`inspect_edf`'s result."""
    h = report["header"]
    lines = [
        f"{report['path']}",
        f"  format      {h['format']}, {h['n_signals']} signals, {h['n_records']} records x "
        f"{h['record_duration_s']:g} s = {report['duration_s']:g} s",
        f"  start       {h['start_time'] or 'unknown'}",
        f"  patient     {h['patient']!r}",
        f"  recording   {h['recording']!r}",
        "  rates       " + ", ".join(f"{n} x {rate} Hz" for rate, n in report["rates_hz"].items()),
        f"  EEG         {len(report['channels'])} channels at {report['fs_hz']:g} Hz:",
    ]
    for label, name in report["channels"].items():
        lines.append(f"    {label:<18} -> {name}")
    if report["dropped"]:
        lines.append(f"  dropped     {len(report['dropped'])} signals:")
        for d in report["dropped"]:
            lines.append(f"    {d['label']:<18} {d['reason']}")
    lines.append("  montages")
    for name, m in report["montages"].items():
        if not m["ok"]:
            lines.append(f"    {name:<14} cannot be formed: {m['error']}")
            continue
        state = f"{m['n_formed']}/{m['n_pairs']} channels"
        if m["missing"]:
            state += f"; zero-filled and masked: {', '.join(m['missing'])}"
            if m["missing_electrodes"]:
                state += f" (missing electrodes: {', '.join(m['missing_electrodes'])})"
        lines.append(f"    {name:<14} {state}")
        if len(report["montages"]) == 1:
            lines.extend(f"      {pair:<8} = {src}" for pair, src in m["pairs"].items())
    ann = report["annotations"]
    if ann is None:
        lines.append("  annotations none found beside the EDF")
    elif not ann["ok"]:
        lines.append(f"  annotations {ann['path']}: error: {ann['error']}")
    else:
        labels = ", ".join(f"{k} x{v}" for k, v in ann["labels"].items())
        lines.append(f"  annotations {ann['path']} ({ann['format']}): {ann['n_events']} events ({labels}); "
                     f"{ann['n_seizures']} seizures, {ann['seizure_s']:g} s")
        lines.extend(f"    warning: {w}" for w in ann["warnings"])
    bids = report.get("bids")
    if bids is not None:
        files = ", ".join(Path(p).name for p in (bids["eeg_json"], bids["channels_tsv"]) if p)
        lines.append(f"  BIDS        {files}: " + ("agree with the EDF" if bids["ok"] else
                                                    f"{len(bids['problems'])} disagreement(s)"))
        lines.extend(f"    warning: {p}" for p in bids["problems"])
    return "\n".join(lines)
