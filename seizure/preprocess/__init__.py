"""Preprocessing room: EDF recording -> montage -> filtered, resampled signal -> feature frames.

``montage`` (bipolar pairs, masks, chains), ``signal`` (filters, resampling), ``features``
(raw | lfcc | spectrogram), ``quality`` (per-channel checks), ``recipe`` (the frozen,
hashed description of all of it) and ``pipeline`` (bounded-memory chunked EDF -> features).
"""

from seizure.api import callable_module, preprocess as _preprocess  # noqa: E402

callable_module(__name__, _preprocess)  # ``seizure.preprocess(...)`` still calls the API once this package is imported
