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

Inference (eval mode) runs each front-end in two stages, :meth:`encode` and :meth:`decode`:
the per-frame layers (standardisation, masking and, for ``cnn2d``, the 2D blocks) map
every frame on its own to ``frame_dim`` values, and the temporal layers run over a
window of encoded frames. Because a frame's encoding does not depend on its neighbours,
:mod:`seizure.models.inference` encodes each frame of a recording once, although its
overlapping windows share frames; the 2D blocks run on groups of ``frame_group`` frames
(activations stay in the CPU cache) with in-place activations, and the temporal
convolution runs as matrix products over time-major frames. Same results as
``forward`` to float rounding (``tests/test_models_network.py``); training uses
``forward`` unchanged.
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


def _activate_(act: nn.Module, y: torch.Tensor) -> torch.Tensor:
    """Apply the activation module ``act`` (ELU or ReLU) to ``y`` in place."""
    if isinstance(act, nn.ELU):
        return nn.functional.elu_(y, act.alpha)
    return y.relu_()


FRAME_GROUP_BYTES = 4 * 2**20  # CNN2d.encode: frames per group and thread so that the largest activation is this size


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
        largest = 1  # values per frame of the largest block activation
        for out_ch in cfg.conv2d_channels:
            # a kernel larger than the frame that reaches this block is clipped to it
            kc, kf = min(cfg.conv2d_kernel[0], h), min(cfg.conv2d_kernel[1], w)
            pad_c, pad_f = (kc // 2, kf // 2) if cfg.conv2d_padding == "same" else (0, 0)
            first = first or (kc, kf, pad_f)
            h = (h + 2 * pad_c - kc) // sc + 1
            w = (w + 2 * pad_f - kf) // sf + 1
            layers.append(nn.Conv2d(in_ch, out_ch, (kc, kf), stride=(sc, sf), padding=(pad_c, pad_f)))
            largest = max(largest, out_ch * h * w)
            if (pc, pf) != (1, 1):
                # max-pool before the activation: the same result (ELU and ReLU are monotone),
                # with the activation computed on a quarter of the values
                layers.append(MaxPoolChannelsLast((pc, pf)))
                h, w = math.ceil(h / pc), math.ceil(w / pf)
            layers.append(activation(cfg.activation))
            in_ch = out_ch
        self.blocks = nn.Sequential(*layers).to(memory_format=torch.channels_last)
        self.flat = in_ch * h * w
        self.frame_group = max(16, FRAME_GROUP_BYTES // (4 * largest))
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

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``x``: standardised, masked features (B, T_frames, C, F); ``mask`` unused (zeros already)."""
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
        return self._rest(self._pointwise(x, mean, std, mask), x.shape[0], x.shape[1])

    def _pointwise(self, x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor,
                   mask: torch.Tensor | None) -> torch.Tensor:
        """The pointwise first convolution of raw features, standardisation folded in: (B, T, C, out)."""
        conv = self.blocks[0]
        w = conv.weight.reshape(conv.out_channels, x.shape[3])
        inv = 1.0 / std
        z = nn.functional.linear(x, w * inv)                       # (B, T, C, out)
        offset = w @ (mean * inv)                                  # the standardised mean's share
        if mask is None:
            return z + (conv.bias - offset)
        return torch.addcmul(conv.bias, z - offset, mask.to(z.dtype)[:, None, :, None])

    def _rest(self, y: torch.Tensor, b: int, t: int) -> torch.Tensor:
        """The layers after the pointwise first convolution; ``y`` is its output (B, T, C, out)."""
        c, out = y.shape[2], y.shape[3]
        y = y.reshape(b * t, c, 1, out).permute(0, 3, 1, 2)  # (B*T, out, C, 1), channels-last strides
        return self._temporal(self.blocks[1:](y), b, t)

    def _temporal(self, y: torch.Tensor, b: int, t: int) -> torch.Tensor:
        y = y.permute(0, 2, 3, 1).reshape(b, t, self.flat).transpose(1, 2)  # (B, flat, T), flat = (h, w, ch)
        y = self.act(self.temporal(nn.functional.pad(y, self.pad)))
        return _per_second_max(y[..., : (t // self.frames_per_s) * self.per_s], self.per_s)

    # -- inference: per-frame stage and sequence stage (see the module docstring)

    @property
    def encode_step(self) -> int:
        """Frames per encoded row: the temporal stride when its windows do not overlap (a row
        is then a whole window), else 1."""
        k, st = self.temporal.kernel_size[0], self.temporal.stride[0]
        return st if k == st else 1

    @property
    def encoded_dim(self) -> int:
        """Values per encoded row: the temporal convolution's pre-activation (embed_dim) when
        ``encode_step > 1``, else each frame's projection by every kernel tap (k x embed_dim)."""
        return self.temporal.out_channels * (1 if self.encode_step > 1 else self.temporal.kernel_size[0])

    def encode(self, x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor,
               mask: torch.Tensor | None) -> torch.Tensor:
        """Raw features (B, T, C, F) -> encoded rows (B, T // encode_step, encoded_dim).

        The per-frame layers, then the temporal convolution's weights applied to each frame
        (or each non-overlapping window of frames), for inference; :meth:`decode` finishes.
        """
        b, t, c, f = x.shape
        if self.pointwise:
            y = self._pointwise(x, mean, std, mask)  # (B, T, C, out), a fresh tensor
            rest = list(self.blocks[1:])
            if all(isinstance(m, (nn.ELU, nn.ReLU)) for m in rest):  # (C, 1, out) is already (h, w, ch)
                for m in rest:
                    _activate_(m, y)
                return self._project(y.reshape(b, t, self.flat))
            y = y.reshape(b * t, c, 1, y.shape[3]).permute(0, 3, 1, 2)  # (B*T, out, C, 1), channels-last
            start = 1
        else:
            y = standardise(x, mean, std, mask).reshape(b * t, 1, c, f)
            y = y.contiguous(memory_format=torch.channels_last)
            start = 0
        # groups of frames (a multiple of encode_step; frame_group per thread, as the threads
        # split each group) through the blocks and the projection
        g = self.frame_group * max(1, torch.get_num_threads())
        n, g = b * t, -(-g // self.encode_step) * self.encode_step
        parts = [self._project(self._blocks_eval(y[i:i + g], start).permute(0, 2, 3, 1).reshape(1, -1, self.flat))[0]
                 for i in range(0, n, g)]
        out = parts[0] if len(parts) == 1 else torch.cat(parts)
        return out.reshape(b, -1, out.shape[-1])

    def _blocks_eval(self, y: torch.Tensor, start: int) -> torch.Tensor:
        """The 2D blocks from index ``start`` on, with in-place activations (no autograd needs)."""
        for m in self.blocks[start:]:
            if isinstance(m, MaxPoolChannelsLast):
                y = nn.functional.max_pool2d(y, m.kernel, ceil_mode=True)  # faster than ours on these shapes
            elif isinstance(m, (nn.ELU, nn.ReLU)):
                y = _activate_(m, y)
            else:
                y = m(y)
        return y

    def _project(self, e: torch.Tensor) -> torch.Tensor:
        """Per-frame features (B, T, flat) -> encoded rows: the temporal convolution's weights
        (and bias, when a row is a whole window) applied by one matrix product."""
        b, t, d = e.shape
        w, bias = self.temporal.weight, self.temporal.bias  # (E, d, k)
        k, step = w.shape[2], self.encode_step
        if step > 1:  # k == stride: a window of `step` frames, ordered (tap, value)
            n = t // step
            return nn.functional.linear(e[:, :n * step].reshape(b, n, step * d),
                                        w.permute(0, 2, 1).reshape(w.shape[0], k * d), bias)
        return nn.functional.linear(e, w.permute(2, 0, 1).reshape(k * w.shape[0], d))  # (B, T, k x E)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Encoded rows (B, T // encode_step, encoded_dim) -> (B, T_seconds, embed_dim): the
        temporal convolution's sums over its taps (zero padding at the window's ends), the
        activation and the per-second max."""
        if self.encode_step > 1:
            y = self.act(z)
            t = z.shape[1] * self.encode_step
        else:
            b, t, _ = z.shape
            k, st = self.temporal.kernel_size[0], self.temporal.stride[0]
            taps = z.reshape(b, t, k, -1)
            n_out, pad = t // st, self.pad[0]
            y = self.temporal.bias.expand(b, n_out, taps.shape[3]).clone()
            for i in range(k):  # output j takes tap i of frame j * st + i - pad, where that frame exists
                j0 = max(0, -(-(pad - i) // st))
                j1 = min(n_out, -(-(t + pad - i) // st))
                if j1 > j0:
                    m0 = j0 * st + i - pad
                    y[:, j0:j1] += taps[:, m0:m0 + (j1 - j0 - 1) * st + 1:st, i]
            _activate_(self.act, y)
        y = y[:, : (t // self.frames_per_s) * self.per_s]
        if self.per_s > 1:
            y = y.reshape(y.shape[0], -1, self.per_s, y.shape[2]).amax(dim=2)
        return y


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
        self.n_channels = n_channels
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

    encode_step = 1  # frames per encoded row

    @property
    def encoded_dim(self) -> int:
        return self.n_channels

    def encode(self, x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor,
               mask: torch.Tensor | None) -> torch.Tensor:
        """Per-frame stage for inference: standardised, masked samples (B, T, C)."""
        return standardise(x, mean, std, mask)[..., 0]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Encoded frames (B, T, C) -> (B, T_seconds, embed_dim)."""
        return self.forward(z[..., None])

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        b, t, c, _ = x.shape
        n_s = t // self.frames_per_s
        y = x[:, : n_s * self.frames_per_s, :, 0].transpose(1, 2).reshape(b * c, 1, -1)
        y = self.convs(y)                                    # (B*C, D1, ~n_s * per_s)
        y = y[..., : n_s * self.per_s]
        y = _per_second_max(y, self.per_s)                   # (B*C, n_s, D1)
        y = y.reshape(b, c, n_s, -1).permute(0, 2, 1, 3).reshape(b, n_s, -1)
        return self.act(self.mix(y))


class ChannelPooled(nn.Module):
    """One encoder for every channel (shared weights), pooled over the usable channels.

    Per channel: the standardised feature vector of each frame through ``conv2d_channels``
    linear layers (a 1 x F kernel per layer, as ``cnn2d``'s pointwise first block), then a
    temporal window of ``conv1d_kernel == conv1d_stride`` frames to ``embed_dim`` values and
    a max over each second; optionally (``channel_context_s``) a residual convolution over
    that many seconds of each channel's embeddings. Then, per second, the max and the mean
    of those values over the channels the mask keeps: ``2 * embed_dim`` values, whatever the
    number of channels or which ones are missing. A seizure seen on one channel trains the
    detector of every channel, and a focal onset is found wherever it starts (the inductive
    bias of channel-pooled band-power detectors); the spatial pattern is lost beyond what
    max and mean keep. At inference :meth:`encode` pools each second (its row is final, and
    :meth:`decode` passes rows through), or, with a channel context, gives each second's
    per-channel embeddings and the channel mask, and :meth:`decode` the context and pooling.
    """

    def __init__(self, n_channels: int, n_features: int, frames_per_s: int, cfg: ModelConfig):
        super().__init__()
        k, st = cfg.conv1d_kernel, cfg.conv1d_stride
        if k != st:
            raise ConfigError(f"model.frontend 'pooled' needs conv1d_kernel == conv1d_stride (windows that "
                              f"tile each second), got {k} and {st}")
        if frames_per_s % st:
            raise ConfigError(f"model.conv1d_stride ({st}) must divide the store's frames_per_s ({frames_per_s})")
        self.n_channels, self.embed = n_channels, cfg.embed_dim
        self.frames_per_s, self.per_s, self.step = frames_per_s, frames_per_s // st, st
        layers: list[nn.Module] = []
        width = n_features
        for out in cfg.conv2d_channels:
            layers += [nn.Linear(width, out), activation(cfg.activation)]
            width = out
        self.per_frame = nn.Sequential(*layers)
        self.temporal = nn.Linear(st * width, cfg.embed_dim)  # one window of `st` frames
        self.act = activation(cfg.activation)
        ctx = cfg.channel_context_s
        self.context = nn.Conv1d(cfg.embed_dim, cfg.embed_dim, ctx, padding=ctx // 2) if ctx else None
        self.output_size = 2 * cfg.embed_dim
        self.lookahead_frames = (ctx // 2) * frames_per_s

    @property
    def encode_step(self) -> int:
        return self.frames_per_s  # one row per second

    @property
    def encoded_dim(self) -> int:
        if self.context is None:
            return self.output_size  # pooled at encode: a second's row is final
        return self.n_channels * (self.embed + 1)  # embeddings, then the mask

    def forward_raw(self, x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor,
                    mask: torch.Tensor | None) -> torch.Tensor:
        return self._pool(self._embed(x, mean, std), mask)

    def encode(self, x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor,
               mask: torch.Tensor | None) -> torch.Tensor:
        y = self._embed(x, mean, std)                                       # (B, n_s, C, E)
        if self.context is None:
            return self._pool(y, mask)
        b, n_s, c, _ = y.shape
        keep = (torch.ones(b, c, dtype=y.dtype, device=y.device) if mask is None else mask.to(y.dtype))
        return torch.cat([y.reshape(b, n_s, -1), keep[:, None].expand(b, n_s, c)], dim=-1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        if self.context is None:
            return z
        b, n_s, _ = z.shape
        c = self.n_channels
        return self._pool(z[..., : c * self.embed].reshape(b, n_s, c, self.embed), z[:, 0, c * self.embed:])

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``x``: standardised, masked features (B, T_frames, C, F) -> (B, T_seconds, 2 * embed_dim)."""
        return self._pool(self._embed(x), mask)

    def _embed(self, x: torch.Tensor, mean: torch.Tensor | None = None, std: torch.Tensor | None = None
               ) -> torch.Tensor:
        """Per-channel embeddings of each second (B, n_s, C, E) of standardised features, or of
        raw ones with ``mean`` and ``std`` (folded into the first linear layer). Missing
        channels need no zeroing: each channel is encoded on its own and the pooling skips them."""
        b, t, c, _ = x.shape
        n_s = t // self.frames_per_s
        x = x[:, : n_s * self.frames_per_s]
        if mean is None or not len(self.per_frame):
            y = self.per_frame(x if mean is None else (x - mean) / std)    # (B, T, C, D)
        else:
            first = self.per_frame[0]
            w = first.weight / std
            y = self.per_frame[1:](nn.functional.linear(x, w, first.bias - w @ mean))
        y = y.reshape(b, n_s * self.per_s, self.step, c, -1).transpose(2, 3)
        y = self.act(self.temporal(y.reshape(b, n_s * self.per_s, c, -1)))  # (B, n_s * per_s, C, E)
        return y.reshape(b, n_s, self.per_s, c, -1).amax(dim=2)

    def _pool(self, y: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """Channel context (optional), then the masked max and mean over channels."""
        b, n_s, c, e = y.shape
        if self.context is not None:
            seq = y.permute(0, 2, 3, 1).reshape(b * c, e, n_s)
            y = y + self.act(self.context(seq)).reshape(b, c, e, n_s).permute(0, 3, 1, 2)
        if mask is None:
            return torch.cat([y.amax(dim=2), y.mean(dim=2)], dim=-1)
        keep = mask.to(y.dtype)[:, None, :, None]                         # (B, 1, C, 1)
        n = keep.sum(dim=2).clamp_min(1.0)
        top = y.masked_fill(keep == 0, float("-inf")).amax(dim=2)
        top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))  # no usable channel: 0
        return torch.cat([top, (y * keep).sum(dim=2) / n], dim=-1)


FRONTENDS: dict[str, type[nn.Module]] = {
    "cnn2d": CNN2d,
    "cnn1d": CNN1d,
    "pooled": ChannelPooled,
}
