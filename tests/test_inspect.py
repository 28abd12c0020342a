import json

import numpy as np
import pytest
from edf_factory import TCP_REF_LABELS, write_broken, write_valid

from seizure import cli
from seizure.errors import MontageError
from seizure.inspect import format_report, inspect_edf
from seizure.io import write_edf


def _main_json(capsys, *argv):
    rc = cli.main(["inspect", *map(str, argv), "--json"])
    out, err = capsys.readouterr()
    return rc, (json.loads(out) if rc == 0 else None), err


def test_every_real_fixture_is_inspected(real_headers, capsys):
    files = sorted(real_headers.rglob("*.edf"))
    with_ann = 0
    for path in files:
        rc, report, err = _main_json(capsys, path)
        assert rc == 0, err
        assert report["path"] == str(path) and report["duration_s"] == 2.0
        assert report["channels"] and report["fs_hz"] in (250.0, 256.0, 400.0, 512.0)
        assert set(report["montages"]) == {"tcp", "double_banana"}
        assert report["montages"]["tcp"]["ok"], path
        with_ann += report["annotations"] is not None
    tuh = [f for f in files if "tuh" in f.parts]
    assert with_ann >= len(tuh)  # every TUH EDF has its .csv_bi


def test_tuh_ar_a_report(real_headers, capsys):
    path = next(real_headers.rglob("03_tcp_ar_a/*_t000.edf"))
    report = inspect_edf(path)
    tcp = report["montages"]["tcp"]
    assert tcp["n_formed"] == 20 and tcp["missing"] == ["A1-T3", "T4-A2"] and tcp["missing_electrodes"] == ["A1", "A2"]
    assert report["channels"]["EEG FP1-REF"] == "FP1" and report["rates_hz"] == {"400": 32}
    assert report["header"]["format"] == "EDF+C" and report["header"]["start_time"] == "2008-01-01T00:00:00"
    ann = report["annotations"]
    assert ann["ok"] and ann["format"] == "csv_bi" and ann["labels"] == {"bckg": 1} and ann["n_seizures"] == 0
    assert ann["warnings"] == ["annotation duration 305 s differs from the EDF's 2 s"]  # 2 s stub of a 305 s file
    assert cli.main(["inspect", str(path)]) == 0
    text = capsys.readouterr().out
    assert "EEG FP1-REF        -> FP1" in text
    assert "tcp            20/22 channels; zero-filled and masked: A1-T3, T4-A2 (missing electrodes: A1, A2)" in text


def test_side_channels_reported_as_dropped(real_headers):
    report = inspect_edf(next(real_headers.rglob("aaaaaool_s001_t000.edf")))
    dropped = {d["label"]: d["reason"] for d in report["dropped"]}
    assert set(dropped) == {"IBI", "BURSTS", "SUPPR", "EDF Annotations"}
    assert report["rates_hz"] == {"1": 3, "250": 33}
    ibi = next(s for s in report["signals"] if s["label"] == "IBI")
    assert not ibi["kept"] and ibi["fs_hz"] == 1.0 and ibi["physical_dim"] == "sec"
    text = format_report(report)
    assert "IBI                1 Hz side channel (IBI/BURSTS/SUPPR)" in text


def test_montage_option_shows_how_pairs_are_formed(real_headers, capsys):
    path = real_headers / "chbmit" / "chb05" / "chb05_01.edf"
    assert cli.main(["inspect", str(path), "--montage", "tcp"]) == 0
    text = capsys.readouterr().out
    assert "T3-T5    = T7-P7" in text and "C3-CZ    = missing" in text and "double_banana" not in text
    rc, report, _ = _main_json(capsys, path, "--montage", "double_banana")
    assert rc == 0 and list(report["montages"]) == ["double_banana"] and report["montages"]["double_banana"]["ok"]


def test_unknown_montage_is_a_clear_error(real_headers, capsys):
    path = real_headers / "chbmit" / "chb05" / "chb05_01.edf"
    assert cli.main(["inspect", str(path), "--montage", "banana"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "error: unknown montage 'banana'; valid montages: double_banana, tcp"
    with pytest.raises(MontageError):
        inspect_edf(path, ["banana"])


def test_montage_that_cannot_be_formed_is_reported(tmp_path):
    path = write_valid(tmp_path)  # only FP1, FP2, F3, F4
    report = inspect_edf(path)
    tcp = report["montages"]["tcp"]
    assert not tcp["ok"] and "only 2 can be formed" in tcp["error"]
    assert "missing electrodes: A1, A2, C3, C4, CZ, F7, F8, O1, O2, P3, P4, T3, T4, T5, T6" in tcp["error"]
    assert report["annotations"] is None
    assert "tcp            cannot be formed: montage 'tcp' needs at least 16" in format_report(report)


@pytest.mark.parametrize("kind", ["not_edf", "truncated_mid_record", "record_count_larger", "physical_min_eq_max",
                                  "no_eeg"])
def test_broken_edf_exits_1_with_one_line(tmp_path, capsys, kind):
    path = write_broken(tmp_path, kind)
    assert cli.main(["inspect", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith(f"error: {path}: ")


def test_annotation_error_does_not_stop_inspection(tmp_path, capsys):
    x = np.random.default_rng(0).normal(0, 10, size=(len(TCP_REF_LABELS), 256 * 4))
    path = write_edf(tmp_path / "p_s001_t000.edf", x, list(TCP_REF_LABELS), 256)
    (tmp_path / "p_s001_t000.csv_bi").write_text(
        "# version = csv_v1.0.0\n# bname = p_s001_t000\n# duration = 4.00 secs\n#\n"
        "channel,start_time,stop_time,label,confidence\nTERM,3.0,1.0,seiz,1.0\n"
    )
    rc, report, _ = _main_json(capsys, path)
    assert rc == 0 and report["montages"]["tcp"]["n_formed"] == 22
    ann = report["annotations"]
    assert not ann["ok"] and ann["path"].endswith(".csv_bi") and "stop" in ann["error"]
    assert cli.main(["inspect", str(path)]) == 0
    assert "annotations " in capsys.readouterr().out


def test_annotation_summary_of_a_seizure_sidecar(tmp_path):
    x = np.random.default_rng(0).normal(0, 10, size=(len(TCP_REF_LABELS), 100 * 60))
    path = write_edf(tmp_path / "q_s001_t000.edf", x, list(TCP_REF_LABELS), 100)
    (tmp_path / "q_s001_t000.csv_bi").write_text(
        "# version = csv_v1.0.0\n# bname = q_s001_t000\n# duration = 60.00 secs\n#\n"
        "channel,start_time,stop_time,label,confidence\n"
        "TERM,0.0000,10.0000,bckg,1.0000\nTERM,10.0000,25.5000,seiz,1.0000\nTERM,25.5000,60.0000,bckg,1.0000\n"
    )
    ann = inspect_edf(path)["annotations"]
    assert ann["ok"] and ann["n_seizures"] == 1 and ann["seizure_s"] == 15.5 and ann["warnings"] == []
    assert ann["labels"] == {"bckg": 2, "seiz": 1} and ann["seizures"] == [[10.0, 25.5]]
