"""``seizure demo``: a tiny end-to-end run (1 h corpus, a 1-epoch tiny model), its outputs, resuming."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from seizure import cli
from seizure.demo import FA_TARGETS, SYSTEMS, demo_config_path, removals, run_demo
from seizure.errors import ConfigError, SeizureError
from seizure.io.annotations import read_annotations
from seizure.scoring import det

TINY = ["model.frontend=cnn2d", "model.conv2d_channels=[4]", "model.embed_dim=8", "model.hidden_size=8",
        "model.cell=gru", "model.num_layers=1", "model.regularizers=[]", "train.epochs=1", "train.steps_per_epoch=6",
        "train.batch_size=4", "train.crop_s=60", "train.eval_window_s=300", "train.eval_context_s=30",
        "train.threads=1", "train.max_minutes=0", "postprocess.smooth_s=[0]", "postprocess.min_duration_s=[0]",
        "postprocess.merge_gap_s=[0]"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "run"
    lines: list[str] = []
    result = run_demo(out, hours=1.0, seed=3, overrides=TINY, status=lines.append)
    return out, result, lines


def test_every_stage_reports_and_every_output_parses(demo):
    out, result, lines = demo
    assert [line.split("]")[0] for line in lines if line.startswith("[")] == [f"[{k}/5" for k in range(1, 6)]
    assert set(result.outputs) == {"checkpoint", "report.md", "report.json", "DET plot (OVLP)", "DET plot (SzCORE)",
                                   "scored csv_bi", "scored SzCORE TSV", "scored probabilities", "scored plot"}
    for key in ("DET plot (OVLP)", "DET plot (SzCORE)", "scored plot"):
        assert result.outputs[key].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rep = json.loads(result.outputs["report.json"].read_text())
    assert set(rep) >= {"eval", *SYSTEMS, "paired", "equal_fa", "equal_fa_margin", "channel_robustness"}
    assert rep["eval"]["n_recordings"] >= 1 and rep["eval"]["hours"] > 0
    for system in SYSTEMS:
        methods = rep[system]["report"]["methods"]
        assert set(methods) == {"ovlp", "taes", "epoch", "szcore"}
        assert 0.0 <= methods["ovlp"]["sensitivity"] <= 1.0
        assert len(rep[system]["det"]["thresholds"]) == len(det.default_thresholds())
        assert set(rep["equal_fa"][system]) == {str(t) for t in FA_TARGETS}
    assert [row["removed"] for row in rep["channel_robustness"]] == list(removals())
    md = result.outputs["report.md"].read_text()
    for heading in ("## Headline figures at the dev-chosen operating points", "## Paired differences",
                    "## At equal false-alarm rates", "oracle (threshold swept on eval)", "## Channel robustness",
                    "| OVLP |", "| SzCORE event |", "| model - band-power | OVLP sensitivity |",
                    "| model - line-length | OVLP sensitivity |"):
        assert heading in md

    csv_bi = read_annotations(result.outputs["scored csv_bi"])
    tsv = read_annotations(result.outputs["scored SzCORE TSV"])
    probs = np.loadtxt(result.outputs["scored probabilities"], delimiter=",", skiprows=1)
    assert csv_bi.duration_s == tsv.duration_s and probs.shape == (int(csv_bi.duration_s), 2)
    assert result.outputs["checkpoint"] == out.resolve() / "model" / "best.pt"


def test_a_second_run_reuses_every_stage(demo):
    out, first, _ = demo
    lines: list[str] = []
    again = run_demo(out, hours=1.0, seed=3, overrides=TINY, status=lines.append)
    stages = [line for line in lines if line.startswith("[")]
    assert "reusing" in stages[0] and " 0 processed" in stages[1] and "reused" in stages[3] and "reusing" in stages[4]
    assert again.outputs == first.outputs
    with pytest.raises(SeizureError, match=r"holds a demo run with other settings \(seed=3\); use another --out"):
        run_demo(out, hours=1.0, seed=4, overrides=TINY)


def test_settings_and_config_errors(tmp_path):
    assert demo_config_path().name == "demo.toml"
    with pytest.raises(ConfigError, match=r"hours must be a number in \(0, 200\], got 0"):
        run_demo(tmp_path / "a", hours=0)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "mine.txt").write_text("x")
    with pytest.raises(SeizureError, match=r"busy: this folder is not empty and holds no demo run"):
        run_demo(tmp_path / "busy", overrides=TINY)
    with pytest.raises(ConfigError, match="train.bogus"):
        run_demo(tmp_path / "b", overrides=["train.bogus=1"])


def test_cli_prints_where_each_output_is(demo, monkeypatch, capsys):
    out, _, _ = demo
    monkeypatch.setattr(cli, "COMMANDS", ("demo",))
    code = cli.main(["demo", "--out", str(out), "--hours", "1", "--seed", "3", *[f"--set={o}" for o in TINY]])
    stdout = capsys.readouterr().out
    assert code == 0
    assert "demo finished in" in stdout
    assert re.search(r"report\.md +" + re.escape(str(out.resolve() / "evaluation" / "report.md")), stdout)
    with pytest.raises(SystemExit) as info:
        cli.main(["demo", "--hours", "-1"])
    assert info.value.code == 2


def test_the_fitted_baseline_is_there_with_intervals_and_equal_fa_points_come_from_dev(demo):
    from dataclasses import replace

    from seizure import checkpoint
    from seizure.evaluation import choose_operating_point, hypotheses, split_probabilities
    from seizure.scoring.bootstrap import HEADLINE
    from seizure.scoring.report import report_pairs
    from seizure.store import FeatureStore

    out, result, _ = demo
    rep = json.loads(result.outputs["report.json"].read_text())
    store = FeatureStore(out / "store")
    dev_s = sum(r.duration_s for r in store.records("dev"))
    assert rep["eval"]["dev_fa_per_24h_per_false_alarm"] == pytest.approx(86400.0 / dev_s)
    # the tiny demo's dev split resolves none of the targets, and the report says which
    md = result.outputs["report.md"].read_text()
    assert f"one false alarm is {86400.0 / dev_s:.1f} FA/24h, so the 1, 2, 6, 10 FA/24h targets" in md
    fitted = rep["bandpower"]["fitted"]
    assert fitted["fitted_on"] == "train" and fitted["n_records"] == len(store.records("train"))
    assert fitted["seed"] == 3 and fitted["features"] > 50
    assert rep["bandpower"]["operating_point"] == fitted["operating_point"]
    for system in SYSTEMS:
        boot = rep[system]["report"]["bootstrap"]
        assert boot["n_resamples"] >= 1000 and boot["unit"] == "patient"
        for method, measure in HEADLINE:
            iv = boot["methods"][method][measure]
            assert iv["low"] is not None and iv["low"] <= iv["high"]
    model_iv, bp_iv = (rep[s]["report"]["bootstrap"]["methods"] for s in ("model", "bandpower"))
    for method, measure in HEADLINE:
        d = rep["paired"]["model - bandpower"][f"{method}/{measure}"]
        expected = model_iv[method][measure]["estimate"] - bp_iv[method][measure]["estimate"]
        assert d["estimate"] == pytest.approx(expected)
        assert d["distinguishable"] == (d["low"] > 0 or d["high"] < 0)

    # every equal-FA point of the model is the one chosen on DEV for that target (never on eval)
    ckpt = checkpoint.load(result.outputs["checkpoint"])
    dev, ev = store.records("dev"), store.records("eval")
    dev_probs = split_probabilities(ckpt.model, store, dev, ckpt.config.train)
    eval_probs = split_probabilities(ckpt.model, store, ev, ckpt.config.train)
    for t in FA_TARGETS:
        entry = rep["equal_fa"]["model"][str(t)]
        op = choose_operating_point(dev_probs, dev, replace(ckpt.config.postprocess, target_fa_per_24h=t))[0]
        assert entry["operating_point"] == {"threshold": op.threshold, "smooth_s": op.smooth_s,
                                            "min_duration_s": op.min_duration_s, "merge_gap_s": op.merge_gap_s}
        scored = report_pairs(hypotheses(ev, eval_probs, op), bootstrap=0).methods["ovlp"]
        assert entry["eval"]["ovlp"]["sensitivity"]["estimate"] == pytest.approx(scored.sensitivity)
        assert entry["eval"]["ovlp"]["fa_per_24h"]["estimate"] == pytest.approx(scored.fa_per_24h)


def _records(split: str, n: int) -> list:
    from seizure.store import RecordMeta

    return [RecordMeta(f"aaaa{split[:1]}{k:03d}_s001_t000", split, f"aaaa{split[:1]}{k:03d}", "", duration_s=3600.0,
                       n_seconds=3600, seizures=[[1000.0, 1060.0]]) for k in range(n)]


def _probs(seizure_p: float, background_peak_p: float) -> np.ndarray:
    p = np.full(3600, 0.01)
    p[1000:1060] = seizure_p
    p[2000:2030] = background_peak_p  # one background burst per recording
    return p


def test_equal_fa_thresholds_are_chosen_on_dev_and_the_oracle_is_kept_apart():
    """On dev the seizures sit at 0.9 above bursts at 0.6; on eval they sit at 0.5 above bursts at
    0.2. A threshold chosen on dev misses every eval seizure; only the eval-swept oracle finds them."""
    from seizure.demo import _equal_fa
    from seizure.evaluation import score_split
    from seizure.postprocess import OperatingPoint
    from seizure.training.config import PostprocessConfig

    dev, ev = _records("dev", 4), _records("eval", 4)
    probs = {name: {"dev": [_probs(0.9, 0.6) for _ in dev], "eval": [_probs(0.5, 0.2) for _ in ev]}
             for name in SYSTEMS}
    curves = {name: score_split(ev, probs[name]["eval"], OperatingPoint(0.5))[1] for name in SYSTEMS}
    pp = PostprocessConfig(smooth_s=(0.0,), min_duration_s=(0.0,), merge_gap_s=(0.0,))
    table, margins = _equal_fa(probs, dev, ev, pp, curves)
    for t in FA_TARGETS:
        entry = table["model"][str(t)]
        assert entry["dev"]["sensitivity"] == 1.0 and entry["dev"]["fa_per_24h"] == 0.0
        assert entry["operating_point"]["threshold"] > 0.6
        assert entry["eval"]["ovlp"]["sensitivity"]["estimate"] == 0.0
        assert entry["oracle_eval_swept"]["ovlp"]["sensitivity"] == 1.0
        assert margins[str(t)]["ovlp/sensitivity"]["estimate"] == 0.0
        assert margins[str(t)]["ovlp/sensitivity"]["verdict"] == "not distinguishable"


@pytest.mark.slow
def test_on_a_demo_corpus_the_model_is_ahead_of_the_line_length_reference(tmp_path):
    """The demo config on a 20 h demo corpus (15 epochs): the model meets its false-alarm
    target on dev, and at every FA/24h budget of the eval DET sweep (threshold swept for both
    systems alike) it finds at least 30 points more eval seizures than the untrained line-length
    reference; the fitted band-power baseline is there with its intervals. (On a small dev split
    the line-length reference often meets no target, and its fallback point, the fewest dev
    false alarms, detects nearly everything at a high FA/24h, so operating points are not
    compared here.)"""
    from seizure.scoring.bootstrap import HEADLINE

    result = run_demo(tmp_path / "run", hours=20.0, seed=5, overrides=["train.max_minutes=0"])
    rep = json.loads(result.outputs["report.json"].read_text())
    assert rep["model"]["dev"]["target_reached"] is True
    for t in FA_TARGETS:
        oracle = {s: rep["equal_fa"][s][str(t)]["oracle_eval_swept"]["ovlp"]["sensitivity"] or 0.0
                  for s in ("model", "line_length")}
        assert oracle["model"] >= oracle["line_length"] + 0.3, (t, oracle)
    assert rep["bandpower"]["fitted"]["fitted_on"] == "train" and rep["bandpower"]["fitted"]["fit_s"] > 0
    for method, measure in HEADLINE:
        iv = rep["bandpower"]["report"]["bootstrap"]["methods"][method][measure]
        assert iv["low"] is not None and iv["low"] <= iv["high"]
