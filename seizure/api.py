"""The notebook API, exported by ``import seizure`` (examples: ``docs/api.md``).

Six functions, one per stage, each with the CLI command's defaults:

* :func:`synth` -- a synthetic TUSZ-layout corpus (``seizure synth``);
* :func:`preprocess` -- a corpus (TUSZ tree or BIDS dataset) into a feature store
  (``seizure preprocess``);
* :func:`train` -- a model from a feature store (``seizure train``);
* :func:`score_files` -- EDF recordings to event files (``seizure score``);
* :func:`score_raw` -- an ``mne.io.Raw`` to probabilities, events and ``mne.Annotations``;
* :func:`evaluate_paths` -- NEDC and SzCORE scores of hypothesis against reference files
  (``seizure evaluate``).

Heavy libraries (torch, mne) are imported when a function is called, so ``import seizure``
stays fast. ``seizure.preprocess`` and ``seizure.synth`` are also the names of
subpackages: importing one rebinds the package attribute to it, so those packages are made
callable (:func:`callable_module`) and ``seizure.preprocess(...)`` works either way.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import mne

    from seizure.checkpoint import Checkpoint
    from seizure.corpus import PreprocessSummary
    from seizure.detect import ScoreResult, ScoreSummary
    from seizure.scoring.report import Report
    from seizure.synth import SynthSummary
    from seizure.training.loop import TrainResult

__all__ = ["evaluate_paths", "preprocess", "score_files", "score_raw", "synth", "train"]


def synth(out_dir: str | Path, hours: float = 2.0, seed: int = 0, **options: Any) -> SynthSummary:
    """Write a synthetic TUSZ v2 corpus of ``hours`` of EEG under ``out_dir`` (split 60/20/20
    by patient; ``options``: see :func:`seizure.synth.synthesize`, e.g. ``fs_hz=256.0``)."""
    from seizure.synth.corpus import synthesize

    return synthesize(out_dir, hours, seed, **options)


def preprocess(corpus: str | Path, store: str | Path, *, config: str | Path | None = None,
               overrides: Sequence[str] = (), jobs: int = 1, split_file: str | Path | None = None,
               split_seed: int = 0, progress: bool = False) -> PreprocessSummary:
    """Preprocess a TUSZ tree or a BIDS dataset into the feature store ``store`` with the
    ``[recipe]`` of ``config`` (default: the built-in recipe) and ``recipe.KEY=VALUE``
    ``overrides``. A BIDS dataset is split by ``split_file`` (``participant_id``/``split``
    columns) or else by subject with ``split_seed``."""
    from seizure.corpus import preprocess as run, recipe_from_config

    recipe = recipe_from_config(config, overrides)
    return run(corpus, store, recipe, jobs=jobs, progress=progress, split_file=split_file, split_seed=split_seed)


def train(store: str | Path, out_dir: str | Path, *, config: str | Path | None = None,
          overrides: Sequence[str] = (), progress: bool = False) -> TrainResult:
    """Train the model of ``config`` (default: built-in; ``overrides`` such as
    ``"train.epochs=5"``) on the store's train split, selecting on dev; ``result.best_path``
    is the checkpoint for scoring."""
    from seizure.training.config import load_config
    from seizure.training.loop import train as run

    return run(store, out_dir, load_config(config, list(overrides)), progress=progress)


def score_files(model: str | Path, inputs: Sequence[str | Path], out_dir: str | Path, **options: Any
                ) -> ScoreSummary:
    """Score EDF files, folders or list files with a checkpoint into ``out_dir`` (options:
    ``layout``, ``plot``, ``probabilities``, ``jobs``, ``min_channels``, ``precision``; see
    :func:`seizure.detect.detect_files`)."""
    from seizure.detect import detect_files as run

    return run(model, inputs, out_dir, **options)


def score_raw(checkpoint: str | Path | Checkpoint, raw: mne.io.BaseRaw, **options: Any) -> ScoreResult:
    """Per-second probabilities and events of an ``mne.io.BaseRaw`` (``.to_annotations()``
    for MNE); see :func:`seizure.raw.score_raw`."""
    from seizure.raw import score_raw as run

    return run(checkpoint, raw, **options)


def evaluate_paths(ref: str | Path, hyp: str | Path, **options: Any) -> Report:
    """NEDC OVLP/TAES/epoch and SzCORE scores of hypothesis against reference annotations
    (directories, BIDS datasets, list files or files; see
    :func:`seizure.scoring.report.report_paths`)."""
    from seizure.scoring.report import report_paths as run

    return run(ref, hyp, **options)


def callable_module(name: str, function: Callable[..., Any]) -> None:
    """Make the module ``name`` callable as ``function`` (see the module docstring)."""
    module = sys.modules[name]

    class CallableModule(types.ModuleType):
        __doc__ = module.__doc__

        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            return function(*args, **kwargs)

    module.__class__ = CallableModule
