"""Fuzzing with hypothesis: mutated EDF headers and annotation files either parse or raise a
:class:`~seizure.errors.SeizureError` subclass, never anything else; what parses is usable
(finite samples, well-formed events).

The normal suite runs a few hundred examples (deterministic: ``derandomize=True``); the
``slow`` tests run thousands with the same properties.
"""

import logging
import math
import string
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bad_inputs import run_cli
from edf_factory import TCP_REF_LABELS, edf_bytes, patch
from seizure.errors import SeizureError
from seizure.events import Event
from seizure.inspect import inspect_edf
from seizure.io.annotations import (binary_events, read_annotations, second_labels, write_csv, write_csv_bi,
                                    write_szcore_tsv, write_tse, write_tse_bi)
from seizure.io.edf import EdfReader
from seizure.preprocess.pipeline import process_edf
from seizure.preprocess.recipe import Recipe

FAST = settings(max_examples=200, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(FAST, max_examples=3000)

# A small valid EDF+C: 21 TCP electrodes at 64 Hz, 4 one-second records (the pipeline runs on it).
BASE_EDF = edf_bytes(TCP_REF_LABELS, 64, 4)
N_SIGNALS = len(TCP_REF_LABELS) + 1
HEADER_BYTES = 256 * (N_SIGNALS + 1)
FIXED_FIELDS = ("version", "patient", "recording", "start_date", "start_time", "header_bytes", "reserved",
                "n_records", "record_duration", "n_signals")
SIGNAL_FIELDS = ("label", "transducer", "physical_dim", "physical_min", "physical_max", "digital_min",
                 "digital_max", "prefilter", "samples_per_record", "signal_reserved")
WIDTH = {"version": 8, "patient": 80, "recording": 80, "start_date": 8, "start_time": 8, "header_bytes": 8,
         "reserved": 44, "n_records": 8, "record_duration": 8, "n_signals": 4, "label": 16, "transducer": 80,
         "physical_dim": 8, "physical_min": 8, "physical_max": 8, "digital_min": 8, "digital_max": 8,
         "prefilter": 80, "samples_per_record": 8, "signal_reserved": 32}
NUMBER_LIKE = ["0", "-0", "1", "-1", "2", "7", "64", "0.5", "1e308", "-1e308", "1e39", "3e38", "-3e38", "1e-300",
               "nan", "inf", "-inf", "1_0", "0x40", " ", "", "99999999", "-9999999", "32767", "-32768", "65535",
               "1e5", "EDF+D", "EDF+C", "01:01:85", "31.02.13", "25.61.99", "uV", "mV", "V", "nV"]


@pytest.fixture(scope="module")
def workdir():
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


@pytest.fixture(autouse=True, scope="module")
def quiet_logs():
    logging.disable(logging.CRITICAL)  # the reader warns about odd start dates thousands of times
    yield
    logging.disable(logging.NOTSET)


# --------------------------------------------------------------------------- EDF mutations


@st.composite
def field_replacements(draw):
    """One header field (fixed or of one signal) replaced by number-like or random ASCII text."""
    name = draw(st.sampled_from(FIXED_FIELDS + SIGNAL_FIELDS))
    text = draw(st.one_of(st.sampled_from(NUMBER_LIKE),
                          st.text(alphabet=string.printable, max_size=WIDTH[name])))
    signal = draw(st.integers(0, N_SIGNALS - 1)) if name in SIGNAL_FIELDS else None
    return name, text, signal


def replace_fields(data: bytes, replacements) -> bytes:
    for name, text, signal in sorted(replacements, key=lambda r: r[0] == "n_signals"):  # the count last
        data = patch(data, name, text, signal)
    return data


@st.composite
def mutated_edf(draw):
    """Field replacements, byte flips in the header, and/or a truncation of a valid file."""
    data = BASE_EDF
    if draw(st.booleans()):
        data = replace_fields(data, draw(st.lists(field_replacements(), min_size=1, max_size=3)))
    flips = draw(st.lists(st.tuples(st.integers(0, HEADER_BYTES - 1), st.integers(0, 255)), max_size=4))
    buf = bytearray(data)
    for pos, value in flips:
        if pos < len(buf):
            buf[pos] = value
    if draw(st.booleans()):
        buf = buf[:draw(st.integers(0, len(buf)))]
    return bytes(buf)


def read_or_refuse(path: Path) -> bool:
    """Read a file as every room does; True when it was accepted. Only SeizureError may escape."""
    try:
        with EdfReader(path) as reader:
            x = reader.read()
            assert x.dtype == np.float32 and x.shape == (len(reader.eeg_indices), reader.n_samples())
            assert np.isfinite(x).all(), "an accepted file must read as finite microvolts"
            assert reader.fs_hz > 0 and reader.duration_s > 0
        report = inspect_edf(path)
        assert report["duration_s"] > 0
    except SeizureError as exc:
        assert "\n" not in str(exc) and exc.reason
        return False
    return True


def check_edf(data: bytes, path: Path) -> None:
    path.write_bytes(data)
    read_or_refuse(path)


@FAST
@given(data=mutated_edf())
def test_mutated_edf_is_read_or_refused(workdir, data):
    check_edf(data, workdir / "fuzz.edf")


@FAST
@given(replacements=st.lists(field_replacements(), min_size=1, max_size=2))
def test_mutated_edf_headers_through_the_pipeline(workdir, replacements):
    """What the reader accepts, the pipeline processes to finite features or refuses clearly."""
    path = workdir / "pipe.edf"
    path.write_bytes(replace_fields(BASE_EDF, replacements))
    if not read_or_refuse(path):
        return
    try:
        out = process_edf(path, Recipe(feature="raw", lowpass_hz=30.0))
    except SeizureError as exc:
        assert "\n" not in str(exc)
        return
    assert np.isfinite(out.features).all()


@FAST
@given(data=mutated_edf())
def test_mutated_edf_through_the_inspect_command(workdir, data):
    path = workdir / "cli.edf"
    path.write_bytes(data)
    code, out, err = run_cli(["inspect", "--json", str(path)])
    assert code in (0, 1) and "Traceback" not in err
    if code:
        assert out == "" and err.startswith(f"error: {path}: ") and err.count("\n") == 1


@pytest.mark.slow
@SLOW
@given(data=mutated_edf())
def test_mutated_edf_is_read_or_refused_many(workdir, data):
    check_edf(data, workdir / "fuzz_slow.edf")


# --------------------------------------------------------------------------- annotation mutations

EVENTS = [Event(10.0, 40.5, "fnsz", channel="FP1-F7"), Event(100.0, 130.0, "cpsz"), Event(200.0, 201.0, "gnsz")]
DURATION_S = 300.0
LBL = ("version = lbl_v1.0.0\n\nmontage = 0, FP1-F7: EEG FP1-REF -- EEG F7-REF\n"
       "montage = 1, F7-T3: EEG F7-REF -- EEG T3-REF\n\nnumber_of_levels = 1\nlevel[0] = 1\n\n"
       "symbols[0] = {0: '(null)', 1: 'spsw', 2: 'seiz', 3: 'bckg'}\n\n"
       "label = {0, 0, 0.0000, 10.0000, 0, [0.0, 0.0, 0.0, 1.0]}\n"
       "label = {0, 0, 10.0000, 20.0000, 1, [0.0, 0.0, 1.0, 0.0]}\n"
       "label = {0, 0, 20.0000, 300.0000, all, [0.0, 0.0, 0.0, 1.0]}\n")


def _valid_files() -> dict[str, bytes]:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        write_csv(d / "r.csv", EVENTS, DURATION_S)
        write_csv_bi(d / "r.csv_bi", EVENTS, DURATION_S)
        write_tse(d / "r.tse", EVENTS, DURATION_S)
        write_tse_bi(d / "r.tse_bi", EVENTS, DURATION_S)
        write_szcore_tsv(d / "r_events.tsv", EVENTS, DURATION_S, date_time="2013-01-01 10:20:30")
        (d / "r.lbl").write_text(LBL)
        return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


VALID = _valid_files()
NOISE = st.text(alphabet=string.printable + "\u00e9\u00b5", max_size=12)


@st.composite
def mutated_annotation(draw):
    name = draw(st.sampled_from(sorted(VALID)))
    lines = VALID[name].decode().split("\n")
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["drop", "swap_lines", "swap_fields", "insert", "replace_field", "duplicate"]))
        i = draw(st.integers(0, len(lines) - 1)) if lines else 0
        if not lines:
            lines = [draw(NOISE)]
        elif op == "drop":
            del lines[i]
        elif op == "swap_lines":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        else:
            sep = "\t" if "\t" in lines[i] else "," if "," in lines[i] else " "
            fields = lines[i].split(sep)
            k = draw(st.integers(0, len(fields) - 1))
            if op == "swap_fields":
                m = draw(st.integers(0, len(fields) - 1))
                fields[k], fields[m] = fields[m], fields[k]
            elif op == "insert":
                fields[k] = fields[k][:1] + draw(NOISE) + fields[k][1:]
            else:
                fields[k] = draw(st.one_of(st.sampled_from(NUMBER_LIKE + ["seiz", "bckg", "sz", "TERM", "n/a"]),
                                           NOISE))
            lines[i] = sep.join(fields)
    data = "\n".join(lines).encode("utf-8")
    if draw(st.booleans()):
        data = data.replace(b"\n", b"\r\n")
    if draw(st.integers(0, 9)) == 0:
        data = data[:draw(st.integers(0, len(data)))]
    if draw(st.integers(0, 9)) == 0:
        pos = draw(st.integers(0, len(data)))
        data = data[:pos] + bytes([draw(st.integers(128, 255))]) + data[pos:]
    return name, data


def check_annotation(workdir: Path, name: str, data: bytes, duration_s: float | None) -> None:
    path = workdir / name
    path.write_bytes(data)
    try:
        ann = read_annotations(path, duration_s=duration_s)
    except SeizureError as exc:
        assert "\n" not in str(exc) and exc.reason
        return
    for ev in ann.events:
        assert math.isfinite(ev.start_s) and math.isfinite(ev.stop_s) and 0 <= ev.start_s <= ev.stop_s
    merged = binary_events(ann.events)
    assert all(a.stop_s < b.start_s for a, b in zip(merged, merged[1:]))
    if ann.duration_s is not None:
        assert ann.duration_s > 0
        labels = second_labels(ann.events, min(ann.duration_s, 10 * DURATION_S))
        assert labels.dtype == np.uint8


@FAST
@given(case=mutated_annotation(), duration_s=st.sampled_from([None, DURATION_S, 100.0]))
def test_mutated_annotation_is_read_or_refused(workdir, case, duration_s):
    check_annotation(workdir, *case, duration_s)


@pytest.mark.slow
@SLOW
@given(case=mutated_annotation(), duration_s=st.sampled_from([None, DURATION_S, 100.0]))
def test_mutated_annotation_is_read_or_refused_many(workdir, case, duration_s):
    check_annotation(workdir, *case, duration_s)


@FAST
@given(text=st.text(max_size=400), suffix=st.sampled_from(["r.csv", "r.csv_bi", "r.tse", "r.lbl", "r_events.tsv"]))
def test_random_text_as_an_annotation_file(workdir, text, suffix):
    check_annotation(workdir, suffix, text.encode("utf-8"), None)


@FAST
@given(raw=st.binary(max_size=600), keep_header=st.booleans())
def test_random_bytes_as_an_edf(workdir, raw, keep_header):
    """Random bytes, alone or as the data records after a valid header."""
    check_edf(BASE_EDF[:HEADER_BYTES] + raw if keep_header else raw, workdir / "random.edf")
