"""Self-describing checkpoints: data only, loadable with ``torch.load(weights_only=True)``.

A checkpoint is a plain dict of tensors and builtins::

    format, version, package_version
    model_state      the network's state dict (weights and normalisation buffers)
    model_args       {"config": [model] table, "n_channels", "n_features", "frames_per_s"}
    channels         the store's channel names, in order
    config           the resolved experiment config (all four tables)
    recipe           the preprocessing recipe (dict) and recipe_hash
    operating_point  {"threshold", "smooth_s", "min_duration_s", "merge_gap_s"}
    summary          training summary (epochs, best epoch, dev metrics, sparsity for sparse_vd)
    train_state      only in last.pt: optimiser, scheduler, RNG state, position, history

:func:`load` refuses anything else with a one-line :class:`CheckpointError`, including a
pickle that would run code (``weights_only=True`` rejects every non-allowlisted global) and a
data-only file whose model spec is out of bounds or describes other weights than it stores
(checked on the meta device before the model is built, so a crafted spec cannot exhaust memory).
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from seizure import __version__
from seizure.errors import CheckpointError, ConfigError, SeizureError
from seizure.fsutil import atomic_path
from seizure.postprocess import OperatingPoint
from seizure.preprocess.recipe import Recipe

FORMAT = "seizure-checkpoint"
VERSION = 1
REQUIRED = ("format", "version", "model_state", "model_args", "config", "recipe", "recipe_hash", "operating_point")


@dataclass
class Checkpoint:
    """A loaded checkpoint: the model (built, weights loaded, eval mode) and its context."""

    path: Path
    model: torch.nn.Module
    config: Any                 # seizure.training.config.ExperimentConfig
    recipe: Recipe
    recipe_hash: str
    operating_point: OperatingPoint
    channels: list[str]
    summary: dict[str, Any]
    package_version: str
    raw: dict[str, Any]

    @property
    def frames_per_s(self) -> int:
        return int(self.raw["model_args"]["frames_per_s"])

    def check_store(self, store) -> None:
        """Refuse a feature store made with another preprocessing recipe."""
        store.check_recipe(self.recipe_hash, what="checkpoint")


def make(model, cfg, recipe: Recipe, operating_point: OperatingPoint | None, channels: list[str],
         summary: dict[str, Any], train_state: dict[str, Any] | None = None) -> dict[str, Any]:
    """The checkpoint dict of a trained ``model`` (see the module docstring)."""
    op = operating_point or OperatingPoint()
    out = {
        "format": FORMAT,
        "version": VERSION,
        "package_version": __version__,
        "model_state": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "model_args": model.model_args(),
        "channels": list(channels),
        "config": cfg.to_dict(),
        "recipe": recipe.to_dict(),
        "recipe_hash": recipe.hash(),
        "operating_point": {"threshold": float(op.threshold), "smooth_s": float(op.smooth_s),
                            "min_duration_s": float(op.min_duration_s), "merge_gap_s": float(op.merge_gap_s)},
        "summary": summary,
    }
    if train_state is not None:
        out["train_state"] = train_state
    return out


def save(path: str | Path, ckpt: dict[str, Any]) -> Path:
    """Write ``ckpt`` atomically."""
    path = Path(path)
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(ckpt, tmp)
    return path


def read(path: str | Path) -> dict[str, Any]:
    """The raw checkpoint dict, loaded with ``weights_only=True`` (data, never code)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError("checkpoint file not found", path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about pickle protocols before refusing
            data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a hostile file may make the unpickler fail in any way
        raise CheckpointError(_unreadable(exc, path), path) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"not a seizure checkpoint (expected format {FORMAT!r})", path)
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise CheckpointError(f"checkpoint lacks {', '.join(missing)}", path)
    if data["version"] != VERSION:
        raise CheckpointError(f"checkpoint version {data['version']} is not supported (expected {VERSION})", path)
    return data


MODEL_ARGS = ("config", "n_channels", "n_features", "frames_per_s")


def model_spec(data: dict[str, Any], path: str | Path) -> tuple[Any, tuple[int, int, int]]:
    """The validated network spec of a raw checkpoint: ``(ModelConfig, (n_channels, n_features,
    frames_per_s))``. The ``[model]`` table goes through the same checks as a config file
    (types, names and the size bounds of :mod:`seizure.models.config`); a
    :class:`CheckpointError` names the checkpoint and the field."""
    from seizure import config
    from seizure.models.config import ModelConfig, check_geometry

    args = data["model_args"]
    if not isinstance(args, dict) or sorted(args) != sorted(MODEL_ARGS):
        keys = sorted(map(str, args))[:8] if isinstance(args, dict) else type(args).__name__
        raise CheckpointError(f"model_args must be a table of {', '.join(MODEL_ARGS)}; got {keys}", path)
    try:
        cfg = config.build(ModelConfig, args["config"], "model_args.config")
        geometry = {name: args[name] for name in MODEL_ARGS[1:]}
        check_geometry("model_args", **geometry)
    except ConfigError as exc:
        raise CheckpointError(f"invalid model spec: {exc.reason}", path) from None
    return cfg, (geometry["n_channels"], geometry["n_features"], geometry["frames_per_s"])


def check_weights(cfg: Any, geometry: tuple[int, int, int], state: Any, path: str | Path) -> None:
    """Refuse ``state`` unless it holds, densely stored, exactly the tensors (names and shapes)
    of the network that ``cfg`` and ``geometry`` describe. That network is laid out on the
    meta device (shapes only, nothing allocated), so a spec asking for more weights than the
    file stores is refused before any memory is spent on it."""
    from seizure.models.network import SeizureNet

    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                              for k, v in state.items()):
        raise CheckpointError("model_state must map weight names to tensors", path)
    try:
        with torch.device("meta"):
            expected = {k: tuple(v.shape) for k, v in SeizureNet(cfg, *geometry).state_dict().items()}
    except ConfigError as exc:
        raise CheckpointError(f"invalid model spec: {exc.reason}", path) from None
    n_expected = sum(math.prod(shape) for shape in expected.values())
    n_stored = sum(v.numel() for v in state.values())
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if n_stored != n_expected or missing or unexpected:
        detail = "; ".join(part for part in (
            f"lacks {', '.join(missing[:3])}" if missing else "",
            f"has unexpected {', '.join(unexpected[:3])}" if unexpected else "",
            f"{n_stored:,} weights stored, {n_expected:,} described" if n_stored != n_expected else "") if part)
        raise CheckpointError(f"model_state does not hold the network model_args describes ({detail}); "
                              "expected the same weights (the spec or the weights were altered)", path)
    for name, shape in expected.items():
        tensor = state[name]
        if tuple(tensor.shape) != shape:
            raise CheckpointError(f"model_state.{name} has shape {list(tensor.shape)}; model_args expects "
                                  f"{list(shape)}", path)
        stored = tensor.untyped_storage().nbytes()
        if stored < (tensor.storage_offset() + tensor.numel()) * tensor.element_size():
            raise CheckpointError(f"model_state.{name} (shape {list(shape)}) is backed by only {stored} bytes; "
                                  "expected a densely stored tensor", path)


_GLOBAL = re.compile(r"Unsupported global: (?:GLOBAL )?([\w.]+)")
_OPERAND = re.compile(r"Unsupported operand (\d+)")


def _unreadable(exc: BaseException, path: Path) -> str:
    """Our one-line reason for a file ``torch.load(weights_only=True)`` refused, in place of
    PyTorch's long text: what the file is, and what a checkpoint should be."""
    text = " ".join(str(exc).split())
    expected = "expected a checkpoint written by `seizure train` (a torch.save zip archive of plain data)"
    if found := _GLOBAL.search(text):
        return (f"refused: the file holds more than plain data and would run code (it calls {found[1]}); "
                "a checkpoint holds only tensors, numbers, strings, lists and dicts")
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError as err:
        return f"cannot read: {err.strerror or err}"
    operand = _OPERAND.search(text)
    if size == 0:
        what = "the file is empty"
    elif operand and head.startswith(b"PK"):
        what = f"a torch archive whose data uses pickle opcode {operand[1]}, which plain-data checkpoints never hold"
    elif operand:
        what = f"a plain pickle or other bytes, not torch.save output (stopped at pickle opcode {operand[1]})"
    elif head.startswith(b"PK"):
        what = "a damaged or truncated zip archive"
    elif "magic number" in text:
        what = "a plain pickle without torch.save's header"
    else:
        what = f"unreadable data ({type(exc).__name__})"
    return f"not a readable PyTorch checkpoint: {what}; {expected}"


def load(path: str | Path, device: str | torch.device = "cpu") -> Checkpoint:
    """Load a checkpoint: the spec is validated and checked against the stored weights
    (:func:`model_spec`, :func:`check_weights`) before the model is rebuilt from it, weights
    loaded, eval mode."""
    from seizure.models import build_model
    from seizure.training.config import from_dict

    path = Path(path)
    data = read(path)
    model_cfg, geometry = model_spec(data, path)
    check_weights(model_cfg, geometry, data["model_state"], path)
    try:
        cfg = from_dict(data["config"])
        model = build_model(model_cfg, *geometry, initialize=False)
        model.load_state_dict(data["model_state"], strict=True)
        recipe = Recipe.from_dict(data["recipe"])
        op = OperatingPoint(**data["operating_point"])
    except (ConfigError, SeizureError) as exc:
        raise CheckpointError(f"inconsistent checkpoint: {exc.reason}", path) from None
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        detail = " ".join(str(exc).split())[:300]
        raise CheckpointError(f"inconsistent checkpoint: {type(exc).__name__}: {detail}", path) from None
    if recipe.hash() != data["recipe_hash"]:
        raise CheckpointError(f"recipe hash {data['recipe_hash']} does not match its recipe ({recipe.hash()})", path)
    model.to(device).eval()
    return Checkpoint(path=path, model=model, config=cfg, recipe=recipe, recipe_hash=data["recipe_hash"],
                      operating_point=op, channels=list(data.get("channels", [])),
                      summary=dict(data.get("summary", {})), package_version=str(data.get("package_version", "")),
                      raw=data)
