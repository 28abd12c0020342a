"""Measured signal propagation of a recurrent cell at init (for critical initialization).

:func:`burn_in` runs a cell on i.i.d. ``N(0, input_var)`` inputs until its hidden mean square
is stationary (checked); :func:`state_jacobian_svals` gives the singular values of the
T-step state Jacobian ``d h_T / d h_0`` from that state; :func:`isometry` summarises them as
the fraction in [0.5, 2] and the mean ``|log10 s|``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from seizure.models.recurrent import Cell


@dataclass(frozen=True)
class SteadyState:
    h: torch.Tensor          # (B, H) the state reached
    q: float                 # hidden mean square over the last window
    q_previous: float        # over the window before it (stationary: close to q)
    steps: int


def burn_in(cell: Cell, input_var: float, batch: int, window: int, generator: torch.Generator,
            max_windows: int = 40, tol: float = 0.03) -> SteadyState:
    """Run windows of ``window`` steps until two successive windows' hidden mean squares
    agree within ``tol`` (relative) after at least four windows; raises if they never do."""
    h = None
    prev = math.nan
    for k in range(max_windows):
        x = torch.randn(batch, window, cell.input_size, generator=generator) * math.sqrt(input_var)
        with torch.no_grad():
            out, h = cell(x, h)
        q = float((out * out).mean())
        if k >= 3 and abs(q - prev) <= tol * max(q, prev):
            return SteadyState(h, q, prev, (k + 1) * window)
        prev = q
    raise RuntimeError(f"hidden mean square not stationary after {max_windows * window} steps (last {prev:.4g})")


def state_jacobian_svals(cell: Cell, h0: torch.Tensor, x: torch.Tensor) -> np.ndarray:
    """Singular values of ``d h_T / d h_0`` for one sequence ``x`` (T, in) from state ``h0`` (H,)."""
    hidden = h0.shape[-1]
    # one batched backward pass: row i of the batch carries output unit i, so the gradient of
    # sum_i h_T[i, i] with respect to the batch of initial states is the Jacobian, row by row
    h = h0.detach().reshape(1, hidden).repeat(hidden, 1).requires_grad_()
    _, last = cell(x.unsqueeze(0).expand(hidden, -1, -1), h)
    (jac,) = torch.autograd.grad(last.diagonal().sum(), h)
    return torch.linalg.svdvals(jac.double()).numpy()


def isometry(svals: np.ndarray) -> tuple[float, float]:
    """(fraction of singular values in [0.5, 2], mean |log10 s|); zeros count as 1e-300."""
    s = np.maximum(svals, 1e-300)
    return float(np.mean((s >= 0.5) & (s <= 2.0))), float(np.mean(np.abs(np.log10(s))))
