"""The loss the optimiser sees (:class:`Objective`), as :func:`seizure.training.loop.train` computes it.

``total = data + l1 * sum|w| + l2 * sum w^2 + kl_weight * warm(step) * KL / n_train_seconds``

- ``data``: binary cross-entropy per second (``pos_weight`` on seizure seconds), weighted by
  the sampler's per-second weights ``w`` and averaged over ``sum(w)``;
- the penalties of :func:`seizure.models.regularizers.penalty` when ``l1``, ``l2`` or ``l1_l2``
  is listed (``reg.l1``, ``reg.l2``);
- with ``sparse_vd``, the KL term of :func:`seizure.models.sparse_vd.kl_total` scaled by
  ``reg.sparse_vd_kl_weight`` and a linear warm-up from 0 to 1 over
  ``reg.sparse_vd_kl_warmup_epochs`` epochs, divided by the training seconds (the ELBO's
  KL per data point, as the data term is a mean per second).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from seizure.models.config import ModelConfig
from seizure.models.regularizers import penalty
from seizure.models.sparse_vd import kl_total


@dataclass(frozen=True)
class Objective:
    l1: float = 0.0
    l2: float = 0.0
    kl_weight: float = 0.0          # 0: no KL term (sparse VD off)
    kl_warmup_steps: int = 0
    n_train_seconds: float = 1.0

    @classmethod
    def from_config(cls, cfg: ModelConfig, n_train_seconds: float, steps_per_epoch: int) -> Objective:
        reg = cfg.reg
        svd = cfg.uses("sparse_vd")
        return cls(l1=reg.l1 if cfg.uses("l1") else 0.0, l2=reg.l2 if cfg.uses("l2") else 0.0,
                   kl_weight=reg.sparse_vd_kl_weight if svd else 0.0,
                   kl_warmup_steps=reg.sparse_vd_kl_warmup_epochs * steps_per_epoch,
                   n_train_seconds=max(1.0, float(n_train_seconds)))

    def kl_scale(self, step: int) -> float:
        """Weight of the KL sum at global step ``step`` (0-based): weight x warm-up / seconds."""
        warm = min(1.0, (step + 1) / max(1, self.kl_warmup_steps))
        return self.kl_weight * warm / self.n_train_seconds

    def weighted_sum(self, logits: torch.Tensor, y: torch.Tensor, w: torch.Tensor,
                     pos_weight: torch.Tensor | None = None) -> torch.Tensor:
        """``sum(w * bce)`` over the batch's seconds (the data term before dividing by ``sum(w)``)."""
        per_s = nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none", pos_weight=pos_weight)
        return (per_s * w).sum()

    def data_loss(self, logits: torch.Tensor, y: torch.Tensor, w: torch.Tensor,
                  pos_weight: torch.Tensor | None = None) -> torch.Tensor:
        return self.weighted_sum(logits, y, w, pos_weight) / w.sum().clamp_min(1.0)

    def regularized(self, model: nn.Module, loss: torch.Tensor, step: int) -> torch.Tensor:
        """``loss`` plus the configured penalties and KL term at global step ``step``."""
        total = loss
        if self.l1 or self.l2:
            total = total + penalty(model, self.l1, self.l2).to(loss.device)
        if self.kl_weight:
            total = total + self.kl_scale(step) * kl_total(model).to(loss.device)
        return total

    def __call__(self, model: nn.Module, logits: torch.Tensor, y: torch.Tensor, w: torch.Tensor, step: int,
                 pos_weight: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(data loss, total loss) for one batch at global step ``step`` (one process; train()
        divides the weighted sum across processes first, then calls :meth:`regularized`)."""
        loss = self.data_loss(logits, y, w, pos_weight)
        return loss, self.regularized(model, loss, step)
