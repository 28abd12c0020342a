"""A portable model: ``seizure export CHECKPOINT --format onnx|torchscript OUT``.

Writes the network as ONNX (``OUT``, opset 17; needs the ``onnx`` extra:
``pip install 'seizure[onnx]'``) or TorchScript (``OUT``, traced), and beside it
``OUT`` with the suffix ``.json``: the preprocessing recipe (and its hash), the operating
point, the channel order, the feature geometry and how ``seizure score`` windows a
recording. The exported graph maps

    features float32 (batch, frames, channels, n_features), mask float32 (batch, channels)
    -> probabilities float32 (batch, seconds)      (frames = seconds * frames_per_s)

and is checked before it is written against the PyTorch model at two input lengths
(the scoring window and a shorter one: a trace that baked a length in would fail);
a disagreement above :data:`TOLERANCE` refuses the export.

The graph takes the recipe's features as ``seizure score`` computes them: when the recipe
says ``normalize = "recording_median"``, each recording's per-channel median is already
subtracted (``seizure.preprocess.pipeline.process_edf`` does it; the rule is in
:mod:`seizure.preprocess.normalize`). To score a recording as ``seizure score`` does, cut
its features into the windows of the JSON's ``windows`` table and keep each window's core
(:class:`ExportedModel` does this for both formats; ``tests/test_export.py`` checks it
against ``seizure score`` to 1e-4).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seizure.errors import CheckpointError, ConfigError, SeizureError
from seizure.fsutil import atomic_path, atomic_write

log = logging.getLogger(__name__)

FORMATS = ("onnx", "torchscript")
TOLERANCE = 1e-4
OPSET = 17
EXPORT_FORMAT = "seizure-exported-model"


@dataclass(frozen=True)
class ExportResult:
    model_path: Path
    meta_path: Path
    format: str
    max_abs_diff: float  # largest difference from the PyTorch model in the check


def meta_path(model_path: str | Path) -> Path:
    """Where the JSON beside an exported model is (``model.onnx`` -> ``model.json``)."""
    return Path(model_path).with_suffix(".json")


def _wrapper(model: Any) -> Any:
    import torch

    class Probabilities(torch.nn.Module):
        def __init__(self, net: torch.nn.Module):
            super().__init__()
            self.net = net

        def forward(self, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            return torch.sigmoid(self.net(features, mask))

    return Probabilities(model).eval()


def _windows_meta(ckpt: Any) -> dict[str, int]:
    """The windows of :func:`seizure.models.inference.predict_probs` for this checkpoint."""
    tc = ckpt.config.train
    model = ckpt.model
    context = int(round(tc.eval_context_s))
    lookahead = int(getattr(model, "lookahead_s", 1))
    right = max(context, lookahead) if bool(getattr(model, "bidirectional", True)) else lookahead
    return {"window_s": int(round(tc.eval_window_s)), "left_context_s": context, "right_context_s": right}


def export(checkpoint_path: str | Path, fmt: str, out: str | Path) -> ExportResult:
    """Export the checkpoint's network to ``out`` in format ``fmt`` (``onnx`` or
    ``torchscript``) with its JSON beside it (see the module docstring)."""
    import torch

    from seizure import __version__, checkpoint
    from seizure.io.bids import file_sha256

    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; valid formats: {', '.join(FORMATS)}")
    out = Path(out)
    if out.suffix.lower() == ".json":
        raise ConfigError("OUT names the model file (e.g. model.onnx); its JSON is written beside it", out)
    ckpt = checkpoint.load(checkpoint_path)
    model = _wrapper(ckpt.model)
    win = _windows_meta(ckpt)
    fps = ckpt.frames_per_s
    n_ch, n_feat = int(ckpt.raw["model_args"]["n_channels"]), int(ckpt.raw["model_args"]["n_features"])
    span = win["window_s"] + win["left_context_s"] + win["right_context_s"]
    gen = torch.Generator().manual_seed(0)

    def example(seconds: int, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.randn(batch, seconds * fps, n_ch, n_feat, generator=gen)
        mask = torch.ones(batch, n_ch)
        mask[-1, 0] = 0.0  # a masked channel too
        return x, mask

    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out, suffix=out.suffix or ".tmp") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer and exporter warnings about Python values in forward()
        x, mask = example(span, 2)
        if fmt == "torchscript":
            with torch.no_grad():
                scripted = torch.jit.trace(model, (x, mask), check_trace=False)
            scripted.save(str(tmp))
        else:
            _require_onnx()
            torch.onnx.export(model, (x, mask), str(tmp), input_names=["features", "mask"],
                              output_names=["probabilities"], opset_version=OPSET, dynamo=False,
                              dynamic_axes={"features": {0: "batch", 1: "frames"}, "mask": {0: "batch"},
                                            "probabilities": {0: "batch", 1: "seconds"}})
        runner = _load_backend(Path(tmp), fmt)
        diff = 0.0
        for seconds, batch in ((span, 2), (max(1, span // 3 + 1), 1)):
            xs, ms = example(seconds, batch)
            with torch.no_grad():
                expected = model(xs, ms).numpy()
            try:
                got = runner(xs.numpy(), ms.numpy())
            except Exception as exc:  # onnxruntime / TorchScript errors: a graph traced for one length only
                reason = (str(exc).strip().splitlines() or [type(exc).__name__])[-1][:200]
                raise CheckpointError(f"the exported {fmt} model fails on a {seconds} s input ({reason}); a "
                                      "recurrent cell that runs as a Python loop over time (minimalrnn) is traced "
                                      "for one length and cannot be exported", checkpoint_path) from None
            if got.shape != expected.shape:
                raise CheckpointError(f"the exported {fmt} model returns shape {got.shape} for {seconds} s, "
                                      f"expected {expected.shape}", checkpoint_path)
            diff = max(diff, float(np.abs(got - expected).max()))
        if diff > TOLERANCE:
            raise CheckpointError(f"the exported {fmt} model differs from the checkpoint by {diff:.2g} "
                                  f"(> {TOLERANCE:g}); not written", checkpoint_path)
    meta = {
        "format": EXPORT_FORMAT, "version": 1, "model_format": fmt, "model_file": out.name,
        "package_version": __version__, "checkpoint": {"file": Path(checkpoint_path).name,
                                                       "sha256": file_sha256(checkpoint_path)},
        "inputs": {"features": ["batch", "frames", n_ch, n_feat], "mask": ["batch", n_ch]},
        "outputs": {"probabilities": ["batch", "seconds"]},
        "frames_per_s": fps, "channels": list(ckpt.channels), "n_features": n_feat,
        "recipe": ckpt.recipe.to_dict(), "recipe_hash": ckpt.recipe_hash,
        "operating_point": {k: float(v) for k, v in dataclasses.asdict(ckpt.operating_point).items()},
        "windows": win, "checked_max_abs_diff": diff,
    }
    mpath = meta_path(out)
    with atomic_write(mpath) as fh:
        json.dump(meta, fh, indent=2)
        fh.write("\n")
    log.info("exported %s to %s (largest difference from the checkpoint %.2g)", fmt, out, diff)
    return ExportResult(out, mpath, fmt, diff)


def _require_onnx() -> None:
    try:
        import onnx  # noqa: F401  (torch.onnx.export writes through it)
    except ImportError:
        raise ConfigError("ONNX export needs the onnx package: pip install 'seizure[onnx]'") from None


def _load_backend(path: Path, fmt: str) -> Any:
    """A function (features, mask) -> probabilities over numpy arrays."""
    if fmt == "torchscript":
        import torch

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # torch >= 2.9 steers towards torch.export
            module = torch.jit.load(str(path), map_location="cpu").eval()

        def run_ts(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return module(torch.from_numpy(x), torch.from_numpy(mask)).numpy()

        return run_ts
    try:
        import onnxruntime
    except ImportError:
        raise ConfigError("running an ONNX model needs onnxruntime: pip install 'seizure[onnx]'") from None
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def run_onnx(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return session.run(None, {"features": x, "mask": mask})[0]

    return run_onnx


def _windows(n_s: int, window: int, left: int, right: int) -> Iterator[tuple[int, int, int, int]]:
    """(core start, core stop, input start, input stop) in seconds: the windows of
    :func:`seizure.models.inference.predict_probs` (every input ``window + left + right``
    seconds long when the recording is, cores tiling the recording)."""
    span = window + left + right
    for a in range(0, n_s, window):
        start = max(0, min(max(0, a - left), n_s - span))
        yield a, min(a + window, n_s), start, min(n_s, start + span)


class ExportedModel:
    """An exported model and its JSON, scoring features as ``seizure score`` does."""

    def __init__(self, model_path: str | Path):
        self.path = Path(model_path)
        mpath = meta_path(self.path)
        try:
            self.meta = json.loads(mpath.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise SeizureError(f"cannot read the exported model's JSON {mpath.name}: {exc}", mpath) from None
        if self.meta.get("format") != EXPORT_FORMAT:
            raise SeizureError(f"not a seizure export description (format {self.meta.get('format')!r})", mpath)
        self._run = _load_backend(self.path, self.meta["model_format"])

    def predict(self, features: np.ndarray, mask: np.ndarray | None = None, batch_size: int = 16) -> np.ndarray:
        """Per-second probabilities (float32) of one recording's features
        ``(n_seconds * frames_per_s, channels, n_features)``; ``mask`` (channels,) 1 = usable."""
        fps = int(self.meta["frames_per_s"])
        x = np.ascontiguousarray(features, dtype=np.float32)
        if x.ndim != 3 or x.shape[0] % fps:
            raise ValueError(f"features must be (n_frames, C, F) with whole seconds of {fps} frames, got {x.shape}")
        n_s = x.shape[0] // fps
        m = np.ones(x.shape[1], np.float32) if mask is None else np.asarray(mask, dtype=np.float32)
        w = self.meta["windows"]
        wins = list(_windows(n_s, w["window_s"], w["left_context_s"], w["right_context_s"]))
        out = np.empty(n_s, dtype=np.float32)
        for i in range(0, len(wins), batch_size):
            part = wins[i:i + batch_size]
            if len({e - s for _, _, s, e in part}) > 1:  # unequal lengths (cannot happen with full windows)
                groups = [[p] for p in part]
            else:
                groups = [part]
            for group in groups:
                xb = np.stack([x[s * fps:e * fps] for _, _, s, e in group])
                probs = self._run(xb, np.repeat(m[None], len(group), axis=0))
                for (a, b, s, _), row in zip(group, probs):
                    out[a:b] = row[a - s:b - s]
        return out
