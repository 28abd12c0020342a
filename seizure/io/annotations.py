"""Annotation files: TUSZ ``.csv``/``.csv_bi``, v1 ``.tse``/``.tse_bi``/``.lbl``/``.lbl_bi``, SzCORE TSV.

Every format is read into one :class:`Annotations` holding :class:`~seizure.events.Event`
rows (background rows included, TUH labels lower-cased); scoring and training go through
:func:`binary_events` / :func:`second_labels`.

Choices, stated once:

- Text must be UTF-8; a byte-order mark and Windows line endings are accepted. Other
  bytes are an :class:`~seizure.errors.AnnotationError` naming the file and the offset.
- Errors (one line, naming the file and, where it applies, the line number): a stop
  before its start, a negative start, an event ending more than ``END_TOLERANCE_S``
  (1 s) past the end of the recording (the ``duration_s`` given to the reader, else the
  file's own header duration), an unknown label, a missing header line, a wrong number
  of columns, a non-numeric or non-finite number, non-UTF-8 bytes.
- Not errors: overlapping or touching events (:func:`binary_events` merges those of the
  seizure class), zero-length events (kept by the readers, dropped by
  :func:`binary_events`), events ending within the tolerance past the end (scorers clip).
- Labels: TUH seizure labels (``seiz``, ``fnsz``, ... ``nesz``), ``bckg``, and the TUH
  non-seizure vocabulary (``null``, ``spsw``, ``artf``, ``eyem``, ``musc``, ...; read as
  background for binary use). SzCORE ``eventType`` is ``bckg``, ``sz`` or an ILAE key
  ``sz_*``. Anything else is an error.
- Duration: ``.csv``/``.csv_bi`` carry ``# duration = N secs`` (required unless
  ``duration_s`` is given); SzCORE rows carry ``recordingDuration``. ``.tse``/``.lbl``
  files have none: the given ``duration_s`` is used, else the end of the timeline when
  the rows tile it from 0 without gaps (as TUH v1 files do), else ``None``.
- SeizeIT's own ``*_a1.tsv`` files (``start stop type comment``, ``#`` comments) are also
  read (format ``seizeit``): ``FIA``/``FA``/``F-BTC`` map to the SzCORE keys
  ``sz_foc_ia``/``sz_foc_a``/``sz_foc_f2b``; a stop written ``None`` becomes start + 30 s
  with confidence 0.5 (the epilepsy2bids converter's convention).

Writers produce TUSZ-exact text (the ``# version = csv_v1.0.0`` block, 4 decimals, every
second of the recording covered, ``bckg`` filling the gaps) and SzCORE TSVs whose
``recordingDuration`` round-trips exactly. All writes are atomic.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from seizure.errors import AnnotationError
from seizure.events import SEIZURE_LABELS, Event
from seizure.fsutil import atomic_write
from seizure.io.channels import TCP_CHANNELS  # the channels a TUSZ ``.csv`` names

log = logging.getLogger(__name__)

END_TOLERANCE_S = 1.0
"""An event may end this far past the recording's end before it is an error."""

CSV_VERSION = "csv_v1.0.0"
TSE_VERSION = "tse_v1.0.0"
LBL_VERSION = "lbl_v1.0.0"
CSV_COLUMNS = "channel,start_time,stop_time,label,confidence"
CSV_MONTAGE_FILE = "$NEDC_NFC/lib/nedc_eas_default_montage.txt"
NEED_ROWS = frozenset({"csv", "csv_bi", "tse", "tse_bi", "lbl", "lbl_bi"})
"""Formats whose files always have rows (seizure-free: bckg over the whole recording)."""
SZCORE_COLUMNS = ("onset", "duration", "eventType", "confidence", "channels", "dateTime", "recordingDuration")

# TUH labels that are not seizures (artifacts, events, null); background for binary use.
TUH_NON_SEIZURE_LABELS = frozenset(
    {"bckg", "null", "spsw", "gped", "pled", "eybl", "artf", "intr", "slow", "eyem", "chew",
     "shiv", "musc", "elpp", "elst", "calb", "hphs", "trip", "elec", "norm", "abnm"}
)
TUH_LABELS = SEIZURE_LABELS | TUH_NON_SEIZURE_LABELS


# TUH seizure label -> SzCORE (ILAE) eventType, as the epilepsy2bids TUSZ converter maps them.
TUH_TO_SZCORE = {
    "seiz": "sz", "fnsz": "sz_foc", "gnsz": "sz_gen", "spsz": "sz_foc_a", "cpsz": "sz_foc_ia",
    "absz": "sz_gen_nm", "tnsz": "sz_gen_m_tonic", "cnsz": "sz_gen_m_clonic",
    "tcsz": "sz_gen_m_tonicClonic", "atsz": "sz_gen_m_atonic", "mysz": "sz_gen_nm_myoclonic",
    "nesz": "sz",
}
SZCORE_TO_TUH = {v: k for k, v in TUH_TO_SZCORE.items() if k != "nesz"}
SEIZEIT_TYPES = {"fia": "sz_foc_ia", "fias": "sz_foc_ia", "fa": "sz_foc_a", "fas": "sz_foc_a",
                 "f-btc": "sz_foc_f2b", "fbtc": "sz_foc_f2b"}
SEIZEIT_DEFAULT_LENGTH_S = 30.0

SUFFIX_FORMATS = {
    ".csv_bi": "csv_bi", ".csv": "csv", ".tse_bi": "tse_bi", ".tse": "tse",
    ".lbl_bi": "lbl_bi", ".lbl": "lbl", ".tsv": "tsv",
}
SIDECAR_SUFFIXES = (".csv_bi", ".csv", ".tse_bi", ".tse", ".lbl_bi", ".lbl", "_events.tsv", "_a1.tsv")

_SZCORE_TYPE = re.compile(r"^(bckg|sz|sz_[A-Za-z0-9_:]+)$")


@dataclass
class Annotations:
    """One annotation file: its events (all rows), the recording duration, and where it came from."""

    events: list[Event]
    duration_s: float | None
    format: str
    path: Path | None = None
    bname: str = ""
    date_time: str | None = None  # SzCORE ``dateTime`` (start of the recording), when present
    header: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # each also logged when the file is read

    @property
    def seizures(self) -> list[Event]:
        """Whole-head seizure events, merged (:func:`binary_events`)."""
        return binary_events(self.events)

    def to_mne(self, **kwargs):
        """The events as ``mne.Annotations`` (:func:`seizure.io.mne_raw.to_mne`)."""
        from seizure.io.mne_raw import to_mne

        return to_mne(self.events, **kwargs)


# --------------------------------------------------------------------------- reading


def read_annotations(path: str | Path, *, duration_s: float | None = None) -> Annotations:
    """Read any supported annotation file (format from the suffix; ``.tsv`` by its header).

    ``duration_s`` (e.g. from the EDF) is checked against the file's own duration and
    every event's end; see the module docstring for each rule.
    """
    path = Path(path)
    fmt = annotation_format(path)
    lines = _read_lines(path)
    if fmt in ("csv", "csv_bi"):
        ann, linenos = _parse_csv(path, lines, binary=fmt == "csv_bi")
    elif fmt in ("tse", "tse_bi"):
        ann, linenos = _parse_tse(path, lines, fmt)
    elif fmt in ("lbl", "lbl_bi"):
        ann, linenos = _parse_lbl(path, lines, fmt)
    elif _looks_like_szcore(lines):
        ann, linenos = _parse_szcore(path, lines)
    elif _looks_like_seizeit(lines):
        ann, linenos = _parse_seizeit(path, lines)
    else:
        first = next((ln for ln in lines if ln.strip()), "")
        raise AnnotationError(
            f"not a SzCORE events TSV: the first line must be the tab-separated header "
            f"{' '.join(SZCORE_COLUMNS)!r}, got {first[:80]!r}",
            path,
        )
    if not ann.events and ann.format in NEED_ROWS:
        raise AnnotationError("no annotation rows after the header; expected at least one row (a recording "
                              "without seizures has one bckg row over the whole recording)", path)
    _resolve_duration(ann, linenos, duration_s)
    ann.warnings.extend(_overlaps(ann.events, linenos))
    for text in ann.warnings:
        log.warning("%s: %s", path, text)
    return ann


def annotation_format(path: str | Path) -> str:
    """The format name for a file name (``csv_bi``, ``csv``, ``tse``, ..., ``tsv``)."""
    name = Path(path).name.lower()
    for suffix, fmt in SUFFIX_FORMATS.items():
        if name.endswith(suffix):
            return fmt
    raise AnnotationError(
        f"unknown annotation format; expected one of {', '.join(sorted(SUFFIX_FORMATS))}", path
    )


def _read_lines(path: Path) -> list[str]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise AnnotationError("annotation file not found", path) from None
    except IsADirectoryError:
        raise AnnotationError("is a directory, not an annotation file", path) from None
    except OSError as exc:
        raise AnnotationError(f"cannot read: {exc.strerror}", path) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AnnotationError(
            f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})", path
        ) from None
    return text.splitlines()


def _number(text: str, what: str, path: Path, lineno: int) -> float:
    try:
        value = float(text)
    except ValueError:
        raise AnnotationError(f"line {lineno}: {what} {text!r} is not a number", path) from None
    if not math.isfinite(value):
        raise AnnotationError(f"line {lineno}: {what} {text!r} is not a finite number", path)
    return value


def _probability(text: str, what: str, path: Path, lineno: int) -> float:
    value = _number(text, what, path, lineno)
    if not 0.0 <= value <= 1.0:
        raise AnnotationError(f"line {lineno}: {what} {text!r} is outside [0, 1]; expected a probability", path)
    return value


def _t(x: float) -> str:
    """A time for messages: up to 4 decimals, no trailing zeros."""
    return f"{x:.4f}".rstrip("0").rstrip(".")


def _interval(start: float, stop: float, path: Path, lineno: int) -> None:
    if start < 0:
        raise AnnotationError(f"line {lineno}: start time {_t(start)} is negative", path)
    if stop < start:
        raise AnnotationError(f"line {lineno}: stop time {_t(stop)} precedes start time {_t(start)}", path)


def _tuh_label(text: str, path: Path, lineno: int) -> str:
    label = text.strip().lower()
    if label not in TUH_LABELS:
        raise AnnotationError(
            f"line {lineno}: unknown label {text!r}; seizure labels are {', '.join(sorted(SEIZURE_LABELS))}"
            f" and background is bckg",
            path,
        )
    return label


def _parse_csv(path: Path, lines: list[str], *, binary: bool) -> tuple[Annotations, list[int]]:
    header: dict[str, str] = {}
    columns_seen = False
    events: list[Event] = []
    linenos: list[int] = []
    for lineno, line in enumerate(lines, 1):
        text = line.strip()
        if not text:
            continue
        if text.startswith("#"):
            key, sep, value = text[1:].partition("=")
            if sep and not columns_seen:
                header[key.strip().lower()] = value.strip()
            continue
        if not columns_seen:
            if text.replace(" ", "").lower() != CSV_COLUMNS:
                if "version" not in header:
                    raise AnnotationError(f"missing header line '# version = {CSV_VERSION}'", path)
                raise AnnotationError(
                    f"line {lineno}: expected the column line {CSV_COLUMNS!r}, got {text[:80]!r}", path
                )
            columns_seen = True
            continue
        fields = [f.strip() for f in text.split(",")]
        if len(fields) != 5:
            raise AnnotationError(
                f"line {lineno}: expected 5 comma-separated fields ({CSV_COLUMNS}), got {len(fields)}", path
            )
        channel, start_t, stop_t, label_t, conf_t = fields
        start = _number(start_t, "start_time", path, lineno)
        stop = _number(stop_t, "stop_time", path, lineno)
        conf = _probability(conf_t, "confidence", path, lineno)
        _interval(start, stop, path, lineno)
        label = _tuh_label(label_t, path, lineno)
        if not channel:
            raise AnnotationError(f"line {lineno}: empty channel name", path)
        if binary and channel.upper() != "TERM":
            raise AnnotationError(f"line {lineno}: .csv_bi rows must use channel TERM, got {channel!r}", path)
        if binary and label not in ("seiz", "bckg"):
            raise AnnotationError(f"line {lineno}: .csv_bi labels are seiz and bckg, got {label_t!r}", path)
        events.append(Event(start, stop, label, conf, "TERM" if binary else channel.upper()))
        linenos.append(lineno)
    version = header.get("version")
    if version is None:
        raise AnnotationError(f"missing header line '# version = {CSV_VERSION}'", path)
    if not version.startswith("csv_v"):
        raise AnnotationError(f"unsupported version {version!r}; expected {CSV_VERSION}", path)
    if not columns_seen:
        raise AnnotationError(f"missing the column line {CSV_COLUMNS!r}", path)
    duration = None
    if "duration" in header:
        token = header["duration"].split()[0] if header["duration"].split() else ""
        duration = _header_duration(token, path)
    ann = Annotations(
        events, duration, "csv_bi" if binary else "csv", path,
        header.get("bname") or _stem(path), header=header,
    )
    return ann, linenos


def _header_duration(token: str, path: Path) -> float:
    try:
        value = float(token)
    except ValueError:
        raise AnnotationError(f"header duration {token!r} is not a number", path) from None
    if not math.isfinite(value) or value <= 0:
        raise AnnotationError(f"header duration {token!r} must be a positive number of seconds", path)
    return value


def _version_line(path: Path, lines: list[str], expected: str) -> int:
    """Index of the first non-empty line, which must be ``version = <expected>``."""
    for idx, line in enumerate(lines):
        if line.strip():
            key, sep, value = line.strip().partition("=")
            if sep and key.strip().lower() == "version":
                if value.strip() != expected:
                    raise AnnotationError(f"line {idx + 1}: unsupported version {value.strip()!r}; expected {expected}", path)
                return idx
            break
    raise AnnotationError(f"missing header line 'version = {expected}'", path)


def _content_lines(lines: list[str], first: int) -> Iterator[tuple[int, str]]:
    """(1-based line number, stripped text) of the lines from index ``first`` on that are
    neither blank nor ``#`` comments."""
    for idx in range(first, len(lines)):
        text = lines[idx].strip()
        if text and not text.startswith("#"):
            yield idx + 1, text


def _parse_tse(path: Path, lines: list[str], fmt: str) -> tuple[Annotations, list[int]]:
    first = _version_line(path, lines, TSE_VERSION)
    events: list[Event] = []
    linenos: list[int] = []
    for lineno, text in _content_lines(lines, first + 1):
        fields = text.split()
        if len(fields) != 4:
            raise AnnotationError(f"line {lineno}: expected 4 fields (start stop label probability), got {len(fields)}", path)
        start = _number(fields[0], "start time", path, lineno)
        stop = _number(fields[1], "stop time", path, lineno)
        conf = _probability(fields[3], "probability", path, lineno)
        _interval(start, stop, path, lineno)
        label = _tuh_label(fields[2], path, lineno)
        if fmt == "tse_bi" and label not in ("seiz", "bckg"):
            raise AnnotationError(f"line {lineno}: .tse_bi labels are seiz and bckg, got {fields[2]!r}", path)
        events.append(Event(start, stop, label, conf, "TERM"))
        linenos.append(lineno)
    ann = Annotations(events, None, fmt, path, _stem(path))
    return ann, linenos


_LBL_SYMBOL = re.compile(r"(\d+)\s*:\s*'([^']*)'")


def _parse_lbl(path: Path, lines: list[str], fmt: str) -> tuple[Annotations, list[int]]:
    """NEDC label files: ``montage = i, NAME: ...``, ``symbols[L] = {i: 'lab', ...}`` and
    ``label = {level, sublevel, start, stop, channel, [p0, p1, ...]}``. Level 0, sublevel 0
    is read; each label's class is its most probable symbol, its confidence that probability;
    channel ``-1``/``all`` is the whole head (``TERM``)."""
    first = _version_line(path, lines, LBL_VERSION)
    montage: dict[int, str] = {}
    symbols: dict[int, dict[int, str]] = {}
    events: list[Event] = []
    linenos: list[int] = []
    for lineno, text in _content_lines(lines, first + 1):
        key, sep, value = text.partition("=")
        key = key.strip().lower()
        if not sep:
            raise AnnotationError(f"line {lineno}: expected 'key = value', got {text[:80]!r}", path)
        if key == "montage":
            num, _, rest = value.partition(",")
            name = rest.split(":")[0].strip()
            try:
                montage[int(num)] = name.upper()
            except ValueError:
                raise AnnotationError(f"line {lineno}: bad montage line {text[:80]!r}", path) from None
        elif key.startswith("symbols["):
            level = _lbl_index(key, path, lineno)
            pairs = _LBL_SYMBOL.findall(value)
            if not pairs:
                raise AnnotationError(f"line {lineno}: no symbols in {text[:80]!r}", path)
            symbols[level] = {int(i): s for i, s in pairs}
        elif key == "label":
            ev = _lbl_label(value, montage, symbols, path, lineno)
            if ev is not None:
                events.append(ev)
                linenos.append(lineno)
        elif key in ("number_of_levels",) or key.startswith("level["):
            continue
        else:
            raise AnnotationError(f"line {lineno}: unexpected line {text[:80]!r}", path)
    ann = Annotations(events, None, fmt, path, _stem(path))
    return ann, linenos


def _lbl_index(key: str, path: Path, lineno: int) -> int:
    try:
        return int(key[key.index("[") + 1 : key.index("]")])
    except ValueError:
        raise AnnotationError(f"line {lineno}: bad index in {key!r}", path) from None


def _lbl_label(value: str, montage: dict[int, str], symbols: dict[int, dict[int, str]], path: Path, lineno: int) -> Event | None:
    body = value.strip().strip("{}").strip()
    head, sep, probs_text = body.partition("[")
    if not sep:
        raise AnnotationError(f"line {lineno}: label has no probability vector", path)
    fields = [f.strip() for f in head.split(",") if f.strip()]
    if len(fields) != 5:
        raise AnnotationError(
            f"line {lineno}: expected 'label = {{level, sublevel, start, stop, channel, [probabilities]}}'", path
        )
    level = int(_number(fields[0], "level", path, lineno))
    sublevel = int(_number(fields[1], "sublevel", path, lineno))
    start = _number(fields[2], "start time", path, lineno)
    stop = _number(fields[3], "stop time", path, lineno)
    _interval(start, stop, path, lineno)
    if level != 0 or sublevel != 0:
        return None
    if level not in symbols:
        raise AnnotationError(f"line {lineno}: label before its 'symbols[{level}]' line", path)
    probs = [_probability(p.strip(), "probability", path, lineno)
             for p in probs_text.rstrip("]} ").split(",") if p.strip()]
    table = symbols[level]
    if len(probs) != len(table):
        raise AnnotationError(
            f"line {lineno}: {len(probs)} probabilities for {len(table)} symbols", path
        )
    best = int(np.argmax(probs))
    keys = sorted(table)
    name = table[keys[best]].strip().lower()
    label = "null" if name == "(null)" else _tuh_label(name, path, lineno)
    chan_text = fields[4]
    if chan_text.lower() in ("all", "term", "-1"):
        channel = "TERM"
    else:
        chan = int(_number(chan_text, "channel", path, lineno))
        if chan not in montage:
            raise AnnotationError(f"line {lineno}: channel {chan} is not in the file's montage block", path)
        channel = montage[chan]
    return Event(start, stop, label, probs[best], channel)


def _looks_like_szcore(lines: list[str]) -> bool:
    return bool(lines) and tuple(f.strip() for f in lines[0].split("\t")) == SZCORE_COLUMNS


def _looks_like_seizeit(lines: list[str]) -> bool:
    first = next((ln for ln in lines if ln.strip()), "")
    return first.startswith("#")


def _parse_szcore(path: Path, lines: list[str]) -> tuple[Annotations, list[int]]:
    events: list[Event] = []
    linenos: list[int] = []
    durations: set[float] = set()
    date_time: str | None = None
    for idx in range(1, len(lines)):
        lineno = idx + 1
        if not lines[idx].strip():
            continue
        fields = [f.strip() for f in lines[idx].split("\t")]
        if len(fields) != len(SZCORE_COLUMNS):
            raise AnnotationError(
                f"line {lineno}: expected {len(SZCORE_COLUMNS)} tab-separated fields, got {len(fields)}", path
            )
        onset_t, dur_t, etype, conf_t, channels, dt, rec_t = fields
        onset = _number(onset_t, "onset", path, lineno)
        length = _number(dur_t, "duration", path, lineno)
        if length < 0:
            raise AnnotationError(f"line {lineno}: negative duration {_t(length)}", path)
        _interval(onset, onset + length, path, lineno)
        if not _SZCORE_TYPE.match(etype):
            raise AnnotationError(
                f"line {lineno}: unknown eventType {etype!r}; expected bckg, sz or an ILAE key sz_*", path
            )
        conf = 1.0 if conf_t.lower() in ("n/a", "") else _probability(conf_t, "confidence", path, lineno)
        rec = _number(rec_t, "recordingDuration", path, lineno)
        if rec <= 0:
            raise AnnotationError(f"line {lineno}: recordingDuration must be positive, got {rec_t!r}", path)
        durations.add(rec)
        if date_time is None and dt.lower() != "n/a":
            date_time = dt
        channel = "TERM" if channels.lower() in ("n/a", "") else channels
        events.append(Event(onset, onset + length, etype, conf, channel))
        linenos.append(lineno)
    if not events:
        raise AnnotationError(
            "no event rows; a recording without seizures has one bckg row over the whole recording", path
        )
    if len(durations) > 1:
        raise AnnotationError(
            f"rows disagree on recordingDuration ({', '.join(f'{_t(d)}' for d in sorted(durations))})", path
        )
    ann = Annotations(events, durations.pop(), "szcore", path, recording_name(path), date_time=date_time)
    return ann, linenos


def _parse_seizeit(path: Path, lines: list[str]) -> tuple[Annotations, list[int]]:
    events: list[Event] = []
    linenos: list[int] = []
    for lineno, text in _content_lines(lines, 0):
        fields = [f.strip() for f in text.split("\t")]
        if len(fields) < 3:
            raise AnnotationError(
                f"line {lineno}: expected tab-separated start, stop, type[, comment]; got {len(fields)} fields", path
            )
        start = _number(fields[0], "start", path, lineno)
        conf = 1.0
        if fields[1].lower() in ("none", "n/a", "nan", ""):
            stop, conf = start + SEIZEIT_DEFAULT_LENGTH_S, 0.5
        else:
            stop = _number(fields[1], "stop", path, lineno)
        _interval(start, stop, path, lineno)
        kind = SEIZEIT_TYPES.get(fields[2].lower())
        if kind is None:
            raise AnnotationError(
                f"line {lineno}: unknown SeizeIT seizure type {fields[2]!r}; expected FIA, FA or F-BTC", path
            )
        events.append(Event(start, stop, kind, conf, "TERM"))
        linenos.append(lineno)
    ann = Annotations(events, None, "seizeit", path, recording_name(path))
    return ann, linenos


def _overlaps(events: Sequence[Event], linenos: Sequence[int]) -> list[str]:
    """A warning naming the first pair of seizure rows that overlap on one channel (and how
    many such pairs the file has); touching rows are not an overlap."""
    by_channel: dict[str, list[tuple[Event, int]]] = {}
    for ev, lineno in zip(events, linenos):
        if ev.is_seizure:
            by_channel.setdefault(ev.channel.upper(), []).append((ev, lineno))
    found: list[tuple[int, str]] = []
    for channel, rows in by_channel.items():
        rows.sort(key=lambda r: (r[0].start_s, r[0].stop_s))
        last_ev, last_line = rows[0]
        for ev, lineno in rows[1:]:
            if ev.start_s < last_ev.stop_s:
                first, second = sorted([(last_line, last_ev), (lineno, ev)], key=lambda r: r[0])
                found.append((second[0], f"line {second[0]}: {second[1].label} {_t(second[1].start_s)}-"
                                         f"{_t(second[1].stop_s)} s overlaps line {first[0]} ({first[1].label} "
                                         f"{_t(first[1].start_s)}-{_t(first[1].stop_s)} s) on channel {channel}"))
            if ev.stop_s > last_ev.stop_s:
                last_ev, last_line = ev, lineno
    if not found:
        return []
    found.sort()
    more = f" ({len(found)} overlapping pairs in the file)" if len(found) > 1 else ""
    return [f"{found[0][1]}{more}; expected seizure rows that do not overlap on one channel; "
            "read as their union (merged for binary use)"]


def _resolve_duration(ann: Annotations, linenos: list[int], duration_s: float | None) -> None:
    path = ann.path
    if duration_s is not None:
        if not (isinstance(duration_s, (int, float)) and math.isfinite(duration_s) and duration_s > 0):
            raise AnnotationError(f"duration_s must be a positive number of seconds, got {duration_s!r}", path)
        if ann.duration_s is not None and abs(ann.duration_s - duration_s) > END_TOLERANCE_S:
            raise AnnotationError(
                f"file duration {_t(ann.duration_s)} s disagrees with the recording's {_t(duration_s)} s", path
            )
        if ann.duration_s is None:
            ann.duration_s = float(duration_s)
    elif ann.duration_s is None:
        if ann.format in ("csv", "csv_bi"):
            raise AnnotationError("missing header line '# duration = N secs' (or pass duration_s)", path)
        ann.duration_s = _tiled_end(ann.events)
    limit = duration_s if duration_s is not None else ann.duration_s
    if limit is not None:
        for ev, lineno in zip(ann.events, linenos):
            if ev.stop_s > limit + END_TOLERANCE_S:
                raise AnnotationError(
                    f"line {lineno}: event {_t(ev.start_s)}-{_t(ev.stop_s)} s ends past the recording's end ({_t(limit)} s)",
                    path,
                )


def _tiled_end(events: Sequence[Event]) -> float | None:
    """The common end of every channel's timeline when each tiles [0, end] without gaps."""
    if not events:
        return None
    by_channel: dict[str, list[Event]] = {}
    for ev in events:
        by_channel.setdefault(ev.channel, []).append(ev)
    ends = set()
    for evs in by_channel.values():
        evs = sorted(evs, key=lambda e: (e.start_s, e.stop_s))
        if abs(evs[0].start_s) > 1e-6:
            return None
        for prev, nxt in zip(evs, evs[1:]):
            if abs(nxt.start_s - prev.stop_s) > 1e-6:
                return None
        ends.add(round(evs[-1].stop_s, 6))
    return ends.pop() if len(ends) == 1 else None


def recording_name(path: str | Path) -> str:
    """The recording an annotation file describes: its name without the format suffix, and
    without ``_events`` (SzCORE/BIDS) or ``_a1`` (SeizeIT) for ``.tsv`` files."""
    path = Path(path)
    name = _stem(path)
    if path.name.lower().endswith(".tsv"):
        for tail in ("_events", "_a1"):
            if name.endswith(tail):
                return name[: -len(tail)]
    return name


def _stem(path: Path) -> str:
    name = path.name
    for suffix in SUFFIX_FORMATS:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


# --------------------------------------------------------------------------- events


def binary_events(events: Iterable[Event]) -> list[Event]:
    """Seizure events only, as whole-head ``seiz`` events: sorted, overlapping or touching ones
    merged (confidence = the highest merged), zero-length ones dropped."""
    seiz = sorted((e.start_s, e.stop_s, e.confidence) for e in events if e.is_seizure)
    out: list[list[float]] = []
    for start, stop, conf in seiz:
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], stop)
            out[-1][2] = max(out[-1][2], conf)
        else:
            out.append([start, stop, conf])
    return [Event(s, e, "seiz", c, "TERM") for s, e, c in out if e > s]


def second_labels(events: Iterable[Event], duration_s: float) -> np.ndarray:
    """Per-second labels, ``uint8 (floor(duration_s),)``: 1 where the second's midpoint
    ``k + 0.5`` lies in a seizure (``start <= k + 0.5 < stop``)."""
    if not (math.isfinite(duration_s) and duration_s >= 0):
        raise ValueError(f"duration_s must be a non-negative number of seconds, got {duration_s!r}")
    n = int(math.floor(duration_s))
    seiz = binary_events(events)
    if not seiz or n == 0:
        return np.zeros(n, dtype=np.uint8)
    starts = np.array([e.start_s for e in seiz])
    stops = np.array([e.stop_s for e in seiz])
    lo = np.clip(np.ceil(starts - 0.5), 0, n).astype(np.int64)  # first k with k + 0.5 >= start
    hi = np.clip(np.ceil(stops - 0.5), 0, n).astype(np.int64)  # first k with k + 0.5 >= stop
    edges = np.zeros(n + 1, dtype=np.int64)
    np.add.at(edges, lo, 1)
    np.add.at(edges, hi, -1)
    return (np.cumsum(edges[:-1]) > 0).astype(np.uint8)


def find_sidecar(edf_path: str | Path) -> Path | None:
    """The annotation file beside an EDF: for a BIDS ``<name>_eeg.edf`` its ``<name>_events.tsv``,
    else by preference ``.csv_bi``, ``.csv``, ``.tse_bi``, ``.tse``, ``.lbl_bi``, ``.lbl``,
    ``<stem>_events.tsv``, SeizeIT ``<stem>_a1.tsv``."""
    edf_path = Path(edf_path)
    stem = edf_path.with_suffix("")
    if stem.name.endswith("_eeg") and stem.with_name(stem.name[:-4] + "_events.tsv").is_file():
        return stem.with_name(stem.name[:-4] + "_events.tsv")
    for suffix in SIDECAR_SUFFIXES:
        candidate = stem.with_name(stem.name + suffix)
        if candidate.is_file():
            return candidate
    return None


# --------------------------------------------------------------------------- writing


def _fmt4(x: float) -> str:
    return f"{x:.4f}"


def _fmt_duration_header(x: float) -> str:
    """TUSZ writes ``301.00``; more decimals only when two would change the value."""
    text = f"{x:.2f}"
    return text if float(text) == x else f"{x:.4f}"


def _fmt_short(x: float) -> str:
    """At least 2 and at most 4 decimals (``36.00``, ``36.8868``)."""
    text = f"{x:.4f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


def _fmt_exact(x: float) -> str:
    """Shortest text that reads back to the same float, with at least 2 decimals."""
    text = f"{x:.2f}"
    return text if float(text) == x else repr(float(x))


def _checked(events: Iterable[Event], duration_s: float, path: Path) -> list[Event]:
    """Validate events for writing; clip ends within the tolerance to the duration."""
    if not (isinstance(duration_s, (int, float)) and math.isfinite(duration_s) and duration_s > 0):
        raise AnnotationError(f"duration_s must be a positive number of seconds, got {duration_s!r}", path)
    out = []
    for ev in events:
        if not (math.isfinite(ev.start_s) and math.isfinite(ev.stop_s)):
            raise AnnotationError(f"event {ev} has a non-finite time", path)
        if ev.start_s < 0 or ev.stop_s < ev.start_s:
            raise AnnotationError(f"event {_t(ev.start_s)}-{_t(ev.stop_s)} s has a negative start or a stop before its start", path)
        if ev.stop_s > duration_s + END_TOLERANCE_S:
            raise AnnotationError(
                f"event {_t(ev.start_s)}-{_t(ev.stop_s)} s ends past the recording's end ({_t(duration_s)} s)", path
            )
        if ev.start_s >= duration_s:
            continue
        if ev.stop_s > duration_s:
            ev = Event(ev.start_s, duration_s, ev.label, ev.confidence, ev.channel)
        out.append(ev)
    return out


def _tuh_seizure_label(label: str) -> str:
    low = label.strip().lower()
    if low in SEIZURE_LABELS:
        return low
    return SZCORE_TO_TUH.get(label.strip(), "seiz")


def _merge_by_label(events: Sequence[Event], where: str, path: Path) -> list[Event]:
    """Merge overlapping same-label seizure events; different labels may not overlap."""
    by_label: dict[str, list[Event]] = {}
    for ev in events:
        by_label.setdefault(ev.label, []).append(ev)
    merged = []
    for label, evs in by_label.items():
        merged += [Event(e.start_s, e.stop_s, label, e.confidence, e.channel) for e in binary_events(evs)]
    merged.sort(key=lambda e: (e.start_s, e.stop_s))
    for prev, nxt in zip(merged, merged[1:]):
        if nxt.start_s < prev.stop_s:
            raise AnnotationError(
                f"{where}: seizures labelled {prev.label} and {nxt.label} overlap "
                f"({_t(prev.start_s)}-{_t(prev.stop_s)} s and {_t(nxt.start_s)}-{_t(nxt.stop_s)} s)",
                path,
            )
    return merged


def _tile(seiz: Sequence[Event], duration_s: float) -> list[tuple[str, str, str, str]]:
    """(start, stop, label, confidence) text rows covering [0, duration], bckg in the gaps."""
    rows = []
    cur = 0.0
    for ev in seiz:
        if ev.start_s > cur:
            rows.append((_fmt4(cur), _fmt4(ev.start_s), "bckg", _fmt4(1.0)))
        rows.append((_fmt4(ev.start_s), _fmt4(ev.stop_s), ev.label, _fmt4(ev.confidence)))
        cur = ev.stop_s
    if cur < duration_s:
        rows.append((_fmt4(cur), _fmt4(duration_s), "bckg", _fmt4(1.0)))
    return [r for r in rows if r[0] != r[1]]


def _csv_header(bname: str, duration_s: float) -> list[str]:
    return [
        f"# version = {CSV_VERSION}",
        f"# bname = {bname}",
        f"# duration = {_fmt_duration_header(duration_s)} secs",
        f"# montage_file = {CSV_MONTAGE_FILE}",
        "#",
        CSV_COLUMNS,
    ]


def _write_lines(path: Path, lines: list[str]) -> None:
    with atomic_write(path) as fh:
        fh.write("\n".join(lines) + "\n")


def _bname(path: Path, bname: str | None) -> str:
    return bname if bname else _stem(path)


def write_csv_bi(path: str | Path, events: Iterable[Event], duration_s: float, bname: str | None = None) -> None:
    """TUSZ ``.csv_bi``: whole-head ``seiz`` rows (subtypes and channels collapsed, merged)
    with ``bckg`` rows filling every gap, so the rows cover the whole recording."""
    path = Path(path)
    seiz = binary_events(_checked(events, duration_s, path))
    rows = _tile(seiz, duration_s)
    lines = _csv_header(_bname(path, bname), duration_s)
    lines += [f"TERM,{s},{e},{lab},{c}" for s, e, lab, c in rows]
    _write_lines(path, lines)


def write_csv(
    path: str | Path,
    events: Iterable[Event],
    duration_s: float,
    bname: str | None = None,
    channels: Sequence[str] | None = None,
) -> None:
    """TUSZ ``.csv``: per-channel rows keeping seizure subtypes; every channel's timeline is
    covered, ``bckg`` filling the gaps. Whole-head (``TERM``) events go on every channel;
    ``channels`` defaults to the 22 TCP channels (others named by events are appended).
    Non-seizure labels are written as background."""
    path = Path(path)
    evs = [e for e in _checked(events, duration_s, path) if e.is_seizure]
    names = [c.upper() for c in (channels if channels is not None else TCP_CHANNELS)]
    for ev in evs:
        if ev.channel.upper() != "TERM" and ev.channel.upper() not in names:
            names.append(ev.channel.upper())
    lines = _csv_header(_bname(path, bname), duration_s)
    for name in names:
        mine = [
            Event(e.start_s, e.stop_s, _tuh_seizure_label(e.label), e.confidence, name)
            for e in evs
            if e.channel.upper() in ("TERM", name)
        ]
        for s, e, lab, c in _tile(_merge_by_label(mine, f"channel {name}", path), duration_s):
            lines.append(f"{name},{s},{e},{lab},{c}")
    _write_lines(path, lines)


def _write_tse(path: Path, seiz: list[Event], duration_s: float) -> None:
    lines = [f"version = {TSE_VERSION}", ""]
    lines += [f"{s} {e} {lab} {c}" for s, e, lab, c in _tile(seiz, duration_s)]
    _write_lines(path, lines)


def write_tse(path: str | Path, events: Iterable[Event], duration_s: float) -> None:
    """TUH v1 ``.tse``: whole-head rows keeping seizure subtypes (channels collapsed per
    label), ``bckg`` filling the gaps. Seizures of different labels may not overlap."""
    path = Path(path)
    evs = [
        Event(e.start_s, e.stop_s, _tuh_seizure_label(e.label), e.confidence, "TERM")
        for e in _checked(events, duration_s, path)
        if e.is_seizure
    ]
    _write_tse(path, _merge_by_label(evs, "whole head", path), duration_s)


def write_tse_bi(path: str | Path, events: Iterable[Event], duration_s: float) -> None:
    """TUH v1 ``.tse_bi``: ``seiz``/``bckg`` rows covering the recording."""
    path = Path(path)
    _write_tse(path, binary_events(_checked(events, duration_s, path)), duration_s)


def write_szcore_tsv(
    path: str | Path,
    events: Iterable[Event],
    duration_s: float,
    date_time: datetime | str | None = None,
) -> None:
    """SzCORE/BIDS ``*_events.tsv``: one row per seizure (TUH labels mapped to ILAE keys as
    epilepsy2bids does; overlapping same-label events merged), or one ``bckg`` row over the
    whole recording when there is none. ``recordingDuration`` is written so it reads back
    exactly. ``date_time`` (the recording's start) is written ``%Y-%m-%d %H:%M:%S``; without
    it the field is ``n/a`` (pass it for files the SzCORE tools will load)."""
    path = Path(path)
    if isinstance(date_time, datetime):
        when = date_time.strftime("%Y-%m-%d %H:%M:%S")
    elif date_time is None:
        when = "n/a"
    else:
        when = str(date_time)
        if "\t" in when or "\n" in when:
            raise AnnotationError(f"date_time may not contain tabs or newlines: {when!r}", path)
    evs = _checked(events, duration_s, path)
    rec = _fmt_exact(float(duration_s))
    by_label: dict[str, list[Event]] = {}
    for ev in evs:
        if ev.is_seizure:
            label = ev.label.strip() if _SZCORE_TYPE.match(ev.label.strip()) else TUH_TO_SZCORE.get(ev.label.strip().lower(), "sz")
            by_label.setdefault(label, []).append(ev)
    rows = []
    for label, group in by_label.items():
        for merged in _merge_channels(group):
            start, stop, conf, chans = merged
            rows.append((start, stop, label, conf, chans))
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    lines = ["\t".join(SZCORE_COLUMNS)]
    for start, stop, label, conf, chans in rows:
        lines.append("\t".join((_fmt_short(start), _fmt_short(stop - start), label, _fmt_short(conf), chans, when, rec)))
    if not rows:
        lines.append("\t".join(("0.00", rec, "bckg", "n/a", "n/a", when, rec)))
    _write_lines(path, lines)


def _merge_channels(events: Sequence[Event]) -> list[tuple[float, float, float, str]]:
    """Merge overlapping events of one label; channels listed (``n/a`` for whole-head)."""
    out: list[list] = []
    for ev in sorted(events, key=lambda e: (e.start_s, e.stop_s)):
        if out and ev.start_s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], ev.stop_s)
            out[-1][2] = max(out[-1][2], ev.confidence)
            out[-1][3].append(ev.channel)
        else:
            out.append([ev.start_s, ev.stop_s, ev.confidence, [ev.channel]])
    result = []
    for start, stop, conf, chans in out:
        if stop <= start:
            continue
        if any(c.upper() == "TERM" for c in chans):
            text = "n/a"
        else:
            text = ",".join(dict.fromkeys(c for part in chans for c in part.split(",")))
        result.append((start, stop, conf, text))
    return result
