"""Aggregation over recordings: NEDC pools counts; SzCORE averages per subject.

- NEDC (OVLP, TAES, epoch): counts are summed over files, then ratios taken.
- SzCORE: counts are summed per subject (the patient id read from the recording name by
  :func:`subject_id`, e.g. ``aaaaaool`` or ``sub-01``), each subject is scored, and the
  subjects' sensitivity, precision, F1 and FA/24h are averaged ignoring NaN (as
  szcore-evaluation does); the pooled SzCORE figures are reported too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping

import numpy as np

from seizure.scoring.counts import Counts, pool

MEASURES = ("sensitivity", "precision", "f1", "fa_per_24h")


# Recording-name conventions of the datasets this tool meets, tried in order.
_SUBJECT_PATTERNS = (
    re.compile(r"^(sub-[^_]+)"),                     # BIDS / SzCORE: sub-01_ses-01_..._events
    re.compile(r"^(.+?)_s\d+_t\d+$"),                # TUSZ v2 and v1.5: aaaaaool_s001_t000
    re.compile(r"^(.+?)(?:_r\d+|_\d+|-\d+)$"),       # SeizeIT P_ID64_r1, CHB-MIT chb05_01, Siena PN00-1
)


def subject_id(recording: str) -> str:
    """The patient id of a recording name (TUSZ, BIDS, CHB-MIT, Siena, SeizeIT naming);
    otherwise the part before the first ``_``."""
    for pattern in _SUBJECT_PATTERNS:
        match = pattern.match(recording)
        if match:
            return match.group(1)
    return recording.split("_", 1)[0]


def per_subject(
    counts: Mapping[str, Counts], subject_of: Callable[[str], str] = subject_id
) -> dict[str, Counts]:
    """Counts summed per subject, keyed by subject id (sorted)."""
    groups: dict[str, list[Counts]] = {}
    for name, c in counts.items():
        groups.setdefault(subject_of(name), []).append(c)
    return {s: pool(groups[s]) for s in sorted(groups)}  # type: ignore[misc]


def subject_mean(subjects: Iterable[Counts]) -> dict[str, float]:
    """Mean and standard deviation over subjects of each measure, NaN ignored
    (``nan`` when every subject's value is NaN), plus ``n_subjects``."""
    subjects = list(subjects)
    out: dict[str, float] = {"n_subjects": float(len(subjects))}
    for name in MEASURES:
        values = np.array([getattr(c, name) for c in subjects], dtype=np.float64)
        finite = values[~np.isnan(values)]
        out[name] = float(finite.mean()) if finite.size else math.nan
        out[f"{name}_std"] = float(finite.std()) if finite.size else math.nan
    return out
