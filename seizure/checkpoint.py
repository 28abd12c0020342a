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
pickle that would run code (``weights_only=True`` rejects every non-allowlisted global).
"""

from __future__ import annotations

import pickle
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
    except pickle.UnpicklingError as exc:
        text = " ".join(str(exc).split())
        detail = text.split("WeightsUnpickler error:", 1)[-1].strip().split(". ")[0][:160]
        if "Unsupported global" in text:
            raise CheckpointError(f"refused: the file holds more than plain data and would run code ({detail})",
                                  path) from None
        raise CheckpointError(f"not a readable PyTorch checkpoint ({detail or 'unpickling failed'})", path) from None
    except (RuntimeError, EOFError, OSError, ValueError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"not a readable PyTorch checkpoint ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0][:160] if str(exc) else ''})", path) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"not a seizure checkpoint (expected format {FORMAT!r})", path)
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise CheckpointError(f"checkpoint lacks {', '.join(missing)}", path)
    if data["version"] != VERSION:
        raise CheckpointError(f"checkpoint version {data['version']} is not supported (expected {VERSION})", path)
    return data


def load(path: str | Path, device: str | torch.device = "cpu") -> Checkpoint:
    """Load a checkpoint: the model is rebuilt from its arguments, weights loaded, eval mode."""
    from seizure import config
    from seizure.models import ModelConfig, build_model
    from seizure.training.config import from_dict

    path = Path(path)
    data = read(path)
    try:
        cfg = from_dict(data["config"])
        args = data["model_args"]
        model_cfg = config.build(ModelConfig, args["config"], "model")
        model = build_model(model_cfg, int(args["n_channels"]), int(args["n_features"]), int(args["frames_per_s"]),
                            initialize=False)
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
