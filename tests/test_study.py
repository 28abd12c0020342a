"""The study room: study files, a 2-run grid end to end (parallel, resumable), failures, tables, errors."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from seizure import checkpoint, cli
from seizure.errors import ConfigError, RecipeMismatchError
from seizure.postprocess import OperatingPoint, probs_to_events
from seizure.scoring.inputs import RecordingPair
from seizure.scoring.report import report_pairs
from seizure.store import FeatureStore
from seizure.evaluation import specificity
from seizure.study import AXES, load_study, run_study
from seizure.study.tables import mean_curve, stats
from seizure.training.config import load_config

ROOT = Path(__file__).resolve().parents[1]
STUDIES = ROOT / "configs" / "study"
PAPER_INITIALIZERS = ("orthogonal", "lecun_uniform", "lecun_normal", "glorot_uniform", "glorot_normal", "he_uniform",
                      "he_normal", "variance_scaling", "random_uniform", "truncated_normal")
TINY_BASE = """
[recipe]
feature = "spectrogram"
[model]
conv2d_channels = [4]
embed_dim = 8
hidden_size = 8
cell = "gru"
[train]
epochs = 1
steps_per_epoch = 3
batch_size = 4
crop_s = 40
eval_window_s = 100
eval_context_s = 30
threads = 1
[postprocess]
smooth_s = [0.0, 3.0]
min_duration_s = [0.0]
merge_gap_s = [0.0]
"""


@pytest.fixture(scope="session")
def store(study_store) -> FeatureStore:
    return study_store


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("base") / "tiny.toml"
    path.write_text(TINY_BASE)
    return path


def write_study(folder: Path, text: str, name: str = "study.toml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def epoch_specificity(records, probs, op) -> float:
    """TN / (TN + FP) over 0.25 s epoch midpoints, counted directly on sampled timelines."""
    tn = fp = 0
    for r, p in zip(records, probs):
        t = 0.125 + 0.25 * np.arange(int(r.duration_s / 0.25))
        t = t[t <= r.duration_s]
        ref = np.zeros(t.size, bool)
        for e in r.events:
            ref |= (t >= e.start_s) & (t <= e.stop_s)
        hyp = np.zeros(t.size, bool)
        for e in probs_to_events(p, op):
            hyp |= (t >= e.start_s) & (t <= e.stop_s)
        tn += int(np.sum(~ref & ~hyp))
        fp += int(np.sum(~ref & hyp))
    return tn / (tn + fp)


# --------------------------------------------------------------------------- the study files


def test_the_three_study_files_hold_the_papers_grids(tiny_base):
    cells = load_study(STUDIES / "cells.toml", base=tiny_base)
    assert cells.axis == "cell" and [v.name for v in cells.variants] == [
        "lstm", "gru", "minimalrnn", "rnn", "minimalrnn_critical"]
    crit = cells.config(cells.variant("minimalrnn_critical"), 0).model
    assert crit.cell == "minimalrnn" and crit.init.recurrent_hidden == "critical"

    inits = load_study(STUDIES / "initializers.toml", base=tiny_base)
    names = [v.name for v in inits.variants]
    assert names == [*PAPER_INITIALIZERS, "rai", "critical"]
    for name in PAPER_INITIALIZERS + ("rai",):
        init = inits.config(inits.variant(name), 0).model.init
        assert (init.conv, init.recurrent_input, init.recurrent_hidden, init.output) == (name,) * 4

    regs = load_study(STUDIES / "regularizers.toml", base=tiny_base)
    assert {v.name: regs.config(v, 0).model.regularizers for v in regs.variants} == {
        "none": (), "l1": ("l1",), "l2": ("l2",), "l1_l2": ("l1_l2",), "dropout": ("dropout",),
        "gaussian_noise": ("gaussian_noise",), "recurrent_dropout": ("recurrent_dropout",),
        "sparse_vd": ("sparse_vd",)}
    # every file's own base (the paper's config) and the CPU-sized base resolve too
    for name in ("cells", "initializers", "regularizers"):
        for base in (None, STUDIES / "cpu.toml"):
            study = load_study(STUDIES / f"{name}.toml", base=base)
            assert study.seeds == (0, 1, 2) and study.axis in AXES
            assert {study.config(v, 1).train.seed for v in study.variants} == {1}


# --------------------------------------------------------------------------- end to end


GRID = {"seeds": 1, "only": ["lstm", "gru"]}


@pytest.fixture(scope="module")
def grid(store, tiny_base, tmp_path_factory):
    """configs/study/cells.toml, 2 variants x 1 seed on the tiny base, run in-process."""
    out = tmp_path_factory.mktemp("grid") / "cells"
    lines = []
    res = run_study(STUDIES / "cells.toml", store.root, out, jobs=1, base=tiny_base, status=lines.append, **GRID)
    return res, out, lines


def figures_of(out: Path) -> dict[str, dict]:
    return {v: json.loads((out / "runs" / v / "seed0" / "result.json").read_text())["figures"] for v in ("lstm", "gru")}


def test_two_run_grid_end_to_end_then_resume(store, tiny_base, grid):
    res, out, lines = grid
    assert (res.planned, res.skipped, res.done, res.failed, res.split) == (2, 0, 2, [], "eval")
    assert len(lines) == 2 and all("OVLP" in line for line in lines)
    eval_recs = store.records("eval")
    for variant in ("lstm", "gru"):
        run = out / "runs" / variant / "seed0"
        for name in ("best.pt", "last.pt", "resolved_config.toml", "run.json", "run.log", "eval_probs.npz",
                     "eval_report.json", "det.json", "result.json"):
            assert (run / name).is_file(), name
        cfg = load_config(run / "resolved_config.toml")
        assert cfg.model.cell == variant and cfg.train.seed == 0 and cfg.model.hidden_size == 8
        result = json.loads((run / "result.json").read_text())
        # the figures are those of the saved probabilities at the checkpoint's operating point
        probs_npz = np.load(run / "eval_probs.npz")
        assert sorted(probs_npz.files) == sorted(r.rec_id for r in eval_recs)
        probs = [probs_npz[r.rec_id] for r in eval_recs]
        assert [len(p) for p in probs] == [r.n_seconds for r in eval_recs]
        op = OperatingPoint(**checkpoint.read(run / "best.pt")["operating_point"])
        report = report_pairs([RecordingPair(r.rec_id, r.events, probs_to_events(p, op), r.duration_s)
                                 for r, p in zip(eval_recs, probs)])
        f = result["figures"]
        assert f["ovlp_sensitivity"] == pytest.approx(report.methods["ovlp"].sensitivity)
        assert f["ovlp_fa_per_24h"] == pytest.approx(report.methods["ovlp"].fa_per_24h)
        assert f["taes_f1"] == pytest.approx(report.methods["taes"].f1)
        assert f["specificity"] == pytest.approx(epoch_specificity(eval_recs, probs, op))
        assert result["split"] == "eval" and result["n_seizures"] == 2 and result["sparsity"] is None
        assert "1 run(s) in parallel x 1 torch thread(s)" in result["machine"]  # the tiny base asks for 1 thread

    # tables: one row per variant in the study's order, the paper's columns, the CSV, the DET plot
    md = (out / "results.md").read_text()
    rows = [line for line in md.splitlines() if line.startswith(("| lstm | 1/1 |", "| gru | 1/1 |"))]
    assert [r.split("|")[1].strip() for r in rows] == ["lstm", "gru"]
    header = next(line for line in md.splitlines() if line.startswith("| variant | runs |"))
    for col in ("OVLP sensitivity (%)", "specificity (%)", "OVLP FA/24h", "TAES sensitivity (%)", "SzCORE F1 (%)"):
        assert col in header
    assert "sparsity" not in header
    assert "TN / (TN + FP) over 0.25 s epochs" in md
    assert "`model.cell = \"lstm\"`" in md  # the tiny base's cell is gru: lstm differs from it
    with open(out / "results.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert [r["variant"] for r in table] == ["lstm", "gru"]
    assert all(r["runs_ok"] == "1" and r["runs_planned"] == "1" for r in table)
    lstm = table[0]
    assert float(lstm["ovlp_sensitivity_pct_mean"]) == pytest.approx(100 * figures_of(out)["lstm"]["ovlp_sensitivity"])
    assert lstm["ovlp_sensitivity_pct_std"] == ""  # one seed: no spread
    with open(out / "runs.csv", newline="") as fh:
        assert [(r["variant"], r["status"]) for r in csv.DictReader(fh)] == [("lstm", "ok"), ("gru", "ok")]
    assert (out / "det.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # a rerun does nothing; the tables come out the same
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("runs/*/seed0/*.pt")}
    before = (out / "results.csv").read_text()
    again = run_study(STUDIES / "cells.toml", store.root, out, base=tiny_base, **GRID)
    assert (again.skipped, again.done, again.failed) == (2, 0, [])
    assert {p: p.stat().st_mtime_ns for p in out.glob("runs/*/seed0/*.pt")} == stamps
    assert (out / "results.csv").read_text() == before

    # the same folder with another config is refused before anything runs
    with pytest.raises(ConfigError, match="holds a run of another config"):
        run_study(STUDIES / "cells.toml", store.root, out, base=tiny_base, overrides=["train.epochs=2"], **GRID)

    # a run made before the code gained a config key (its hash differs, its saved config lacks the key,
    # which now has its default) is still the same run; a saved config that really differs is not
    run = out / "runs" / "lstm" / "seed0"
    saved = (run / "resolved_config.toml").read_text()
    assert "\nwarmup_fraction = 0.05\n" in saved
    (run / "resolved_config.toml").write_text(saved.replace("\nwarmup_fraction = 0.05\n", "\n"))
    for name in ("run.json", "result.json"):
        data = json.loads((run / name).read_text())
        (run / name).write_text(json.dumps({**data, "config_hash": "made-by-older-code"}))
    older = run_study(STUDIES / "cells.toml", store.root, out, base=tiny_base, **GRID)
    assert (older.skipped, older.done) == (2, 0)
    (run / "resolved_config.toml").write_text(saved.replace("hidden_size = 8", "hidden_size = 9"))
    with pytest.raises(ConfigError, match="holds a run of another config"):
        run_study(STUDIES / "cells.toml", store.root, out, base=tiny_base, **GRID)


def test_parallel_runs_give_the_in_process_figures(store, tiny_base, grid, tmp_path):
    _, serial, _ = grid
    res = run_study(STUDIES / "cells.toml", store.root, tmp_path / "cells", jobs=2, base=tiny_base, **GRID)
    assert (res.done, res.failed) == (2, [])
    assert figures_of(tmp_path / "cells") == figures_of(serial)
    machine = json.loads((tmp_path / "cells/runs/gru/seed0/result.json").read_text())["machine"]
    assert "2 run(s) in parallel" in machine


def test_runs_on_a_dask_local_cluster_give_the_in_process_figures(store, tiny_base, grid, tmp_path):
    pytest.importorskip("distributed", reason="the dask extra is not installed: pip install 'seizure[dask]'")
    from seizure.parallel import Executor

    _, serial, _ = grid
    res = run_study(STUDIES / "cells.toml", store.root, tmp_path / "cells", jobs=2, base=tiny_base,
                    executor=Executor("dask"), **GRID)
    assert (res.done, res.failed) == (2, [])
    assert figures_of(tmp_path / "cells") == figures_of(serial)


def test_a_failed_run_is_recorded_and_the_rest_goes_on(store, tiny_base, tmp_path):
    study = write_study(tmp_path, f"""
[study]
axis = "initializer"
base = "{tiny_base}"
seeds = 1
[variants.glorot]
model.init = {{ conv = "glorot_uniform" }}
[variants.bad_rai]
model.init = {{ conv = "rai", conv_params = {{ sigma = -1.0 }} }}
""")
    out = tmp_path / "out"
    res = run_study(study, store.root, out)
    assert res.done == 1 and [f["variant"] for f in res.failed] == ["bad_rai"]
    assert "sigma and alpha must be positive" in res.failed[0]["message"]
    failed = json.loads((out / "runs/bad_rai/seed0/failed.json").read_text())
    assert "sigma and alpha must be positive" in failed["error"]
    assert "Traceback" in (out / "runs/bad_rai/seed0/run.log").read_text()
    assert "| bad_rai | 0/1 (1 failed) |" in (out / "results.md").read_text()
    with open(out / "runs.csv", newline="") as fh:
        status = {r["variant"]: (r["status"], r["error"]) for r in csv.DictReader(fh)}
    assert status["glorot"][0] == "ok" and status["bad_rai"][0] == "failed"
    # the CLI retries only the failed run and exits 1 because it fails again
    code = cli.main(["-q", "study", str(study), "--store", str(store.root), "--out", str(out)])
    assert code == 1
    assert (out / "runs/glorot/seed0/result.json").is_file()


def test_an_interrupted_study_writes_its_tables_and_resumes(store, tiny_base, tmp_path, monkeypatch):
    import seizure.training.loop
    from seizure.study import StudyInterrupted
    from seizure.training.loop import TrainingInterrupted

    study = write_study(tmp_path, f'[study]\naxis = "cell"\nbase = "{tiny_base}"\nseeds = 1\n'
                                  '[variants.gru]\nmodel = { cell = "gru" }\n')
    out = tmp_path / "out"

    def stopped(store_path, run_dir, cfg, progress=False):  # what Ctrl-C during training raises
        raise TrainingInterrupted("training stopped at epoch 1 step 2", run_dir)

    monkeypatch.setattr(seizure.training.loop, "train", stopped)
    with pytest.raises(StudyInterrupted, match="run the same command again to resume"):
        run_study(study, store.root, out)
    assert "| gru | 0/1 |" in (out / "results.md").read_text()
    assert not (out / "runs/gru/seed0/failed.json").exists()  # an interruption is not a failure
    monkeypatch.undo()
    res = run_study(study, store.root, out)
    assert (res.done, res.failed) == (1, [])


def test_reproduce_paper_script_refuses_unknown_studies(tmp_path, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location("reproduce_paper", ROOT / "scripts" / "reproduce_paper.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(SystemExit) as exc:
        module.main(["--store", str(tmp_path), "--out", str(tmp_path / "o"), "--studies", "cells,depth"])
    assert exc.value.code == 2 and "unknown study 'depth'" in capsys.readouterr().err
    assert module.main(["--store", str(tmp_path / "nostore"), "--out", str(tmp_path / "o"), "--studies", "cells"]) == 1
    assert "not a feature store" in capsys.readouterr().err


# --------------------------------------------------------------------------- tables


def test_stats_mean_sample_std_min_max_ignore_missing():
    s = stats(np.array([0.5, np.nan, 0.7]))
    assert s["n"] == 2 and s["mean"] == pytest.approx(0.6) and s["std"] == pytest.approx(math.sqrt(0.02))
    assert (s["min"], s["max"]) == (0.5, 0.7)
    assert math.isnan(stats(np.array([0.4]))["std"]) and stats(np.array([np.nan]))["n"] == 0


def test_mean_det_curve_averages_seeds_threshold_by_threshold(tmp_path):
    from seizure.study.runner import RunSpec

    specs = []
    for seed, (sens, fa) in enumerate((([0.5, 0.4, 0.0], [8.0, 4.0, 0.0]), ([0.7, 0.6, None], [12.0, 2.0, 0.0]))):
        run = tmp_path / f"seed{seed}"
        run.mkdir()
        (run / "result.json").write_text(json.dumps({"config_hash": "h"}))
        (run / "det.json").write_text(json.dumps({"thresholds": [0.25, 0.5, 0.75],
                                                  "ovlp": {"sensitivity": sens, "fa_per_24h": fa}}))
        specs.append(RunSpec("v", seed, None, "h", run))
    curve = mean_curve(specs)
    assert curve.n_seeds == 2
    np.testing.assert_allclose(curve.sensitivity, [0.6, 0.5, 0.0])
    np.testing.assert_allclose(curve.fa_per_24h, [10.0, 3.0, 0.0])
    assert curve.at_most(6.0) == pytest.approx(0.5) and curve.at_most(1.0) == pytest.approx(0.0)


def test_specificity_is_the_epoch_true_negative_rate():
    # 10 s: 40 epochs; 8 seizure epochs, 4 false-alarm epochs -> TN = 28 of 32 negatives
    assert specificity([10.0], 8, 4) == pytest.approx(28 / 32)
    assert specificity([10.0, 10.0], 16, 0) == 1.0


# --------------------------------------------------------------------------- errors


def _study(tmp_path, tiny_base, body: str, head: str = 'axis = "cell"') -> Path:
    return write_study(tmp_path, f'[study]\n{head}\nbase = "{tiny_base}"\n{body}')


@pytest.mark.parametrize(("head", "body", "match"), [
    ('axis = "cells"', '[variants.a]\nmodel = { cell = "gru" }',
     r"axis must be one of cell, initializer, regularizer, got 'cells'"),
    ('axis = "cell"\nseed = 2', '[variants.a]\nmodel = { cell = "gru" }',
     r"unknown key 'seed' in \[study\]; valid: axis"),
    ('axis = "cell"', '[variant.a]\nmodel = { cell = "gru" }', r"unknown key 'variant' in the study file"),
    ('axis = "cell"', '[variants.a]\nmodle = { cell = "gru" }', r"unknown key 'modle' in variant 'a'; valid: model"),
    ('axis = "cell"', '[variants.a]\nmodel = { cell = "gru" }\nrecipe = { feature = "raw" }',
     r"unknown key 'recipe' in variant 'a'.*the recipe is the store's"),
    ('axis = "cell"', '[variants.a]\nmodel = { cell = "gru", cel = "rnn" }',
     r"variant 'a': unknown config key 'model.cel'"),
    ('axis = "cell"', '[variants.a]\nmodel = { cell = "lstmm" }',
     r"variant 'a': unknown model.cell 'lstmm'; valid: gru, lstm, minimalrnn, rnn"),
    ('axis = "cell"', '[variants.a]\ntrain = { lr = 0.1 }', r"variant 'a' does not set model.cell"),
    ('axis = "cell"', '[variants.a]\nmodel = { cell = "gru" }\ntrain = { seed = 4 }', r"variant 'a' sets train.seed"),
    ('axis = "cell"', '', r"no variants"),
    ('axis = "cell"', '[variants."a/b"]\nmodel = { cell = "gru" }', r"variant name 'a/b'"),
    ('axis = "cell"\nseeds = 0', '[variants.a]\nmodel = { cell = "gru" }', r"seeds must be an integer from 1 to 100"),
])
def test_bad_study_files_are_refused_naming_the_key(tmp_path, tiny_base, head, body, match):
    path = _study(tmp_path, tiny_base, body, head)
    with pytest.raises(ConfigError, match=match) as err:
        load_study(path)
    assert str(err.value).startswith(str(path))


def test_bad_arguments_are_refused(tmp_path, tiny_base, store):
    path = _study(tmp_path, tiny_base, '[variants.a]\nmodel = { cell = "gru" }\n[variants.b]\nmodel = { cell = "rnn" }')
    with pytest.raises(ConfigError, match=r"override 'model.cell=lstm' conflicts with variant 'a'"):
        load_study(path, overrides=["model.cell=lstm"])
    with pytest.raises(ConfigError, match=r"train.seed is set by the study"):
        load_study(path, overrides=["train.seed=3"])
    with pytest.raises(ConfigError, match=r"unknown variant 'c' \(--only\); valid: a, b"):
        load_study(path, only=["a", "c"])
    with pytest.raises(ConfigError, match=r"base config not found"):
        load_study(path, base=tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match=r"jobs must be a positive integer"):
        run_study(path, store.root, tmp_path / "out", jobs=0)
    (tmp_path / "studies").mkdir()
    lfcc = write_study(tmp_path / "studies", '[study]\naxis = "cell"\nbase = "../x.toml"\n[variants.a]\n'
                       'model = { cell = "gru" }')
    (tmp_path / "x.toml").write_text("[model]\nhidden_size = 8\n")
    with pytest.raises(RecipeMismatchError, match=r"variant 'a'"):
        run_study(lfcc, store.root, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_cli_usage_and_config_errors(tmp_path, tiny_base, store, capsys):
    bad = _study(tmp_path, tiny_base, '[variants.a]\nmodel = { cell = "gru" }', 'axis = "depth"')
    assert cli.main(["study", str(bad), "--store", str(store.root), "--out", str(tmp_path / "o")]) == 1
    assert "axis must be one of" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        cli.main(["study", str(bad), "--store", str(store.root), "--out", str(tmp_path / "o"), "--jobs", "0"])
    assert exc.value.code == 2
