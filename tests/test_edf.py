import datetime as dt
import logging
import os

import numpy as np
import pytest
from edf_factory import BROKEN, TCP_REF_LABELS, edf_bytes, patch, read_int16, write_broken, write_valid

import seizure.io.edf as edf_mod
from seizure.errors import EDFError
from seizure.events import Event
from seizure.io import EdfReader, EdfWriter, read_edf, write_edf

UV_DIMS = {"uV", "\u00b5V"}


def _fixtures(real_headers):
    files = sorted(real_headers.rglob("*.edf"))
    assert len(files) >= 100
    return files


# ------------------------------------------------------------------ real headers vs MNE / pyedflib


def test_every_fixture_equals_mne(real_headers):
    mne = pytest.importorskip("mne")
    datasets = set()
    for path in _fixtures(real_headers):
        rec = read_edf(path)
        raw = mne.io.read_raw_edf(path, preload=True, verbose="ERROR")
        with EdfReader(path) as r:
            data_signals = [s.index for s in r.signals if not s.is_annotation]
            rows = [data_signals.index(i) for i in r.eeg_indices]  # MNE renames duplicates; match by position
            scale = np.array([1e6 if r.signals[i].physical_dim in UV_DIMS else 1.0 for i in r.eeg_indices])
        assert raw.info["sfreq"] == rec.fs_hz, path
        expected = raw.get_data()[rows] * scale[:, None]
        assert rec.data.dtype == np.float32 and rec.data.shape == expected.shape
        np.testing.assert_allclose(rec.data, expected, rtol=0, atol=1e-3, err_msg=str(path))
        datasets.add(path.relative_to(real_headers).parts[0])
    assert datasets == {"tuh", "chbmit", "siena", "seizeit"}


def test_fixtures_match_pyedflib_per_signal(real_headers):
    pyedflib = pytest.importorskip("pyedflib")
    for path in _fixtures(real_headers)[::7]:
        with EdfReader(path) as r, pyedflib.EdfReader(str(path)) as p:
            for i in range(p.signals_in_file):
                s = r.signals[i]
                assert p.getLabel(i) == s.label and p.getSampleFrequency(i) == s.fs_hz
                ours = r.read(indices=[i])[0]
                theirs = p.readSignal(i) * s.uv_factor
                np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-3, err_msg=f"{path} signal {i}")


def test_tuh_fixture_header_rates_and_dropped(real_headers):
    path = next(real_headers.rglob("aaaaaool_s001_t000.edf"))
    with EdfReader(path) as r:
        assert r.header.is_edf_plus and not r.header.is_discontinuous
        assert r.header.start_time == dt.datetime(2013, 1, 1)
        assert r.header.n_records == 2 and r.header.record_duration_s == 1.0 and r.duration_s == 2.0
        assert r.fs_hz == 250.0
        dropped = {d.label: d for d in r.dropped}
        assert set(dropped) == {"IBI", "BURSTS", "SUPPR", "EDF Annotations"}
        assert dropped["IBI"].fs_hz == 1.0 and "1 Hz side channel" in dropped["IBI"].reason
        assert "annotation" in dropped["EDF Annotations"].reason
        assert r.channels[:3] == ["FP1", "FP2", "F3"] and r.labels[0] == "EEG FP1-REF"
        assert {"T1", "EKG1", "ROC", "EMG", "PHOTIC"} <= set(r.channels)
        sig = r.signals[0]
        assert (sig.physical_dim, sig.digital_min, sig.digital_max, sig.samples_per_record) == ("uV", -32767, 32767, 250)
        assert sig.prefilter.startswith("HP:0.000 Hz")


def test_chbmit_duplicate_label_keeps_first(real_headers, caplog):
    path = real_headers / "chbmit" / "chb05" / "chb05_01.edf"
    with caplog.at_level(logging.WARNING, logger="seizure.io.edf"):
        rec = read_edf(path)
    assert rec.channels.count("T4-T6") == 1 and rec.labels.count("T8-P8") == 1
    dup = [d for d in rec.dropped if d.label == "T8-P8"]
    assert len(dup) == 1 and dup[0].index == 22 and "duplicate of signal 14" in dup[0].reason
    assert "duplicates signal 14" in caplog.text
    assert rec.start_time == dt.datetime(2059, 3, 13, 17, 20, 5)


# ------------------------------------------------------------------ reads: partial, rates, units


@pytest.fixture
def long_file(tmp_path):
    data = edf_bytes(TCP_REF_LABELS[:6], 100, 40, seed=3)
    path = tmp_path / "long.edf"
    path.write_bytes(data)
    return path, read_int16(data, 6, 100, 40)


def test_values_follow_gain_and_offset(long_file):
    path, digital = long_file
    with EdfReader(path) as r:
        whole = r.read()
        gain = (3276.7 + 3276.8) / 65535
        np.testing.assert_allclose(whole, (digital + 32768) * gain - 3276.8, atol=1e-3)
        assert whole.dtype == np.float32 and whole.shape == (6, 4000)


@pytest.mark.parametrize("chunk_bytes", [4 * 2**20, 3000])  # one decode step, or several
def test_partial_reads_equal_slices_of_the_whole(long_file, monkeypatch, chunk_bytes):
    path, _ = long_file
    monkeypatch.setattr(edf_mod, "_CHUNK_BYTES", chunk_bytes)
    with EdfReader(path) as r:
        whole = r.read()
        rng = np.random.default_rng(1)
        cases = [(0.0, 1.0), (0.5, 1.5), (0.99, 1.01), (39.5, None), (12.34, 27.89), (0.0, None), (40.0, None)]
        cases += [tuple(sorted(rng.uniform(0, 40, 2))) for _ in range(20)]
        for start_s, stop_s in cases:
            part = r.read(start_s, stop_s)
            a = int(round(start_s * 100))
            b = 4000 if stop_s is None else int(round(stop_s * 100))
            np.testing.assert_array_equal(part, whole[:, a:b], err_msg=f"{start_s}-{stop_s}")
        np.testing.assert_array_equal(r.read(3.0, 9.0, indices=[4, 1]), whole[[4, 1], 300:900])
        np.testing.assert_array_equal(r.read_samples(123, 2345, [2]), whole[[2], 123:2345])


def test_partial_read_decodes_only_needed_records(long_file, monkeypatch):
    path, _ = long_file
    touched = []
    original = EdfReader._records

    def spy(self, r0, r1):
        touched.append((r0, r1))
        return original(self, r0, r1)

    monkeypatch.setattr(EdfReader, "_records", spy)
    with EdfReader(path) as r:
        r.read(10.5, 12.2)
    assert touched == [(10, 13)]


def test_read_argument_validation(long_file):
    path, _ = long_file
    with EdfReader(path) as r:
        with pytest.raises(ValueError, match="start_s must be within"):
            r.read(50.0)
        with pytest.raises(ValueError, match="stop_s must be None or a number >= start_s"):
            r.read(5.0, 4.0)
        with pytest.raises(ValueError, match="indices must be signal numbers"):
            r.read(indices=[99])
        with pytest.raises(ValueError, match="not a data signal"):
            r.read(indices=[6])


def test_mixed_rates_keep_main_rate_and_report_the_rest(tmp_path):
    labels = [*TCP_REF_LABELS[:3], "EEG ROC-REF", "IBI", "BURSTS", "SUPPR"]
    path = tmp_path / "rates.edf"
    path.write_bytes(edf_bytes(labels, [256, 256, 256, 128, 1, 1, 1], 4))
    with EdfReader(path) as r:
        assert r.fs_hz == 256.0 and r.eeg_indices == [0, 1, 2]
        reasons = {d.label: (d.fs_hz, d.reason) for d in r.dropped}
        assert reasons["EEG ROC-REF"] == (128.0, "rate 128 Hz differs from the EEG rate 256 Hz")
        assert reasons["SUPPR"][0] == 1.0 and "side channel" in reasons["SUPPR"][1]
        assert r.read(indices=[3]).shape == (1, 512)
        assert r.read(1.0, 3.0, indices=[4, 5]).shape == (2, 2)
        with pytest.raises(ValueError, match="share one sampling rate"):
            r.read(indices=[0, 3])
    rec = read_edf(path)
    assert rec.data.shape == (3, 1024) and rec.channels == ["FP1", "FP2", "F3"]


def test_main_rate_follows_electrodes_not_the_majority(tmp_path):
    labels = ["EEG FP1-REF", "EEG F7-REF", "AUX1", "AUX2", "AUX3"]
    path = tmp_path / "aux.edf"
    path.write_bytes(edf_bytes(labels, [200, 200, 100, 100, 100], 2))
    with EdfReader(path) as r:
        assert r.fs_hz == 200.0 and r.channels == ["FP1", "F7"]


@pytest.mark.parametrize("dim,factor", [("uV", 1.0), ("mV", 1e3), ("V", 1e6), ("nV", 1e-3), ("mm", 1.0)])
def test_physical_dimension_converted_to_microvolts(tmp_path, dim, factor):
    data = edf_bytes(TCP_REF_LABELS[:2], 32, 2, physical_dim=dim, physical_range=("-1", "1"))
    path = tmp_path / "u.edf"
    path.write_bytes(data)
    digital = read_int16(data, 2, 32, 2)
    expected = ((digital + 32768) * (2 / 65535) - 1) * factor
    np.testing.assert_allclose(read_edf(path).data, expected, rtol=1e-6, atol=1e-6 * factor)


# ------------------------------------------------------------------ header quirks


def test_odd_start_date_gives_none_with_warning(tmp_path, caplog):
    path = write_valid(tmp_path, start_date="01:01:85")
    with caplog.at_level(logging.WARNING, logger="seizure.io.edf"):
        rec = read_edf(path)
    assert rec.start_time is None and rec.data.shape == (4, 192)
    assert "unreadable start date" in caplog.text and "01:01:85" in caplog.text


def test_start_date_century_rules(tmp_path):
    cases = [("31.12.99", "Startdate 31-DEC-2013 X X X", dt.datetime(1999, 12, 31, 10, 20, 30)),
             ("31.12.84", "Startdate 31-DEC-2084 X X X", dt.datetime(2084, 12, 31, 10, 20, 30)),
             ("31.12.85", "X", dt.datetime(1985, 12, 31, 10, 20, 30)),
             ("15.03.59", "Startdate 15-MAR-2059 X X X", dt.datetime(2059, 3, 15, 10, 20, 30)),
             ("01.01.13", "Startdate X X X X", None)]
    for date, rec_field, expected in cases:
        path = write_valid(tmp_path, start_date=date, recording=rec_field)
        assert read_edf(path).start_time == expected, date


def test_record_count_minus_one_is_derived_from_file_size(tmp_path):
    path = write_valid(tmp_path, header_n_records="-1")
    with EdfReader(path) as r:
        assert r.header.n_records == 3 and r.duration_s == 3.0


def test_edf_plus_d_with_contiguous_records_is_read(tmp_path):
    data = edf_bytes(TCP_REF_LABELS[:2], 50, 4, reserved="EDF+D", record_duration="0.5",
                     record_onsets=[10.0, 10.5, 11.0, 11.5])
    path = tmp_path / "d.edf"
    path.write_bytes(data)
    with EdfReader(path) as r:
        assert r.header.is_discontinuous and r.fs_hz == 100.0 and r.duration_s == 2.0
        np.testing.assert_allclose(r.read(), (read_int16(data, 2, 50, 4) + 32768) * (6553.5 / 65535) - 3276.8,
                                   atol=1e-3)


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_files_raise_one_line_edf_error(tmp_path, kind):
    path = write_broken(tmp_path, kind)
    with pytest.raises(EDFError, match=BROKEN[kind]) as info:
        read_edf(path)
    assert info.value.path == path and str(info.value).startswith(str(path))
    assert "\n" not in str(info.value)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(EDFError, match="cannot open: No such file"):
        read_edf(tmp_path / "nope.edf")
    with pytest.raises(EDFError, match="is a directory"):
        read_edf(tmp_path)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file(tmp_path):
    path = write_valid(tmp_path)
    path.chmod(0)
    with pytest.raises(EDFError, match="cannot open: Permission denied"):
        read_edf(path)


# ------------------------------------------------------------------ writing


def _signals(n=3, seconds=5, fs=256, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 40, size=(n, seconds * fs)).cumsum(axis=1) * 0.1


def test_write_read_roundtrip_and_header(tmp_path):
    x = _signals()
    start = dt.datetime(2008, 3, 4, 5, 6, 7)
    path = write_edf(tmp_path / "w.edf", x, ["EEG FP1-REF", "EEG F7-REF", "EEG T3-REF"], 256.0, start_time=start,
                     patient="P001 M 01-JAN-1970 Anon")
    with EdfReader(path) as r:
        assert r.header.is_edf_plus and r.header.start_time == start
        assert r.header.patient == "P001 M 01-JAN-1970 Anon"
        assert r.header.recording.startswith("Startdate 04-MAR-2008")
        step = np.array([(s.physical_max - s.physical_min) / 65535 for s in r.signals[:3]])
        assert np.all(np.abs(r.read() - x) <= step[:, None] / 2 + 1e-3)
        assert r.channels == ["FP1", "F7", "T3"]
        for s, row in zip(r.signals[:3], x):  # symmetric, a little headroom
            assert s.physical_max == -s.physical_min and 1.0 < s.physical_max / np.abs(row).max() < 1.02


def test_written_file_matches_pyedflib_and_mne(tmp_path):
    pyedflib = pytest.importorskip("pyedflib")
    mne = pytest.importorskip("mne")
    eeg = _signals(2, 6, 256)
    ibi = np.arange(6, dtype=float)
    events = [Event(1.5, 3.25, "seiz"), (4.0, None, "marker")]
    path = write_edf(tmp_path / "x.edf", [eeg[0], eeg[1], ibi], ["EEG FP1-LE", "EEG F7-LE", "IBI"],
                     [256, 256, 1], physical_dim=["uV", "mV", "sec"], annotations=events,
                     start_time=dt.datetime(2013, 1, 2, 3, 4, 5))
    ours = read_edf(path)
    with pyedflib.EdfReader(str(path)) as p:
        assert p.getSignalLabels() == ["EEG FP1-LE", "EEG F7-LE", "IBI"]
        assert p.getStartdatetime() == dt.datetime(2013, 1, 2, 3, 4, 5)
        assert p.getSampleFrequencies().tolist() == [256, 256, 1]
        np.testing.assert_allclose(p.readSignal(0), ours.data[0], atol=1e-3)
        np.testing.assert_allclose(p.readSignal(1) * 1e3, ours.data[1], atol=1e-3)
        np.testing.assert_allclose(p.readSignal(2), ibi, atol=1e-3)
        onsets, durations, texts = p.readAnnotations()
        assert onsets.tolist() == [1.5, 4.0] and texts.tolist() == ["seiz", "marker"]
        assert durations[0] == pytest.approx(1.75)
    raw = mne.io.read_raw_edf(path, preload=True, verbose="ERROR")
    np.testing.assert_allclose(raw.get_data(picks=["EEG FP1-LE"])[0] * 1e6, ours.data[0], atol=1e-3)
    assert [a["description"] for a in raw.annotations] == ["seiz", "marker"]
    assert raw.annotations.onset.tolist() == [1.5, 4.0]
    np.testing.assert_allclose(ours.data[0], eeg[0], atol=np.abs(eeg[0]).max() * 1.02 / 32767)
    np.testing.assert_allclose(ours.data[1], eeg[1] * 1e3, atol=np.abs(eeg[1]).max() * 1e3 * 1.02 / 32767)


def test_streaming_writer_equals_one_shot_write(tmp_path):
    x = _signals(4, 7, 200, seed=2)
    labels = [f"EEG {e}-REF" for e in ("FP1", "F7", "T3", "T5")]
    ranges = [(-500.0, 500.0)] * 4
    one = write_edf(tmp_path / "one.edf", x, labels, 200, physical_range=ranges)
    with EdfWriter(tmp_path / "stream.edf", labels, 200, physical_ranges=(-500, 500)) as w:
        pos = 0
        for size in [1, 37, 199, 200, 401, 3, 159, 400]:
            w.write(x[:, pos:pos + size])
            pos += size
        assert not (tmp_path / "stream.edf").exists()  # appears only on close
    assert pos == x.shape[1]
    assert (tmp_path / "stream.edf").read_bytes() == one.read_bytes()


def test_streaming_writer_per_signal_rates_and_padding(tmp_path):
    rng = np.random.default_rng(4)
    eeg, side = rng.normal(0, 20, 256 * 5 + 100), np.arange(6.0)
    path = tmp_path / "mixed.edf"
    with EdfWriter(path, ["EEG CZ-REF", "SUPPR"], [256, 1], physical_ranges=[(-200, 200), (-10, 10)]) as w:
        w.write([eeg[:256 * 2], side[:2]])
        w.write([eeg[256 * 2:], side[2:]])
    with EdfReader(path) as r:
        assert r.header.n_records == 6 and r.header.record_duration_s == 1.0
        got = r.read()[0]
        np.testing.assert_allclose(got[:eeg.size], eeg, atol=400 / 65535)
        assert np.all(got[eeg.size:] == pytest.approx(0, abs=400 / 65535))  # zero-padded last record
        np.testing.assert_allclose(r.read(indices=[1])[0], side, atol=20 / 65535)


def test_writer_clips_out_of_range_and_warns(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="seizure.io.edf"):
        write_edf(tmp_path / "c.edf", [np.array([0.0, 50.0, 150.0, -150.0])], ["EEG C3-REF"], 4,
                  physical_range=(-100, 100))
    assert "2 samples outside the physical range were clipped" in caplog.text
    np.testing.assert_allclose(read_edf(tmp_path / "c.edf").data[0], [0, 50, 100, -100], atol=0.01)


def test_writer_is_atomic_on_error(tmp_path):
    path = tmp_path / "a.edf"
    with pytest.raises(RuntimeError):
        with EdfWriter(path, ["EEG C3-REF"], 10, physical_ranges=(-1, 1)) as w:
            w.write(np.zeros((1, 25)))
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="contains NaN or Inf"):
        write_edf(path, [np.array([0.0, np.nan])], ["EEG C3-REF"], 2, physical_range=(-1, 1))
    assert list(tmp_path.iterdir()) == []


def test_writer_argument_validation(tmp_path):
    p = tmp_path / "v.edf"
    with pytest.raises(ValueError, match="must be a positive whole number of samples"):
        EdfWriter(p, ["A"], 250.5, physical_ranges=(-1, 1))
    with pytest.raises(ValueError, match="at most 16 printable ASCII"):
        EdfWriter(p, ["A" * 17], 1, physical_ranges=(-1, 1))
    with pytest.raises(ValueError, match="physical_ranges must be"):
        EdfWriter(p, ["A", "B"], 1, physical_ranges=[(-1, 1)] * 3)
    with pytest.raises(ValueError, match="lasts 2 s but signal 0 lasts 4 s"):
        write_edf(p, [np.zeros(8), np.zeros(4)], ["A", "B"], 2)
    with pytest.raises(ValueError, match="signals \\(1\\) and labels \\(2\\)"):
        write_edf(p, [np.zeros(8)], ["A", "B"], 2)
    with pytest.raises(ValueError, match="start_time year must be 1985-2084"):
        EdfWriter(p, ["A"], 1, physical_ranges=(-1, 1), start_time=dt.datetime(1970, 1, 1))
    assert list(tmp_path.iterdir()) == []


def test_header_number_formatting_never_narrows_the_range():
    fmt = edf_mod._fmt_number
    assert fmt(4999.85, +1) == "4999.85" and fmt(-4999.85, -1) == "-4999.85"
    assert fmt(123456.789, +1) == "123456.8" and fmt(-123456.789, -1) == "-123457"
    assert fmt(0.123456789, +1) == "0.123457" and fmt(12345678, 0) == "12345678"
    assert float(fmt(1 / 3, +1)) >= 1 / 3 and float(fmt(-1 / 3, -1)) <= -1 / 3
    with pytest.raises(ValueError, match="8-character"):
        fmt(1e12)


def test_factory_patch_changes_only_one_field():
    data = edf_bytes(TCP_REF_LABELS[:2], 8, 1)
    changed = patch(data, "physical_min", "-1", signal=1)
    diff = [i for i, (a, b) in enumerate(zip(data, changed)) if a != b]
    assert len(changed) == len(data) and diff and min(diff) >= 256 + 3 * 16 + 3 * 80 + 3 * 8 + 8


def test_streaming_writer_memory_is_bounded_by_the_block(tmp_path):
    import tracemalloc

    n_ch, fs, block_s, blocks = 33, 256, 10, 30  # 5 minutes written in 10 s blocks
    block = np.random.default_rng(0).normal(0, 30, size=(n_ch, fs * block_s)).astype(np.float32)
    tracemalloc.start()
    with EdfWriter(tmp_path / "big.edf", [f"EEG {i}-REF" for i in range(n_ch)], fs, physical_ranges=(-500, 500)) as w:
        for _ in range(blocks):
            w.write(block)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 4 * block.nbytes  # float64 copy of one block + int16 records, not the 5-minute file
    with EdfReader(tmp_path / "big.edf") as r:
        assert r.duration_s == block_s * blocks
        np.testing.assert_allclose(r.read(290.0, 300.0), block, atol=1000 / 65535)
