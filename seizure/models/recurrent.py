"""Recurrent back-ends by name (``CELLS``): lstm, gru, minimalrnn, rnn.

One implementation path for every cell: the input projection of the whole sequence is
one matrix product, then a loop over time applies the hidden-to-hidden product and the
cell's gating. That loop is what makes variational recurrent dropout (one mask per
sequence, shared over time, on the hidden state entering the hidden product; Gal and
Ghahramani 2016) and sparse variational dropout weights (sampled once per forward pass)
possible for every cell alike. When no dropout mask applies (inference, or training
without recurrent dropout), the LSTM, GRU and tanh RNN run the same weights (sampled,
pruned or plain) through PyTorch's fused recurrent kernels instead of the Python loop:
identical equations (tested against the loop), an order of magnitude less per-step
overhead. The minimalRNN always uses the loop.

Cells (PyTorch gate conventions):

- ``rnn``: ``h = tanh(W x + b + U h)``.
- ``gru``: ``r, z = sigmoid(...)``, ``n = tanh(W_n x + b_n + r * (U_n h + c_n))``,
  ``h = (1 - z) n + z h`` (Keras ``reset_after=True``).
- ``lstm``: gates ``i, f, g, o``; ``c = f c + i g``, ``h = o tanh(c)``.
- ``minimalrnn`` (Chen, Pennington, Schoenholz 2018): ``z = tanh(W_x x + b_z)``,
  ``u = sigmoid(U_h h + U_z z + b_u)``, ``h = u h + (1 - u) z``.

Parameters per cell: ``weight_ih`` / ``bias_ih`` (input side; for the minimalRNN
``W_x`` / ``b_z``), ``weight_hh`` / ``bias_hh`` (hidden side; for the minimalRNN
``U_h`` / ``b_u``) and, for the minimalRNN only, ``weight_zh`` (``U_z``). Gate blocks
are stacked along dimension 0.
"""

from __future__ import annotations

import abc

import torch
from torch import nn

from seizure.models.sparse_vd import LOG_SIGMA2_INIT, SVDWeights


class Cell(nn.Module, SVDWeights):
    """Base class: parameters, sparse-VD weights, and the loop over time."""

    name = ""
    gates = 1          # blocks in weight_ih / weight_hh
    has_zh = False

    def __init__(self, input_size: int, hidden_size: int, sparse_vd: bool = False, threshold: float = 3.0):
        super().__init__()
        g, h = self.gates, hidden_size
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih = nn.Parameter(torch.empty(g * h, input_size))
        self.bias_ih = nn.Parameter(torch.zeros(g * h))
        self.weight_hh = nn.Parameter(torch.empty(g * h, h))
        self.bias_hh = nn.Parameter(torch.zeros(g * h))
        self.weight_zh = nn.Parameter(torch.empty(h, h)) if self.has_zh else None
        self.sparse_vd = sparse_vd
        self.svd_threshold = threshold
        if sparse_vd:
            self.log_sigma2_ih = nn.Parameter(torch.full_like(self.weight_ih, LOG_SIGMA2_INIT))
            self.log_sigma2_hh = nn.Parameter(torch.full_like(self.weight_hh, LOG_SIGMA2_INIT))
            self.log_sigma2_zh = nn.Parameter(torch.full((h, h), LOG_SIGMA2_INIT)) if self.has_zh else None
        for w in (self.weight_ih, self.weight_hh, self.weight_zh):
            if w is not None:
                nn.init.uniform_(w, -hidden_size ** -0.5, hidden_size ** -0.5)

    def svd_pairs(self):
        if not self.sparse_vd:
            return
        yield "weight_ih", self.weight_ih, self.log_sigma2_ih
        yield "weight_hh", self.weight_hh, self.log_sigma2_hh
        if self.has_zh:
            yield "weight_zh", self.weight_zh, self.log_sigma2_zh

    def weights(self) -> dict[str, torch.Tensor]:
        """The weights for this forward pass (sampled once in training with sparse VD)."""
        sample = self.training and self.sparse_vd
        out = {
            "ih": self.effective(self.weight_ih, getattr(self, "log_sigma2_ih", None), sample),
            "hh": self.effective(self.weight_hh, getattr(self, "log_sigma2_hh", None), sample),
        }
        if self.has_zh:
            out["zh"] = self.effective(self.weight_zh, getattr(self, "log_sigma2_zh", None), sample)
        return out

    def project(self, x: torch.Tensor, w: dict[str, torch.Tensor]) -> torch.Tensor:
        """Input-side pre-activations for the whole sequence: (B, T, gates * H)."""
        return nn.functional.linear(x, w["ih"], self.bias_ih)

    def init_state(self, batch: int, ref: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return (ref.new_zeros(batch, self.hidden_size),)

    @abc.abstractmethod
    def step(self, pre: torch.Tensor, state: tuple[torch.Tensor, ...], h_in: torch.Tensor,
             w: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """One time step: the new state from the input pre-activations and the previous state."""

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None,
                rec_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Run over ``x`` (B, T, in): outputs (B, T, H) and the final hidden state (B, H).

        ``h0`` (B, H) is the initial hidden state (zeros if None); ``rec_mask`` (B, H) is
        the variational dropout mask applied to the hidden state entering ``weight_hh``.
        """
        w = self.weights()
        if rec_mask is None and self.native is not None and x.shape[1] > 0:
            return self._fused(x, h0, w)
        pre = self.project(x, w)
        state = self.init_state(x.shape[0], x)
        if h0 is not None:
            state = (h0,) + state[1:]
        outs = []
        for t in range(x.shape[1]):
            h_in = state[0] if rec_mask is None else state[0] * rec_mask
            state = self.step(pre[:, t], state, h_in, w)
            outs.append(state[0])
        if not outs:
            return x.new_zeros(x.shape[0], 0, self.hidden_size), state[0]
        return torch.stack(outs, dim=1), state[0]


    native = None  # the fused kernel in torch._VF with the same equations, if any

    def _fused(self, x: torch.Tensor, h0: torch.Tensor | None, w: dict[str, torch.Tensor]
               ) -> tuple[torch.Tensor, torch.Tensor]:
        h = (h0 if h0 is not None else x.new_zeros(x.shape[0], self.hidden_size))[None]
        hx = (h, torch.zeros_like(h)) if self.name == "lstm" else h
        params = [w["ih"], w["hh"], self.bias_ih, self.bias_hh]
        out = getattr(torch._VF, self.native)(x, hx, params, True, 1, 0.0, self.training, False, True)
        return out[0], out[0][:, -1] if x.shape[1] else h[0]


class RNNCell(Cell):
    name, gates, native = "rnn", 1, "rnn_tanh"

    def step(self, pre, state, h_in, w):
        return (torch.tanh(torch.addmm(pre + self.bias_hh, h_in, w["hh"].t())),)


class GRUCell(Cell):
    name, gates, native = "gru", 3, "gru"

    def step(self, pre, state, h_in, w):
        h = state[0]
        gh = torch.addmm(self.bias_hh, h_in, w["hh"].t())
        x_r, x_z, x_n = pre.chunk(3, dim=1)
        h_r, h_z, h_n = gh.chunk(3, dim=1)
        r = torch.sigmoid(x_r + h_r)
        z = torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)
        return (n + z * (h - n),)


class LSTMCell(Cell):
    name, gates, native = "lstm", 4, "lstm"

    def init_state(self, batch, ref):
        zeros = ref.new_zeros(batch, self.hidden_size)
        return (zeros, zeros)

    def step(self, pre, state, h_in, w):
        _, c = state
        g = torch.addmm(pre + self.bias_hh, h_in, w["hh"].t())
        i, f, gg, o = g.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(gg)
        return (torch.sigmoid(o) * torch.tanh(c), c)


class MinimalRNNCell(Cell):
    name, gates, has_zh = "minimalrnn", 1, True

    def project(self, x, w):
        z = torch.tanh(nn.functional.linear(x, w["ih"], self.bias_ih))
        return torch.cat([z, nn.functional.linear(z, w["zh"])], dim=-1)

    def step(self, pre, state, h_in, w):
        h = state[0]
        z, zu = pre.chunk(2, dim=1)
        u = torch.sigmoid(torch.addmm(zu + self.bias_hh, h_in, w["hh"].t()))
        return (z + u * (h - z),)


CELLS: dict[str, type[Cell]] = {
    "lstm": LSTMCell,
    "gru": GRUCell,
    "minimalrnn": MinimalRNNCell,
    "rnn": RNNCell,
}


class RecurrentLayer(nn.Module):
    """One layer, uni- or bidirectional (the backward cell reads the reversed sequence)."""

    def __init__(self, cell: str, input_size: int, hidden_size: int, bidirectional: bool,
                 recurrent_dropout: float = 0.0, sparse_vd: bool = False, threshold: float = 3.0):
        super().__init__()
        cls = CELLS[cell]
        n_dir = 2 if bidirectional else 1
        self.cells = nn.ModuleList(cls(input_size, hidden_size, sparse_vd, threshold) for _ in range(n_dir))
        self.recurrent_dropout = recurrent_dropout
        self.hidden_size = hidden_size

    def masks(self, batch: int, ref: torch.Tensor) -> list[torch.Tensor | None]:
        """One variational dropout mask per direction and sequence (None when off)."""
        p = self.recurrent_dropout
        if not self.training or p <= 0:
            return [None] * len(self.cells)
        keep = 1.0 - p
        return [torch.bernoulli(ref.new_full((batch, self.hidden_size), keep)) / keep for _ in self.cells]

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
        masks = self.masks(x.shape[0], x)
        out, _ = self.cells[0](x, h0, masks[0])
        if len(self.cells) == 1:
            return out
        back, _ = self.cells[1](x.flip(1), None, masks[1])
        return torch.cat([out, back.flip(1)], dim=-1)


class Recurrent(nn.Module):
    """Stacked recurrent layers with (standard) dropout between them."""

    def __init__(self, cell: str, input_size: int, hidden_size: int, num_layers: int, bidirectional: bool,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0, sparse_vd: bool = False,
                 threshold: float = 3.0):
        super().__init__()
        n_dir = 2 if bidirectional else 1
        self.layers = nn.ModuleList(
            RecurrentLayer(cell, input_size if i == 0 else hidden_size * n_dir, hidden_size, bidirectional,
                           recurrent_dropout, sparse_vd, threshold)
            for i in range(num_layers))
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.output_size = hidden_size * n_dir
        self.bidirectional = bidirectional

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            if i:
                x = self.dropout(x)
            x = layer(x)
        return x
