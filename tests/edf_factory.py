"""Build valid and deliberately broken EDF files as bytes, independently of our writer.

Tests of any room may use it::

    from edf_factory import edf_bytes, write_broken, BROKEN
    path = write_broken(tmp_path, "truncated_mid_record")   # -> Path of a broken EDF
    for kind, message in BROKEN.items(): ...                # message: regex of the EDFError

``edf_bytes`` writes the header field by field (EDF spec widths) and int16 records, so a
test can change any field with :func:`patch` and see what the reader makes of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

TCP_REF_LABELS = tuple(
    f"EEG {e}-REF" for e in
    "FP1 FP2 F3 F4 C3 C4 P3 P4 O1 O2 F7 F8 T3 T4 T5 T6 A1 A2 FZ CZ PZ".split()
)

_FIXED = {  # name: (offset, width) in the first 256 bytes
    "version": (0, 8), "patient": (8, 80), "recording": (88, 80), "start_date": (168, 8),
    "start_time": (176, 8), "header_bytes": (184, 8), "reserved": (192, 44),
    "n_records": (236, 8), "record_duration": (244, 8), "n_signals": (252, 4),
}
_PER_SIGNAL = (("label", 16), ("transducer", 80), ("physical_dim", 8), ("physical_min", 8),
               ("physical_max", 8), ("digital_min", 8), ("digital_max", 8), ("prefilter", 80),
               ("samples_per_record", 8), ("signal_reserved", 32))


def _ascii(value: object, width: int) -> bytes:
    return str(value).ljust(width)[:width].encode("latin-1")


def edf_bytes(
    labels: Sequence[str] = TCP_REF_LABELS,
    samples_per_record: int | Sequence[int] = 256,
    n_records: int = 3,
    record_duration: str = "1",
    *,
    physical_dim: str | Sequence[str] = "uV",
    physical_range: tuple[str, str] = ("-3276.8", "3276.7"),
    digital_range: tuple[int, int] = (-32768, 32767),
    start_date: str = "01.01.13",
    start_time: str = "10.20.30",
    reserved: str = "EDF+C",
    recording: str = "Startdate 01-JAN-2013 X X X",
    annotations: bool = True,
    record_onsets: Sequence[float] | None = None,
    header_n_records: str | None = None,
    seed: int = 0,
) -> bytes:
    """A complete EDF(+) file: header plus ``n_records`` records of random int16 samples.

    With ``annotations`` an ``EDF Annotations`` signal carries each record's time-keeping
    TAL (onsets ``record_onsets``, default contiguous). ``header_n_records`` overrides the
    record count written in the header (the data still has ``n_records`` records).
    """
    labels = list(labels)
    n = len(labels)
    spr = [samples_per_record] * n if isinstance(samples_per_record, int) else list(samples_per_record)
    dims = [physical_dim] * n if isinstance(physical_dim, str) else list(physical_dim)
    ann_spr = 30
    if annotations:
        labels = labels + ["EDF Annotations"]
        spr = spr + [ann_spr]
        dims = dims + [""]
    ns = len(labels)
    head = b"".join([
        _ascii("0", 8), _ascii("X X X X", 80), _ascii(recording, 80), _ascii(start_date, 8),
        _ascii(start_time, 8), _ascii(256 * (ns + 1), 8), _ascii(reserved, 44),
        _ascii(n_records if header_n_records is None else header_n_records, 8),
        _ascii(record_duration, 8), _ascii(ns, 4),
        *(_ascii(v, 16) for v in labels),
        *(_ascii("AgAgCl electrode", 80) for _ in labels),
        *(_ascii(v, 8) for v in dims),
        *(_ascii(physical_range[0] if k < n else "-1", 8) for k in range(ns)),
        *(_ascii(physical_range[1] if k < n else "1", 8) for k in range(ns)),
        *(_ascii(digital_range[0] if k < n else -32768, 8) for k in range(ns)),
        *(_ascii(digital_range[1] if k < n else 32767, 8) for k in range(ns)),
        *(_ascii("HP:0.5Hz LP:70Hz", 80) for _ in labels),
        *(_ascii(v, 8) for v in spr),
        *(_ascii("", 32) for _ in labels),
    ])
    rng = np.random.default_rng(seed)
    lo, hi = digital_range
    records = []
    onsets = record_onsets if record_onsets is not None else [r * float(record_duration or 1) for r in range(n_records)]
    for r in range(n_records):
        parts = [rng.integers(lo, hi + 1, size=s, dtype=np.int64).astype("<i2").tobytes() for s in spr[:n]]
        if annotations:
            tal = f"+{onsets[r]:g}\x14\x14\x00".encode().ljust(2 * ann_spr, b"\x00")
            parts.append(tal)
        records.append(b"".join(parts))
    return head + b"".join(records)


def patch(data: bytes, name: str, value: object, signal: int | None = None) -> bytes:
    """Replace one header field (``signal`` for per-signal fields such as ``physical_min``)."""
    if name in _FIXED:
        offset, width = _FIXED[name]
    else:
        ns = int(data[252:256].decode())
        offset = 256
        for field, w in _PER_SIGNAL:
            if field == name:
                offset += w * (signal or 0)
                width = w
                break
            offset += w * ns
        else:
            raise KeyError(f"unknown EDF header field {name!r}")
    return data[:offset] + _ascii(value, width) + data[offset + width:]


def read_int16(data: bytes, labels_count: int, spr: int, n_records: int, ann_spr: int = 30) -> np.ndarray:
    """Digital samples of a file made by :func:`edf_bytes` with one rate: (n_signals, n)."""
    ns = labels_count
    header = 256 * (ns + 2)
    rec = np.frombuffer(data[header:], dtype="<i2").reshape(n_records, ns * spr + ann_spr)
    out = rec[:, : ns * spr].reshape(n_records, ns, spr).transpose(1, 0, 2).reshape(ns, -1)
    return out.astype(np.int64)


def _valid(**kw: object) -> bytes:
    return edf_bytes(TCP_REF_LABELS[:4], 64, 3, **kw)  # type: ignore[arg-type]


def _broken_cases() -> dict[str, tuple[bytes, str]]:
    ok = _valid()
    return {
        "empty": (b"", r"empty file"),
        "not_edf": (b"This is a plain text file, not a recording.\n" * 20, r"not an EDF file"),
        "short": (ok[:100], r"not an EDF file: only 100 bytes"),
        "bdf": (b"\xffBIOSEMI" + ok[8:], r"BDF \(24-bit\) files are not supported"),
        "truncated_header": (ok[:600], r"truncated header"),
        "truncated_mid_record": (ok[:-10], r"truncated: .*ends mid-record"),
        "record_count_larger": (patch(ok, "n_records", 7), r"truncated: header says 7 data records but the file holds 3"),
        "record_count_smaller": (patch(ok, "n_records", 2), r"header says 2 data records .*smaller than the data"),
        "record_count_zero": (patch(ok, "n_records", 0), r"number of data records is 0"),
        "header_length": (patch(ok, "header_bytes", 1024), r"header length 1024 does not match"),
        "signal_count": (patch(ok, "n_signals", 4), r"header length 1536 does not match 256 \* \(1 \+ 4 signals\)"),
        "non_numeric_field": (patch(ok, "physical_min", "abc", 2),
                              r"non-numeric physical minimum of signal 2 \('EEG F3-REF'\): 'abc'"),
        "non_numeric_records": (patch(ok, "n_records", "three"), r"non-numeric number of data records"),
        "non_numeric_duration": (patch(ok, "record_duration", "1s"), r"non-numeric data record duration"),
        "physical_min_eq_max": (patch(ok, "physical_max", "-3276.8", 1), r"physical minimum == maximum"),
        "digital_min_eq_max": (patch(ok, "digital_min", "32767", 0), r"digital minimum 32767 >= maximum 32767"),
        "zero_samples_per_record": (patch(ok, "samples_per_record", 0, 3), r"0 samples per record"),
        "zero_record_duration": (patch(ok, "record_duration", 0), r"data record duration is 0"),
        "no_eeg": (edf_bytes([], 64, 2), r"no EEG channels"),
        "only_1hz": (edf_bytes(["IBI", "BURSTS", "SUPPR"], 1, 2), r"only 1 Hz channels \(IBI, BURSTS, SUPPR\)"),
        "edf_d_gap": (edf_bytes(TCP_REF_LABELS[:4], 64, 3, reserved="EDF+D", record_onsets=[0, 1, 5]),
                      r"EDF\+D file with a gap: record 2 starts at 5 s"),
    }


BROKEN: dict[str, str] = {kind: msg for kind, (_, msg) in _broken_cases().items()}
"""Each broken case and a regex of the EDFError it must raise."""


def broken_bytes(kind: str) -> bytes:
    return _broken_cases()[kind][0]


def write_broken(folder: str | Path, kind: str, name: str | None = None) -> Path:
    """Write broken case ``kind`` (a key of :data:`BROKEN`) into ``folder``; return its path."""
    path = Path(folder) / (name or f"{kind}.edf")
    path.write_bytes(broken_bytes(kind))
    return path


def write_valid(folder: str | Path, name: str = "valid.edf", **kw: object) -> Path:
    """Write a small valid EDF+C (4 TCP electrodes, 64 Hz, 3 s unless overridden)."""
    path = Path(folder) / name
    path.write_bytes(edf_bytes(**{"labels": TCP_REF_LABELS[:4], "samples_per_record": 64, "n_records": 3, **kw}))
    return path
