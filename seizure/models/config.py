"""The ``[model]`` config section: front-end, recurrent back-end, initializers, regularizers.

Frozen dataclasses loaded from TOML through :mod:`seizure.config`, validated once, when
built: :meth:`ModelConfig.__post_init__` checks the sizes (against upper bounds:
``INT_LIMITS``, ``PAIR_LIMITS``, ``LIST_LIMITS``, far above any real layout, so that a spec
read from an untrusted checkpoint cannot ask for an absurd network) and every name (front-end, cell,
initializers and their parameters, regularizers) against its registry (ConfigError naming
the key). This is the one place model-spec checks live; everything downstream
(:func:`seizure.models.build_model`, checkpoint loading) trusts a built ModelConfig.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from seizure.errors import ConfigError
from seizure.registry import pick


# Upper bounds of the network's size fields: far above any published or configured layout,
# low enough that a spec read from an untrusted checkpoint cannot ask for an absurd network.
INT_LIMITS = {"embed_dim": 4096, "hidden_size": 4096, "num_layers": 16, "conv1d_kernel": 256,
              "conv1d_stride": 256, "cnn1d_kernel": 1024}
PAIR_LIMITS = {"conv2d_kernel": 256, "conv2d_stride": 64, "conv2d_pool": 64}
LIST_LIMITS = {"conv2d_channels": (8, 1024), "cnn1d_channels": (8, 1024), "cnn1d_strides": (8, 1024)}
GEOMETRY_LIMITS = {"n_channels": 1024, "n_features": 4096, "frames_per_s": 100_000}
"""Bounds of the store geometry a network is built for (checked by :func:`check_geometry`)."""


def _show(value: Any) -> str:
    """A value for a one-line message: huge integers as their order of magnitude."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**15:
        return f"{'-' if value < 0 else ''}about 10^{round((abs(value).bit_length() - 1) * 0.30103)}"
    return repr(value)


def _short(values: tuple[Any, ...]) -> str:
    """A list for a message, at most 8 entries shown."""
    shown = ", ".join(_show(v) for v in values[:8])
    return f"[{shown}{', ...' if len(values) > 8 else ''}]"


def check_geometry(where: str, **geometry: Any) -> None:
    """Refuse a store geometry (``n_channels``, ``n_features``, ``frames_per_s``) that is not an
    integer within :data:`GEOMETRY_LIMITS` (ConfigError naming ``where.<name>``)."""
    for name, value in geometry.items():
        limit = GEOMETRY_LIMITS[name]
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
            raise ConfigError(f"{where}.{name} must be an integer from 1 to {limit}, got {_show(value)}")


@dataclass(frozen=True)
class InitConfig:
    """Initializer name per layer group, with optional keyword parameters per group.

    Groups: ``conv`` (front-end convolutions and linear layers), ``recurrent_input``
    (input-to-hidden weights of the cells), ``recurrent_hidden`` (hidden-to-hidden
    weights and the cells' biases), ``output`` (the final linear layer).
    """

    conv: str = "glorot_uniform"
    recurrent_input: str = "glorot_uniform"
    recurrent_hidden: str = "orthogonal"
    output: str = "glorot_uniform"
    conv_params: dict[str, Any] = field(default_factory=dict)
    recurrent_input_params: dict[str, Any] = field(default_factory=dict)
    recurrent_hidden_params: dict[str, Any] = field(default_factory=dict)
    output_params: dict[str, Any] = field(default_factory=dict)

    def groups(self) -> dict[str, tuple[str, dict[str, Any]]]:
        return {
            "conv": (self.conv, self.conv_params),
            "recurrent_input": (self.recurrent_input, self.recurrent_input_params),
            "recurrent_hidden": (self.recurrent_hidden, self.recurrent_hidden_params),
            "output": (self.output, self.output_params),
        }


@dataclass(frozen=True)
class RegularizerConfig:
    """Strengths of the regularizers; each applies only when its name is listed in
    ``ModelConfig.regularizers``."""

    l1: float = 1e-5                      # l1 / l1_l2: l1 * sum|w| over weights (dim >= 2)
    l2: float = 1e-4                      # l2 / l1_l2: l2 * sum w^2 over weights (dim >= 2)
    dropout: float = 0.2                  # embedding, between recurrent layers, before output
    gaussian_noise_std: float = 0.1       # additive N(0, std^2), training only
    gaussian_noise_at: Literal["inputs", "activations"] = "inputs"
    recurrent_dropout: float = 0.2        # variational: one mask per sequence, shared over time
    weight_decay: float = 1e-4            # decoupled (AdamW), weights with dim >= 2 only
    early_stopping_patience: int = 4      # epochs without dev improvement before stopping
    sparse_vd_threshold: float = 3.0      # prune weights with log-alpha above this at inference
    sparse_vd_kl_weight: float = 1.0      # KL weight (1.0 = the ELBO)
    sparse_vd_kl_warmup_epochs: int = 2   # linear KL warm-up from 0 over these epochs

    def __post_init__(self) -> None:
        for name in ("dropout", "recurrent_dropout"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ValueError(f"reg.{name} must be in [0, 1), got {value}")
        for name in ("l1", "l2", "gaussian_noise_std", "weight_decay", "sparse_vd_kl_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"reg.{name} must be >= 0, got {getattr(self, name)}")
        if self.early_stopping_patience < 1:
            raise ValueError(f"reg.early_stopping_patience must be >= 1, got {self.early_stopping_patience}")


@dataclass(frozen=True)
class ModelConfig:
    """CNN front-end + recurrent back-end, one logit per second.

    ``cnn2d`` (the paper's layout over LFCC frames): each frame is a channels x features
    image through ``conv2d_channels`` blocks (conv ``conv2d_kernel``, clipped to the frame
    reaching the block, with stride ``conv2d_stride`` and ``same`` (k // 2) or ``valid`` (0)
    padding, activation, max-pool ``conv2d_pool``), flattened, then a 1D convolution over
    frames (``conv1d_kernel`` frames every ``conv1d_stride`` frames, windows centred on
    their step) to ``embed_dim`` and a max over each second. A first kernel spanning all
    features with valid padding (e.g. ``[1, 26]``) is a per-channel linear map and runs as
    one matrix product.
    ``cnn1d`` (raw waveform): the same strided temporal convolutions on every channel
    (``cnn1d_channels``, ``cnn1d_kernel``, ``cnn1d_strides``), a max over each second,
    then a linear map of all channels to ``embed_dim``.
    ``pooled`` (LFCC or spectrogram frames): one encoder for every channel, with shared
    weights (``conv2d_channels`` linear layers over each channel's feature vector, then a
    window of ``conv1d_kernel == conv1d_stride`` frames to ``embed_dim``, a max over each
    second), then the max and the mean over the usable channels: ``2 * embed_dim`` values
    per second. ``channel_context_s`` > 0 (odd) adds, per channel and before the pooling, a
    convolution over that many seconds of its embeddings (centred, residual), so that
    each channel's values can compare a second with its neighbours. ``conv2d_kernel``,
    ``conv2d_stride``, ``conv2d_padding`` and ``conv2d_pool`` are not used.
    """

    frontend: str = "cnn2d"
    activation: Literal["elu", "relu"] = "elu"
    embed_dim: int = 64
    conv2d_channels: tuple[int, ...] = (16, 32)
    conv2d_kernel: tuple[int, int] = (3, 3)
    conv2d_stride: tuple[int, int] = (1, 1)
    conv2d_padding: Literal["same", "valid"] = "same"
    conv2d_pool: tuple[int, int] = (2, 2)
    conv1d_kernel: int = 3
    conv1d_stride: int = 1
    cnn1d_channels: tuple[int, ...] = (16, 32, 32)
    cnn1d_kernel: int = 7
    cnn1d_strides: tuple[int, ...] = (5, 5, 2)
    channel_context_s: int = 0
    cell: str = "lstm"
    hidden_size: int = 128
    num_layers: int = 1
    bidirectional: bool = True
    regularizers: tuple[str, ...] = ()
    reg: RegularizerConfig = field(default_factory=RegularizerConfig)
    init: InitConfig = field(default_factory=InitConfig)

    def __post_init__(self) -> None:
        for name, limit in INT_LIMITS.items():
            value = getattr(self, name)
            if not 1 <= value <= limit:
                raise ValueError(f"{name} must be an integer from 1 to {limit}, got {_show(value)}")
        for name, limit in PAIR_LIMITS.items():
            value = getattr(self, name)
            if len(value) != 2 or not all(1 <= v <= limit for v in value):
                raise ValueError(f"{name} must be two integers from 1 to {limit} (channels, features), "
                                 f"got {_short(value)}")
        for name, (max_len, limit) in LIST_LIMITS.items():
            value = getattr(self, name)
            if len(value) > max_len:
                raise ValueError(f"{name} must hold at most {max_len} entries, got {len(value)}")
            if not all(1 <= v <= limit for v in value):
                raise ValueError(f"{name} must hold integers from 1 to {limit}, got {_short(value)}")
        if not (self.channel_context_s == 0 or (1 <= self.channel_context_s <= 301 and self.channel_context_s % 2)):
            raise ValueError(f"channel_context_s must be 0 or an odd number of seconds up to 301, "
                             f"got {_show(self.channel_context_s)}")
        if len(self.cnn1d_channels) != len(self.cnn1d_strides):
            raise ValueError(f"cnn1d_channels ({len(self.cnn1d_channels)} layers) and cnn1d_strides "
                             f"({len(self.cnn1d_strides)}) must have the same length")
        if len(set(self.regularizers)) != len(self.regularizers):
            raise ValueError(f"regularizers lists a name twice: {list(self.regularizers)}")
        _check_names(self)

    def uses(self, regularizer: str) -> bool:
        """True if ``regularizer`` is listed (``l1_l2`` implies ``l1`` and ``l2``)."""
        if regularizer in ("l1", "l2") and "l1_l2" in self.regularizers:
            return True
        return regularizer in self.regularizers


def _check_names(cfg: ModelConfig) -> None:
    """Every name in ``cfg`` against its registry (ConfigError naming the key); run once, by
    :meth:`ModelConfig.__post_init__`."""
    from seizure.models.frontends import FRONTENDS
    from seizure.models.init import INITIALIZERS, check_params
    from seizure.models.recurrent import CELLS
    from seizure.models.regularizers import REGULARIZERS

    pick(FRONTENDS, cfg.frontend, "model.frontend")
    pick(CELLS, cfg.cell, "model.cell")
    for name in cfg.regularizers:
        pick(REGULARIZERS, name, "model.regularizers entry")
    for group, (name, params) in cfg.init.groups().items():
        pick(INITIALIZERS, name, f"model.init.{group}")
        check_params(name, params, f"model.init.{group}_params")
    if "critical" in (cfg.init.recurrent_input, cfg.init.recurrent_hidden) and cfg.cell not in ("rnn", "minimalrnn"):
        raise ConfigError(f"model.init: 'critical' is defined for the rnn and minimalrnn cells "
                          f"(Chen et al. 2018), not for cell {cfg.cell!r}")
    for group in ("conv", "output"):
        if getattr(cfg.init, group) == "critical":
            raise ConfigError(f"model.init.{group}: 'critical' applies to the recurrent groups only")
