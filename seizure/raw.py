"""Score an MNE ``Raw`` in memory: :func:`score_raw` (``seizure.score_raw``).

The Raw goes through the checkpoint's own recipe exactly as an EDF file does in
``seizure score`` (:class:`seizure.io.mne_raw.RawReader` gives the chunked pipeline the
file reader's view: microvolts, channel names through the synonym table, MNE's ``-0``/``-1``
duplicate suffixes undone), with the same quality checks and flat-channel re-pass; an
``mne.io.read_raw_edf`` of a file gives the probabilities ``seizure score`` gives for
that file (``tests/test_mne_raw.py``). Nothing is written.

>>> import mne, seizure
>>> raw = mne.io.read_raw_edf("rec.edf")
>>> result = seizure.score_raw("best.pt", raw)
>>> raw.set_annotations(raw.annotations + result.to_annotations())
>>> raw.plot()
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seizure.io.mne_raw import RawReader
from seizure.preprocess.pipeline import CHUNK_S, EdfPipeline
from seizure.postprocess import probs_to_events
from seizure.detect import ScoreResult, recipe_for

if TYPE_CHECKING:
    import mne

    from seizure.checkpoint import Checkpoint

log = logging.getLogger(__name__)


def _probs(ckpt: Checkpoint, reader: RawReader, recipe: Any, chunk_s: float, mask: np.ndarray | None,
           precision: str) -> tuple[np.ndarray, Any, EdfPipeline]:
    from seizure.errors import RecipeMismatchError
    from seizure.evaluation import probabilities

    with EdfPipeline(reader.path, recipe, chunk_s, reader=reader) as pipe:  # type: ignore[arg-type]
        if ckpt.channels and list(ckpt.channels) != list(pipe.channels):
            raise RecipeMismatchError(f"the model expects channels {', '.join(ckpt.channels)} but the recipe "
                                      f"forms {', '.join(pipe.channels)}", ckpt.path)
        use = pipe.plan.mask if mask is None else mask
        probs = probabilities(ckpt.model, (c.features for c in pipe.feature_chunks()), pipe.frames_per_s, use,
                              ckpt.config.train, precision=precision)
        report = pipe.report()
    return probs, report, pipe


def score_raw(checkpoint: str | Path | Checkpoint, raw: mne.io.BaseRaw, *, min_channels: int | None = None,
              chunk_s: float = CHUNK_S, precision: str = "float32") -> ScoreResult:
    """Seizure probabilities (one per whole second) and events of an ``mne.io.BaseRaw``.

    ``checkpoint``: a path to ``best.pt`` or a loaded :class:`~seizure.checkpoint.Checkpoint`.
    Returns a :class:`~seizure.detect.ScoreResult` (``outputs`` empty) whose
    ``to_annotations()`` gives ``mne.Annotations`` placed on the Raw's timeline.
    Channels in ``raw.info["bads"]`` are treated as missing (zero-filled and masked).
    """
    from seizure import checkpoint as ckpt_mod

    t0 = time.perf_counter()
    ckpt = checkpoint if isinstance(checkpoint, ckpt_mod.Checkpoint) else ckpt_mod.load(checkpoint)
    reader = RawReader(raw)
    recipe = recipe_for(ckpt.recipe, min_channels)
    probs, report, pipe = _probs(ckpt, reader, recipe, chunk_s, None, precision)
    mask = np.asarray(report.mask, dtype=bool)
    if pipe.missing:
        log.warning("%s: %d of %d channels missing, zero-filled and masked: %s", reader.path, len(pipe.missing),
                    len(pipe.channels), ", ".join(pipe.missing))
    for text in report.warnings:
        log.warning("%s: %s", reader.path, text)
    if not np.array_equal(mask, pipe.plan.mask):
        log.info("%s: scoring again with the flat channel(s) masked", reader.path)
        probs, report, _ = _probs(ckpt, reader, recipe, chunk_s, mask, precision)
    events = probs_to_events(probs, ckpt.operating_point)
    name = reader.path.name[:-4] if reader.path.name.lower().endswith(".edf") else reader.path.name
    return ScoreResult(path=reader.path, name=name, duration_s=pipe.duration_s, n_seconds=int(probs.size),
                       events=events, probs=probs, outputs={}, channels_used=int(mask.sum()),
                       missing_channels=list(pipe.missing), warnings=list(report.warnings),
                       elapsed_s=time.perf_counter() - t0, first_time_s=reader.first_time_s,
                       orig_time=reader.orig_time)
