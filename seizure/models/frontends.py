"""CNN front-ends by name (``FRONTENDS``): stored features in, one embedding per second out.

Both take ``x`` of shape ``(B, T_frames, C, F)`` (the feature store's layout, with
``T_frames = T_seconds * frames_per_s``) and return ``(B, T_seconds, embed_dim)``.

``cnn2d`` follows Golmohammadi et al. (2017, 2019) as far as their papers describe it:
each LFCC frame is a channels x features image (22 x 26) passed through 2D convolution
blocks (3x3 kernels, ELU, 2x2 max pooling in the papers), flattened, then a 1D
convolution over time and max pooling, feeding the recurrent layers. Departures: the
papers classify fixed 21 s windows with a sigmoid per window; here the temporal
convolution runs over a whole crop or recording and a max over each second's frames
gives one embedding per second, so the recurrent back-end sees one step per second and
a recording is one sequence. Block widths, kernels and strides are config values
(``ModelConfig``), so a cheaper layout than the paper's can be chosen (the demo does).

``cnn1d`` works on the raw montaged waveform (the ``raw`` feature: ``F == 1``,
``frames_per_s == fs``): the same stack of strided temporal convolutions runs on every
channel (weights shared across channels, so a masked channel is just zeros), the
remaining frames of each second are max-pooled, and a linear layer maps all channels to
the embedding.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from seizure.errors import ConfigError
from seizure.models.config import ModelConfig


def standardise(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """``(x - mean) / std`` per feature, masked (missing) channels set to zero, in one pass."""
    scale = (1.0 / std).expand(x.shape[0], 1, x.shape[2], -1)
    shift = -mean * scale
    if mask is not None:
        m = mask.to(x.dtype)[:, None, :, None]
        scale, shift = scale * m, shift * m
    return torch.addcmul(shift, x, scale)


def activation(name: str) -> nn.Module:
    return nn.ELU() if name == "elu" else nn.ReLU()


def _per_second_max(y: torch.Tensor, per_s: int) -> torch.Tensor:
    """(B, D, T * per_s) -> (B, T, D): max over each second's frames."""
    b, d, t = y.shape
    return y.reshape(b, d, t // per_s, per_s).amax(dim=-1).transpose(1, 2)


class MaxPoolChannelsLast(nn.Module):
    """``nn.MaxPool2d(kernel, ceil_mode=True)`` for channels-last tensors, as a reshape + max.

    Equal to the PyTorch module (tested) without computing argmax indices; several times
    faster on CPU for the many small frames of the front-end.
    """

    def __init__(self, kernel: tuple[int, int]):
        super().__init__()
        self.kernel = tuple(kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        kh, kw = self.kernel
        y = x.permute(0, 2, 3, 1)  # (N, H, W, C): a view of channels-last memory
        ph, pw = -h % kh, -w % kw
        if ph or pw:
            y = nn.functional.pad(y, (0, 0, 0, pw, 0, ph), value=float("-inf"))
        y = y.reshape(n, (h + ph) // kh, kh, (w + pw) // kw, kw, c)
        out = y[:, :, 0, :, 0]
        for i in range(kh):  # elementwise maxima over strided views: vectorised along C
            for j in range(kw):
                if i or j:
                    out = torch.maximum(out, y[:, :, i, :, j])
        return out.permute(0, 3, 1, 2)  # (N, C, H', W') with channels-last strides


class CNN2d(nn.Module):
    """Per-frame 2D convolutions over (channels x features), then a 1D convolution over time."""

    def __init__(self, n_channels: int, n_features: int, frames_per_s: int, cfg: ModelConfig):
        super().__init__()
        if frames_per_s % cfg.conv1d_stride:
            raise ConfigError(f"model.conv1d_stride ({cfg.conv1d_stride}) must divide the store's "
                              f"frames_per_s ({frames_per_s})")
        self.frames_per_s = frames_per_s
        self.per_s = frames_per_s // cfg.conv1d_stride
        layers: list[nn.Module] = []
        in_ch, h, w = 1, n_channels, n_features
        (sc, sf), (pc, pf) = cfg.conv2d_stride, cfg.conv2d_pool
        first = None
        for out_ch in cfg.conv2d_channels:
            # a kernel larger than the frame that reaches this block is clipped to it
            kc, kf = min(cfg.conv2d_kernel[0], h), min(cfg.conv2d_kernel[1], w)
            pad_c, pad_f = (kc // 2, kf // 2) if cfg.conv2d_padding == "same" else (0, 0)
            first = first or (kc, kf, pad_f)
            h = (h + 2 * pad_c - kc) // sc + 1
            w = (w + 2 * pad_f - kf) // sf + 1
            layers.append(nn.Conv2d(in_ch, out_ch, (kc, kf), stride=(sc, sf), padding=(pad_c, pad_f)))
            if (pc, pf) != (1, 1):
                # max-pool before the activation: the same result (ELU and ReLU are monotone),
                # with the activation computed on a quarter of the values
                layers.append(MaxPoolChannelsLast((pc, pf)))
                h, w = math.ceil(h / pc), math.ceil(w / pf)
            layers.append(activation(cfg.activation))
            in_ch = out_ch
        self.blocks = nn.Sequential(*layers).to(memory_format=torch.channels_last)
        self.flat = in_ch * h * w
        # A first kernel spanning all features (valid padding, stride 1, one channel high) is a
        # per-channel linear map: computed as one matrix product, with the input
        # standardisation folded into it (same result as the convolution, a fraction of the cost).
        self.pointwise = first is not None and (first[0], sc, sf) == (1, 1, 1) and first[1:] == (n_features, 0)
        k, st = cfg.conv1d_kernel, cfg.conv1d_stride
        if k < st:
            raise ConfigError(f"model.conv1d_kernel ({k}) must be >= model.conv1d_stride ({st}) so every frame is seen")
        # windows centred on their stride step: T frames -> T / stride outputs, aligned with the seconds
        self.pad = ((k - st) // 2, k - st - (k - st) // 2)
        self.temporal = nn.Conv1d(self.flat, cfg.embed_dim, k, stride=st)
        self.act = activation(cfg.activation)
        self.output_size = cfg.embed_dim
        # frames after a second's end that its embedding depends on
        self.lookahead_frames = self.pad[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: standardised, masked features (B, T_frames, C, F)."""
        b, t, c, f = x.shape
        if self.pointwise:
            conv = self.blocks[0]
            return self._rest(nn.functional.linear(x, conv.weight.reshape(conv.out_channels, f), conv.bias), b, t)
        y = x.reshape(b * t, 1, c, f)
        if len(self.blocks):  # channels-last: 2-4x faster for these small images on CPU (oneDNN)
            y = self.blocks(y.contiguous(memory_format=torch.channels_last))
        return self._temporal(y, b, t)

    def forward_raw(self, x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor,
                    mask: torch.Tensor | None) -> torch.Tensor:
        """Same as ``forward(standardise(x, mean, std, mask))``; folds the standardisation
        into the first layer when it is pointwise."""
        if not self.pointwise:
            return self.forward(standardise(x, mean, std, mask))
        b, t, c, f = x.shape
        conv = self.blocks[0]
        w = conv.weight.reshape(conv.out_channels, f)
        inv = 1.0 / std
        z = nn.functional.linear(x, w * inv)                       # (B, T, C, out)
        offset = w @ (mean * inv)                                  # the standardised mean's share
        if mask is None:
            y = z + (conv.bias - offset)
        else:
            y = torch.addcmul(conv.bias, z - offset, mask.to(z.dtype)[:, None, :, None])
        return self._rest(y, b, t)

    def _rest(self, y: torch.Tensor, b: int, t: int) -> torch.Tensor:
        """The layers after the pointwise first convolution; ``y`` is its output (B, T, C, out)."""
        c, out = y.shape[2], y.shape[3]
        y = y.reshape(b * t, c, 1, out).permute(0, 3, 1, 2)  # (B*T, out, C, 1), channels-last strides
        return self._temporal(self.blocks[1:](y), b, t)

    def _temporal(self, y: torch.Tensor, b: int, t: int) -> torch.Tensor:
        y = y.permute(0, 2, 3, 1).reshape(b, t, self.flat).transpose(1, 2)  # (B, flat, T), flat = (h, w, ch)
        y = self.act(self.temporal(nn.functional.pad(y, self.pad)))
        return _per_second_max(y[..., : (t // self.frames_per_s) * self.per_s], self.per_s)


class CNN1d(nn.Module):
    """Strided temporal convolutions per channel (shared weights), per-second max, channel mix."""

    def __init__(self, n_channels: int, n_features: int, frames_per_s: int, cfg: ModelConfig):
        super().__init__()
        if n_features != 1:
            raise ConfigError(f"model.frontend 'cnn1d' needs the raw waveform (1 feature per frame, "
                              f"recipe feature 'raw'), but the store has {n_features} features")
        total = math.prod(cfg.cnn1d_strides)
        if frames_per_s % total:
            raise ConfigError(f"model.cnn1d_strides (product {total}) must divide the store's frames_per_s "
                              f"({frames_per_s})")
        self.frames_per_s = frames_per_s
        self.per_s = frames_per_s // total
        layers: list[nn.Module] = []
        in_ch, k = 1, cfg.cnn1d_kernel
        for out_ch, stride in zip(cfg.cnn1d_channels, cfg.cnn1d_strides):
            layers += [nn.Conv1d(in_ch, out_ch, k, stride=stride, padding=k // 2), activation(cfg.activation)]
            in_ch = out_ch
        self.convs = nn.Sequential(*layers)
        self.mix = nn.Linear(n_channels * in_ch, cfg.embed_dim)
        self.act = activation(cfg.activation)
        self.output_size = cfg.embed_dim
        self.lookahead_frames = sum((k // 2) * math.prod(cfg.cnn1d_strides[:i + 1])
                                    for i in range(len(cfg.cnn1d_strides)))

    def forward_raw(self, x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor,
                    mask: torch.Tensor | None) -> torch.Tensor:
        return self.forward(standardise(x, mean, std, mask))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c, _ = x.shape
        n_s = t // self.frames_per_s
        y = x[:, : n_s * self.frames_per_s, :, 0].transpose(1, 2).reshape(b * c, 1, -1)
        y = self.convs(y)                                    # (B*C, D1, ~n_s * per_s)
        y = y[..., : n_s * self.per_s]
        y = _per_second_max(y, self.per_s)                   # (B*C, n_s, D1)
        y = y.reshape(b, c, n_s, -1).permute(0, 2, 1, 3).reshape(b, n_s, -1)
        return self.act(self.mix(y))


FRONTENDS: dict[str, type[nn.Module]] = {
    "cnn2d": CNN2d,
    "cnn1d": CNN1d,
}
