"""Sparse variational dropout (Molchanov et al. 2017; for RNNs Lobacheva et al. 2018).

Each weight ``theta`` gets a log-variance ``log_sigma2``; the multiplicative noise
level is ``log_alpha = log_sigma2 - log(theta^2)``. During training:

- linear layers use the local reparameterisation trick: the pre-activation is sampled
  as ``N(x theta^T, x^2 sigma2^T)`` (independent noise per example and time step);
- recurrent cells sample their input and hidden weight matrices once per forward pass
  (``theta + sigma * eps``), the same weights for every time step of the batch, as
  Lobacheva et al. do (the local trick cannot share noise across time).

At inference the mean ``theta`` is used with every weight whose ``log_alpha`` exceeds
the threshold (3 by default) set to zero. The KL term uses the approximation of
Molchanov et al. (2017): ``-KL ~ k1 sigmoid(k2 + k3 log_alpha) - 0.5 log1p(1/alpha) - k1``.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Iterator

import torch
from torch import nn

K1, K2, K3 = 0.63576, 1.87320, 1.48695
LOG_ALPHA_CLAMP = 10.0
LOG_SIGMA2_INIT = -10.0


def log_alpha(theta: torch.Tensor, log_sigma2: torch.Tensor) -> torch.Tensor:
    """Per-weight log noise ratio, clamped to [-10, 10] for numerical stability."""
    return (log_sigma2 - torch.log(theta * theta + 1e-8)).clamp(-LOG_ALPHA_CLAMP, LOG_ALPHA_CLAMP)


def kl_approx(log_alpha_: torch.Tensor) -> torch.Tensor:
    """Sum over weights of the approximate KL(q || log-uniform prior) (Molchanov 2017, eq. 14)."""
    neg_kl = K1 * torch.sigmoid(K2 + K3 * log_alpha_) - 0.5 * torch.log1p(torch.exp(-log_alpha_)) - K1
    return -neg_kl.sum()


def sample_weight(theta: torch.Tensor, log_sigma2: torch.Tensor) -> torch.Tensor:
    """One weight sample ``theta + exp(log_sigma2 / 2) * eps``."""
    return theta + torch.exp(0.5 * log_sigma2) * torch.randn_like(theta)


def pruned_weight(theta: torch.Tensor, log_sigma2: torch.Tensor, threshold: float) -> torch.Tensor:
    """``theta`` with weights whose log-alpha exceeds ``threshold`` set to zero."""
    return theta * (log_alpha(theta, log_sigma2) <= threshold).to(theta.dtype)


class SVDWeights(abc.ABC):
    """Mixin for modules with sparse-VD weights: ``svd_pairs()`` yields (name, theta, log_sigma2)."""

    svd_threshold: float = 3.0

    @abc.abstractmethod
    def svd_pairs(self) -> Iterator[tuple[str, nn.Parameter, nn.Parameter]]:
        """(name, theta, log_sigma2) of each sparse-VD weight (none when sparse VD is off)."""

    def effective(self, theta: nn.Parameter, log_sigma2: nn.Parameter | None, sample: bool) -> torch.Tensor:
        """The weight to use now: sampled (training), pruned mean (eval), or plain ``theta``."""
        if log_sigma2 is None:
            return theta
        if sample:
            return sample_weight(theta, log_sigma2)
        return pruned_weight(theta, log_sigma2, self.svd_threshold)


class LinearSVD(nn.Module, SVDWeights):
    """``nn.Linear`` with sparse variational dropout (local reparameterisation in training)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, threshold: float = 3.0):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        self.log_sigma2 = nn.Parameter(torch.full((out_features, in_features), LOG_SIGMA2_INIT))
        self.svd_threshold = threshold
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))

    def svd_pairs(self):
        yield "weight", self.weight, self.log_sigma2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            mean = nn.functional.linear(x, self.weight, self.bias)
            var = nn.functional.linear(x * x, torch.exp(self.log_sigma2))
            return mean + torch.sqrt(var + 1e-8) * torch.randn_like(mean)
        return nn.functional.linear(x, pruned_weight(self.weight, self.log_sigma2, self.svd_threshold), self.bias)


def svd_modules(model: nn.Module) -> Iterator[SVDWeights]:
    for module in model.modules():
        if isinstance(module, SVDWeights):
            yield module


def kl_total(model: nn.Module) -> torch.Tensor:
    """Sum of the approximate KL over every sparse-VD weight of ``model`` (0 if none)."""
    total = None
    for module in svd_modules(model):
        for _, theta, log_sigma2 in module.svd_pairs():
            if log_sigma2 is None:
                continue
            kl = kl_approx(log_alpha(theta, log_sigma2))
            total = kl if total is None else total + kl
    if total is None:
        return torch.zeros(())
    return total


def sparsity_report(model: nn.Module) -> dict[str, float | int]:
    """Pruned fraction of the sparse-VD weights and the model size dense vs compressed.

    ``compressed_bytes`` stores the sparse-VD matrices in CSR form (float32 value + int32
    column index per kept weight, int32 row pointers) and every other parameter densely;
    ``dense_bytes`` is all parameters as float32 (the log-variances, needed only for
    training, are excluded from both).
    """
    n_svd = n_kept = 0
    compressed = 0
    thetas, log_sigmas = set(), set()
    for module in svd_modules(model):
        for _, theta, log_sigma2 in module.svd_pairs():
            if log_sigma2 is None:
                continue
            thetas.add(id(theta))
            log_sigmas.add(id(log_sigma2))
            with torch.no_grad():
                kept = int((log_alpha(theta, log_sigma2) <= module.svd_threshold).sum())
            n_svd += theta.numel()
            n_kept += kept
            compressed += kept * 8 + (theta.shape[0] + 1) * 4
    dense = 0
    for p in model.parameters():
        if id(p) in log_sigmas:
            continue
        dense += p.numel() * 4
        if id(p) not in thetas:
            compressed += p.numel() * 4
    return {
        "svd_weights": n_svd,
        "svd_weights_kept": n_kept,
        "sparsity": (1.0 - n_kept / n_svd) if n_svd else 0.0,
        "dense_bytes": dense,
        "compressed_bytes": compressed,
        "compression_ratio": dense / compressed if compressed else 1.0,
    }

