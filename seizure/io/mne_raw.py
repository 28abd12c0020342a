"""MNE-Python interop: an ``mne.io.BaseRaw`` read like an EDF, and events <-> ``mne.Annotations``.

:class:`RawReader` gives the chunked pipeline (:class:`seizure.preprocess.pipeline.EdfPipeline`) the
same view of a Raw that :class:`~seizure.io.edf.EdfReader` gives of an EDF file, so a Raw
goes through the checkpoint's own recipe exactly as the file would:

* signals in microvolts (MNE holds EEG in volts), read chunk by chunk with
  ``raw.get_data`` (a Raw that is not preloaded stays on disk);
* channel names through the one synonym table (:func:`seizure.io.channels.normalise_label`);
  MNE's de-duplicated names (``T8-P8-0``, ``T8-P8-1`` where an EDF repeats ``T8-P8``, as
  CHB-MIT does) are read as the repeated label, the first kept, as the EDF reader does;
* channels in ``raw.info["bads"]``, stimulus channels and TUH's 1 Hz side channels
  (``IBI``, ``BURSTS``, ``SUPPR``; MNE resamples them to the EEG rate) are left out, so
  a bad electrode is zero-filled and masked like a missing one.

:func:`to_mne` / :func:`from_mne` convert events both ways. Onsets of a Raw's detections
are relative to ``raw.first_time`` (MNE's convention, ``orig_time = meas_date``); events
of a file are relative to the recording's start (``orig_time=None``: MNE places them from
the first sample of the Raw they are set on).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seizure.errors import EDFError, SeizureError
from seizure.events import Event
from seizure.io.channels import normalise_label

if TYPE_CHECKING:
    import mne

    from seizure.io.annotations import Annotations

log = logging.getLogger(__name__)

SIDE_CHANNELS = frozenset({"IBI", "BURSTS", "SUPPR"})
_DUPLICATE = re.compile(r"^(.*)-(\d+)$")
_SKIPPED_TYPES = frozenset({"stim", "syst"})


@dataclass(frozen=True)
class _Signal:
    """What the pipeline asks of a signal: its label and range (unknown for a Raw: no clip
    limits, so clipping is only reported as a constant ceiling)."""

    label: str
    fs_hz: float
    physical_min: float = -np.inf
    physical_max: float = np.inf
    uv_factor: float = 1.0


@dataclass(frozen=True)
class _Header:
    start_time: dt.datetime | None


def mne_labels(names: Sequence[str]) -> list[str]:
    """Channel names with MNE's duplicate suffixes undone: a group ``X-0``, ``X-1``, ... (two
    or more, numbered from 0, ``X`` itself absent) is read as ``X`` each time."""
    groups: dict[str, list[int]] = {}
    for name in names:
        m = _DUPLICATE.match(name)
        if m:
            groups.setdefault(m.group(1), []).append(int(m.group(2)))
    present = set(names)
    dup = {base for base, idx in groups.items()
           if len(idx) >= 2 and sorted(idx) == list(range(len(idx))) and base not in present}
    out = []
    for name in names:
        m = _DUPLICATE.match(name)
        out.append(m.group(1) if m and m.group(1) in dup else name)
    return out


class RawReader:
    """An ``mne.io.BaseRaw`` with the reading interface of :class:`~seizure.io.edf.EdfReader`
    (what :class:`~seizure.preprocess.pipeline.EdfPipeline` uses)."""

    def __init__(self, raw: mne.io.BaseRaw, name: str | None = None):
        import mne

        if not isinstance(raw, mne.io.BaseRaw):
            raise TypeError(f"raw must be an mne.io.BaseRaw (e.g. from mne.io.read_raw_edf), got {type(raw).__name__}")
        self.raw = raw
        filenames = [f for f in (getattr(raw, "filenames", None) or ()) if f]
        self.path = Path(str(filenames[0])) if filenames else Path(name or "<mne raw>")
        self.fs_hz = float(raw.info["sfreq"])
        types = raw.get_channel_types()
        bads = set(raw.info["bads"])
        labels = mne_labels(raw.ch_names)
        self._picks: list[int] = []
        self.signals: list[_Signal] = []
        self.dropped: list[tuple[str, str]] = []
        seen: dict[str, str] = {}
        for i, (ch, label, kind) in enumerate(zip(raw.ch_names, labels, types)):
            name = normalise_label(label)
            if ch in bads:
                reason = "marked bad in raw.info['bads']"
            elif kind in _SKIPPED_TYPES:
                reason = f"{kind} channel"
            elif label.upper() in SIDE_CHANNELS:
                reason = "side channel (IBI/BURSTS/SUPPR)"
            elif name in seen:
                reason = f"duplicate of {seen[name]!r}; first kept"
            else:
                seen[name] = ch
                self._picks.append(i)
                self.signals.append(_Signal(label, self.fs_hz))
                continue
            self.dropped.append((ch, reason))
        if not self._picks:
            raise EDFError("no EEG channels in the Raw (all bad, stimulus or side channels)", self.path)
        self.eeg_indices = list(range(len(self._picks)))
        meas = raw.info["meas_date"]
        start = None
        if meas is not None:
            start = (meas + dt.timedelta(seconds=float(raw.first_time))).replace(tzinfo=None)
        self.header = _Header(start)
        self.first_time_s = float(raw.first_time)
        self.orig_time = meas

    def __enter__(self) -> RawReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Nothing to release (the Raw belongs to the caller)."""

    @property
    def duration_s(self) -> float:
        return self.raw.n_times / self.fs_hz

    @property
    def labels(self) -> list[str]:
        return [s.label for s in self.signals]

    @property
    def channels(self) -> list[str]:
        return [normalise_label(s.label) for s in self.signals]

    def n_samples(self, index: int | None = None) -> int:
        return int(self.raw.n_times)

    def read_samples(self, start: int, stop: int, indices: Sequence[int] | None = None) -> np.ndarray:
        """Samples ``[start, stop)`` of signals ``indices`` (default all): float32 microvolts."""
        idx = self.eeg_indices if indices is None else list(indices)
        picks = [self._picks[i] for i in idx]
        data = self.raw.get_data(picks=picks, start=int(start), stop=int(stop))
        out = np.empty(data.shape, dtype=np.float32)
        np.multiply(data, 1e6, out=out, casting="same_kind")
        return out


# --------------------------------------------------------------------------- annotations


def to_mne(events: Iterable[Event], *, first_time_s: float = 0.0, orig_time: Any = None) -> mne.Annotations:
    """Events as ``mne.Annotations`` (description = label, whole-head: no ``ch_names``;
    an event repeated on several channels appears once). With ``orig_time`` (a Raw's
    ``meas_date``) onsets are ``first_time_s`` + the event's start, as MNE stores them;
    without, the start alone (MNE then places it from the first sample of the Raw)."""
    import mne

    rows = sorted({(e.start_s, e.stop_s, e.label) for e in events})
    shift = float(first_time_s) if orig_time is not None else 0.0
    return mne.Annotations(onset=[a + shift for a, _, _ in rows], duration=[b - a for a, b, _ in rows],
                           description=[label for _, _, label in rows], orig_time=orig_time)


def from_mne(annotations: mne.Annotations, *, duration_s: float | None = None, first_time_s: float = 0.0,
             labels: Iterable[str] | None = None) -> Annotations:
    """``mne.Annotations`` as our :class:`~seizure.io.annotations.Annotations` (format ``mne``).

    Descriptions that are seizure or background labels (TUH: ``seiz``, ``fnsz``, ``bckg``,
    ...; SzCORE: ``sz``, ``sz_*``) become events; others (``BAD_*``, ``EDGE boundary``, ...)
    are skipped with a note in the log, unless listed in ``labels`` (kept as background).
    For annotations as a Raw holds them (``raw.annotations``: onsets count from sample 0,
    before ``first_samp``), pass ``first_time_s=raw.first_time``: it is subtracted so that
    events start from the Raw's first sample."""
    import mne

    from seizure.events import is_seizure_label
    from seizure.io.annotations import TUH_LABELS, Annotations

    if not isinstance(annotations, mne.Annotations):
        raise TypeError(f"annotations must be mne.Annotations, got {type(annotations).__name__}")
    keep = set(labels or ())
    shift = float(first_time_s)
    events: list[Event] = []
    skipped: dict[str, int] = {}
    for onset, length, text in zip(annotations.onset, annotations.duration, annotations.description):
        label = str(text).strip()
        if label.lower() in TUH_LABELS:
            label = label.lower()
        elif not (is_seizure_label(label) or label == "bckg" or label in keep):
            skipped[label] = skipped.get(label, 0) + 1
            continue
        start = float(onset) - shift
        if start < 0 or length < 0:
            raise SeizureError(f"annotation {label!r} at {float(onset):g} s starts before the recording "
                               f"(first_time {first_time_s:g} s) or has a negative duration")
        events.append(Event(start, start + float(length), label))
    if skipped:
        log.info("mne annotations skipped (not seizure or background labels): %s",
                 ", ".join(f"{k} x{v}" for k, v in sorted(skipped.items())))
    return Annotations(events, duration_s, "mne")
