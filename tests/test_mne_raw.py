"""MNE entry point: ``score_raw`` on an ``mne.io.Raw`` equals ``seizure score`` on the EDF;
events to and from ``mne.Annotations``."""

from __future__ import annotations

import datetime as dt
import logging

import mne
import numpy as np
import pytest

from bids_factory import make_checkpoint, write_recording
from seizure import checkpoint
from seizure.events import Event
from seizure.io import from_mne, read_annotations
from seizure.io.annotations import write_csv_bi, write_szcore_tsv
from seizure.io.mne_raw import RawReader, mne_labels
from seizure.raw import score_raw
from seizure.detect import detect_recording as score_recording

CHBMIT = "chbmit/chb05/chb05_06.edf"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("mne")
    edf = write_recording(root / "rec.edf", seconds=130.0)
    probe = checkpoint.load(make_checkpoint(root / "probe.pt"))
    threshold = float(np.quantile(score_recording(probe, edf, root / "probe").probs, 0.8))
    return root, edf, checkpoint.load(make_checkpoint(root / "model.pt", threshold))


@pytest.mark.parametrize("preload", [False, True])
def test_score_raw_equals_seizure_score_on_the_same_edf(data, preload):
    root, edf, ckpt = data
    expected = score_recording(ckpt, edf, root / "out")
    result = score_raw(ckpt, mne.io.read_raw_edf(edf, preload=preload, verbose="error"))
    assert result.probs.shape == expected.probs.shape == (130,)
    np.testing.assert_allclose(result.probs, expected.probs, atol=1e-5, rtol=0)  # MNE: float64 volts
    assert [(e.start_s, e.stop_s) for e in result.events] == [(e.start_s, e.stop_s) for e in expected.events]
    assert expected.events and result.outputs == {} and result.channels_used == expected.channels_used


def test_mne_duplicate_suffixes_are_read_as_the_edf_labels(data, real_headers, tmp_path):
    _, _, ckpt = data
    path = real_headers / CHBMIT
    raw = mne.io.read_raw_edf(path, verbose="error")
    assert "T8-P8-0" in raw.ch_names and "T8-P8-1" in raw.ch_names
    reader = RawReader(raw)
    assert reader.labels.count("T8-P8") == 1 and ("T8-P8-1", "duplicate of 'T8-P8-0'; first kept") in reader.dropped
    expected = score_recording(ckpt, path, tmp_path, min_channels=1)
    result = score_raw(ckpt, raw, min_channels=1)
    assert result.channels_used == expected.channels_used == 16  # T4-T6 (T8-P8) formed, not missing
    assert result.missing_channels == expected.missing_channels
    np.testing.assert_allclose(result.probs, expected.probs, atol=1e-5, rtol=0)
    assert mne_labels(["A-0", "A-1", "B-0", "C-1", "C-2", "D", "D-0", "D-1"]) == \
        ["A", "A", "B-0", "C-1", "C-2", "D", "D-0", "D-1"]  # a lone -0, no -0, or X present: names as given


def test_bad_channels_are_missing_and_wrong_input_is_refused(data, caplog):
    _, edf, ckpt = data
    raw = mne.io.read_raw_edf(edf, verbose="error")
    raw.info["bads"] = ["EEG A1-REF"]
    result = score_raw(ckpt, raw)
    assert result.missing_channels == ["A1-T3"] and result.channels_used == 21
    with pytest.raises(TypeError, match="mne.io.BaseRaw"):
        score_raw(ckpt, np.zeros((21, 1000)))


@pytest.mark.parametrize("meas_date", [None, dt.datetime(2020, 5, 1, 8, 0, tzinfo=dt.timezone.utc)])
def test_detections_land_on_the_raw_timeline(data, meas_date):
    _, edf, ckpt = data
    src = mne.io.read_raw_edf(edf, preload=True, verbose="error")
    raw = mne.io.RawArray(src.get_data(), src.info, first_samp=25 * 256, verbose="error")  # first_time 25 s
    raw.set_meas_date(meas_date)
    result = score_raw(ckpt, raw)
    assert result.events and raw.first_time == 25.0
    raw.set_annotations(result.to_annotations())
    onsets = raw.annotations.onset - raw.first_time  # MNE's onsets count from the first sample at first_time
    assert onsets.tolist() == [e.start_s for e in result.events]
    assert raw.annotations.duration.tolist() == [e.stop_s - e.start_s for e in result.events]
    assert set(raw.annotations.description) == {"seiz"}
    back = from_mne(raw.annotations, duration_s=result.duration_s, first_time_s=raw.first_time)
    assert [(e.start_s, e.stop_s) for e in back.events] == [(e.start_s, e.stop_s) for e in result.events]


def test_annotations_round_trip_through_mne(tmp_path, caplog):
    events = [Event(10.0, 25.5, "fnsz"), Event(40.0, 41.0, "seiz"), Event(60.0, 90.0, "cpsz")]
    write_csv_bi(tmp_path / "a.csv_bi", events, 120.0)
    write_szcore_tsv(tmp_path / "a_events.tsv", events, 120.0)
    for path in (tmp_path / "a.csv_bi", tmp_path / "a_events.tsv"):
        ann = read_annotations(path)
        mne_ann = ann.to_mne()
        assert isinstance(mne_ann, mne.Annotations) and mne_ann.orig_time is None
        back = from_mne(mne_ann, duration_s=ann.duration_s)
        assert back.events == sorted(ann.events, key=lambda e: (e.start_s, e.stop_s, e.label))
        assert [(e.start_s, e.stop_s) for e in back.seizures] == [(e.start_s, e.stop_s) for e in ann.seizures]
    extra = mne.Annotations([1.0, 5.0, 7.0], [1.0, 2.0, 0.0], ["BAD_muscle", "sz_foc_ia", "EDGE boundary"])
    caplog.set_level(logging.INFO, logger="seizure.io.mne_raw")
    got = from_mne(extra)
    assert [(e.start_s, e.stop_s, e.label) for e in got.events] == [(5.0, 7.0, "sz_foc_ia")]
    assert "BAD_muscle x1" in caplog.text
    with pytest.raises(TypeError, match="mne.Annotations"):
        from_mne([(1.0, 2.0, "seiz")])
