"""`benchmarks/shift_summary.py`: bench_shift runs of several training seeds in one table."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def summary():
    spec = importlib.util.spec_from_file_location("shift_summary", ROOT / "benchmarks" / "shift_summary.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(path: Path, seed: int | None, sens: float, fa: float, half: float, oracle: float, baseline: bool) -> str:
    systems = [{"system": "model (profile)", "dev_chosen": {"6": {"sensitivity": sens, "fa_per_24h": fa}},
                "half_tuned_at_6": {"sensitivity": half, "fa_per_24h": 2.0}, "oracle_eval_sensitivity_at_6": oracle}]
    if baseline:
        systems.append({"system": "band-power baseline", "dev_chosen": {"6": {"sensitivity": 0.8, "fa_per_24h": 12.0}},
                        "half_tuned_at_6": {"sensitivity": 0.7, "fa_per_24h": 4.0},
                        "oracle_eval_sensitivity_at_6": 0.75})
    run = {"config": "demo.toml", "overrides": [] if seed is None else [f"train.seed={seed}"], "hours": 16,
           "seed": 201, "split_shares": None, "target": {"sensitivity": 0.9, "fa_per_24h": 6.0},
           "results": [{"profile": "multi_site", "systems": systems}]}
    path.write_text(json.dumps(run))
    return str(path)


def test_means_and_target_counts_over_seeds(summary, tmp_path):
    paths = [_run(tmp_path / "s1.json", 1, 0.95, 4.0, 0.9, 1.0, False),
             _run(tmp_path / "s0.json", None, 0.85, 0.0, 0.8, 0.9, True)]
    rows = summary.collect(summary.load_runs(paths))
    model = rows[("multi_site", "model (profile)")]
    assert [r["seed"] for r in model] == [0, 1]  # seed order, whatever the file order
    assert [r["meets"] for r in model] == [False, True]
    text = summary.table(rows)
    # 0.85 and 0.95 -> 90.0 % at (0 + 4) / 2 FA/24h; half 85 %; oracle 95 %; the baseline from one run
    assert "| multi_site | model (profile) | 85.0% @ 0.0 (seed 0); 95.0% @ 4.0 (seed 1) | 1/2 | 90.0% @ 2.0 " \
           "| 85.0% @ 2.0 | 95.0% |" in text
    assert "| multi_site | band-power baseline | 80.0% @ 12.0 (seed 0) | 0/1 |" in text


def test_runs_of_another_corpus_are_refused(summary, tmp_path):
    a = _run(tmp_path / "a.json", 0, 0.9, 0.0, 0.9, 0.9, False)
    b = _run(tmp_path / "b.json", 1, 0.9, 0.0, 0.9, 0.9, False)
    data = json.loads(Path(b).read_text())
    data["seed"] = 101
    Path(b).write_text(json.dumps(data))
    with pytest.raises(SystemExit, match="another config, corpus or size"):
        summary.load_runs([a, b])
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(SystemExit, match="not a bench_shift.py JSON"):
        summary.load_runs([str(bad)])
