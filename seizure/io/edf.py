"""EDF / EDF+ reading and writing.

Reading uses our own header parser and decodes the 16-bit data records with numpy,
touching only the records a read needs, so a 24-hour recording can be processed in
bounded memory. Values come back in microvolts (float32): signals whose physical
dimension is ``uV``/``mV``/``V``/``nV`` are converted; any other dimension (``mm``,
``%``, ``bpm``) is returned as recorded.

Policies (each malformed file raises :class:`~seizure.errors.EDFError` with one line
naming the file and the problem):

* The header's record count must match the file size exactly; ``-1`` (unknown) is
  derived from the file size. A file that ends mid-record is truncated.
* An unreadable start date or time (TUH's ``01:01:85``) does not stop reading: the
  start time becomes ``None`` and a warning is logged. EDF+ ``Startdate X`` (unknown)
  also gives ``None``.
* EDF+D (discontinuous) files are read when their data records are in fact contiguous
  (each record starts where the previous one ends, per the record time stamps in
  ``EDF Annotations``); a file with real gaps is refused, never silently concatenated.
* EEG signals (``eeg_indices``) are the signals at the main EEG rate: ``EDF
  Annotations``, TUH's 1 Hz ``IBI``/``BURSTS``/``SUPPR`` and any signal at another rate
  are dropped and reported with the reason (``dropped``). The main rate is the rate of
  most scalp-electrode signals (or of most signals when none is recognised).
* Duplicated labels (after normalisation, e.g. CHB-MIT's two ``T8-P8``): the first is
  kept, later ones are dropped with a warning.

Writing (:class:`EdfWriter`, :func:`write_edf`) produces EDF+C with an ``EDF
Annotations`` signal, bytes written by numpy, streamed record by record to a temporary
file that is renamed into place on a successful close.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
import numbers
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seizure.errors import EDFError
from seizure.events import Event
from seizure.fsutil import atomic_path
from seizure.io.channels import is_electrode_label, normalise_label

log = logging.getLogger(__name__)

ANNOTATION_LABEL = "EDF Annotations"
SIDE_CHANNELS = frozenset({"IBI", "BURSTS", "SUPPR"})  # TUH 1 Hz derived channels
# physical dimension -> factor to microvolts; other dimensions are returned as recorded
UNIT_TO_UV = {"uV": 1.0, "\u00b5V": 1.0, "\u03bcV": 1.0, "UV": 1.0, "mV": 1e3, "MV": 1e3,
              "V": 1e6, "nV": 1e-3}
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
MAX_RATE_HZ = 1e6
"""Highest sampling rate accepted (samples per record / record duration): far above any EEG,
low enough that a nonsensical record duration (``1e-300``) is refused when the header is read."""
_CHUNK_BYTES = 4 * 2**20  # raw bytes decoded per step of a long read (cache-friendly)
_FLOAT32_MAX = float(np.finfo(np.float32).max)


# --------------------------------------------------------------------------- header


@dataclass(frozen=True)
class EdfHeader:
    """The fixed part of an EDF header."""

    patient: str
    recording: str
    start_time: dt.datetime | None
    n_records: int
    record_duration_s: float
    is_edf_plus: bool
    is_discontinuous: bool
    header_bytes: int
    n_signals: int


@dataclass(frozen=True)
class SignalInfo:
    """One signal's header fields (``fs_hz`` = samples per record / record duration)."""

    index: int
    label: str
    transducer: str
    physical_dim: str
    physical_min: float
    physical_max: float
    digital_min: int
    digital_max: int
    prefilter: str
    samples_per_record: int
    fs_hz: float

    @property
    def is_annotation(self) -> bool:
        return self.label == ANNOTATION_LABEL

    @property
    def gain(self) -> float:
        """Physical units per digital step."""
        return (self.physical_max - self.physical_min) / (self.digital_max - self.digital_min)

    @property
    def offset(self) -> float:
        return self.physical_min - self.digital_min * self.gain

    @property
    def uv_factor(self) -> float:
        """Factor from the physical dimension to microvolts (1 for non-voltage units)."""
        return UNIT_TO_UV.get(self.physical_dim, 1.0)


@dataclass(frozen=True)
class DroppedSignal:
    """A signal not kept as EEG, with its rate and the reason."""

    index: int
    label: str
    fs_hz: float
    reason: str


def _field(raw: bytes, start: int, width: int) -> str:
    return raw[start:start + width].decode("latin-1").strip()


def _number(text: str, what: str, path: Path, integer: bool = False) -> Any:
    """Parse a numeric header field or raise naming the field."""
    try:
        value = float(text)
    except ValueError:
        raise EDFError(f"non-numeric {what}: {text!r}", path) from None
    if not math.isfinite(value):
        raise EDFError(f"non-numeric {what}: {text!r}", path)
    if integer:
        if value != int(value):
            raise EDFError(f"{what} must be an integer, got {text!r}", path)
        return int(value)
    return value


def _parse_start(date: str, time: str, recording: str, is_plus: bool, path: Path) -> dt.datetime | None:
    """Start time from ``dd.mm.yy`` / ``hh.mm.ss`` (years 1985-2084; EDF+ Startdate gives the century)."""
    if is_plus and recording.split()[:2] == ["Startdate", "X"]:
        log.debug("%s: EDF+ start date unknown ('Startdate X')", path)
        return None
    m_date = re.fullmatch(r"(\d\d)\.(\d\d)\.(\d\d)", date)
    m_time = re.fullmatch(r"(\d\d)\.(\d\d)\.(\d\d)", time)
    try:
        if not (m_date and m_time):
            raise ValueError("not dd.mm.yy hh.mm.ss")
        day, month, yy = (int(g) for g in m_date.groups())
        year = 1900 + yy if yy >= 85 else 2000 + yy
        words = recording.split()
        if is_plus and len(words) >= 2 and words[0] == "Startdate":
            m_plus = re.fullmatch(r"(\d\d)-([A-Z]{3})-(\d{4})", words[1].upper())
            if m_plus and int(m_plus.group(3)) % 100 == yy:
                year = int(m_plus.group(3))
        return dt.datetime(year, month, day, *(int(g) for g in m_time.groups()))
    except ValueError:
        log.warning("%s: unreadable start date/time %r %r; start_time set to None", path, date, time)
        return None


def _parse_header(path: Path, fh: Any, file_size: int) -> tuple[EdfHeader, list[SignalInfo]]:
    if file_size == 0:
        raise EDFError("empty file", path)
    fixed = fh.read(256)
    if len(fixed) < 256:
        raise EDFError(f"not an EDF file: only {file_size} bytes, shorter than the 256-byte header", path)
    if fixed[:1] == b"\xff":
        raise EDFError("BDF (24-bit) files are not supported, only 16-bit EDF/EDF+", path)
    version = _field(fixed, 0, 8)
    if version != "0":
        raise EDFError(f"not an EDF file: version field is {fixed[:8]!r}, expected '0'", path)
    header_bytes = _number(_field(fixed, 184, 8), "header length (bytes 184-191)", path, integer=True)
    reserved = _field(fixed, 192, 44)
    n_records = _number(_field(fixed, 236, 8), "number of data records", path, integer=True)
    record_s = _number(_field(fixed, 244, 8), "data record duration", path)
    n_signals = _number(_field(fixed, 252, 4), "number of signals", path, integer=True)
    if n_signals < 1:
        raise EDFError(f"number of signals is {n_signals}; it must be at least 1", path)
    if header_bytes != 256 * (n_signals + 1):
        raise EDFError(
            f"header length {header_bytes} does not match 256 * (1 + {n_signals} signals) = "
            f"{256 * (n_signals + 1)} (wrong header length or signal count)",
            path,
        )
    if file_size < header_bytes:
        raise EDFError(f"truncated header: file has {file_size} bytes, header needs {header_bytes}", path)
    if record_s <= 0:
        raise EDFError(f"data record duration is {record_s:.6g} s; it must be positive", path)
    if n_records < -1 or n_records == 0:
        raise EDFError(f"number of data records is {n_records}; the file holds no data", path)

    raw = fh.read(header_bytes - 256)
    ns = n_signals
    widths = (16, 80, 8, 8, 8, 8, 8, 80, 8)
    columns: list[list[str]] = []
    pos = 0
    for w in widths:
        columns.append([_field(raw, pos + i * w, w) for i in range(ns)])
        pos += w * ns
    labels, transducers, dims, pmins, pmaxs, dmins, dmaxs, prefilters, sprs = columns

    signals = []
    for i in range(ns):
        who = f"signal {i} ({labels[i]!r})"
        pmin = _number(pmins[i], f"physical minimum of {who}", path)
        pmax = _number(pmaxs[i], f"physical maximum of {who}", path)
        dmin = _number(dmins[i], f"digital minimum of {who}", path, integer=True)
        dmax = _number(dmaxs[i], f"digital maximum of {who}", path, integer=True)
        spr = _number(sprs[i], f"samples per record of {who}", path, integer=True)
        if pmin == pmax:
            raise EDFError(f"{who} has physical minimum == maximum ({pmin:g})", path)
        if dmin >= dmax:
            raise EDFError(f"{who} has digital minimum {dmin} >= maximum {dmax}", path)
        if dmin < -32768 or dmax > 32767:
            raise EDFError(f"{who} has digital range [{dmin}, {dmax}] outside 16 bits", path)
        if spr <= 0:
            raise EDFError(f"{who} has {spr} samples per record; it must be positive", path)
        info = SignalInfo(i, labels[i], transducers[i], dims[i], pmin, pmax, dmin, dmax,
                          prefilters[i], spr, spr / record_s)
        if not info.is_annotation:
            _check_float32_range(info, who, path)
            if info.fs_hz > MAX_RATE_HZ:
                raise EDFError(f"data record duration {record_s:.6g} s gives {who} ({spr} samples per record) a "
                               f"sampling rate of {info.fs_hz:.3g} Hz; expected at most {MAX_RATE_HZ:.0e} Hz "
                               f"(a record duration of at least {spr / MAX_RATE_HZ:.3g} s)", path)
        signals.append(info)

    record_bytes = 2 * sum(s.samples_per_record for s in signals)
    data_bytes = file_size - header_bytes
    full, extra = divmod(data_bytes, record_bytes)
    if n_records == -1:
        if extra:
            raise EDFError(f"truncated: the file ends mid-record ({full} full records + {extra} bytes)", path)
        if full == 0:
            raise EDFError("no data records after the header", path)
        log.info("%s: record count -1 in header; %d records from the file size", path, full)
        n_records = full
    elif data_bytes < n_records * record_bytes:
        raise EDFError(
            f"truncated: header says {n_records} data records but the file holds {full}"
            + (f" full records and {extra} bytes of a partial one (ends mid-record)" if extra else ""),
            path,
        )
    elif data_bytes > n_records * record_bytes:
        raise EDFError(
            f"header says {n_records} data records but the file holds {data_bytes / record_bytes:g} "
            "(record count smaller than the data)",
            path,
        )

    date, time = _field(fixed, 168, 8), _field(fixed, 176, 8)
    is_plus = reserved.startswith("EDF+")
    recording = _field(fixed, 88, 80)
    header = EdfHeader(
        patient=_field(fixed, 8, 80),
        recording=recording,
        start_time=_parse_start(date, time, recording, is_plus, path),
        n_records=n_records,
        record_duration_s=record_s,
        is_edf_plus=is_plus,
        is_discontinuous=reserved.startswith("EDF+D"),
        header_bytes=header_bytes,
        n_signals=ns,
    )
    return header, signals


def _check_float32_range(s: SignalInfo, who: str, path: Path) -> None:
    """Refuse a physical range whose samples (any 16-bit value) would overflow float32 microvolts."""
    extremes = (abs(d * s.gain + s.offset) * s.uv_factor for d in (-32768, 32767))
    if not all(v <= _FLOAT32_MAX for v in extremes):  # also catches NaN and Inf
        raise EDFError(f"{who} has physical range [{s.physical_min:g}, {s.physical_max:g}] {s.physical_dim} "
                       "whose values overflow float32 (they would read as Inf)", path)


def _main_rate(signals: Sequence[SignalInfo]) -> float | None:
    """The rate of most scalp-electrode signals, else of most signals (ties: higher rate)."""
    candidates = [s for s in signals if not s.is_annotation and s.label.upper() not in SIDE_CHANNELS]
    electrodes = [s for s in candidates if is_electrode_label(normalise_label(s.label))]
    pool = electrodes or candidates
    if not pool:
        return None
    rates: dict[float, int] = {}
    for s in pool:
        rates[s.fs_hz] = rates.get(s.fs_hz, 0) + 1
    return max(rates, key=lambda r: (rates[r], r))


def _select_eeg(path: Path, signals: Sequence[SignalInfo]) -> tuple[list[int], list[DroppedSignal], float]:
    main = _main_rate(signals)
    dropped: list[DroppedSignal] = []
    kept: list[int] = []
    seen: dict[str, int] = {}
    for s in signals:
        name = normalise_label(s.label)
        if s.is_annotation:
            reason = "EDF+ annotation signal"
        elif s.label.upper() in SIDE_CHANNELS:
            reason = f"{s.fs_hz:g} Hz side channel (IBI/BURSTS/SUPPR)"
        elif s.fs_hz != main:
            reason = f"rate {s.fs_hz:g} Hz differs from the EEG rate {main:g} Hz"
        elif name in seen:
            reason = f"duplicate of signal {seen[name]} ({signals[seen[name]].label!r}); first kept"
            log.warning("%s: signal %d %r duplicates signal %d; keeping the first", path, s.index,
                        s.label, seen[name])
        else:
            seen[name] = s.index
            kept.append(s.index)
            continue
        dropped.append(DroppedSignal(s.index, s.label, s.fs_hz, reason))
    if kept and main <= 1:
        raise EDFError(f"only {main:g} Hz channels ({', '.join(signals[i].label for i in kept)}): no EEG signal",
                       path)
    if not kept:
        others = [s for s in signals if not s.is_annotation]
        if others and all(s.fs_hz <= 1 for s in others):
            names = ", ".join(s.label for s in others)
            raise EDFError(f"only 1 Hz channels ({names}): no EEG signal", path)
        raise EDFError("no EEG channels (only EDF Annotations or side channels)", path)
    return kept, dropped, float(main)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- reader


class EdfReader:
    """Random access to an EDF/EDF+ file's signals, in microvolts.

    >>> with EdfReader("x.edf") as r:
    ...     first_minute = r.read(0.0, 60.0)          # float32 (len(r.eeg_indices), 60 * r.fs_hz)
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self._fh = open(self.path, "rb")
            size = os.fstat(self._fh.fileno()).st_size
        except IsADirectoryError:
            raise EDFError("is a directory, not an EDF file", self.path) from None
        except OSError as exc:
            raise EDFError(f"cannot open: {exc.strerror or exc}", self.path) from None
        try:
            self.header, self.signals = _parse_header(self.path, self._fh, size)
            self._offsets = np.cumsum([0] + [s.samples_per_record for s in self.signals])
            self._record_samples = int(self._offsets[-1])
            if self.header.is_discontinuous:
                self._check_contiguous()
            self.eeg_indices, self.dropped, self.fs_hz = _select_eeg(self.path, self.signals)
        except BaseException:
            self._fh.close()
            raise

    # -- context manager
    def __enter__(self) -> EdfReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._fh.close()

    # -- properties
    @property
    def duration_s(self) -> float:
        return self.header.n_records * self.header.record_duration_s

    @property
    def labels(self) -> list[str]:
        """Original labels of the EEG signals (``eeg_indices``)."""
        return [self.signals[i].label for i in self.eeg_indices]

    @property
    def channels(self) -> list[str]:
        """Normalised names of the EEG signals (``eeg_indices``)."""
        return [normalise_label(self.signals[i].label) for i in self.eeg_indices]

    def n_samples(self, index: int | None = None) -> int:
        """Samples in the whole recording for signal ``index`` (default: the EEG rate)."""
        spr = self.signals[self.eeg_indices[0] if index is None else index].samples_per_record
        return self.header.n_records * spr

    # -- reading
    def read(self, start_s: float = 0.0, stop_s: float | None = None,
             indices: Sequence[int] | None = None) -> np.ndarray:
        """Signals ``indices`` (default ``eeg_indices``) from ``start_s`` to ``stop_s``: float32 uV.

        All requested signals must share one rate. Samples ``round(start_s * fs)`` up to
        (excluding) ``round(stop_s * fs)``; ``stop_s=None`` reads to the end.
        """
        idx = self._check_indices(indices)
        fs = self.signals[idx[0]].fs_hz
        n_total = self.n_samples(idx[0])
        if not (isinstance(start_s, numbers.Real) and 0 <= start_s <= self.duration_s):
            raise ValueError(f"start_s must be within [0, {self.duration_s:g}] s; got {start_s!r}")
        start = int(round(start_s * fs))
        if stop_s is None:
            stop = n_total
        else:
            if not (isinstance(stop_s, numbers.Real) and math.isfinite(stop_s) and stop_s >= start_s):
                raise ValueError(f"stop_s must be None or a number >= start_s={start_s!r}; got {stop_s!r}")
            stop = min(int(round(stop_s * fs)), n_total)
        return self.read_samples(start, stop, idx)

    def read_samples(self, start: int, stop: int, indices: Sequence[int] | None = None) -> np.ndarray:
        """Like :meth:`read` with sample indices ``[start, stop)`` at the signals' rate."""
        idx = self._check_indices(indices)
        spr = self.signals[idx[0]].samples_per_record
        n_total = self.header.n_records * spr
        if not (0 <= start <= stop <= n_total):
            raise ValueError(f"need 0 <= start <= stop <= {n_total} samples; got start={start}, stop={stop}")
        out = np.empty((len(idx), stop - start), dtype=np.float32)
        if stop == start:
            return out
        gains = [np.float32(self.signals[i].gain * self.signals[i].uv_factor) for i in idx]
        offs = [np.float32(self.signals[i].offset * self.signals[i].uv_factor) for i in idx]
        r0, r1 = start // spr, -(-stop // spr)
        step = max(1, _CHUNK_BYTES // (2 * self._record_samples))
        pos = 0
        for c0 in range(r0, r1, step):
            c1 = min(c0 + step, r1)
            raw = self._records(c0, c1)
            lo = max(start, c0 * spr) - c0 * spr
            hi = min(stop, c1 * spr) - c0 * spr
            whole = lo == 0 and hi == (c1 - c0) * spr
            for j, i in enumerate(idx):
                seg = raw[:, self._offsets[i]:self._offsets[i] + spr]
                if whole:
                    dst = out[j, pos:pos + hi].reshape(c1 - c0, spr)
                    np.multiply(seg, gains[j], out=dst)
                else:
                    dst = out[j, pos:pos + hi - lo]
                    np.multiply(seg.reshape(-1)[lo:hi], gains[j], out=dst)
                dst += offs[j]
            pos += hi - lo
        return out

    def _check_indices(self, indices: Sequence[int] | None) -> list[int]:
        idx = list(self.eeg_indices if indices is None else indices)
        if not idx:
            raise ValueError("indices must name at least one signal")
        for i in idx:
            if not isinstance(i, (int, np.integer)) or not 0 <= i < len(self.signals):
                raise ValueError(f"indices must be signal numbers in [0, {len(self.signals) - 1}]; got {i!r}")
            if self.signals[i].is_annotation:
                raise ValueError(f"signal {i} is the {ANNOTATION_LABEL!r} signal, not a data signal")
        rates = {self.signals[i].samples_per_record for i in idx}
        if len(rates) > 1:
            raise ValueError(f"indices must share one sampling rate; got rates "
                             f"{sorted({self.signals[i].fs_hz for i in idx})} Hz")
        return [int(i) for i in idx]

    def _records(self, r0: int, r1: int) -> np.ndarray:
        """Raw int16 data records ``[r0, r1)`` as ``(r1 - r0, samples_per_record_total)``."""
        n = (r1 - r0) * self._record_samples
        self._fh.seek(self.header.header_bytes + 2 * r0 * self._record_samples)
        raw = np.fromfile(self._fh, dtype="<i2", count=n)
        if raw.size != n:
            raise EDFError(f"truncated while reading records {r0}-{r1 - 1} (file changed?)", self.path)
        return raw.reshape(r1 - r0, self._record_samples)

    def _check_contiguous(self) -> None:
        """EDF+D: accept only records that follow each other without gaps."""
        ann = [s.index for s in self.signals if s.is_annotation]
        if not ann:
            raise EDFError("EDF+D file without an 'EDF Annotations' signal (record times unknown)", self.path)
        a = ann[0]
        lo, hi = int(self._offsets[a]), int(self._offsets[a + 1])
        dur = self.header.record_duration_s
        first = None
        step = max(1, _CHUNK_BYTES // (2 * self._record_samples))
        for c0 in range(0, self.header.n_records, step):
            c1 = min(c0 + step, self.header.n_records)
            tals = np.ascontiguousarray(self._records(c0, c1)[:, lo:hi]).view(np.uint8)
            for k, row in enumerate(tals):
                onset = _record_onset(row.tobytes())
                if onset is None:
                    raise EDFError(f"EDF+D record {c0 + k} has no time-keeping annotation", self.path)
                first = onset if first is None else first
                expected = first + (c0 + k) * dur
                if abs(onset - expected) > 1e-6 * max(1.0, dur):
                    raise EDFError(
                        f"EDF+D file with a gap: record {c0 + k} starts at {onset:g} s, expected "
                        f"{expected:g} s; discontinuous recordings are not supported",
                        self.path,
                    )
        log.info("%s: EDF+D with contiguous records; read as continuous", self.path)


def _record_onset(tal: bytes) -> float | None:
    """Onset of a data record: the first TAL ``+<onset>\\x14\\x14`` of its annotation signal."""
    m = re.match(rb"([+-]\d+(?:\.\d*)?)\x14\x14", tal)
    return float(m.group(1)) if m else None


# --------------------------------------------------------------------------- Recording


@dataclass(frozen=True)
class Recording:
    """A whole EDF recording's EEG signals in microvolts.

    ``data`` float32 ``(n_channels, n_samples)``; ``channels`` normalised names (``FP1``),
    ``labels`` the original ones; ``dropped`` the signals not kept, with their reason.
    """

    path: Path
    data: np.ndarray
    fs_hz: float
    channels: list[str]
    labels: list[str]
    start_time: dt.datetime | None
    duration_s: float
    dropped: list[DroppedSignal] = field(default_factory=list)

    @property
    def n_samples(self) -> int:
        return int(self.data.shape[1])


def read_edf(path: str | Path) -> Recording:
    """Read a whole EDF/EDF+ file's EEG signals (see :class:`EdfReader` for the policies)."""
    with EdfReader(path) as reader:
        return Recording(
            path=reader.path,
            data=reader.read(),
            fs_hz=reader.fs_hz,
            channels=reader.channels,
            labels=reader.labels,
            start_time=reader.header.start_time,
            duration_s=reader.duration_s,
            dropped=list(reader.dropped),
        )


# --------------------------------------------------------------------------- writer


def _fmt_field(value: str, width: int, what: str) -> bytes:
    text = str(value)
    if len(text) > width or not all(32 <= ord(c) < 127 for c in text):
        raise ValueError(f"{what} must be at most {width} printable ASCII characters; got {text!r}")
    return text.ljust(width).encode("ascii")


def _fmt_number(x: float, direction: int = 0) -> str:
    """``x`` in at most 8 characters; ``direction`` +1 never rounds down, -1 never rounds up."""
    for decimals in range(8, -1, -1):
        scale = 10.0**decimals
        v = round(x, decimals)
        if direction > 0 and v < x:
            v = math.ceil(x * scale) / scale
        elif direction < 0 and v > x:
            v = math.floor(x * scale) / scale
        text = f"{v:.{decimals}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        if text == "-0":
            text = "0"
        if len(text) <= 8:
            return text
    raise ValueError(f"{x!r} cannot be written in an 8-character EDF header field")


def _fmt_seconds(x: float) -> str:
    text = f"{x:.6f}".rstrip("0").rstrip(".")
    return "+" + text if not text.startswith("-") else text


def _per_signal(value: Any, n: int, what: str) -> list[Any]:
    """One value for every signal, or a list of exactly one per signal."""
    if not isinstance(value, (list, tuple, np.ndarray)):
        return [value] * n
    values = list(value)
    if len(values) != n:
        raise ValueError(f"{what} must be one value or one per signal ({n}); got {len(values)}")
    return values


def _normalise_annotations(annotations: Iterable[Any] | None) -> list[tuple[float, float | None, str]]:
    out = []
    for a in annotations or ():
        if isinstance(a, Event):
            onset, duration, text = a.start_s, a.stop_s - a.start_s, a.label
        else:
            onset, duration, text = a
        if not (math.isfinite(onset) and onset >= 0) or (duration is not None and not duration >= 0):
            raise ValueError(f"annotation onset must be >= 0 and duration >= 0 or None; got {a!r}")
        if any(c in str(text) for c in "\x14\x15\x00"):
            raise ValueError(f"annotation text must not contain EDF+ TAL separators; got {text!r}")
        out.append((float(onset), None if duration is None else float(duration), str(text)))
    return sorted(out, key=lambda t: t[0])


def _tal(onset: float, duration: float | None, text: str) -> bytes:
    dur = "" if duration is None else "\x15" + _fmt_seconds(duration)[1:]
    return (_fmt_seconds(onset) + dur + "\x14" + text + "\x14\x00").encode("utf-8")


class EdfWriter:
    """Stream an EDF+C file block by block; the header is finalised on :meth:`close`.

    ``write(block)`` takes a float array ``(n_signals, n_samples)`` (any length) or, for
    signals at different rates, a list of 1-D arrays holding the same duration. Samples are
    buffered to whole data records; a trailing partial record is zero-padded on close.
    Values outside ``physical_ranges`` are clipped (with a warning). The file appears at
    ``path`` only after a successful close; on an exception inside ``with`` it is discarded.
    """

    def __init__(
        self,
        path: str | Path,
        labels: Sequence[str],
        fs_hz: float | Sequence[float],
        *,
        physical_ranges: tuple[float, float] | Sequence[tuple[float, float]],
        physical_dim: str | Sequence[str] = "uV",
        start_time: dt.datetime | None = None,
        patient: str = "X X X X",
        recording: str | None = None,
        record_duration_s: float = 1.0,
        digital_range: tuple[int, int] = (-32768, 32767),
        annotations: Iterable[Any] | None = None,
        transducer: str | Sequence[str] = "",
        prefilter: str | Sequence[str] = "",
    ):
        self.path = Path(path)
        labels = [str(lab) for lab in labels]
        n = len(labels)
        if n == 0:
            raise ValueError("labels must name at least one signal")
        if ANNOTATION_LABEL in labels:
            raise ValueError(f"labels must not include {ANNOTATION_LABEL!r}; pass annotations= instead")
        if not (isinstance(record_duration_s, (int, float)) and record_duration_s > 0):
            raise ValueError(f"record_duration_s must be a positive number; got {record_duration_s!r}")
        rates = [float(f) for f in _per_signal(fs_hz, n, "fs_hz")]
        spr = []
        for lab, f in zip(labels, rates):
            s = f * record_duration_s
            if not (f > 0 and abs(s - round(s)) < 1e-6 and round(s) >= 1):
                raise ValueError(f"fs_hz of {lab!r} ({f:g} Hz) times record_duration_s ({record_duration_s:g} s) "
                                 "must be a positive whole number of samples")
            spr.append(int(round(s)))
        dmin, dmax = (int(v) for v in digital_range)
        if not -32768 <= dmin < dmax <= 32767:
            raise ValueError(f"digital_range must satisfy -32768 <= min < max <= 32767; got {digital_range!r}")
        ranges_arr = np.asarray(physical_ranges, dtype=np.float64)
        if ranges_arr.shape == (2,):
            ranges_arr = np.tile(ranges_arr, (n, 1))
        if ranges_arr.shape != (n, 2):
            raise ValueError(f"physical_ranges must be (min, max) or one (min, max) per signal ({n}); "
                             f"got shape {ranges_arr.shape}")
        ranges = ranges_arr.tolist()
        pmins, pmaxs = [], []
        for lab, rng in zip(labels, ranges):
            lo, hi = (float(v) for v in rng)
            lo_t, hi_t = _fmt_number(lo, -1), _fmt_number(hi, +1)
            if not float(lo_t) < float(hi_t):
                raise ValueError(f"physical range of {lab!r} must have min < max; got {rng!r}")
            pmins.append(lo_t)
            pmaxs.append(hi_t)
        dims = _per_signal(physical_dim, n, "physical_dim")
        self._anns = _normalise_annotations(annotations)
        self._ann_bytes = self._annotation_slot()
        if start_time is not None and not 1985 <= start_time.year <= 2084:
            raise ValueError(f"start_time year must be 1985-2084 for EDF; got {start_time!r}")
        if recording is None:
            recording = "X X X"
        if not recording.startswith("Startdate"):
            date = "X" if start_time is None else f"{start_time.day:02d}-{_MONTHS[start_time.month - 1]}-{start_time.year}"
            recording = f"Startdate {date} {recording}"

        self._labels, self._spr, self._n = labels, spr, n
        self._lo = np.array([float(v) for v in pmins])
        self._hi = np.array([float(v) for v in pmaxs])
        self._dmin, self._dmax = dmin, dmax
        self._record_s = float(record_duration_s)
        self._buffers: list[list[np.ndarray]] = [[] for _ in range(n)]
        self._buffered = [0] * n
        self._n_records = 0
        self._n_clipped = 0
        self._closed = False

        tr = _per_signal(transducer, n, "transducer")
        pf = _per_signal(prefilter, n, "prefilter")
        ns = n + 1
        sigs = [*labels, ANNOTATION_LABEL]
        head = b"".join([
            _fmt_field("0", 8, "version"),
            _fmt_field(patient, 80, "patient"),
            _fmt_field(recording, 80, "recording"),
            _fmt_field("01.01.85" if start_time is None else start_time.strftime("%d.%m.%y"), 8, "start date"),
            _fmt_field("00.00.00" if start_time is None else start_time.strftime("%H.%M.%S"), 8, "start time"),
            _fmt_field(str(256 * (ns + 1)), 8, "header length"),
            _fmt_field("EDF+C", 44, "reserved"),
            _fmt_field("-1", 8, "number of records"),
            _fmt_field(_fmt_number(self._record_s), 8, "record duration"),
            _fmt_field(str(ns), 4, "number of signals"),
            *(_fmt_field(s, 16, f"label {s!r}") for s in sigs),
            *(_fmt_field(t, 80, "transducer") for t in [*tr, ""]),
            *(_fmt_field(d, 8, "physical_dim") for d in [*dims, ""]),
            *(_fmt_field(v, 8, "physical minimum") for v in [*pmins, "-1"]),
            *(_fmt_field(v, 8, "physical maximum") for v in [*pmaxs, "1"]),
            *(_fmt_field(str(dmin), 8, "digital minimum") for _ in labels), _fmt_field("-32768", 8, ""),
            *(_fmt_field(str(dmax), 8, "digital maximum") for _ in labels), _fmt_field("32767", 8, ""),
            *(_fmt_field(p, 80, "prefilter") for p in [*pf, ""]),
            *(_fmt_field(str(s), 8, "samples per record") for s in [*spr, self._ann_bytes // 2]),
            *(_fmt_field("", 32, "reserved") for _ in sigs),
        ])
        self._stack = contextlib.ExitStack()
        tmp = self._stack.enter_context(atomic_path(self.path))
        self._fh = self._stack.enter_context(open(tmp, "wb"))
        self._fh.write(head)

    def _annotation_slot(self) -> int:
        """Bytes of ``EDF Annotations`` per record: time keeping + room for the annotations."""
        tals = [len(_tal(*a)) for a in self._anns]
        total = sum(tals)
        room = total if total <= 2048 else max(2048, max(tals))
        size = 24 + room  # "+<onset up to 1e9 s with decimals>\x14\x14\x00" fits in 24 bytes
        return size + size % 2

    # -- context manager
    def __enter__(self) -> EdfWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    # -- writing
    def write(self, block: np.ndarray | Sequence[np.ndarray]) -> None:
        """Append samples: ``(n_signals, n)`` array, or one 1-D array per signal."""
        if self._closed:
            raise ValueError(f"{self.path}: EdfWriter is closed")
        rows = list(block) if not isinstance(block, np.ndarray) or block.ndim == 2 else None
        if rows is None or len(rows) != self._n:
            shape = getattr(block, "shape", None) or len(block)
            raise ValueError(f"block must be (n_signals={self._n}, n_samples) or {self._n} 1-D arrays; got {shape}")
        for i, row in enumerate(rows):
            x = np.asarray(row, dtype=np.float64)
            if x.ndim != 1:
                raise ValueError(f"block row {i} must be 1-D; got shape {x.shape}")
            if not np.isfinite(x).all():
                raise ValueError(f"block row {i} ({self._labels[i]!r}) contains NaN or Inf")
            if x.size:
                self._buffers[i].append(x)
                self._buffered[i] += x.size
        k = min(b // s for b, s in zip(self._buffered, self._spr))
        if k:
            self._flush(k)

    def _take(self, i: int, n: int) -> np.ndarray:
        parts, got = [], 0
        while got < n:
            head = self._buffers[i][0]
            need = n - got
            if head.size <= need:
                parts.append(self._buffers[i].pop(0))
                got += head.size
            else:
                parts.append(head[:need])
                self._buffers[i][0] = head[need:]
                got = n
        self._buffered[i] -= n
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _flush(self, k: int) -> None:
        rec = np.empty((k, sum(self._spr) + self._ann_bytes // 2), dtype="<i2")
        col = 0
        for i, s in enumerate(self._spr):
            x = self._take(i, k * s)
            lo, hi = self._lo[i], self._hi[i]
            clipped = np.count_nonzero((x < lo) | (x > hi))
            if clipped:
                self._n_clipped += clipped
                x = np.clip(x, lo, hi)
            d = np.rint((x - lo) * ((self._dmax - self._dmin) / (hi - lo)) + self._dmin)
            rec[:, col:col + s] = np.clip(d, self._dmin, self._dmax).reshape(k, s)
            col += s
        tal_area = np.zeros((k, self._ann_bytes), dtype=np.uint8)
        for r in range(k):
            idx = self._n_records + r
            tal = _fmt_seconds(idx * self._record_s).encode() + b"\x14\x14\x00"
            room = self._ann_bytes - len(tal)
            while self._anns and len(_tal(*self._anns[0])) <= room:
                t = _tal(*self._anns.pop(0))
                tal += t
                room -= len(t)
            tal_area[r, :len(tal)] = np.frombuffer(tal, dtype=np.uint8)
        rec[:, col:] = tal_area.view("<i2")
        self._fh.write(rec.tobytes())
        self._n_records += k

    def close(self) -> None:
        """Pad the last record, finalise the header and move the file into place."""
        if self._closed:
            return
        try:
            written = [self._n_records * s + b for b, s in zip(self._buffered, self._spr)]
            seconds = [w / s * self._record_s for w, s in zip(written, self._spr)]
            if max(seconds) - min(seconds) > self._record_s:
                i, j = int(np.argmin(seconds)), int(np.argmax(seconds))
                raise ValueError(f"{self.path}: signal {self._labels[i]!r} got {seconds[i]:g} s of samples "
                                 f"but {self._labels[j]!r} got {seconds[j]:g} s")
            if any(self._buffered):
                durations = [b / s for b, s in zip(self._buffered, self._spr)]
                pad = [(math.ceil(max(durations)) * s - b) for b, s in zip(self._buffered, self._spr)]
                log.debug("%s: zero-padding the last data record (%s samples)", self.path, pad)
                for i, p in enumerate(pad):
                    if p:
                        self._buffers[i].append(np.zeros(p))
                        self._buffered[i] += p
                self._flush(math.ceil(max(durations)))
            if self._n_records == 0:
                raise ValueError(f"{self.path}: no samples written")
            if self._anns:
                raise ValueError(f"{self.path}: {len(self._anns)} annotations did not fit in "
                                 f"{self._n_records} data records")
            if self._n_clipped:
                log.warning("%s: %d samples outside the physical range were clipped", self.path, self._n_clipped)
            self._fh.seek(236)
            self._fh.write(_fmt_field(str(self._n_records), 8, "number of records"))
            self._fh.flush()
            os.fsync(self._fh.fileno())
        except BaseException:
            self.abort()
            raise
        self._closed = True
        self._stack.close()

    def abort(self) -> None:
        """Discard the partial file."""
        if self._closed:
            return
        self._closed = True
        self._stack.__exit__(_Abort, _Abort(), None)


class _Abort(Exception):
    """Internal: unwinds the atomic-path context without renaming the file."""


def write_edf(
    path: str | Path,
    signals: np.ndarray | Sequence[np.ndarray],
    labels: Sequence[str],
    fs_hz: float | Sequence[float],
    *,
    physical_dim: str | Sequence[str] = "uV",
    start_time: dt.datetime | None = None,
    patient: str = "X X X X",
    recording: str | None = None,
    annotations: Iterable[Any] | None = None,
    digital_range: tuple[int, int] = (-32768, 32767),
    physical_range: tuple[float, float] | Sequence[tuple[float, float]] | None = None,
    record_duration_s: float = 1.0,
) -> Path:
    """Write an EDF+C file atomically (thin wrapper over :class:`EdfWriter`).

    ``signals``: 2-D array or one 1-D array per signal, all the same duration;
    ``fs_hz`` one rate or one per signal. ``physical_range`` defaults to each signal's
    symmetric range plus 1 % headroom. ``annotations``: :class:`~seizure.events.Event`
    objects or ``(onset_s, duration_s | None, text)`` tuples. Returns ``path``.
    """
    rows = [np.asarray(s) for s in signals]  # no float64 copy of the whole recording
    n = len(rows)
    if n != len(labels):
        raise ValueError(f"signals ({n}) and labels ({len(labels)}) must have the same length")
    rates = [float(f) for f in _per_signal(fs_hz, n, "fs_hz")]
    for i, (x, f) in enumerate(zip(rows, rates)):
        if x.ndim != 1 or not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
            raise ValueError(f"signal {i} must be a 1-D numeric array; got {x.dtype} {x.shape}")
        if abs(x.size / f - rows[0].size / rates[0]) > 1.0 / min(rates):
            raise ValueError(f"signal {i} ({labels[i]!r}) lasts {x.size / f:g} s but signal 0 lasts "
                             f"{rows[0].size / rates[0]:g} s")
    if physical_range is None:
        ranges = []
        for x in rows:
            m = float(max(x.max(), -x.min())) if x.size else 0.0
            m = m if math.isfinite(m) else 0.0  # NaN/Inf are refused by EdfWriter.write
            m = -float(_fmt_number(-(m * 1.01 if m > 0 else 1.0), -1))  # exact in 8 chars either sign
            ranges.append((-m, m))
    else:
        ranges = physical_range
    with EdfWriter(path, labels, rates, physical_ranges=ranges, physical_dim=physical_dim,
                   start_time=start_time, patient=patient, recording=recording,
                   record_duration_s=record_duration_s, digital_range=digital_range,
                   annotations=annotations) as writer:
        block_s = max(1, int(60 / record_duration_s)) * record_duration_s
        total_s = max(x.size / f for x, f in zip(rows, rates))
        t = 0.0
        while t < total_s:
            writer.write([x[int(round(t * f)):int(round((t + block_s) * f))] for x, f in zip(rows, rates)])
            t += block_s
    return Path(path)
