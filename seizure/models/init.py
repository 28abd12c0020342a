"""Initializers by name (``INITIALIZERS``), applied after construction to each layer group.

Groups (see :meth:`seizure.models.network.SeizureNet.init_targets`): ``conv`` (front-end
convolutions and linear layers), ``recurrent_input`` (``weight_ih``, and the minimalRNN's
``weight_zh``), ``recurrent_hidden`` (``weight_hh`` and the cells' biases), ``output``.
Gated cells stack one block per gate along dimension 0; every initializer treats each
gate block as its own matrix (so ``orthogonal`` gives an orthogonal matrix per gate).

Keras semantics (Keras >= 2.2.3 and tf.keras 2.x; ``docs/initialization.md``) for the ten
of the paper: fans of a kernel ``(out, in, *k)`` are ``fan_in = in * prod(k)``,
``fan_out = out * prod(k)``; ``*_normal`` variants draw from a normal truncated at 2
standard deviations whose scale is divided by 0.8796256610342398 so the variance is exactly ``scale / n``; biases start at zero, except the LSTM forget
gate's input bias at 1 (Keras ``unit_forget_bias``).

- ``variance_scaling(scale=1, mode="fan_in", distribution="truncated_normal")``;
  ``lecun_*`` (scale 1, fan_in), ``glorot_*`` (scale 1, fan_avg), ``he_*`` (scale 2,
  fan_in), ``*_uniform`` on ``[-sqrt(3 scale / n), +sqrt(3 scale / n)]``.
- ``orthogonal(gain=1)``, ``random_uniform(minval=-0.05, maxval=0.05)``,
  ``truncated_normal(mean=0, stddev=0.05)`` (re-drawn beyond 2 sd, no correction).
- ``rai(sigma=0.6007, alpha=2)``: randomized asymmetric initialization (Lu, Shin, Su,
  Karniadakis 2019). For each neuron, its weights and bias form one vector of length
  ``fan_in + 1``; all entries are drawn from ``N(0, sigma^2 / fan_in)`` and one entry,
  chosen uniformly at random, is replaced by a draw from ``Beta(alpha, 1)`` (positive,
  asymmetric; ``Beta(2, 1)`` and ``sigma = 0.6007`` are the paper's designed values).
- ``critical``: the critical initialization of Chen, Pennington and Schoenholz (2018)
  for the ``rnn`` and ``minimalrnn`` cells, from their mean-field equations solved
  numerically for the input each layer really receives; see :func:`critical_params` and
  ``docs/initialization.md`` (measured isometry).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from seizure.errors import ConfigError

TRUNC_CORRECTION = 0.87962566103423978  # sd of a standard normal truncated to [-2, 2]


@dataclass
class InitTarget:
    """One weight (and its bias) of a layer group, as the initializers see it."""

    name: str
    weight: nn.Parameter
    bias: nn.Parameter | None = None
    blocks: int = 1              # gate blocks stacked along dim 0
    role: str = "conv"           # conv | output | ih | zh | hh
    cell: str | None = None      # the recurrent cell for roles ih / zh / hh
    hidden_bias: nn.Parameter | None = None  # a cell's bias_hh (role hh)

    def block_views(self) -> list[torch.Tensor]:
        rows = self.weight.shape[0] // self.blocks
        return [self.weight.data[i * rows:(i + 1) * rows] for i in range(self.blocks)]


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """Keras fan computation for a PyTorch weight ``(out, in, *kernel)``."""
    if len(shape) < 2:
        raise ValueError(f"fans need a weight with >= 2 dimensions, got shape {tuple(shape)}")
    receptive = math.prod(shape[2:]) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _default_biases(t: InitTarget) -> None:
    """Zero biases; the LSTM forget gate's input-side bias at 1 (Keras unit_forget_bias)."""
    for b in (t.bias, t.hidden_bias):
        if b is not None:
            nn.init.zeros_(b)
    if t.cell == "lstm" and t.role == "ih" and t.bias is not None:
        h = t.bias.shape[0] // 4
        with torch.no_grad():
            t.bias[h:2 * h] = 1.0


def _fill_variance_scaling(w: torch.Tensor, gen: torch.Generator, scale: float, mode: str, distribution: str) -> None:
    fan_in, fan_out = fans(tuple(w.shape))
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[mode]
    scale = scale / max(1.0, n)
    if distribution == "truncated_normal":
        std = math.sqrt(scale) / TRUNC_CORRECTION
        nn.init.trunc_normal_(w, 0.0, std, -2.0 * std, 2.0 * std, generator=gen)
    elif distribution == "untruncated_normal":
        nn.init.normal_(w, 0.0, math.sqrt(scale), generator=gen)
    else:  # uniform
        limit = math.sqrt(3.0 * scale)
        nn.init.uniform_(w, -limit, limit, generator=gen)


def variance_scaling(t: InitTarget, gen: torch.Generator, scale: float = 1.0, mode: str = "fan_in",
                     distribution: str = "truncated_normal") -> None:
    if mode not in ("fan_in", "fan_out", "fan_avg"):
        raise ConfigError(f"variance_scaling: mode must be one of fan_in, fan_out, fan_avg, got {mode!r}")
    if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
        raise ConfigError("variance_scaling: distribution must be one of truncated_normal, untruncated_normal, "
                          f"uniform, got {distribution!r}")
    if scale <= 0:
        raise ConfigError(f"variance_scaling: scale must be positive, got {scale}")
    with torch.no_grad():
        for w in t.block_views():
            _fill_variance_scaling(w, gen, float(scale), mode, distribution)
    _default_biases(t)


def _scaled(scale: float, mode: str, distribution: str) -> Callable[..., None]:
    def init(t: InitTarget, gen: torch.Generator) -> None:
        variance_scaling(t, gen, scale, mode, distribution)
    init.__doc__ = f"variance_scaling(scale={scale}, mode={mode!r}, distribution={distribution!r})"
    return init


def orthogonal(t: InitTarget, gen: torch.Generator, gain: float = 1.0) -> None:
    with torch.no_grad():
        for w in t.block_views():
            q = torch.empty(w.shape)  # a contiguous scratch: conv weights may be channels-last
            nn.init.orthogonal_(q, gain=float(gain), generator=gen)
            w.copy_(q)
    _default_biases(t)


def random_uniform(t: InitTarget, gen: torch.Generator, minval: float = -0.05, maxval: float = 0.05) -> None:
    if not minval < maxval:
        raise ConfigError(f"random_uniform: minval ({minval}) must be below maxval ({maxval})")
    with torch.no_grad():
        nn.init.uniform_(t.weight, float(minval), float(maxval), generator=gen)
    _default_biases(t)


def truncated_normal(t: InitTarget, gen: torch.Generator, mean: float = 0.0, stddev: float = 0.05) -> None:
    if stddev <= 0:
        raise ConfigError(f"truncated_normal: stddev must be positive, got {stddev}")
    with torch.no_grad():
        nn.init.trunc_normal_(t.weight, float(mean), float(stddev), mean - 2 * stddev, mean + 2 * stddev,
                              generator=gen)
    _default_biases(t)


def rai(t: InitTarget, gen: torch.Generator, sigma: float = 0.6007, alpha: float = 2.0) -> None:
    """Randomized asymmetric initialization, row by row over ``[weight, bias]``."""
    if sigma <= 0 or alpha <= 0:
        raise ConfigError(f"rai: sigma and alpha must be positive, got sigma={sigma}, alpha={alpha}")
    for b in (t.bias, t.hidden_bias):
        if b is not None:
            nn.init.zeros_(b)
    rows = t.weight.shape[0] // t.blocks
    fan_in = t.weight[0].numel()
    cols = fan_in + (1 if t.bias is not None else 0)
    with torch.no_grad():
        for i in range(t.blocks):
            v = torch.randn(rows, cols, generator=gen) * (sigma / math.sqrt(fan_in))
            k = torch.randint(0, cols, (rows,), generator=gen)
            # Beta(alpha, 1) by inversion: its CDF is x**alpha on [0, 1].
            v[torch.arange(rows), k] = torch.rand(rows, generator=gen) ** (1.0 / alpha)
            sl = slice(i * rows, (i + 1) * rows)
            t.weight[sl] = v[:, :fan_in].reshape(t.weight[sl].shape)
            if t.bias is not None:
                t.bias[sl] = v[:, fan_in]


@dataclass(frozen=True)
class CriticalParams:
    """Weight and bias scales of the critical initialization (mean-field values)."""

    sigma_w: float     # recurrent weights: sigma_w * orthogonal
    sigma_v: float     # input weights (rnn: weight_ih; minimalrnn: weight_zh) ~ N(0, sigma_v^2 / fan_in)
    sigma_x: float     # minimalrnn input embedding weight_ih ~ N(0, sigma_x^2 / fan_in)
    mu_b: float        # minimalrnn update-gate bias mean (rnn: 0)
    q_star: float      # fixed-point pre-activation variance (rnn) / hidden variance (minimalrnn)
    chi: float         # mean squared singular value of the state-to-state Jacobian (1 = critical)


_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(101)
_GH_W = _GH_W / _GH_W.sum()


def _gauss(f: Callable[[np.ndarray], np.ndarray], mean: float, var: float) -> float:
    """E[f(Z)] for Z ~ N(mean, var) by Gauss-Hermite quadrature."""
    return float(np.sum(_GH_W * f(mean + math.sqrt(max(var, 0.0)) * _GH_X)))


def _sigmoid(e: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(e, -500.0, 500.0)))


def _minimal_map(q: np.ndarray, sigma_w2: float, q_z: float, sigma_v: float, mu_b: float) -> np.ndarray:
    """The minimalRNN's mean-field map ``Q -> E[u^2] Q + q_z E[(1-u)^2]`` (vectorised over ``q``)."""
    q = np.asarray(q, dtype=float)
    u = _sigmoid(mu_b + np.sqrt(sigma_w2 * q + sigma_v ** 2 * q_z)[..., None] * _GH_X)
    return (u ** 2 @ _GH_W) * q + q_z * ((1 - u) ** 2 @ _GH_W)


def _minimal_fixed_point(sigma_w2: float, q_z: float, sigma_v: float, mu_b: float) -> tuple[float, float] | None:
    """(Q, chi) at the stable fixed point the map reaches from ``Q = 0`` (its smallest root),
    or None when the low branch does not exist (the map runs off to the chaotic branch)."""
    grid = np.concatenate([[0.0], np.geomspace(1e-10, 1.0, 3000)])
    gap = _minimal_map(grid, sigma_w2, q_z, sigma_v, mu_b) - grid
    below = np.flatnonzero(gap <= 0)
    if below.size == 0:
        return None
    lo, hi = grid[below[0] - 1], grid[below[0]]
    if below[0] == 0:
        return 0.0, 0.0
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        if _minimal_map(mid, sigma_w2, q_z, sigma_v, mu_b) - mid > 0:
            lo = mid
        else:
            hi = mid
    q = 0.5 * (lo + hi)
    u = _sigmoid(mu_b + math.sqrt(sigma_w2 * q + sigma_v ** 2 * q_z) * _GH_X)
    chi = float(u ** 2 @ _GH_W) + sigma_w2 * float((u * (1 - u)) ** 2 @ _GH_W) * (q + q_z)
    return q, chi


@functools.lru_cache(maxsize=64)
def critical_params(cell: str, *, q_star: float = 1e-3, timescale: float = 100.0, sigma_x: float = 1.0,
                    sigma_v: float = 1.0, input_var: float = 1.0, margin: float = 0.1) -> CriticalParams:
    """Solve the mean-field equations of Chen et al. (2018) numerically (Gauss-Hermite
    quadrature, fixed-point iteration and bisection; there is no closed form).

    ``input_var`` is the mean square of the values entering the layer (what the model
    really feeds it: measured at init by :meth:`seizure.models.network.SeizureNet.calibrate_critical`).

    ``rnn``: pre-activations ``e = W h + V x + b`` with ``W = sigma_w * orthogonal``,
    ``V ~ N(0, sigma_v^2 / fan_in)``, ``b = 0``. The fixed point ``q* = sigma_w^2 E[tanh(e)^2]
    + sigma_v^2 input_var`` and criticality ``chi = sigma_w^2 E[tanh'(e)^2] = 1`` give, for a
    chosen small ``q_star``, ``sigma_w^2 = 1 / E[sech^4]`` and the input scale from the
    fixed point. Dynamical isometry needs ``q_star -> 0`` (so the input scale is small: the
    vanilla RNN's trainable region is narrow, the paper's point).

    ``minimalrnn``: ``z = tanh(W_x x)`` has variance ``q_z = E[tanh(N(0, sigma_x^2 input_var))^2]``;
    the gate pre-activation is ``N(mu_b, q_e)`` with ``q_e = sigma_w^2 Q + sigma_v^2 q_z``; the
    hidden mean square follows ``Q <- E[u^2] Q + q_z E[(1-u)^2]`` and
    ``chi = E[u^2] + sigma_w^2 E[u'^2] (Q + q_z)``. ``mu_b`` sets the memory ``timescale``
    (mean gate ``1 - 1/timescale``). ``Q`` is the *stable* fixed point reached from ``Q = 0``
    (a network starts at ``h = 0``), and ``sigma_w`` is found by bisection where ``chi``
    on that branch reaches 1. At our settings (timescale 100) that map has a saddle-node:
    the low branch ends at ``chi ~ 0.99`` and the branch above it is chaotic (``chi > 1``,
    ``Q`` 30-50x larger); the point with ``chi = 1`` exactly lies on the unstable branch
    between them, which a network never settles on (solving ``chi = 1`` jointly with the
    fixed-point equation, as we did before, lands there). Then ``sigma_w`` is taken
    ``margin`` (relative) below the end of the low branch, so that finite-size
    fluctuations do not tip the network into the chaotic branch, and the returned ``chi``
    (< 1) says how far from critical it is.
    """
    if cell == "rnn":
        if not 0 < q_star < 1:
            raise ConfigError(f"critical: q_star must be in (0, 1), got {q_star}")
        sech4 = _gauss(lambda e: np.cosh(e) ** -4, 0.0, q_star)
        tanh2 = _gauss(lambda e: np.tanh(e) ** 2, 0.0, q_star)
        sigma_w2 = 1.0 / sech4
        residual = max(q_star - sigma_w2 * tanh2, 0.0)
        sv = math.sqrt(residual / input_var)
        return CriticalParams(math.sqrt(sigma_w2), sv, 0.0, 0.0, q_star, sigma_w2 * sech4)
    if cell == "minimalrnn":
        if timescale <= 1:
            raise ConfigError(f"critical: timescale must be > 1 (steps), got {timescale}")
        if input_var <= 0:
            raise ConfigError(f"critical: input_var must be positive, got {input_var}")
        q_z = _gauss(lambda e: np.tanh(e) ** 2, 0.0, sigma_x ** 2 * input_var)
        mu_b = math.log(timescale - 1.0)  # sigmoid(mu_b) = 1 - 1/timescale
        q_floor = _minimal_fixed_point(0.0, q_z, sigma_v, mu_b)[0]  # Q without recurrent weights

        def below_critical(sigma_w: float) -> bool:
            """On the low branch (its Q within 10x of q_floor; the chaotic one is 30-1000x) with chi < 1."""
            point = _minimal_fixed_point(sigma_w ** 2, q_z, sigma_v, mu_b)
            return point is not None and point[0] < 10.0 * q_floor and point[1] < 1.0

        lo, hi = 0.0, 1.0
        while below_critical(hi):
            lo, hi = hi, 2.0 * hi
            if hi > 1e6:
                raise ConfigError(f"critical: no critical point for timescale {timescale}, sigma_v {sigma_v}")
        for _ in range(50):  # chi on the low branch increases with sigma_w
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if below_critical(mid) else (lo, mid)
        sigma_w = lo
        q_hidden, chi = _minimal_fixed_point(lo * lo, q_z, sigma_v, mu_b)
        if chi < 1.0 - 1e-3:  # the low branch ends below chi = 1: stay clear of its end
            sigma_w = lo * (1.0 - margin)
            q_hidden, chi = _minimal_fixed_point(sigma_w ** 2, q_z, sigma_v, mu_b)
        return CriticalParams(float(sigma_w), sigma_v, sigma_x, mu_b, float(q_hidden), float(chi))
    raise ConfigError(f"critical initialization is defined for the rnn and minimalrnn cells, not {cell!r}")


def critical(t: InitTarget, gen: torch.Generator, q_star: float = 1e-3, timescale: float = 100.0,
             sigma_x: float = 1.0, sigma_v: float = 1.0, input_var: float = 1.0, margin: float = 0.1) -> None:
    if t.role not in ("ih", "zh", "hh"):
        raise ConfigError(f"critical initialization applies to recurrent weights, not {t.name}")
    p = critical_params(t.cell or "", q_star=q_star, timescale=timescale, sigma_x=sigma_x,
                        sigma_v=sigma_v, input_var=input_var, margin=margin)
    with torch.no_grad():
        w = t.weight
        if t.role == "hh":
            nn.init.orthogonal_(w, gain=p.sigma_w, generator=gen)
            if t.hidden_bias is not None:
                t.hidden_bias.fill_(p.mu_b)
        else:
            scale = p.sigma_x if (t.cell == "minimalrnn" and t.role == "ih") else p.sigma_v
            nn.init.normal_(w, 0.0, scale / math.sqrt(w.shape[1]), generator=gen)
            if t.bias is not None:
                nn.init.zeros_(t.bias)


INITIALIZERS: dict[str, Callable[..., None]] = {
    "orthogonal": orthogonal,
    "lecun_uniform": _scaled(1.0, "fan_in", "uniform"),
    "lecun_normal": _scaled(1.0, "fan_in", "truncated_normal"),
    "glorot_uniform": _scaled(1.0, "fan_avg", "uniform"),
    "glorot_normal": _scaled(1.0, "fan_avg", "truncated_normal"),
    "he_uniform": _scaled(2.0, "fan_in", "uniform"),
    "he_normal": _scaled(2.0, "fan_in", "truncated_normal"),
    "variance_scaling": variance_scaling,
    "random_uniform": random_uniform,
    "truncated_normal": truncated_normal,
    "rai": rai,
    "critical": critical,
}


def check_params(name: str, params: dict[str, Any], where: str) -> None:
    """Refuse parameters the named initializer does not take (ConfigError listing the valid ones)."""
    import inspect

    fn = INITIALIZERS[name]
    valid = [p for p in inspect.signature(fn).parameters if p not in ("t", "gen")]
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ConfigError(f"{where}: initializer {name!r} takes no parameter {unknown[0]!r}; "
                          f"valid: {', '.join(valid) if valid else '(none)'}")


def apply_initializers(targets: dict[str, list[InitTarget]], groups: dict[str, tuple[str, dict[str, Any]]],
                       generator: torch.Generator) -> None:
    """Initialize every target of every group with the group's named initializer."""
    for group, items in targets.items():
        name, params = groups[group]
        fn = INITIALIZERS[name]
        check_params(name, params, f"model.init.{group}_params")
        for t in items:
            fn(t, generator, **params)
