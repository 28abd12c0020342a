"""Annotation readers and writers: real files, exact text, round trips, every error."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from seizure.errors import AnnotationError
from seizure.events import Event
from seizure.io.annotations import (
    TCP_CHANNELS,
    binary_events,
    find_sidecar,
    read_annotations,
    second_labels,
    write_csv,
    write_csv_bi,
    write_szcore_tsv,
    write_tse,
    write_tse_bi,
)

CSV_BI_TEXT = """\
# version = csv_v1.0.0
# bname = aaaaaaac_s001_t000
# duration = 301.00 secs
# montage_file = $NEDC_NFC/lib/nedc_eas_default_montage.txt
#
channel,start_time,stop_time,label,confidence
TERM,0.0000,36.8868,bckg,1.0000
TERM,36.8868,183.3055,seiz,1.0000
TERM,183.3055,301.0000,bckg,1.0000
"""


def _write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    return path


def _spans(events):
    return [(e.start_s, e.stop_s, e.label) for e in events]


# ----------------------------------------------------------------------------- real files


def test_reads_every_real_tusz_csv_bi(real_headers):
    files = sorted(real_headers.rglob("*.csv_bi"))
    assert len(files) > 50
    for path in files:
        ann = read_annotations(path)
        assert ann.format == "csv_bi" and ann.duration_s > 0 and ann.bname == path.name[:-7]
    ann = read_annotations(real_headers / "tuh/dev/aaaaaool/s004_2013/01_tcp_ar/aaaaaool_s004_t002.csv_bi")
    assert ann.duration_s == 720.0
    assert _spans(ann.seizures) == [(224.0071, 258.9804, "seiz"), (408.9508, 430.9425, "seiz")]


def test_reads_real_seizeit_annotations(real_headers):
    folder = real_headers / "seizeit/P_ID64"
    ann = read_annotations(folder / "P_ID64_r4_a1.tsv", duration_s=20000.0)
    assert ann.format == "seizeit" and ann.bname == "P_ID64_r4" and ann.duration_s == 20000.0
    assert _spans(ann.events) == [
        (6319.0, 6339.0, "sz_foc_ia"), (11512.0, 11544.0, "sz_foc_ia"), (13962.0, 13992.0, "sz_foc_ia")
    ]
    assert [e.confidence for e in ann.events] == [1.0, 1.0, 0.5]  # stop 'None': start + 30 s
    assert read_annotations(folder / "P_ID64_r5_a1.tsv").events == []
    assert find_sidecar(folder / "P_ID64_r1.edf") == folder / "P_ID64_r1_a1.tsv"


# ----------------------------------------------------------------------------- writers


def test_csv_bi_text_is_tusz_exact(tmp_path):
    events = [
        Event(36.8868, 183.3055, "cpsz", 1.0, "FP1-F7"),
        Event(40.0, 50.0, "fnsz", 1.0, "F7-T3"),  # inside the first: collapsed
        Event(183.3055, 183.3055, "seiz"),  # zero length: dropped
    ]
    path = tmp_path / "aaaaaaac_s001_t000.csv_bi"
    write_csv_bi(path, events, 301.0)
    assert path.read_text() == CSV_BI_TEXT
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # atomic: no temp file left
    ann = read_annotations(path)
    assert _spans(ann.events) == [(0.0, 36.8868, "bckg"), (36.8868, 183.3055, "seiz"), (183.3055, 301.0, "bckg")]


def test_csv_bi_without_seizure_is_one_background_row(tmp_path):
    path = tmp_path / "x.csv_bi"
    write_csv_bi(path, [], 1275.0, bname="aaaaahln_s001_t000")
    lines = path.read_text().splitlines()
    assert lines[1] == "# bname = aaaaahln_s001_t000"
    assert lines[6:] == ["TERM,0.0000,1275.0000,bckg,1.0000"]


def test_csv_round_trip_per_channel(tmp_path):
    events = [
        Event(10.0, 20.5, "cpsz", 1.0, "FP1-F7"),
        Event(15.0, 30.0, "cpsz", 1.0, "FP1-F7"),  # overlaps: merged on its channel
        Event(100.25, 110.0, "gnsz", 0.75, "TERM"),  # whole head: on every channel
    ]
    path = tmp_path / "r.csv"
    write_csv(path, events, 300.0)
    ann = read_annotations(path)
    assert ann.format == "csv" and ann.duration_s == 300.0
    fp1 = [e for e in ann.events if e.channel == "FP1-F7"]
    assert _spans(fp1) == [(0.0, 10.0, "bckg"), (10.0, 30.0, "cpsz"), (30.0, 100.25, "bckg"),
                           (100.25, 110.0, "gnsz"), (110.0, 300.0, "bckg")]
    assert fp1[3].confidence == 0.75
    assert {e.channel for e in ann.events} == set(TCP_CHANNELS)
    p4 = [e for e in ann.events if e.channel == "P4-O2"]
    assert _spans(p4) == [(0.0, 100.25, "bckg"), (100.25, 110.0, "gnsz"), (110.0, 300.0, "bckg")]
    assert _spans(ann.seizures) == [(10.0, 30.0, "seiz"), (100.25, 110.0, "seiz")]
    assert path.read_text().splitlines()[6] == "FP1-F7,0.0000,10.0000,bckg,1.0000"


def test_csv_writer_rejects_overlapping_subtypes_on_one_channel(tmp_path):
    events = [Event(10, 20, "cpsz", channel="FP1-F7"), Event(15, 25, "fnsz", channel="FP1-F7")]
    with pytest.raises(AnnotationError, match="channel FP1-F7: seizures labelled cpsz and fnsz overlap"):
        write_csv(tmp_path / "r.csv", events, 100.0)


@pytest.mark.parametrize("writer,fmt", [(write_tse, "tse"), (write_tse_bi, "tse_bi")])
def test_tse_round_trip(tmp_path, writer, fmt):
    events = [Event(5.5, 12.25, "absz", 0.9), Event(40.0, 41.0, "seiz")]
    path = tmp_path / f"r.{fmt}"
    writer(path, events, 60.0)
    text = path.read_text().splitlines()
    assert text[:2] == ["version = tse_v1.0.0", ""]
    assert text[2] == "0.0000 5.5000 bckg 1.0000"
    ann = read_annotations(path)
    first = "absz" if fmt == "tse" else "seiz"
    assert _spans(ann.events) == [(0.0, 5.5, "bckg"), (5.5, 12.25, first), (12.25, 40.0, "bckg"),
                                  (40.0, 41.0, "seiz"), (41.0, 60.0, "bckg")]
    assert ann.duration_s == 60.0  # the rows tile the timeline: its end is the duration
    assert ann.events[1].confidence == 0.9


def test_szcore_round_trip_and_exact_duration(tmp_path):
    events = [Event(36.8868, 183.3055, "cpsz", 0.8), Event(300.0, 330.0, "sz")]
    path = tmp_path / "sub-01_ses-01_task-szMonitoring_run-00_events.tsv"
    write_szcore_tsv(path, events, 1234.56789, date_time=datetime(2013, 1, 2, 3, 4, 5))
    lines = path.read_text().splitlines()
    assert lines[0] == "onset\tduration\teventType\tconfidence\tchannels\tdateTime\trecordingDuration"
    assert lines[1] == "36.8868\t146.4187\tsz_foc_ia\t0.80\tn/a\t2013-01-02 03:04:05\t1234.56789"
    assert lines[2] == "300.00\t30.00\tsz\t1.00\tn/a\t2013-01-02 03:04:05\t1234.56789"
    ann = read_annotations(path)
    assert ann.format == "szcore" and ann.bname == "sub-01_ses-01_task-szMonitoring_run-00"
    assert ann.duration_s == 1234.56789 and ann.date_time == "2013-01-02 03:04:05"
    assert [e.label for e in ann.events] == ["sz_foc_ia", "sz"]
    assert ann.events[0].start_s == 36.8868 and ann.events[0].stop_s == pytest.approx(183.3055, abs=1e-9)
    assert [e.confidence for e in ann.events] == [0.8, 1.0]


def test_szcore_without_seizure_is_one_background_row(tmp_path):
    path = tmp_path / "rec_events.tsv"
    write_szcore_tsv(path, [Event(0, 10, "bckg")], 3600.0)
    assert path.read_text().splitlines()[1:] == ["0.00\t3600.00\tbckg\tn/a\tn/a\tn/a\t3600.00"]
    ann = read_annotations(path)
    assert ann.seizures == [] and ann.duration_s == 3600.0 and ann.bname == "rec"


def test_szcore_lists_channels_of_channel_events(tmp_path):
    path = tmp_path / "c_events.tsv"
    write_szcore_tsv(path, [Event(1, 5, "fnsz", 1.0, "FP1-F7"), Event(2, 6, "fnsz", 1.0, "F7-T3")], 10.0)
    assert path.read_text().splitlines()[1].split("\t")[:5] == ["1.00", "5.00", "sz_foc", "1.00", "FP1-F7,F7-T3"]


def test_writers_check_events(tmp_path):
    with pytest.raises(AnnotationError, match=r"ends past the recording's end \(100 s\)"):
        write_csv_bi(tmp_path / "a.csv_bi", [Event(50, 150)], 100.0)
    with pytest.raises(AnnotationError, match="duration_s must be a positive number"):
        write_tse(tmp_path / "a.tse", [], 0.0)
    # an end within the tolerance is clipped to the recording
    write_csv_bi(tmp_path / "b.csv_bi", [Event(90, 100.5)], 100.0)
    assert read_annotations(tmp_path / "b.csv_bi").events[-1].stop_s == 100.0


# ----------------------------------------------------------------------------- other readers


LBL_TEXT = """\
version = lbl_v1.0.0

montage = 0, FP1-F7: EEG FP1-REF -- EEG F7-REF
montage = 1, F7-T3: EEG F7-REF -- EEG T3-REF

number_of_levels = 1

level[0] = 1

symbols[0] = {0: '(null)', 1: 'spsw', 2: 'bckg', 3: 'seiz', 4: 'cpsz'}

label = {0, 0, 0.0000, 10.2775, 0, [0.0, 0.0, 1.0, 0.0, 0.0]}
label = {0, 0, 10.2775, 35.7775, 0, [0.0, 0.0, 0.0, 0.0, 1.0]}
label = {0, 0, 12.0000, 20.0000, 1, [0.0, 0.0, 0.0, 0.2, 0.8]}
label = {0, 0, 35.7775, 50.0000, 0, [0.0, 0.0, 1.0, 0.0, 0.0]}
"""


def test_reads_lbl(tmp_path):
    ann = read_annotations(_write(tmp_path / "r.lbl", LBL_TEXT))
    assert ann.format == "lbl"
    assert [(e.start_s, e.stop_s, e.label, e.channel) for e in ann.events] == [
        (0.0, 10.2775, "bckg", "FP1-F7"), (10.2775, 35.7775, "cpsz", "FP1-F7"),
        (12.0, 20.0, "cpsz", "F7-T3"), (35.7775, 50.0, "bckg", "FP1-F7"),
    ]
    assert ann.events[2].confidence == 0.8
    assert ann.duration_s is None  # channel F7-T3 does not tile the timeline
    assert read_annotations(tmp_path / "r.lbl", duration_s=50.0).duration_s == 50.0
    assert _spans(ann.seizures) == [(10.2775, 35.7775, "seiz")]


def test_lbl_errors(tmp_path):
    bad = LBL_TEXT.replace("[0.0, 0.0, 1.0, 0.0, 0.0]}\nlabel = {0, 0, 10", "[0.0, 1.0]}\nlabel = {0, 0, 10")
    with pytest.raises(AnnotationError, match="line 12: 2 probabilities for 5 symbols"):
        read_annotations(_write(tmp_path / "a.lbl", bad))
    with pytest.raises(AnnotationError, match="line 14: channel 7 is not in the file's montage block"):
        read_annotations(_write(tmp_path / "b.lbl", LBL_TEXT.replace("20.0000, 1,", "20.0000, 7,")))
    with pytest.raises(AnnotationError, match="missing header line 'version = lbl_v1.0.0'"):
        read_annotations(_write(tmp_path / "c.lbl", LBL_TEXT.split("\n", 1)[1]))


def test_windows_line_endings_and_bom(tmp_path):
    data = b"\xef\xbb\xbf" + CSV_BI_TEXT.replace("\n", "\r\n").encode()
    ann = read_annotations(_write(tmp_path / "w.csv_bi", data))
    assert _spans(ann.seizures) == [(36.8868, 183.3055, "seiz")] and ann.duration_s == 301.0


def test_overlapping_events_are_merged_for_binary_use(tmp_path):
    text = CSV_BI_TEXT.replace("TERM,183.3055,301.0000,bckg,1.0000", "TERM,150.0000,200.0000,seiz,1.0000")
    ann = read_annotations(_write(tmp_path / "o.csv_bi", text))
    assert _spans(ann.seizures) == [(36.8868, 200.0, "seiz")]


# ----------------------------------------------------------------------------- events


def test_binary_events_collapse_sort_merge():
    events = [
        Event(50, 60, "tcsz", 0.5, "C3-CZ"), Event(10, 20, "fnsz", 0.9, "FP1-F7"), Event(20, 25, "seiz"),
        Event(15, 18, "cpsz", 1.0, "T3-T5"), Event(30, 40, "bckg"), Event(70, 70, "seiz"),
        Event(80, 90, "sz_gen_m_tonic"), Event(85, 86, "musc"),
    ]
    out = binary_events(events)
    assert [(e.start_s, e.stop_s, e.label, e.channel, e.confidence) for e in out] == [
        (10, 25, "seiz", "TERM", 1.0), (50, 60, "seiz", "TERM", 0.5), (80, 90, "seiz", "TERM", 1.0)
    ]


def test_second_labels_use_midpoints():
    events = [Event(1.5, 3.5), Event(4.6, 5.0, "gnsz"), Event(0, 6, "bckg")]
    # midpoints 0.5 1.5 2.5 3.5 4.5 ; duration 5.9 -> 5 seconds
    assert second_labels(events, 5.9).tolist() == [0, 1, 1, 0, 0]
    assert second_labels([Event(0.0, 0.5)], 3.0).tolist() == [0, 0, 0]
    assert second_labels([Event(0.0, 0.51), Event(2.4, 100)], 3.0).tolist() == [1, 0, 1]
    labels = second_labels([], 10.0)
    assert labels.dtype == np.uint8 and labels.shape == (10,) and not labels.any()


def test_find_sidecar_preference(tmp_path):
    edf = tmp_path / "aaaaaaac_s001_t000.edf"
    edf.write_bytes(b"")
    assert find_sidecar(edf) is None
    order = ["aaaaaaac_s001_t000_events.tsv", "aaaaaaac_s001_t000.lbl", "aaaaaaac_s001_t000.tse",
             "aaaaaaac_s001_t000.csv", "aaaaaaac_s001_t000.csv_bi"]
    for name in order:
        (tmp_path / name).write_text("x")
        assert find_sidecar(edf) == tmp_path / name


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "old,new,message",
    [
        ("TERM,36.8868,183.3055,seiz", "TERM,36.8868,13.3055,seiz", r"line 8: stop time 13.3055 precedes start time 36.8868"),
        ("TERM,183.3055,301.0000,bckg", "TERM,183.3055,305.0000,bckg", r"line 9: event 183.3055-305 s ends past the recording's end \(301 s\)"),
        ("seiz,1.0000", "sezz,1.0000", r"line 8: unknown label 'sezz'"),
        ("# version = csv_v1.0.0\n", "", r"missing header line '# version = csv_v1.0.0'"),
        ("# duration = 301.00 secs\n", "", r"missing header line '# duration = N secs'"),
        ("channel,start_time,stop_time,label,confidence\n", "", r"line 6: expected the column line 'channel,start_time,stop_time,label,confidence', got 'TERM,0.0000"),
        ("TERM,36.8868,183.3055,seiz,1.0000", "TERM,36.8868,183.3055,seiz", r"line 8: expected 5 comma-separated fields"),
        ("TERM,36.8868,183.3055", "TERM,36.88x8,183.3055", r"line 8: start_time '36.88x8' is not a number"),
        ("TERM,36.8868,183.3055", "FP1-F7,36.8868,183.3055", r"line 8: .csv_bi rows must use channel TERM"),
        ("TERM,0.0000,36.8868", "TERM,-1.0000,36.8868", r"line 7: start time -1 is negative"),
        ("TERM,36.8868,183.3055,seiz,1.0000", "TERM,36.8868,183.3055,seiz,nan", r"line 8: confidence 'nan' is not a finite number"),
    ],
)
def test_csv_errors(tmp_path, old, new, message):
    assert old in CSV_BI_TEXT
    path = _write(tmp_path / "e.csv_bi", CSV_BI_TEXT.replace(old, new))
    with pytest.raises(AnnotationError, match=message) as info:
        read_annotations(path)
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)


def test_reader_checks_given_duration(tmp_path):
    path = _write(tmp_path / "d.csv_bi", CSV_BI_TEXT)
    with pytest.raises(AnnotationError, match=r"file duration 301 s disagrees with the recording's 250 s"):
        read_annotations(path, duration_s=250.0)
    no_header = _write(tmp_path / "n.csv_bi", CSV_BI_TEXT.replace("# duration = 301.00 secs\n", ""))
    with pytest.raises(AnnotationError, match=r"line 8: event 183.3055-301 s ends past the recording's end \(200 s\)"):
        read_annotations(no_header, duration_s=200.0)
    assert read_annotations(no_header, duration_s=301.0).duration_s == 301.0
    tse = _write(tmp_path / "t.tse", "version = tse_v1.0.0\n\n0.0 10.0 seiz 1.0\n")
    with pytest.raises(AnnotationError, match=r"line 3: event 0-10 s ends past the recording's end \(5 s\)"):
        read_annotations(tse, duration_s=5.0)


def test_file_level_errors(tmp_path):
    with pytest.raises(AnnotationError, match="annotation file not found"):
        read_annotations(tmp_path / "missing.csv_bi")
    with pytest.raises(AnnotationError, match="unknown annotation format"):
        read_annotations(_write(tmp_path / "x.txt", "hello"))
    with pytest.raises(AnnotationError, match=r"not UTF-8 text \(byte 0xff at offset 8\)"):
        read_annotations(_write(tmp_path / "b.csv_bi", b"# versio\xff = csv_v1.0.0\n"))


def test_tse_errors(tmp_path):
    with pytest.raises(AnnotationError, match="missing header line 'version = tse_v1.0.0'"):
        read_annotations(_write(tmp_path / "a.tse", "0.0 1.0 seiz 1.0\n"))
    with pytest.raises(AnnotationError, match=r"line 3: expected 4 fields \(start stop label probability\), got 3"):
        read_annotations(_write(tmp_path / "b.tse", "version = tse_v1.0.0\n\n0.0 1.0 seiz\n"))
    with pytest.raises(AnnotationError, match=r"line 3: .tse_bi labels are seiz and bckg, got 'cpsz'"):
        read_annotations(_write(tmp_path / "c.tse_bi", "version = tse_v1.0.0\n\n0.0 1.0 cpsz 1.0\n"))


SZ_HEADER = "onset\tduration\teventType\tconfidence\tchannels\tdateTime\trecordingDuration\n"


def test_szcore_errors(tmp_path):
    with pytest.raises(AnnotationError, match="not a SzCORE events TSV"):
        read_annotations(_write(tmp_path / "a_events.tsv", "onset,duration\n1,2\n"))
    with pytest.raises(AnnotationError, match="line 2: unknown eventType 'seizure'"):
        read_annotations(_write(tmp_path / "b_events.tsv", SZ_HEADER + "1\t2\tseizure\tn/a\tn/a\tn/a\t10\n"))
    with pytest.raises(AnnotationError, match="line 2: expected 7 tab-separated fields, got 6"):
        read_annotations(_write(tmp_path / "c_events.tsv", SZ_HEADER + "1\t2\tsz\tn/a\tn/a\t10\n"))
    with pytest.raises(AnnotationError, match=r"rows disagree on recordingDuration \(10, 20\)"):
        read_annotations(_write(tmp_path / "d_events.tsv", SZ_HEADER + "1\t2\tsz\tn/a\tn/a\tn/a\t10\n3\t1\tsz\tn/a\tn/a\tn/a\t20\n"))
    with pytest.raises(AnnotationError, match=r"line 2: event 8-12 s ends past the recording's end \(10 s\)"):
        read_annotations(_write(tmp_path / "e_events.tsv", SZ_HEADER + "8\t4\tsz\tn/a\tn/a\tn/a\t10\n"))
    with pytest.raises(AnnotationError, match="line 2: negative duration -4"):
        read_annotations(_write(tmp_path / "f_events.tsv", SZ_HEADER + "8\t-4\tsz\tn/a\tn/a\tn/a\t10\n"))
    with pytest.raises(AnnotationError, match="no event rows"):
        read_annotations(_write(tmp_path / "g_events.tsv", SZ_HEADER))
    with pytest.raises(AnnotationError, match="line 13: unknown SeizeIT seizure type 'XYZ'"):
        read_annotations(_write(tmp_path / "h_a1.tsv", "# Source: SeizeIt1\n" + "\n" * 11 + "10\t20\tXYZ\tHem:L\n"))
