"""Regularizers by name (``REGULARIZERS``), combinable in ``ModelConfig.regularizers``.

Strengths live in ``ModelConfig.reg``. Where each acts:

- penalties added to the loss by the training loop (:func:`penalty`): ``l1``
  (``reg.l1 * sum |w|``), ``l2`` (``reg.l2 * sum w^2``), ``l1_l2`` (both), over the
  weights with dim >= 2 (kernels, not biases, as Keras kernel regularizers);
  ``sparse_vd`` adds its KL term (:func:`seizure.models.sparse_vd.kl_total`);
- inside the network: ``dropout`` (embedding, between recurrent layers, before the
  output), ``gaussian_noise`` (on the standardised inputs or on the front-end
  activations), ``recurrent_dropout`` (variational, one mask per sequence shared across
  time), ``sparse_vd`` (noisy weights in training, pruned at inference);
- in the optimiser: ``weight_decay`` (decoupled, AdamW) on weights with dim >= 2 only
  (:func:`param_groups`);
- in the loop: ``early_stopping`` on the dev split after ``reg.early_stopping_patience``
  epochs without improvement.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class Regularizer:
    name: str
    where: str          # "loss" | "network" | "optimizer" | "loop"
    description: str


REGULARIZERS: dict[str, Regularizer] = {
    "l1": Regularizer("l1", "loss", "reg.l1 * sum |w| over weights with dim >= 2"),
    "l2": Regularizer("l2", "loss", "reg.l2 * sum w^2 over weights with dim >= 2"),
    "l1_l2": Regularizer("l1_l2", "loss", "l1 + l2"),
    "dropout": Regularizer("dropout", "network", "dropout reg.dropout on embeddings, between layers, before output"),
    "gaussian_noise": Regularizer("gaussian_noise", "network",
                                  "additive N(0, reg.gaussian_noise_std^2) on inputs or activations (training)"),
    "recurrent_dropout": Regularizer("recurrent_dropout", "network", "variational dropout "
                                     "reg.recurrent_dropout on the hidden state, one mask shared over time"),
    "sparse_vd": Regularizer("sparse_vd", "network",
                             "sparse variational dropout on recurrent and output weights, KL added to the loss"),
    "weight_decay": Regularizer("weight_decay", "optimizer", "AdamW decoupled decay reg.weight_decay, dim >= 2 only"),
    "early_stopping": Regularizer("early_stopping", "loop",
                                  "stop after reg.early_stopping_patience epochs without dev improvement"),
}


class GaussianNoise(nn.Module):
    """Additive zero-mean Gaussian noise in training mode; identity at inference.

    ``mask`` (B, C), for inputs ``x`` (B, T, C, F): noise only on present channels, so a
    masked (absent) channel stays exactly zero.
    """

    def __init__(self, std: float):
        super().__init__()
        self.std = float(std)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if not (self.training and self.std > 0):
            return x
        noise = torch.randn_like(x) * self.std
        if mask is not None:
            noise = noise * mask.to(x.dtype)[:, None, :, None]
        return x + noise


def decayed_weights(model: nn.Module) -> Iterator[tuple[str, nn.Parameter]]:
    """Weights that penalties and weight decay apply to: dim >= 2, not sparse-VD log-variances."""
    for name, p in model.named_parameters():
        if p.dim() >= 2 and "log_sigma2" not in name:
            yield name, p


def penalty(model: nn.Module, l1: float = 0.0, l2: float = 0.0) -> torch.Tensor:
    """``l1 * sum |w| + l2 * sum w^2`` over :func:`decayed_weights` (a scalar tensor)."""
    total = torch.zeros(())
    if l1 <= 0 and l2 <= 0:
        return total
    for _, p in decayed_weights(model):
        if l1 > 0:
            total = total + l1 * p.abs().sum()
        if l2 > 0:
            total = total + l2 * (p * p).sum()
    return total


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Optimiser groups: ``weight_decay`` on weights with dim >= 2, none on biases/log-variances."""
    decay_ids = {id(p) for _, p in decayed_weights(model)}
    decay = [p for p in model.parameters() if id(p) in decay_ids]
    rest = [p for p in model.parameters() if id(p) not in decay_ids]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]
