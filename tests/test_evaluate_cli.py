"""``seizure evaluate``: directories and list files in, table + JSON + report.md out."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from seizure import cli
from seizure.events import Event
from seizure.io.annotations import write_csv, write_csv_bi, write_szcore_tsv, write_tse_bi
from seizure.scoring.report import report_paths

MEASURE_KEYS = {"sensitivity", "precision", "f1", "fa_per_24h", "hits", "misses", "false_alarms"}


@pytest.fixture
def run_cli(monkeypatch, capsys):
    monkeypatch.setattr(cli, "COMMANDS", ("evaluate",))  # only this command's module is needed

    def run(*argv: str) -> tuple[int, str, str]:
        code = cli.main(["evaluate", *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def _corpus(root: Path) -> tuple[Path, Path]:
    ref, hyp = root / "ref", root / "hyp"
    # two recordings of patient aaaaaaac, one of aaaaaaad (the hypothesis as a SzCORE TSV)
    write_csv_bi(ref / "train/aaaaaaac/s001_2015/01_tcp_ar/aaaaaaac_s001_t000.csv_bi", [Event(100, 200), Event(300, 400)], 3600.0)
    write_csv_bi(ref / "train/aaaaaaac/s001_2015/01_tcp_ar/aaaaaaac_s001_t001.csv_bi", [], 1800.0)
    write_csv(ref / "dev/aaaaaaad/s002_2016/01_tcp_ar/aaaaaaad_s002_t000.csv", [Event(600, 1320, "cpsz", channel="FP1-F7")], 3600.0)
    write_csv_bi(ref / "dev/aaaaaaad/s002_2016/01_tcp_ar/aaaaaaad_s002_t000.csv_bi", [Event(600, 1320)], 3600.0)
    write_csv_bi(hyp / "aaaaaaac_s001_t000.csv_bi", [Event(150, 350)], 3600.0)
    write_csv_bi(hyp / "aaaaaaac_s001_t001.csv_bi", [Event(10, 20)], 1800.0)
    write_szcore_tsv(hyp / "aaaaaaad_s002_t000_events.tsv", [Event(600, 630)], 3600.0)
    return ref, hyp


def test_evaluate_directories(tmp_path, run_cli):
    ref, hyp = _corpus(tmp_path)
    code, out, err = run_cli("--ref", str(ref), "--hyp", str(hyp), "--out", str(tmp_path / "out"),
                             "--json", str(tmp_path / "scores.json"))
    assert code == 0, err
    assert "3 recordings, 2.50 h, 3 reference seizures" in out
    assert out.splitlines()[1].split() == ["method", "sens", "prec", "F1", "FA/24h", "hits", "misses", "false", "alarms"]
    ovlp_row = next(line for line in out.splitlines() if line.startswith("OVLP"))
    assert ovlp_row.split() == ["OVLP", "100.00%", "75.00%", "85.71%", "9.60", "3", "0", "1"]

    report = json.loads((tmp_path / "scores.json").read_text())
    assert report == json.loads((tmp_path / "out/report.json").read_text())
    assert set(report) == {"n_recordings", "duration_s", "n_ref_events", "methods", "per_recording", "bootstrap"}
    assert (report["n_recordings"], report["duration_s"], report["n_ref_events"]) == (3, 9000.0, 3)
    assert set(report["methods"]) == {"ovlp", "taes", "epoch", "szcore"}
    for name in ("ovlp", "taes", "epoch"):
        assert set(report["methods"][name]) == MEASURE_KEYS
    sz = report["methods"]["szcore"]
    assert set(sz) == MEASURE_KEYS | {"per_subject_mean", "sample"}
    # OVLP: 3 hits (one hypothesis spans two seizures), 1 false alarm in 2.5 h
    assert report["methods"]["ovlp"] == {"sensitivity": 1.0, "precision": 0.75, "f1": pytest.approx(6 / 7),
                                         "fa_per_24h": 9.6, "hits": 3, "misses": 0, "false_alarms": 1}
    # TAES: 0.5 + 30/720 hits; the spanning hypothesis's second seizure is a miss
    assert report["methods"]["taes"]["hits"] == pytest.approx(0.5 + 30 / 720)
    # SzCORE: the 12-minute seizure becomes 3 events, 1 detected: 3 of 5
    assert (sz["hits"], sz["misses"], sz["false_alarms"], sz["sensitivity"]) == (3, 2, 1, 0.6)
    # per subject: aaaaaaac 2/2 detected (1 FP in 1.5 h), aaaaaaad 1/3 (no FP)
    assert sz["per_subject_mean"] == {"sensitivity": pytest.approx(2 / 3), "precision": pytest.approx((2 / 3 + 1) / 2),
                                      "f1": pytest.approx((0.8 + 0.5) / 2), "fa_per_24h": 8.0, "n_subjects": 2}
    rec = {r["recording"]: r for r in report["per_recording"]}
    assert rec["aaaaaaad_s002_t000"]["ref"].endswith(".csv_bi")  # .csv_bi preferred over .csv
    assert rec["aaaaaaad_s002_t000"]["subject"] == "aaaaaaad"
    assert rec["aaaaaaac_s001_t000"]["taes"] == {"hits": 0.5, "misses": 1.5, "false_alarms": 1}
    md = (tmp_path / "out/report.md").read_text()
    assert "| OVLP | 100.00% | 75.00% | 85.71% | 9.60 | 3 | 0 | 1 | NEDC any-overlap; counts pooled" in md
    assert "SzCORE rows follow the timescoring package" in md


def test_evaluate_bootstrap_intervals(tmp_path, run_cli):
    """Two patients, so every resample is cc, cd (twice as likely) or dd: each at least 25%, so the
    95% interval runs from the smaller to the larger of the single-patient figures (hand-computed)."""
    ref, hyp = _corpus(tmp_path)
    code, out, err = run_cli("--ref", str(ref), "--hyp", str(hyp), "--out", str(tmp_path / "out"),
                             "--bootstrap", "1000", "--seed", "7")
    assert code == 0, err
    boot = json.loads((tmp_path / "out/report.json").read_text())["bootstrap"]
    assert {k: boot[k] for k in ("n_resamples", "seed", "level", "n_patients", "unit")} == {
        "n_resamples": 1000, "seed": 7, "level": 0.95, "n_patients": 2, "unit": "patient"}
    assert set(boot["methods"]) == {"ovlp", "taes", "epoch", "szcore", "szcore_sample"}
    ovlp, taes, sz = (boot["methods"][m] for m in ("ovlp", "taes", "szcore"))
    # OVLP: both patients detect every seizure; false alarms: aaaaaaac 1 in 1.5 h (16/24h), aaaaaaad none
    assert ovlp["sensitivity"] == {"estimate": 1.0, "low": 1.0, "high": 1.0, "n_defined": 1000}
    assert (ovlp["fa_per_24h"]["low"], ovlp["fa_per_24h"]["high"]) == (0.0, pytest.approx(16.0))
    assert ovlp["fa_per_24h"]["estimate"] == pytest.approx(9.6)
    # TAES sensitivity: aaaaaaac 0.5 of 2 seizures, aaaaaaad 30/720 of 1
    assert (taes["sensitivity"]["low"], taes["sensitivity"]["high"]) == (pytest.approx(30 / 720), pytest.approx(0.25))
    # SzCORE F1 = 2TP / (2TP + FP + FN): cc 8/10, dd 4/8, pooled 6/9
    assert sz["f1"]["estimate"] == pytest.approx(2 / 3)
    assert (sz["f1"]["low"], sz["f1"]["high"]) == (pytest.approx(0.5), pytest.approx(0.8))
    line = next(x for x in out.splitlines() if x.startswith("95% intervals"))
    assert "1000 resamples of 2 patients, seed 7" in line and "OVLP FA/24h [0.00, 16.00]" in line
    assert "SzCORE event F1 [50.00%, 80.00%]" in line
    md = (tmp_path / "out/report.md").read_text()
    assert "## 95% intervals (patient-level bootstrap)" in md
    assert "1000 resamples of the 2 patients with replacement (seed 7)" in md
    assert "| OVLP | [100.00%, 100.00%] |" in md
    # the same seed gives the same report; --bootstrap 0 switches the intervals off
    run_cli("--ref", str(ref), "--hyp", str(hyp), "--json", str(tmp_path / "again.json"), "--seed", "7")
    assert json.loads((tmp_path / "again.json").read_text())["bootstrap"] == boot
    code, out, _ = run_cli("--ref", str(ref), "--hyp", str(hyp), "--out", str(tmp_path / "off"), "--bootstrap", "0")
    assert code == 0 and "intervals" not in out
    assert "bootstrap" not in json.loads((tmp_path / "off/report.json").read_text())
    assert "intervals" not in (tmp_path / "off/report.md").read_text()
    with pytest.raises(SystemExit) as info:
        run_cli("--ref", str(ref), "--hyp", str(hyp), "--bootstrap", "-1")
    assert info.value.code == 2


def test_evaluate_list_files_and_missing_hypotheses(tmp_path, run_cli):
    ref, hyp = _corpus(tmp_path)
    (hyp / "aaaaaaac_s001_t001.csv_bi").unlink()
    listing = tmp_path / "refs.txt"
    listing.write_text("# reference files\nref/train/aaaaaaac/s001_2015/01_tcp_ar/aaaaaaac_s001_t000.csv_bi\n\n"
                       "ref/train/aaaaaaac/s001_2015/01_tcp_ar/aaaaaaac_s001_t001.csv_bi\n")
    code, _, err = run_cli("--ref", str(listing), "--hyp", str(hyp))
    assert code == 1
    assert err.startswith(f"error: {hyp}: 1 of 2 reference recordings have no hypothesis (first: aaaaaaac_s001_t001")
    assert "--missing-as-empty" in err and len(err.strip().splitlines()) == 1
    code, out, err = run_cli("--ref", str(listing), "--hyp", str(hyp), "--missing-as-empty")
    assert code == 0, err
    assert "2 recordings, 1.50 h, 2 reference seizures" in out


def test_evaluate_errors(tmp_path, run_cli):
    ref, hyp = _corpus(tmp_path)
    write_csv_bi(hyp / "aaaaaaac_s001_t001.csv_bi", [Event(10, 20)], 1900.0)
    code, _, err = run_cli("--ref", str(ref), "--hyp", str(hyp))
    assert code == 1
    assert "aaaaaaac_s001_t001.csv_bi: reference says the recording lasts 1800 s but the hypothesis" in err
    assert "says 1900 s (tolerance 1 s)" in err
    code, _, err = run_cli("--ref", str(tmp_path / "nowhere"), "--hyp", str(hyp))
    assert code == 1 and "nowhere: no such directory, list file or annotation file" in err
    bad_list = tmp_path / "bad.txt"
    bad_list.write_text("ref/missing.csv_bi\n")
    code, _, err = run_cli("--ref", str(bad_list), "--hyp", str(hyp))
    assert code == 1 and "bad.txt: line 1: listed file not found: ref/missing.csv_bi" in err
    twice = tmp_path / "twice"
    write_csv_bi(twice / "a/rec_1.csv_bi", [], 10.0)
    write_csv_bi(twice / "b/rec_1.csv_bi", [], 10.0)
    code, _, err = run_cli("--ref", str(twice), "--hyp", str(hyp))
    assert code == 1 and "recording 'rec_1' appears twice" in err
    with pytest.raises(SystemExit) as info:
        run_cli("--hyp", str(hyp))
    assert info.value.code == 2


def test_duration_from_the_edf_beside_v1_files(tmp_path):
    from seizure.io.edf import write_edf

    ref, hyp = tmp_path / "ref", tmp_path / "hyp"
    ref.mkdir()
    # a .tse_bi with only a seizure row does not tile the timeline: its duration is the EDF's
    (ref / "rec_1.tse_bi").write_text("version = tse_v1.0.0\n\n10.0000 20.0000 seiz 1.0000\n")
    write_edf(ref / "rec_1.edf", np.zeros((1, 64 * 30), dtype=np.float32), ["EEG FP1-REF"], 64.0)
    write_tse_bi(hyp / "rec_1.tse_bi", [Event(12, 14)], 30.0)
    report = report_paths(ref, hyp)
    assert report.duration_s == 30.0 and report.methods["ovlp"].hits == 1
    (ref / "rec_1.edf").unlink()
    (hyp / "rec_1.tse_bi").write_text("version = tse_v1.0.0\n\n10.0000 20.0000 seiz 1.0000\n")
    with pytest.raises(Exception, match="no recording duration"):
        report_paths(ref, hyp)


def test_real_tusz_annotations_against_themselves(real_headers, tmp_path):
    report = report_paths(real_headers / "tuh", real_headers / "tuh")
    d = report.to_dict()
    assert d["n_recordings"] == len(list((real_headers / "tuh").rglob("*.csv_bi")))
    assert d["n_ref_events"] > 20
    for name in ("ovlp", "taes", "epoch", "szcore"):
        m = d["methods"][name]
        assert (m["sensitivity"], m["precision"], m["fa_per_24h"], m["misses"], m["false_alarms"]) == (1.0, 1.0, 0.0, 0, 0)


def _systems(root: Path) -> Path:
    """Six patients, one seizure each; 'good' finds all six, 'poor' only the first patient's,
    'twin' is a copy of 'good'."""
    ref = root / "ref"
    for k in range(6):
        name = f"aaaaaab{k}_s001_t000"
        write_csv_bi(ref / f"{name}.csv_bi", [Event(100, 200)], 3600.0)
        write_csv_bi(root / "good" / f"{name}.csv_bi", [Event(110, 190)], 3600.0)
        write_csv_bi(root / "twin" / f"{name}.csv_bi", [Event(110, 190)], 3600.0)
        write_csv_bi(root / "poor" / f"{name}.csv_bi", [Event(110, 190)] if k == 0 else [Event(1000, 1010)], 3600.0)
    return ref


def test_evaluate_compares_systems_on_the_same_references(tmp_path, run_cli):
    ref = _systems(tmp_path)
    code, out, err = run_cli("--ref", str(ref), "--hyp", str(tmp_path / "good"), "--hyp", f"weak={tmp_path / 'poor'}",
                             "--hyp", str(tmp_path / "twin"), "--out", str(tmp_path / "out"), "--bootstrap", "500")
    assert code == 0, err
    result = json.loads((tmp_path / "out/report.json").read_text())
    assert list(result["systems"]) == ["good", "weak", "twin"]
    assert result["systems"]["weak"]["methods"]["ovlp"]["sensitivity"] == pytest.approx(1 / 6)
    cmp = result["comparison"]
    assert cmp["reference"] == "good" and cmp["n_patients"] == 6 and cmp["n_resamples"] == 500
    weak = cmp["differences"]["weak"]
    # weak - good: 1/6 - 1 in sensitivity (hand count), 5 false alarms in 6 h more
    assert weak["ovlp/sensitivity"]["estimate"] == pytest.approx(1 / 6 - 1)
    assert weak["ovlp/sensitivity"]["high"] < 0 and weak["ovlp/sensitivity"]["verdict"] == "b higher"
    assert weak["ovlp/fa_per_24h"]["estimate"] == pytest.approx(5 * 86400 / (6 * 3600))
    twin = cmp["differences"]["twin"]
    assert twin["ovlp/sensitivity"] == {"estimate": 0.0, "low": 0.0, "high": 0.0, "n_defined": 500,
                                        "distinguishable": False, "verdict": "not distinguishable"}
    md = (tmp_path / "out/report.md").read_text()
    assert "| weak - good | OVLP sensitivity | -83.3% [" in md and "| good higher |" in md
    assert "| twin - good | OVLP sensitivity | +0.0% [+0.0%, +0.0%] | not distinguishable |" in md
    assert "| weak - good | OVLP sensitivity |" in out  # the terminal shows the same table


def test_evaluate_comparison_errors(tmp_path, run_cli):
    ref = _systems(tmp_path)
    code, _, err = run_cli("--ref", str(ref), "--hyp", str(tmp_path / "good"), "--hyp", str(tmp_path / "poor"),
                           "--bootstrap", "0")
    assert code == 1 and "comparing systems needs bootstrap resamples" in err
    code, _, err = run_cli("--ref", str(ref), "--hyp", f"a={tmp_path / 'good'}", "--hyp", f"a={tmp_path / 'poor'}")
    assert code == 1 and "two systems are named 'a'" in err
