"""``seizure demo``: a tiny end-to-end run (1 h corpus, a 1-epoch tiny model), its outputs, resuming."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from seizure import cli
from seizure.demo import demo_config_path, removals, run_demo
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
    assert set(rep) >= {"eval", "model", "baseline", "equal_fa", "channel_robustness"}
    assert rep["eval"]["n_recordings"] >= 1 and rep["eval"]["hours"] > 0
    for system in ("model", "baseline"):
        methods = rep[system]["report"]["methods"]
        assert set(methods) == {"ovlp", "taes", "epoch", "szcore"}
        assert 0.0 <= methods["ovlp"]["sensitivity"] <= 1.0
        assert set(rep["equal_fa"][system]) == {"ovlp", "szcore"}
        assert len(rep[system]["det"]["thresholds"]) == len(det.default_thresholds())
    assert [row["removed"] for row in rep["channel_robustness"]] == list(removals())
    md = result.outputs["report.md"].read_text()
    for heading in ("## Model and baseline at their dev-chosen operating points", "## At equal false-alarm rates (DET)",
                    "## Channel robustness", "| OVLP |", "| SzCORE event |"):
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
