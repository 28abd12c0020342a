"""The seizure network: feature normalisation, CNN front-end, recurrent back-end, one logit per second."""

from __future__ import annotations

import torch
from torch import nn

from seizure.errors import ConfigError
from seizure.models.config import ModelConfig
from seizure.models.frontends import FRONTENDS, standardise
from seizure.models.init import InitTarget, apply_initializers
from seizure.models.recurrent import Recurrent
from seizure.models.regularizers import GaussianNoise
from seizure.models.sparse_vd import LinearSVD


class SeizureNet(nn.Module):
    """``forward(x (B, T_frames, C, F), mask (B, C) | None) -> logits (B, T_seconds)``.

    Features are standardised per feature index with the ``feature_mean`` /
    ``feature_std`` buffers (set from the training data, saved with the weights), then
    masked (missing) channels are set to zero. ``model_args()`` returns the builtins
    needed to rebuild the network (stored in checkpoints).
    """

    def __init__(self, cfg: ModelConfig, n_channels: int, n_features: int, frames_per_s: int):
        super().__init__()
        self.cfg = cfg
        self.n_channels, self.n_features, self.frames_per_s = n_channels, n_features, frames_per_s
        reg = cfg.reg
        self.register_buffer("feature_mean", torch.zeros(n_features))
        self.register_buffer("feature_std", torch.ones(n_features))
        noise = cfg.uses("gaussian_noise")
        self.input_noise = GaussianNoise(reg.gaussian_noise_std if noise and reg.gaussian_noise_at == "inputs" else 0.0)
        self.act_noise = GaussianNoise(reg.gaussian_noise_std if noise and reg.gaussian_noise_at == "activations"
                                       else 0.0)
        self.frontend = FRONTENDS[cfg.frontend](n_channels, n_features, frames_per_s, cfg)
        p = reg.dropout if cfg.uses("dropout") else 0.0
        self.dropout = nn.Dropout(p) if p > 0 else nn.Identity()
        svd = cfg.uses("sparse_vd")
        self.recurrent = Recurrent(cfg.cell, self.frontend.output_size, cfg.hidden_size, cfg.num_layers,
                                   cfg.bidirectional, dropout=p,
                                   recurrent_dropout=reg.recurrent_dropout if cfg.uses("recurrent_dropout") else 0.0,
                                   sparse_vd=svd, threshold=reg.sparse_vd_threshold)
        out = self.recurrent.output_size
        self.head = LinearSVD(out, 1, threshold=reg.sparse_vd_threshold) if svd else nn.Linear(out, 1)

    @property
    def bidirectional(self) -> bool:
        return self.cfg.bidirectional

    @property
    def lookahead_s(self) -> int:
        """Whole seconds after a second that its logit depends on through the front-end."""
        return -(-self.frontend.lookahead_frames // self.frames_per_s)

    def model_args(self) -> dict:
        from seizure import config

        return {"config": config.to_dict(self.cfg), "n_channels": self.n_channels,
                "n_features": self.n_features, "frames_per_s": self.frames_per_s}

    def set_normalization(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        with torch.no_grad():
            self.feature_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
            self.feature_std.copy_(torch.as_tensor(std, dtype=torch.float32).clamp_min(1e-6))

    @property
    def encode_step(self) -> int:
        """Frames per row of :meth:`encode`'s output (it divides ``frames_per_s``)."""
        return self.frontend.encode_step

    @property
    def encoded_dim(self) -> int:
        """Values per row of :meth:`encode`'s output."""
        return self.frontend.encoded_dim

    def encode(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Inference, first stage: features (B, T_frames, C, F) -> encoded rows
        (B, T_frames // encode_step, encoded_dim). Each row depends only on its own
        ``encode_step`` frames (standardisation, masking, the front-end's per-frame layers and
        temporal weights), so a recording can be encoded in any pieces of whole seconds."""
        self._check(x)
        return self.frontend.encode(x, self.feature_mean, self.feature_std, mask)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Inference, second stage: encoded rows of whole seconds -> logits (B, T_seconds)."""
        return self.head(self.recurrent(self.frontend.decode(z))).squeeze(-1)

    def _check(self, x: torch.Tensor) -> None:
        if x.dim() != 4 or x.shape[2] != self.n_channels or x.shape[3] != self.n_features:
            raise ValueError(f"expected features (B, T_frames, {self.n_channels}, {self.n_features}), "
                             f"got {tuple(x.shape)}")

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if not self.training:  # inference: the two stages (same result, less work)
            return self.decode(self.encode(x, mask))
        self._check(x)
        if self.input_noise.std > 0:
            x = self.input_noise(standardise(x, self.feature_mean, self.feature_std, mask), mask)
            e = self.frontend(x, mask)
        else:  # standardisation and masking, folded into the front-end where it can
            e = self.frontend.forward_raw(x, self.feature_mean, self.feature_std, mask)
        e = self.dropout(self.act_noise(e))
        h = self.dropout(self.recurrent(e))
        return self.head(h).squeeze(-1)

    def uses_critical(self) -> bool:
        return "critical" in (self.cfg.init.recurrent_input, self.cfg.init.recurrent_hidden)

    def calibrate_critical(self, x: torch.Tensor, mask: torch.Tensor | None = None, seed: int = 0) -> list[float]:
        """Re-apply the ``critical`` initializer with each recurrent layer's measured input.

        The mean-field equations of :func:`seizure.models.init.critical_params` need the
        mean square of the values entering each layer (``input_var``: the pre-activation
        variance of ``N(0, sigma^2 / fan_in)`` weights is ``sigma^2`` times it). It is
        measured here at init on a batch of real features ``x`` (B, T_frames, C, F), after the
        feature standardisation, through the front-end and the layers below (inference mode:
        no noise or dropout), and replaces the configured ``input_var``. Returns the
        measured value per layer. ``train()`` calls this on its first batch.
        """
        if not self.uses_critical():
            return []
        from seizure.models.init import INITIALIZERS

        groups = self.cfg.init.groups()
        targets = self.init_targets()
        gen = torch.Generator().manual_seed(seed)
        measured = []
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                self._check(x)
                e = self.frontend.forward_raw(x, self.feature_mean, self.feature_std, mask)
                for li, layer in enumerate(self.recurrent.layers):
                    var = float((e * e).mean())
                    measured.append(var)
                    prefix = f"recurrent.layers.{li}."
                    for group in ("recurrent_input", "recurrent_hidden"):
                        name, params = groups[group]
                        if name != "critical":
                            continue
                        for t in targets[group]:
                            if t.name.startswith(prefix):
                                INITIALIZERS[name](t, gen, **{**params, "input_var": var})
                    e = layer(e)
        finally:
            self.train(was_training)
        return measured

    def init_targets(self) -> dict[str, list[InitTarget]]:
        """The parameters of each initializer group (see :mod:`seizure.models.init`)."""
        groups: dict[str, list[InitTarget]] = {"conv": [], "recurrent_input": [], "recurrent_hidden": [], "output": []}
        for name, m in self.frontend.named_modules():
            if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)):
                groups["conv"].append(InitTarget(f"frontend.{name}", m.weight, m.bias))
        for li, layer in enumerate(self.recurrent.layers):
            for di, cell in enumerate(layer.cells):
                where = f"recurrent.layers.{li}.cells.{di}"
                groups["recurrent_input"].append(
                    InitTarget(f"{where}.weight_ih", cell.weight_ih, cell.bias_ih, cell.gates, "ih", cell.name))
                if cell.weight_zh is not None:
                    groups["recurrent_input"].append(
                        InitTarget(f"{where}.weight_zh", cell.weight_zh, None, 1, "zh", cell.name))
                groups["recurrent_hidden"].append(
                    InitTarget(f"{where}.weight_hh", cell.weight_hh, None, cell.gates, "hh", cell.name,
                               hidden_bias=cell.bias_hh))
        groups["output"].append(InitTarget("head", self.head.weight, self.head.bias, role="output"))
        return groups


def build_model(cfg: ModelConfig, n_channels: int, n_features: int, frames_per_s: int,
                seed: int = 0, *, initialize: bool = True) -> SeizureNet:
    """Build the network of ``cfg`` (validated when it was built) for a store's geometry and,
    with ``initialize``, initialize it by name (seeded). Loading a checkpoint passes
    ``initialize=False``: its weights replace whatever the initializer would draw."""
    for name, value in (("n_channels", n_channels), ("n_features", n_features), ("frames_per_s", frames_per_s)):
        if not isinstance(value, int) or value < 1:
            raise ConfigError(f"build_model: {name} must be a positive integer, got {value!r}")
    model = SeizureNet(cfg, n_channels, n_features, frames_per_s)
    if initialize:
        apply_initializers(model.init_targets(), cfg.init.groups(), torch.Generator().manual_seed(seed))
    return model
