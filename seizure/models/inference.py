"""Bounded-memory inference over a whole recording, fed chunk by chunk.

Choice: overlapping windows, stitched. The recording is cut into cores of ``window_s``
seconds; each core is run with ``context_s`` seconds of extra input before it (and after
it, for bidirectional models) and only the core's outputs are kept. Windows of equal
length are batched, so a long recording is scored as a batch of parallel sequences
(fast on CPU) while memory stays bounded by about ``(batch_size + 1)`` windows of
``window_s + 2 * context_s`` seconds of encoded rows, whatever the recording's length.

Two stages: a :class:`~seizure.models.network.SeizureNet` maps each frame (or each
``encode_step`` frames) on its own (``encode``: standardisation, masking, the front-end's
per-frame layers and the temporal convolution's weights), then runs the rest (the
temporal sums, the recurrent layers, the head) over a window of encoded rows
(``decode``). Rows are encoded once, as the chunks arrive, so the overlap between
windows costs only the cheap second stage, and the buffer holds a few values per frame;
windows with identical inputs (a recording shorter than one window plus its context) are
run once. Other modules are run whole (``model(x, mask)``) per window.

Why not carried state: it only works for unidirectional models and serialises the
recording into one sequence (one time step per second, no batching). Windows work for
both and are exact wherever the model's memory is shorter than ``context_s``: the
recurrent state forgets its start, so a window's core sees (numerically) the same
state as the one-shot pass. The first core of a recording starts at second 0 in both
passes and the last ends at the recording's end in both, so the edges agree exactly;
those windows take their missing context from the other side, so every window has the
same length and the whole recording runs as full batches.

How much context is enough depends on the model's memory: an LSTM whose forget gates sit
near 1 remembers for a minute or more. The default is 120 s. Measured on the trained demo
model (bidirectional GRU) over 2.2 h of synthetic eval recordings, the largest difference
from the one-shot pass is 1.6e-3 in probability with 120 s of context (1.8e-2 with 60 s).
``tests/test_models_inference.py`` checks that the difference shrinks as the context
grows and is below 1e-3 at 300 s for LSTM, GRU and minimalRNN models at initialisation.

Threads: the window stage runs on one CPU thread. Its recurrent loop is hundreds of tiny
steps, each a parallel region; with two threads on a 2-core machine where another
process holds a core, every step waits for the descheduled thread (measured 10x slower),
while on an idle machine the second thread gains only a few percent there. The encoding
stage (the convolutions, the bulk of the work) uses all of torch's threads.

Memory: :func:`inference_batch_size` picks how many windows run at once so that a batch
fits a memory budget (``seizure score``, the training loop's dev evaluation, the demo).
``precision="bfloat16"`` runs both stages under CPU/CUDA autocast (opt-in). Measured on a
2-core Xeon with AMX (``benchmarks/bench_model.py --bfloat16``): the paper config 1.8x as
fast, the small demo config 0.4x (slower); probabilities within 1.3e-3 of float32 there
(the tests allow 3e-2). See ``benchmarks/README.md``.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable, Iterable, Iterator

import numpy as np
import torch
from torch import nn

from seizure.errors import ConfigError
from seizure.registry import pick

INFERENCE_BUDGET_MB = 400.0  # memory of one inference batch (see inference_batch_size)
PRECISIONS = ("bfloat16", "float32")
_BATCH_SIZES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> {settings: batch size}


def _windows(n_seconds: int, window_s: int, left_s: int, right_s: int, start_k: int = 0,
             final: bool = True) -> Iterator[tuple[int, int, int, int]]:
    """(core_start, core_stop, in_start, in_stop) in seconds, for cores from index ``start_k``.

    Every input spans ``window_s + left_s + right_s`` seconds when the recording is that
    long: a core near the start gets extra right context instead of missing left context,
    one near the end extra left context, so all windows batch together. With
    ``final=False`` (more data may come) only windows whose input is complete are given.
    """
    span = window_s + left_s + right_s
    k = start_k
    while True:
        a = k * window_s
        if a >= n_seconds:
            return
        b = min(a + window_s, n_seconds)
        start = max(0, a - left_s)
        if not final:
            if start + span > n_seconds:
                return
        else:
            start = max(0, min(start, n_seconds - span))
        yield a, b, start, min(n_seconds, start + span)
        k += 1


def _stages(model: nn.Module, mask_t: torch.Tensor | None
              ) -> tuple[Callable[[torch.Tensor], torch.Tensor], Callable[[torch.Tensor], torch.Tensor], int]:
    """(encode one chunk (n_frames, C, F) -> rows, run a batch of windows of rows -> logits,
    frames per row)."""
    if hasattr(model, "encode") and hasattr(model, "decode"):
        return (lambda x: model.encode(x[None], mask_t)[0]), model.decode, int(getattr(model, "encode_step", 1))

    def whole(x: torch.Tensor) -> torch.Tensor:
        return model(x, None if mask_t is None else mask_t.expand(x.shape[0], -1))

    return (lambda x: x), whole, 1


@contextlib.contextmanager
def _one_thread(device: torch.device) -> Iterator[None]:
    """Run the enclosed torch work on one CPU thread (see the module docstring)."""
    n = torch.get_num_threads()
    if device.type != "cpu" or n == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def _autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    pick(dict.fromkeys(PRECISIONS), precision, "precision")
    if precision == "float32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def predict_probs(model: nn.Module, chunks: Iterable[np.ndarray], frames_per_s: int,
                  mask: np.ndarray | None = None, *, window_s: float = 600.0, context_s: float = 120.0,
                  device: str | torch.device | None = None, batch_size: int = 16,
                  precision: str = "float32") -> np.ndarray:
    """Per-second seizure probabilities (float32, one per whole second) of one recording.

    ``chunks`` yields feature arrays ``(n_frames, C, F)`` (whole seconds each) in order;
    ``mask`` (C,) marks usable channels (None: all). The model is used in eval mode on
    ``device`` (default: where its parameters are); ``precision`` is ``"float32"`` or
    ``"bfloat16"`` (autocast, opt-in).
    """
    window = int(round(window_s))
    context = int(round(context_s))
    if window < 1 or context < 0 or batch_size < 1:
        raise ValueError(f"window_s must be >= 1 s, context_s >= 0 and batch_size >= 1; got {window_s}, "
                         f"{context_s}, {batch_size}")
    fps = int(frames_per_s)
    bidirectional = bool(getattr(model, "bidirectional", True))
    lookahead = int(getattr(model, "lookahead_s", 1))
    left, right = context, (max(context, lookahead) if bidirectional else lookahead)
    device = next(model.parameters()).device if device is None else torch.device(device)
    cast = _autocast(device, precision)
    was_training = model.training
    model.eval()
    mask_t = None if mask is None else torch.as_tensor(np.asarray(mask, dtype=np.float32), device=device)[None]
    encode, decode, step = _stages(model, mask_t)
    if fps % step:
        raise ValueError(f"the model encodes {step} frames per row, which does not divide frames_per_s={fps}")
    rows = fps // step               # encoded rows per second

    pieces: list[torch.Tensor] = []  # encoded rows from second buf_s on, not yet joined
    buf_s = 0                        # first second held in pieces
    n_s = 0                          # seconds received so far
    next_k = 0                       # next core index to score
    out: list[np.ndarray] = []

    def run(wins: list[tuple[int, int, int, int]]) -> None:
        buf = torch.cat(pieces) if len(pieces) > 1 else pieces[0]
        pieces[:] = [buf]
        cores: dict[tuple[int, int], list[tuple[int, int]]] = {}  # identical inputs run once
        for a, b, s, e in wins:
            cores.setdefault((s, e), []).append((a, b))
        by_len: dict[int, list[tuple[int, int]]] = {}  # equal input lengths batch without padding
        for s, e in cores:
            by_len.setdefault(e - s, []).append((s, e))
        results = {}
        for group in by_len.values():
            for i in range(0, len(group), batch_size):
                part = group[i:i + batch_size]
                x = torch.stack([buf[(s - buf_s) * rows:(e - buf_s) * rows] for s, e in part])
                with torch.inference_mode(), cast, _one_thread(device):
                    p = torch.sigmoid(decode(x).float()).cpu().numpy()
                for (s, e), row in zip(part, p):
                    for a, b in cores[(s, e)]:
                        results[a] = row[a - s:b - s]
        for a, *_ in wins:
            out.append(results[a])

    try:
        for chunk in chunks:
            chunk = np.asarray(chunk, dtype=np.float32)
            if chunk.ndim != 3 or chunk.shape[0] % fps:
                raise ValueError(f"each chunk must be (n_frames, C, F) with whole seconds of {fps} frames, "
                                 f"got shape {chunk.shape}")
            if not chunk.flags.writeable:  # e.g. a memory-mapped store: torch wants writable memory
                chunk = chunk.copy()
            with torch.inference_mode(), cast:
                pieces.append(encode(torch.from_numpy(chunk).to(device)))
            n_s += chunk.shape[0] // fps
            ready = list(_windows(n_s, window, left, right, next_k, final=False))
            if len(ready) >= batch_size:
                run(ready)
                next_k += len(ready)
                # the last window may reach back a whole span from the next core's start
                keep_from = max(0, next_k * window - (window + left + right))
                pieces[:] = [pieces[0][(keep_from - buf_s) * rows:]]
                buf_s = keep_from
        rest = list(_windows(n_s, window, left, right, next_k, final=True)) if pieces else []
        if rest:
            run(rest)
    finally:
        model.train(was_training)
    return np.concatenate(out).astype(np.float32) if out else np.zeros(0, dtype=np.float32)


def array_chunks(features: np.ndarray, frames_per_s: int, chunk_s: float = 600.0) -> Iterator[np.ndarray]:
    """An in-memory or memory-mapped ``(n_frames, C, F)`` array as :func:`predict_probs` chunks."""
    step = int(round(chunk_s)) * int(frames_per_s)
    return (features[i:i + step] for i in range(0, features.shape[0], step))


def predict_array(model: nn.Module, features: np.ndarray, frames_per_s: int, mask: np.ndarray | None = None,
                  *, chunk_s: float = 600.0, **kwargs) -> np.ndarray:
    """:func:`predict_probs` over an in-memory or memory-mapped ``(n_frames, C, F)`` array."""
    return predict_probs(model, array_chunks(features, frames_per_s, chunk_s), frames_per_s, mask, **kwargs)


def inference_batch_size(model: nn.Module, frames_per_s: int, *, window_s: float, context_s: float,
                         max_batch: int, budget_mb: float = INFERENCE_BUDGET_MB) -> int:
    """How many inference windows :func:`predict_probs` should run at once so that their
    memory stays within ``budget_mb``.

    Per second of a window's input (window plus context on both sides): 4 copies of the
    encoded rows (the inference buffer, its growth, the stacked batch, the decoder's
    working copy) plus 3 times the largest tensor that a layer of a probe pass through the
    window stage receives or returns (its input, output and workspace). At least 1, at most ``max_batch``; probed once
    per model and settings (a 20 s probe on the model's device).
    """
    if isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1:
        raise ConfigError(f"max_batch must be a positive integer, got {max_batch!r}")
    key = (int(frames_per_s), float(window_s), float(context_s), max_batch, float(budget_mb))
    known = _BATCH_SIZES.setdefault(model, {})
    if key not in known:
        encoded_mb, activation_mb = _probe_mb_per_s(model, int(frames_per_s))
        window_mb = (4 * encoded_mb + 3 * activation_mb) * (window_s + 2 * context_s)
        known[key] = int(max(1, min(max_batch, budget_mb // max(window_mb, 1e-9))))
    return known[key]


def _probe_mb_per_s(model: nn.Module, fps: int, probe_s: int = 20) -> tuple[float, float]:
    """(MB per second of encoded rows, MB per second of the window stage's largest tensor)."""
    sizes: list[int] = []

    def hook(module, inputs, output) -> None:
        for t in (*inputs, *(output if isinstance(output, (tuple, list)) else (output,))):
            if isinstance(t, torch.Tensor):
                sizes.append(t.numel() * t.element_size())

    param = next(model.parameters())
    x = torch.zeros(1, probe_s * fps, model.n_channels, model.n_features, device=param.device)
    was_training = model.training
    handles = []
    try:
        with torch.inference_mode():
            model.eval()
            encode, decode, _ = _stages(model, None)
            e = encode(x[0])[None]
            handles = [m.register_forward_hook(hook) for m in model.modules()]
            decode(e)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    mb = 2.0 ** 20 * probe_s
    return e.numel() * e.element_size() / mb, max(sizes, default=0) / mb
