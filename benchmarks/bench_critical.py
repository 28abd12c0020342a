"""Critical initialization at the shipped settings (configs/minimalrnn_critical.toml), measured.

Prints, for the minimalRNN layer of that config (hidden 64, timescale 100):

1. the input mean square the layer really receives at init (the front-end's output on
   standardised features; ``SeizureNet.calibrate_critical``);
2. the mean-field fixed point Q of ``critical_params`` against the simulated hidden mean
   square after a checked burn-in;
3. the fraction of singular values of the T-step state Jacobian in [0.5, 2] and the mean
   |log10 s| (T = 100 and 1000) for critical (measured input), critical as the previous code
   built it (input_var = 1 whatever the input), orthogonal and glorot_uniform.

Usage: ``python benchmarks/bench_critical.py [--seeds 3]`` (about a minute per seed).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import torch

from seizure.models import build_model
from seizure.models.init import INITIALIZERS, InitTarget, critical_params
from seizure.models.isometry import burn_in, isometry, state_jacobian_svals
from seizure.models.recurrent import CELLS
from seizure.training.config import load_config

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "minimalrnn_critical.toml"


def measured_input_var(seed: int) -> tuple[float, dict]:
    cfg = load_config(CONFIG)
    model = build_model(cfg.model, 22, 26, 5, seed=seed)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(8, 120 * 5, 22, 26, generator=g)  # standardised features: N(0, 1) per value
    return model.calibrate_critical(x, torch.ones(8, 22), seed=seed)[0], cfg.model.init.recurrent_hidden_params


def make_cell(init: str, params: dict, n_in: int, hidden: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    cell = CELLS["minimalrnn"](n_in, hidden)
    for t in (InitTarget("ih", cell.weight_ih, cell.bias_ih, 1, "ih", "minimalrnn"),
              InitTarget("hh", cell.weight_hh, None, 1, "hh", "minimalrnn", hidden_bias=cell.bias_hh),
              InitTarget("zh", cell.weight_zh, None, 1, "zh", "minimalrnn")):
        INITIALIZERS[init](t, g, **(params if init == "critical" else {}))
    return cell


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    hidden, n_in = 64, 64
    rows: dict[str, list] = {}
    for seed in range(args.seeds):
        iv, params = measured_input_var(seed)
        timescale = params.get("timescale", 100.0)
        p = critical_params("minimalrnn", **{**params, "input_var": iv})
        print(f"seed {seed}: measured input mean square {iv:.4f}; mean-field sigma_w {p.sigma_w:.2f}, Q {p.q_star:.5f}")
        for name, init, prm, var in (("critical", "critical", {**params, "input_var": iv}, iv),
                                     ("critical for unit input", "critical", {**params, "input_var": 1.0}, iv),
                                     ("orthogonal", "orthogonal", {}, iv), ("glorot_uniform", "glorot_uniform", {}, iv)):
            cell = make_cell(init, prm, n_in, hidden, seed)
            g = torch.Generator().manual_seed(100 + seed)
            ss = burn_in(cell, var, batch=32, window=2 * int(timescale), generator=g)
            figs = []
            for steps in (100, 1000):
                x = torch.randn(steps, n_in, generator=g) * math.sqrt(var)
                figs += list(isometry(state_jacobian_svals(cell, ss.h[0], x)))
            rows.setdefault(name, []).append([ss.q, ss.steps, *figs])
            if name == "critical":
                print(f"  Q: mean-field {p.q_star:.5f}, simulated {ss.q:.5f} (burn-in {ss.steps} steps, "
                      f"previous window {ss.q_previous:.5f})")
    print("\n| init | hidden mean square | T=100: in [0.5, 2] | mean abs log10 s | T=1000: in [0.5, 2] | "
          "mean abs log10 s |\n|---|---|---|---|---|---|")
    for name, vals in rows.items():
        m = np.mean(np.array(vals), axis=0)
        print(f"| {name} | {m[0]:.5f} | {100 * m[2]:.0f}% | {m[3]:.2f} | {100 * m[4]:.0f}% | {m[5]:.2f} |")


if __name__ == "__main__":
    main()
