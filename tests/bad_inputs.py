"""The catalogue of bad inputs: one generator per bad EDF or annotation file, with what each
command must do with it.

Every case is generated here (no committed binaries) as a recording: an EDF file and,
where it matters, an annotation sidecar, written under any stem into any folder::

    from bad_inputs import CASES, write_case
    edf = write_case(CASES["edf/truncated_mid_record"], folder, "aaaaaaaa_s001_t000")

``Outcome(code, pattern)`` is the expected exit code of one command and a regex that its
output must contain: for ``inspect`` and ``score`` the output (stdout + stderr), for
``preprocess`` the recording's ``error`` in the store (``""`` for a recording that is
processed). Annotation cases also say what ``score --plot`` (the only part of ``score`` that
reads a sidecar, to draw the reference) does. ``tests/test_robustness_catalogue.py`` runs
every case through every command; ``python tests/bad_inputs.py`` prints the Markdown table
of ``docs/robustness.md`` from a real run (the actual one-line messages and exit codes).
The module also holds the helpers the robustness tests share: :func:`run_cli` (a command
in-process), :func:`tiny_checkpoint` and :func:`tiny_store` (a model and a store in seconds).
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from edf_factory import BROKEN, TCP_REF_LABELS, broken_bytes, edf_bytes, patch  # noqa: E402

SECONDS = 20  # every generated recording lasts 20 s
FS_HZ = 256
SEIZURE = (3.0, 7.5)


@dataclass(frozen=True)
class Outcome:
    """Exit code of one command and a regex its message must match."""

    code: int
    pattern: str


@dataclass(frozen=True)
class BadInput:
    """One bad input: the files of a recording (suffix -> bytes) and each command's outcome."""

    name: str
    what: str  # one line for the docs table
    files: Callable[[str], dict[str, bytes]]  # stem -> {".edf": ..., ".csv_bi": ...}
    expect: dict[str, Outcome] = field(default_factory=dict)
    symlink: bool = False  # the EDF is a dangling symbolic link (files() gives none)


# --------------------------------------------------------------------------- EDF files


def good_edf(labels=TCP_REF_LABELS, spr=FS_HZ, **kw) -> bytes:
    """A valid 20 s EDF+C with the 21 TCP electrodes (white noise over the 16-bit range)."""
    n_records = kw.pop("n_records", SECONDS)
    return edf_bytes(labels, spr, n_records, **kw)


def good_csv_bi(stem: str, duration_s: float = SECONDS) -> bytes:
    return ann_text("csv_bi", stem, [("TERM", 0.0, SEIZURE[0], "bckg"), ("TERM", *SEIZURE, "seiz"),
                                     ("TERM", SEIZURE[1], duration_s, "bckg")], duration_s)


def _with_ann(edf: bytes | Callable[[], bytes]) -> Callable[[str], dict[str, bytes]]:
    def files(stem: str) -> dict[str, bytes]:
        return {".edf": edf() if callable(edf) else edf, ".csv_bi": good_csv_bi(stem)}
    return files


def _edf_error(pattern: str) -> dict[str, Outcome]:
    """An EDF the reader refuses: every command names the file and the problem, exit 1."""
    return {
        "inspect": Outcome(1, r"error: \S+\.edf: .*" + pattern),
        "preprocess": Outcome(1, "EDFError: .*" + pattern),
        "score": Outcome(1, r"\S+\.edf: .*" + pattern),
    }


def _ok(inspect: str, score: str = "") -> dict[str, Outcome]:
    """A file every command accepts (inspect shows ``inspect``; score prints ``score``)."""
    return {"inspect": Outcome(0, inspect), "preprocess": Outcome(0, ""), "score": Outcome(0, score)}


def _mixed_rate_edf() -> bytes:
    """T3 recorded at half the rate of the other electrodes."""
    spr = [FS_HZ // 2 if lab == "EEG T3-REF" else FS_HZ for lab in TCP_REF_LABELS]
    return edf_bytes(TCP_REF_LABELS, spr, SECONDS)


def _duplicate_labels_edf() -> bytes:
    return edf_bytes([*TCP_REF_LABELS, "EEG FP1-REF"], FS_HZ, SECONDS)


def _non_ascii_label_edf() -> bytes:
    data = edf_bytes([*TCP_REF_LABELS, "EEG XY-REF"], FS_HZ, SECONDS)
    pos = data.index(b"EEG XY-REF")
    return data[:pos] + b"EEG \xe9\xff-REF" + data[pos + 10:]


def _physical(value: str, signal: int = 3, which: str = "physical_max") -> Callable[[], bytes]:
    return lambda: patch(good_edf(), which, value, signal)


_BROKEN_WHAT = {
    "empty": "empty file (0 bytes)",
    "not_edf": "not an EDF at all (plain text)",
    "short": "shorter than the 256-byte fixed header",
    "bdf": "BDF (24-bit) file",
    "truncated_header": "file ends inside the signal headers",
    "truncated_mid_record": "file ends mid data record",
    "record_count_larger": "header record count larger than the data",
    "record_count_smaller": "header record count smaller than the data",
    "record_count_zero": "header record count 0",
    "header_length": "wrong header length field",
    "signal_count": "wrong signal count field",
    "non_numeric_field": "non-numeric physical minimum",
    "non_numeric_records": "non-numeric record count",
    "non_numeric_duration": "non-numeric record duration",
    "physical_min_eq_max": "physical minimum == maximum",
    "digital_min_eq_max": "digital minimum == maximum",
    "zero_samples_per_record": "a signal with 0 samples per record",
    "zero_record_duration": "record duration 0",
    "no_eeg": "no signals but EDF Annotations",
    "only_1hz": "only 1 Hz channels (IBI, BURSTS, SUPPR)",
    "edf_d_gap": "EDF+D with a gap between records",
}


def _edf_cases() -> list[BadInput]:
    cases = [BadInput(f"edf/{kind}", _BROKEN_WHAT[kind], _with_ann(broken_bytes(kind)), _edf_error(msg))
             for kind, msg in sorted(BROKEN.items())]
    contiguous = np.arange(SECONDS, dtype=float).tolist()
    few = TCP_REF_LABELS[:4]
    cases += [
        BadInput("edf/missing_file", "dangling symbolic link instead of a file", lambda stem: {},
                 {**_edf_error(r"cannot open: No such file or directory"),  # score: a missing input is a usage error
                  "score": Outcome(2, r"seizure score: error: \S+\.edf: no such file or folder")}, symlink=True),
        BadInput("edf/digital_range_beyond_16_bits", "digital maximum 99999 (beyond 16 bits)",
                 _with_ann(lambda: patch(good_edf(), "digital_max", 99999, 5)),
                 _edf_error(r"signal 5 \('EEG C4-REF'\) has digital range \[-32768, 99999\] outside 16 bits")),
        BadInput("edf/negative_samples_per_record", "a signal with -256 samples per record",
                 _with_ann(lambda: patch(good_edf(), "samples_per_record", -256, 2)),
                 _edf_error(r"signal 2 \('EEG F3-REF'\) has -256 samples per record; it must be positive")),
        BadInput("edf/physical_range_overflows_float32", "physical maximum 1e39 uV (values would be Inf)",
                 _with_ann(_physical("1e39")),
                 _edf_error(r"signal 3 \('EEG F4-REF'\) has physical range \[-3276.8, 1e\+39\] uV whose values "
                            r"overflow float32")),
        BadInput("edf/physical_range_huge", "physical maximum 3e38 uV (finite, but filtering overflows)",
                 _with_ann(_physical("3e38")),
                 {"inspect": Outcome(0, r"EEG F4-REF"),
                  "preprocess": Outcome(1, r"SignalQualityError: NaN/Inf after filtering at 256 Hz in channel\(s\) "
                                           r"FP2-F4, F4-C4; refusing to use this signal"),
                  "score": Outcome(1, r"NaN/Inf after filtering at 256 Hz in channel\(s\) FP2-F4, F4-C4")}),
        BadInput("edf/no_eeg_electrodes", "only EKG/EMG/PHOTIC signals (no scalp electrode)",
                 _with_ann(lambda: good_edf(["EEG EKG1-REF", "EMG-REF", "PHOTIC-REF"])),
                 {"inspect": Outcome(0, r"tcp\s+cannot be formed: .*needs at least 16"),
                  "preprocess": Outcome(1, r"MontageError: montage 'tcp' needs at least 16 of its 22 channels but only 0 can be formed"),
                  "score": Outcome(1, r"montage 'tcp' needs at least 16")}),
        BadInput("edf/too_few_electrodes", "4 scalp electrodes (TCP needs 16 of 22 pairs)",
                 _with_ann(lambda: good_edf(few)),
                 {"inspect": Outcome(0, r"tcp\s+cannot be formed: .*needs at least 16"),
                  "preprocess": Outcome(1, r"MontageError: montage 'tcp' needs at least 16 of its 22 channels but only 2 can be formed"),
                  "score": Outcome(1, r"montage 'tcp' needs at least 16")}),
        BadInput("edf/edf_d_contiguous", "EDF+D whose records are in fact contiguous (read as continuous)",
                 _with_ann(lambda: good_edf(reserved="EDF+D", record_onsets=contiguous)),
                 _ok(inspect=r"format\s+EDF\+D")),
        BadInput("edf/one_electrode_at_another_rate", "T3 at 128 Hz, the rest at 256 Hz (T3 pairs masked)",
                 _with_ann(_mixed_rate_edf),
                 _ok(inspect=r"EEG T3-REF\s+rate 128 Hz differs from the EEG rate 256 Hz",
                     score=r"F7-T3, T3-T5, A1-T3, T3-C3")),
        BadInput("edf/duplicate_labels", "EEG FP1-REF twice (first kept)", _with_ann(_duplicate_labels_edf),
                 _ok(inspect=r"EEG FP1-REF\s+duplicate of signal 0 \('EEG FP1-REF'\); first kept")),
        BadInput("edf/non_ascii_label", "a label with Latin-1 bytes (kept as an unknown channel)",
                 _with_ann(_non_ascii_label_edf), _ok(inspect="EEG \u00e9\u00ff-REF")),
        BadInput("edf/unreadable_start_date", "TUH start date '01:01:85' (start time unknown, warning)",
                 _with_ann(lambda: good_edf(start_date="01:01:85")), _ok(inspect=r"start\s+unknown")),
        BadInput("edf/absurd_record_duration", "record duration 1e-300 s (a sampling rate of 2.56e+302 Hz)",
                 _with_ann(lambda: patch(good_edf(), "record_duration", "1e-300")),
                 _edf_error(r"data record duration 1e-300 s gives signal 0 \('EEG FP1-REF'\) \(256 samples per "
                            r"record\) a sampling rate of 2.56e\+302 Hz; expected at most 1e\+06 Hz \(a record "
                            r"duration of at least 0.000256 s\)$")),
        BadInput("edf/record_count_unknown", "header record count -1 (derived from the file size)",
                 _with_ann(lambda: good_edf(header_n_records="-1")), _ok(inspect=r"20 records x 1 s = 20 s")),
    ]
    return cases


# --------------------------------------------------------------------------- annotation files

ANN_SUFFIX = {"csv_bi": ".csv_bi", "csv": ".csv", "tse": ".tse", "tsv": "_events.tsv"}
Row = tuple[str, float, float, str]  # channel, start, stop, label


def ann_text(fmt: str, stem: str, rows: list[Row], duration_s: float = SECONDS, *, drop: str = "",
             line_end: str = "\n") -> bytes:
    """An annotation file of format ``fmt`` holding ``rows``; ``drop`` removes the header line
    (``version``, ``duration``, ``columns``) or the last field of each row (``field``)."""
    lines: list[str] = []
    if fmt in ("csv", "csv_bi"):
        if drop != "version":
            lines.append("# version = csv_v1.0.0")
        lines.append(f"# bname = {stem}")
        if drop != "duration":
            lines.append(f"# duration = {duration_s:.2f} secs")
        lines += ["# montage_file = $NEDC_NFC/lib/nedc_eas_default_montage.txt", "#"]
        if drop != "columns":
            lines.append("channel,start_time,stop_time,label,confidence")
        for ch, a, b, lab in rows:
            fields = [ch, f"{a:.4f}", f"{b:.4f}", lab, "1.0000"]
            lines.append(",".join(fields[:-1] if drop == "field" else fields))
    elif fmt == "tse":
        if drop != "version":
            lines += ["version = tse_v1.0.0", ""]
        for _, a, b, lab in rows:
            fields = [f"{a:.4f}", f"{b:.4f}", lab, "1.0000"]
            lines.append(" ".join(fields[:-1] if drop == "field" else fields))
    elif fmt == "tsv":
        if drop != "columns":
            lines.append("onset\tduration\teventType\tconfidence\tchannels\tdateTime\trecordingDuration")
        labels = {"seiz": "sz", "bckg": "bckg"}
        for _, a, b, lab in rows:
            fields = [f"{a:.2f}", f"{b - a:.2f}", labels.get(lab, lab), "n/a", "n/a", "2013-01-01 10:20:30",
                      f"{duration_s:.2f}"]
            lines.append("\t".join(fields[:-1] if drop == "field" else fields))
    else:
        raise ValueError(fmt)
    return (line_end.join(lines) + line_end).encode("utf-8")


def _rows(fmt: str, seizures: list[tuple[float, float, str]]) -> list[Row]:
    """Rows on TERM (``csv``: on one TCP channel)."""
    ch = "FP1-F7" if fmt == "csv" else "TERM"
    return [(ch, a, b, lab) for a, b, lab in seizures]


def _ann_case(name: str, what: str, fmt: str, make: Callable[[str], bytes], inspect: Outcome,
              preprocess: Outcome) -> BadInput:
    def files(stem: str) -> dict[str, bytes]:
        return {".edf": good_edf(), ANN_SUFFIX[fmt]: make(stem)}
    # `score` reads no annotation file; `score --plot` reads it as preprocess does (with the EDF's
    # duration) to draw the reference, and when it cannot, says why and scores all the same
    plot = preprocess.pattern.replace("AnnotationError: ", r"WARNING: reference events not drawn: \S+: ")
    return BadInput(f"annotation/{fmt}/{name}", what, files,
                    {"inspect": inspect, "preprocess": preprocess, "score": Outcome(0, ""),
                     "score --plot": Outcome(0, plot)})


def _ann_error(pattern: str) -> tuple[Outcome, Outcome]:
    """inspect reports the sidecar error and goes on (exit 0); preprocess fails the recording."""
    line = r"(line \d+: )?"
    return Outcome(0, r"annotations \S+: error: " + line + pattern), Outcome(1, "AnnotationError: " + line + pattern)


def _annotation_cases() -> list[BadInput]:
    cases: list[BadInput] = []
    sz = [(*SEIZURE, "seiz")]
    for fmt in ("csv_bi", "csv", "tse", "tsv"):
        line = {"csv_bi": 7, "csv": 7, "tse": 3, "tsv": 2}[fmt]
        bad_stop = r"negative duration -4.5" if fmt == "tsv" else rf"line {line}: stop time 3 precedes start time 7.5"
        add = [
            ("stop_before_start", "an event whose stop precedes its start",
             lambda s, f=fmt: ann_text(f, s, _rows(f, [(7.5, 3.0, "seiz")])), *_ann_error(bad_stop)),
            ("unknown_label", "an unknown label ('sezure')",
             lambda s, f=fmt: ann_text(f, s, _rows(f, [(3.0, 7.5, "sezure")])),
             *_ann_error(r"unknown eventType 'sezure'" if fmt == "tsv" else r"unknown label 'sezure'")),
            ("wrong_column_count", "rows missing their last column",
             lambda s, f=fmt: ann_text(f, s, _rows(f, sz), drop="field"),
             *_ann_error({"csv_bi": r"expected 5 comma-separated fields", "csv": r"expected 5 comma-separated fields",
                          "tse": r"expected 4 fields", "tsv": r"expected 7 tab-separated fields, got 6"}[fmt])),
            ("missing_header_line", "the version line (SzCORE: the column header) is missing",
             lambda s, f=fmt: ann_text(f, s, _rows(f, sz), drop="columns" if f == "tsv" else "version"),
             *_ann_error({"tse": r"missing header line 'version = tse_v1.0.0'",
                          "tsv": r"not a SzCORE events TSV: the first line must be"}.get(
                              fmt, r"missing header line '# version = csv_v1.0.0'"))),
            ("non_utf8", "Latin-1 bytes in a comment or label",
             lambda s, f=fmt: _non_utf8(ann_text(f, s, _rows(f, sz))),
             *_ann_error(r"not UTF-8 text \(byte 0xe9 at offset \d+\)")),
            ("windows_line_endings", "CRLF line endings (accepted)",
             lambda s, f=fmt: ann_text(f, s, _rows(f, sz), line_end="\r\n"),
             Outcome(0, r"annotations \S+ \(.*1 seizures, 4.5 s"), Outcome(0, "")),
            ("overlapping_events", "two overlapping seizures on one channel (a warning; merged for binary use)",
             lambda s, f=fmt: ann_text(f, s, _rows(f, [(3.0, 7.5, "seiz"), (5.0, 10.0, "seiz")])),
             Outcome(0, rf"WARNING: \S+: line {line + 1}: (seiz|sz) 5-10 s overlaps line {line} \((seiz|sz) 3-7.5 s\) "
                        r"on channel (TERM|FP1-F7); expected seizure rows that do not overlap on one channel; read "
                        r"as their union \(merged for binary use\)"), Outcome(0, "")),
            ("confidence_out_of_range", "a seizure row with confidence 1.5",
             lambda s, f=fmt: _confidence(ann_text(f, s, _rows(f, sz)), f, "1.5"),
             *_ann_error(rf"line {line}: {'probability' if fmt == 'tse' else 'confidence'} '1.5' is outside "
                         r"\[0, 1\]; expected a probability")),
            ("header_only", "the header and no rows",
             lambda s, f=fmt: ann_text(f, s, []),
             *_ann_error(r"no event rows; a recording without seizures has one bckg row over the whole recording"
                         if fmt == "tsv" else r"no annotation rows after the header; expected at least one row \(a "
                         r"recording without seizures has one bckg row over the whole recording\)")),
        ]
        past_end = ann_text(fmt, "x", _rows(fmt, [(15.0, 25.0, "seiz")]))
        past_msg = r"event 15-25 s ends past the recording's end \(20 s\)"
        if fmt == "tse":  # no duration in the file: only the EDF's duration (preprocess) can tell
            add.append(("event_past_end", "a seizure ending 5 s after the recording", lambda s, t=past_end: t,
                        Outcome(0, r"warning: 1 events end after the EDF's 20 s"),
                        Outcome(1, "AnnotationError: line 3: " + past_msg)))
        else:
            add.append(("event_past_end", "a seizure ending 5 s after the recording", lambda s, t=past_end: t,
                        *_ann_error(past_msg)))
        for name, what, make, inspect, preprocess in add:
            cases.append(_ann_case(name, what, fmt, make, inspect, preprocess))

    def csv_bi(rows: list[Row], **kw) -> Callable[[str], bytes]:
        return lambda s: ann_text("csv_bi", s, rows, **kw)

    term = [("TERM", 0.0, 3.0, "bckg"), ("TERM", 3.0, 7.5, "seiz"), ("TERM", 7.5, 20.0, "bckg")]
    cases += [
        _ann_case("empty_file", "an empty annotation file", "csv_bi", lambda s: b"",
                  *_ann_error(r"missing header line '# version = csv_v1.0.0'")),
        _ann_case("missing_column_line", "the column line is missing", "csv_bi", csv_bi(term, drop="columns"),
                  *_ann_error(r"line 6: expected the column line 'channel,start_time,stop_time,label,confidence'")),
        _ann_case("missing_duration_line", "no '# duration' line (the EDF's duration is used)", "csv_bi",
                  csv_bi(term, drop="duration"),
                  Outcome(0, r"annotations \S+: error: missing header line '# duration = N secs'"), Outcome(0, "")),
        _ann_case("duration_disagrees", "'# duration = 30.00 secs' for a 20 s recording", "csv_bi",
                  csv_bi([("TERM", 0.0, 30.0, "bckg")], duration_s=30.0),
                  Outcome(0, r"warning: annotation duration 30 s differs from the EDF's 20 s"),
                  Outcome(1, r"AnnotationError: file duration 30 s disagrees with the recording's 20 s")),
        _ann_case("negative_start", "an event starting at -1 s", "csv_bi", csv_bi([("TERM", -1.0, 3.0, "bckg")]),
                  *_ann_error(r"line 7: start time -1 is negative")),
        _ann_case("non_numeric_time", "a start time 'abc'", "csv_bi",
                  lambda s: ann_text("csv_bi", s, term).replace(b"3.0000,7.5000", b"abc,7.5000"),
                  *_ann_error(r"line 8: start_time 'abc' is not a number")),
        _ann_case("nan_time", "a stop time 'nan'", "csv_bi",
                  lambda s: ann_text("csv_bi", s, term).replace(b"3.0000,7.5000", b"3.0000,nan"),
                  *_ann_error(r"line 8: stop_time 'nan' is not a finite number")),
        _ann_case("channel_not_term", "a .csv_bi row on channel FP1-F7", "csv_bi",
                  csv_bi([("FP1-F7", 3.0, 7.5, "seiz")]),
                  *_ann_error(r"line 7: .csv_bi rows must use channel TERM, got 'FP1-F7'")),
        _ann_case("subtype_in_csv_bi", "a .csv_bi row labelled fnsz", "csv_bi", csv_bi([("TERM", 3.0, 7.5, "fnsz")]),
                  *_ann_error(r"line 7: .csv_bi labels are seiz and bckg, got 'fnsz'")),
        _ann_case("confidence_negative", "a seizure row with confidence -0.2", "csv_bi",
                  lambda s: _confidence(ann_text("csv_bi", s, term), "csv_bi", "-0.2"),
                  *_ann_error(r"line 8: confidence '-0.2' is outside \[0, 1\]; expected a probability")),
        _ann_case("byte_order_mark", "a UTF-8 byte-order mark (accepted)", "csv_bi",
                  lambda s: b"\xef\xbb\xbf" + ann_text("csv_bi", s, term),
                  Outcome(0, r"annotations \S+ \(csv_bi\): 3 events"), Outcome(0, "")),
    ]
    missing = BadInput("annotation/missing", "no annotation file beside the EDF", lambda stem: {".edf": good_edf()},
                       {"inspect": Outcome(0, r"annotations none found beside the EDF"),
                        "preprocess": Outcome(1, r"AnnotationError: no annotation file beside the EDF"),
                        "score": Outcome(0, ""), "score --plot": Outcome(0, "")})
    return [*cases, missing]


def _confidence(data: bytes, fmt: str, value: str) -> bytes:
    """The first seizure row's confidence (probability) set to ``value``."""
    old = {"tse": b"seiz 1.0000", "tsv": b"\tsz\tn/a\t"}.get(fmt, b",seiz,1.0000")
    new = {"tse": b"seiz " + value.encode(), "tsv": b"\tsz\t" + value.encode() + b"\t"}.get(
        fmt, b",seiz," + value.encode())
    assert old in data
    return data.replace(old, new, 1)


def _non_utf8(data: bytes) -> bytes:
    """Latin-1 'é' in the first label (or comment) of the file."""
    for token in (b"seiz", b"sz\t", b"# bname"):
        if token in data:
            pos = data.index(token)
            return data[:pos] + b"\xe9" + data[pos:]
    raise AssertionError("nothing to corrupt")


CASES: dict[str, BadInput] = {c.name: c for c in [*_edf_cases(), *_annotation_cases()]}
"""Every bad input by name (``edf/...``, ``annotation/<format>/...``)."""


def write_case(case: BadInput, folder: str | Path, stem: str) -> Path:
    """Write a case's files as ``folder/<stem><suffix>``; return the EDF path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    edf = folder / f"{stem}.edf"
    for suffix, data in case.files(stem).items():
        (folder / f"{stem}{suffix}").write_bytes(data)
    if case.symlink:
        edf.symlink_to(folder / f"{stem}.gone")
    return edf


def corpus_path(root: str | Path, index: int) -> tuple[Path, str]:
    """Folder and stem of recording ``index`` of a TUSZ v2 corpus (one patient per recording)."""
    patient = f"p{index:07d}"
    return Path(root) / "edf" / "train" / patient / "s001_2020" / "01_tcp_ar", f"{patient}_s001_t000"


# --------------------------------------------------------------------------- running the commands


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """``seizure.cli.main(argv)`` in-process: (exit code, stdout, stderr)."""
    import logging

    from seizure.cli import main

    out, err = io.StringIO(), io.StringIO()
    handler = logging.StreamHandler(err)  # warnings as a console run prints them
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    logging.getLogger().addHandler(handler)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:  # argparse usage errors
                code = int(exc.code or 0)
    finally:
        logging.getLogger().removeHandler(handler)
    return code, out.getvalue(), err.getvalue()


def run_inspect(case: BadInput, folder: Path) -> tuple[int, str]:
    code, out, err = run_cli(["inspect", str(write_case(case, folder, "rec"))])
    return code, out + err


def run_preprocess(case: BadInput, folder: Path) -> tuple[int, str, str]:
    """A one-recording corpus: (exit code, stdout + stderr, the recording's error in the store)."""
    from seizure.store import FeatureStore

    where, stem = corpus_path(folder / "corpus", 0)
    write_case(case, where, stem)
    code, out, err = run_cli(["-q", "preprocess", str(folder / "corpus"), str(folder / "store"),
                              "--set", "recipe.feature=raw"])
    records = FeatureStore(folder / "store").records(status=None)
    error = records[0].error if records else "(no record)"
    return code, out + err, error


def run_score(case: BadInput, folder: Path, model: Path, plot: bool = False) -> tuple[int, str]:
    edf = write_case(case, folder, "rec")
    code, out, err = run_cli(["score", str(model), str(edf), "--out", str(folder / "out"), *(["--plot"] * plot)])
    return code, out + err


# --------------------------------------------------------------------------- a tiny model and store


TINY_MODEL = ["recipe.feature=spectrogram", "model.conv2d_channels=[4]", "model.embed_dim=8", "model.hidden_size=8",
              "model.cell=gru", "train.eval_window_s=60", "train.eval_context_s=20"]


def tiny_checkpoint(path: Path) -> Path:
    """An untrained but complete checkpoint (small GRU on spectrogram features) for `score`."""
    from seizure import checkpoint
    from seizure.models import build_model
    from seizure.store import feature_info
    from seizure.postprocess import OperatingPoint
    from seizure.training.config import load_config

    cfg = load_config(None, TINY_MODEL)
    info = feature_info(cfg.recipe)
    model = build_model(cfg.model, len(info.channels), info.n_features, info.frames_per_s, seed=3)
    ckpt = checkpoint.make(model, cfg, cfg.recipe, OperatingPoint(0.5, 0.0, 0.0, 0.0), list(info.channels), {})
    return checkpoint.save(path, ckpt)


TCP_PAIRS = ("FP1-F7 F7-T3 T3-T5 T5-O1 FP2-F8 F8-T4 T4-T6 T6-O2 A1-T3 T3-C3 C3-CZ CZ-C4 C4-T4 T4-A2 "
       "FP1-F3 F3-C3 C3-P3 P3-O1 FP2-F4 F4-C4 C4-P4 P4-O2").split()
TRAIN_SETTINGS = ["recipe.feature=spectrogram", "model.conv2d_channels=[4]", "model.embed_dim=8", "model.hidden_size=8",
                  "model.cell=gru", "train.batch_size=4", "train.crop_s=40", "train.steps_per_epoch=4",
                  "train.epochs=3", "train.eval_window_s=100", "train.eval_context_s=30", "train.threads=1",
                  "train.seed=7", "postprocess.smooth_s=[0, 3]", "postprocess.min_duration_s=[0]",
                  "postprocess.merge_gap_s=[0]"]


def tiny_store(root: Path) -> Path:
    """Train (3 patients) and dev (1 patient) recordings of 2-frame-per-second features where
    seizure seconds carry a shift in two features (something to learn)."""
    from seizure.preprocess.recipe import Recipe
    from seizure.store import FeatureInfo, RecordMeta, StoreWriter

    writer = StoreWriter(root, Recipe(feature="spectrogram"), FeatureInfo(tuple(TCP_PAIRS), 5, 2))
    rng = np.random.default_rng(0)
    for split, patients in (("train", 3), ("dev", 1)):
        for p in range(patients):
            for r in range(2):
                n_s = int(rng.integers(150, 220))
                x = rng.standard_normal((2 * n_s, len(TCP_PAIRS), 5)).astype(np.float32)
                y = np.zeros(n_s, np.uint8)
                a = int(rng.integers(20, n_s - 60))
                b = a + int(rng.integers(15, 40))
                y[a:b] = 1
                x[2 * a:2 * b, :, :2] += 2.0
                rec_id = f"{split[:2]}{p:06d}_s001_t{r:03d}"
                meta = RecordMeta(rec_id=rec_id, split=split, patient=f"{split[:2]}{p:06d}", edf_path="x.edf",
                                  duration_s=float(n_s), n_seconds=n_s, n_frames=2 * n_s, channel_mask=[True] * 22,
                                  seizures=[[float(a), float(b)]])
                writer.write_ok(meta, y, x)
    return root


def train_argv(store: Path, out: Path) -> list[str]:
    """``seizure train STORE OUT`` with the tiny settings (3 epochs of 4 steps, a few seconds)."""
    return ["train", str(store), str(out), *[a for s in TRAIN_SETTINGS for a in ("--set", s)]]


# --------------------------------------------------------------------------- the docs table


def matched_line(text: str, pattern: str) -> str:
    """The output line in which ``pattern`` matches ("" for an empty pattern)."""
    if pattern:
        for line in text.splitlines():
            if re.search(pattern, line):
                return line.strip()
    return ""


def markdown_table() -> str:
    """The table of docs/robustness.md, from a real run of every case through every command."""
    import logging

    logging.disable(logging.INFO)
    rows = ["| bad input | what it is | `seizure inspect` | `seizure preprocess` | `seizure score` | "
            "`seizure score --plot` |", "|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        model = tiny_checkpoint(Path(tmp) / "model.pt")
        for n, case in enumerate(CASES.values()):
            work = Path(tmp) / str(n)
            code, text = run_inspect(case, work / "inspect")
            cells = [_cell(code, matched_line(text, case.expect["inspect"].pattern), "reported")]
            code, _, error = run_preprocess(case, work / "preprocess")
            cells.append(_cell(code, error, "processed"))
            code, text = run_score(case, work / "score", model)
            cells.append(_cell(code, matched_line(text, case.expect["score"].pattern), "scored"))
            if "score --plot" in case.expect:
                code, text = run_score(case, work / "plot", model, plot=True)
                cells.append(_cell(code, matched_line(text, case.expect["score --plot"].pattern), "scored, drawn"))
            else:
                cells.append("as `score`")
            rows.append(f"| `{case.name}` | {case.what} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _cell(code: int, message: str, quiet: str) -> str:
    if not message:
        return f"{code} ({quiet})"
    message = re.sub(r"/\S*/(rec|model)(\.edf|\.csv_bi|\.csv|\.tse|_events\.tsv|\.pt)", r"\1\2", message)
    if len(message) > 170:
        message = message[:167] + "..."
    return f"{code}: `" + message.replace("|", "\\|").replace("`", "'") + "`"


if __name__ == "__main__":
    print(markdown_table())
