"""Several systems scored on the same references: each one's intervals, and the paired
differences against the first (:func:`seizure.scoring.bootstrap.compare`: the same patient
draws for both systems; "not distinguishable" when the interval covers 0).

The JSON of :func:`compare_reports`::

    {"reference": NAME, "n_resamples", "seed", "level", "n_patients",
     "differences": {NAME: {"ovlp/sensitivity": D, "ovlp/fa_per_24h": D, "taes/sensitivity": D,
                            "szcore/f1": D}, ...}}   # NAME - reference, every other system

with ``D = {"estimate", "low", "high", "n_defined", "distinguishable", "verdict"}``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from seizure.scoring import bootstrap
from seizure.scoring.bootstrap import DEFAULT_RESAMPLES, HEADLINE
from seizure.scoring.report import Report

LABELS = {"ovlp/sensitivity": "OVLP sensitivity", "ovlp/fa_per_24h": "OVLP FA/24h",
          "taes/sensitivity": "TAES sensitivity", "szcore/f1": "SzCORE event F1"}


def _recordings(report: Report) -> set[str]:
    return {r["recording"] for r in report.per_recording}


def difference(a: Report, b: Report, *, measures: Sequence[tuple[str, str]] = HEADLINE,
               n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> dict[str, Any]:
    """Paired differences ``a - b`` of the headline measures of two reports of the same
    recordings (ValueError naming the recordings that differ)."""
    only_a, only_b = sorted(_recordings(a) - _recordings(b)), sorted(_recordings(b) - _recordings(a))
    if only_a or only_b:
        raise ValueError("a paired comparison needs both systems scored on the same recordings; "
                         f"only in the first: {only_a[:5] or 'none'}, only in the second: {only_b[:5] or 'none'}")
    methods = {m for m, _ in measures}
    return bootstrap.compare({m: a.count_table(m) for m in methods}, {m: b.count_table(m) for m in methods},
                             measures=measures, n_resamples=n_resamples, seed=seed)


def compare_reports(reports: Mapping[str, Report], *, n_resamples: int = DEFAULT_RESAMPLES,
                    seed: int = 0) -> dict[str, Any]:
    """Every system after the first against the first (see the module docstring)."""
    if len(reports) < 2:
        raise ValueError("a comparison needs at least two systems")
    if n_resamples < 1:
        raise ValueError("a comparison needs bootstrap resamples (n_resamples >= 1)")
    names = list(reports)
    ref = names[0]
    diffs = {name: difference(reports[name], reports[ref], n_resamples=n_resamples, seed=seed)
             for name in names[1:]}
    first = next(iter(diffs.values()))
    return {"reference": ref, "n_resamples": n_resamples, "seed": seed, "level": first["level"],
            "n_patients": first["n_patients"],
            "differences": {name: d["differences"] for name, d in diffs.items()}}


def verdict(d: Mapping[str, Any], a: str, b: str) -> str:
    """A difference's verdict in words, naming the systems."""
    if not d["distinguishable"]:
        return "not distinguishable"
    return f"{a} higher" if d["low"] > 0 else f"{b} higher"


def fmt(x: float | None, measure: str, signed: bool = False) -> str:
    """A percentage (sensitivity, F1) or a rate (FA/24h); ``n/a`` for undefined values."""
    if x is None or not math.isfinite(x):
        return "n/a"
    sign = "+" if signed else ""
    return f"{x:{sign}.2f}" if measure.endswith("fa_per_24h") else f"{100 * x:{sign}.1f}%"


def span(iv: Mapping[str, Any], measure: str, signed: bool = False) -> str:
    """``estimate [low, high]`` of an interval dict."""
    return (f"{fmt(iv['estimate'], measure, signed)} [{fmt(iv['low'], measure, signed)}, "
            f"{fmt(iv['high'], measure, signed)}]")


def systems_table(intervals: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Markdown rows: each system's headline figures with their intervals (``intervals``: a
    system name -> its report's ``bootstrap`` dict)."""
    lines = ["| system | " + " | ".join(LABELS[f"{m}/{k}"] for m, k in HEADLINE) + " |",
             "|---|" + "---:|" * len(HEADLINE)]
    for name, b in intervals.items():
        lines.append(f"| {name} | " + " | ".join(span(b["methods"][m][k], k) for m, k in HEADLINE) + " |")
    return lines


DIFFERENCES_HEAD = ["| difference | measure | estimate [95% interval] | verdict |", "|---|---|---:|---|"]


def difference_rows(a: str, b: str, diffs: Mapping[str, Any]) -> list[str]:
    """Markdown rows of the paired differences ``a - b`` (``diffs``: measure key -> difference dict)."""
    return [f"| {a} - {b} | {LABELS.get(key, key)} | {span(d, key, signed=True)} | {verdict(d, a, b)} |"
            for key, d in diffs.items()]


def differences_table(comparison: Mapping[str, Any]) -> list[str]:
    """Markdown rows: each paired difference against the reference system, with its verdict."""
    ref = comparison["reference"]
    lines = list(DIFFERENCES_HEAD)
    for name, diffs in comparison["differences"].items():
        lines += difference_rows(name, ref, diffs)
    return lines


def markdown(reports: Mapping[str, Report], comparison: Mapping[str, Any]) -> str:
    """``report.md`` of a comparison: the systems' intervals, the differences, then each
    system's full report."""
    first = next(iter(reports.values()))
    lines = [
        "# Seizure detection scores: a comparison of systems",
        "",
        f"{first.n_recordings} recordings, {first.duration_s / 3600:.2f} h, {first.n_ref_events} reference "
        f"seizures, {comparison['n_patients']} patients; every system scored on the same references.",
        "",
        f"## Headline figures with {100 * comparison['level']:g}% patient-level bootstrap intervals",
        "",
        *systems_table({name: r.bootstrap for name, r in reports.items()}),
        "",
        f"## Paired differences against {comparison['reference']}",
        "",
        f"The same {comparison['n_resamples']} resamples of the patients (seed {comparison['seed']}) for both systems; "
        "percentile interval of the difference. \"not distinguishable\": the interval covers 0.",
        "",
        *differences_table(comparison),
    ]
    for name, r in reports.items():
        body = r.markdown().split("\n", 2)[2].replace("\n## ", "\n### ")
        lines += ["", f"## {name}", "", body.rstrip()]
    return "\n".join(lines) + "\n"
