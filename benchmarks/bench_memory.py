"""What criticality buys in training: delayed recall over T steps with the minimalRNN.

Task: a sign bit (+-1) on input channel 0 at the first step, N(0, 0.3^2) noise on all 8
channels at every step; the readout of the last hidden state must give the bit back after T
steps (chance: 50 %). One minimalRNN layer of 64 units (the shipped size), timescale 100 for
``critical`` (input mean square measured on the task's inputs, as train() does), Adam lr 1e-3,
batches of 32, the same steps and seeds for every initializer. Prints the held-out accuracy
at the end of training and the best over training.

Usage: ``python benchmarks/bench_memory.py [--steps 400] [--lengths 100 300] [--seeds 2] [--inits ...]``.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from seizure.models.init import INITIALIZERS, InitTarget
from seizure.models.recurrent import CELLS

N_IN, HIDDEN, NOISE = 8, 64, 0.3


def batch(g: torch.Generator, n: int, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    bit = torch.randint(0, 2, (n,), generator=g).float()
    x = torch.randn(n, steps, N_IN, generator=g) * NOISE
    x[:, 0, 0] += 2 * bit - 1
    return x, bit


def model(init: str, seed: int, input_var: float) -> tuple[nn.Module, nn.Linear]:
    g = torch.Generator().manual_seed(seed)
    cell = CELLS["minimalrnn"](N_IN, HIDDEN)
    params = {"timescale": 100.0, "input_var": input_var} if init == "critical" else {}
    for t in (InitTarget("ih", cell.weight_ih, cell.bias_ih, 1, "ih", "minimalrnn"),
              InitTarget("hh", cell.weight_hh, None, 1, "hh", "minimalrnn", hidden_bias=cell.bias_hh),
              InitTarget("zh", cell.weight_zh, None, 1, "zh", "minimalrnn")):
        INITIALIZERS[init](t, g, **params)
    head = nn.Linear(HIDDEN, 1)
    return cell, head


def run(init: str, steps_t: int, train_steps: int, seed: int) -> tuple[float, float]:
    g = torch.Generator().manual_seed(1000 + seed)
    x_probe, _ = batch(g, 256, steps_t)
    cell, head = model(init, seed, float((x_probe ** 2).mean()))
    opt = torch.optim.Adam([*cell.parameters(), *head.parameters()], lr=1e-3)
    x_test, y_test = batch(torch.Generator().manual_seed(5), 512, steps_t)
    best = last = 0.5
    for step in range(train_steps):
        x, y = batch(g, 32, steps_t)
        _, h = cell(x)
        loss = nn.functional.binary_cross_entropy_with_logits(head(h).squeeze(-1), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if (step + 1) % 50 == 0:
            with torch.no_grad():
                _, h = cell(x_test)
                last = float(((head(h).squeeze(-1) > 0).float() == y_test).float().mean())
            best = max(best, last)
    return last, best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--lengths", type=int, nargs="+", default=[100, 300])
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--inits", nargs="+", default=["critical", "orthogonal", "glorot_uniform"])
    args = ap.parse_args()
    torch.set_num_threads(1)
    print("| T | init | accuracy at the end (per seed) | best during training |\n|---|---|---|---|")
    for steps_t in args.lengths:
        for init in args.inits:
            t0 = time.monotonic()
            res = [run(init, steps_t, args.steps, s) for s in range(args.seeds)]
            print(f"| {steps_t} | {init} | {', '.join(f'{100 * r[0]:.0f}%' for r in res)} | "
                  f"{', '.join(f'{100 * r[1]:.0f}%' for r in res)} |  ({time.monotonic() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
