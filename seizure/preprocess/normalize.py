"""Per-recording normalisation of features: each recording's own level taken out.

A patient's amplitudes, an amplifier's gain and an electrode's impedance move every frame
of a recording by about the same amount in log-spectral features; a detector trained on a
few patients then reads a loud new recording as a seizure from its first second. The
``recording_median`` normalisation subtracts, from every frame, the median of that
channel's feature over the whole recording (the fitted band-power baseline normalises its
features the same way). A seizure lasts minutes of an hours-long recording, so the median
is the recording's background.

The median is taken over the first frame of every ``stride``-th second, where ``stride =
ceil(n_seconds / MAX_SAMPLES)``: every second of a recording up to an hour, then a fixed
number of samples (bounded memory: ``MAX_SAMPLES`` frames, 7.9 MB for 22 channels of 26
LFCC values), however long the recording. The rule depends only on the recording's length,
so the feature store (:mod:`seizure.corpus`), ``seizure score`` and every other reader of
an EDF (:class:`seizure.preprocess.pipeline.EdfPipeline`) compute the same values.
Streaming readers need the median before the first chunk, so they take a first pass over
the file (keeping its features when they fit in ``KEEP_MB``; else the first pass computes
only the sampled frames and the second computes them all); the store writes its features,
then normalises the file in place.
"""

from __future__ import annotations

import math
import typing

import numpy as np

from seizure.registry import pick

Normalization = typing.Literal["none", "recording_median"]
NORMALIZATIONS: tuple[str, ...] = typing.get_args(Normalization)
MAX_SAMPLES = 3600  # frames the median is taken over, at most
KEEP_MB = 200.0  # a streaming reader keeps a recording's first-pass features up to this size


def check(name: str) -> None:
    """A ConfigError listing the known normalisations unless ``name`` is one."""
    pick(dict.fromkeys(NORMALIZATIONS), name, "recipe.normalize", plural="normalizations")


def stride_s(n_seconds: int) -> int:
    """Seconds between the frames the median is taken over."""
    return max(1, math.ceil(n_seconds / MAX_SAMPLES))


class RecordingMedian:
    """Collects the sampled frames of one recording, chunk by chunk, in order.

    Chunks start on whole seconds (as :class:`~seizure.preprocess.pipeline.FeatureChunk`
    does); :meth:`median` is then the per-channel, per-feature median, float32 ``(C, F)``.
    """

    def __init__(self, n_seconds: int, frames_per_s: int):
        self.stride = stride_s(n_seconds)
        self.fps = int(frames_per_s)
        self._rows: list[np.ndarray] = []

    def seconds(self, start_s: int, stop_s: int) -> range:
        """The sampled seconds in ``[start_s, stop_s)`` (the median takes their first frames)."""
        return range(-(-start_s // self.stride) * self.stride, stop_s, self.stride)

    def add(self, start_s: int, features: np.ndarray) -> None:
        """A chunk's features ``(frames, C, F)`` from second ``start_s`` on; its sampled frames are kept."""
        first = self.seconds(start_s, start_s).start - start_s  # its first sampled second, from its start
        self._rows.append(np.array(features[first * self.fps::self.stride * self.fps], dtype=np.float32))

    def add_frames(self, frames: np.ndarray) -> None:
        """The sampled frames themselves ``(k, C, F)``, in order (see :meth:`seconds`)."""
        self._rows.append(np.array(frames, dtype=np.float32))

    def median(self) -> np.ndarray:
        if not self._rows:
            raise ValueError("no frames were added")
        return np.median(np.concatenate(self._rows), axis=0).astype(np.float32)


def normalize_file(path, median: np.ndarray, block_frames: int = 65536) -> None:
    """Subtract ``median`` from every frame of an ``(n_frames, C, F)`` float32 ``.npy`` file, in
    place, a block at a time (the caller makes the file durable)."""
    x = np.load(path, mmap_mode="r+")
    for i in range(0, x.shape[0], block_frames):
        x[i:i + block_frames] -= median
    x.flush()
