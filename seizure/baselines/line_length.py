"""The untrained line-length / energy reference on a recording's montaged signal."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from seizure.preprocess.pipeline import EdfPipeline
from seizure.preprocess.recipe import Recipe
from seizure.scoring.baseline import line_length_probs
from seizure.store import RecordMeta


def predict_probs(record_or_edf_path: RecordMeta | str | Path, recipe: Recipe) -> np.ndarray:
    """Per-second probabilities ``(n_seconds,)`` of a stored recording or an EDF file, montaged,
    filtered and resampled as ``recipe`` says; masked and flat channels are left out."""
    path = record_or_edf_path.edf_path if isinstance(record_or_edf_path, RecordMeta) else record_or_edf_path
    with EdfPipeline(path, recipe) as pipe:
        data = np.concatenate([c.data for c in pipe.montaged_chunks()], axis=1)
        mask = pipe.report().mask
        return line_length_probs(data, pipe.fs_hz, mask)[: pipe.n_seconds]
