"""Preprocessing room: EDF recording -> montage -> filtered, resampled signal -> feature frames.

``montage`` (bipolar pairs, masks, chains), ``signal`` (filters, resampling), ``features``
(raw | lfcc | spectrogram), ``quality`` (per-channel checks), ``recipe`` (the frozen,
hashed description of all of it) and ``pipeline`` (bounded-memory chunked EDF -> features).
"""
