"""The project's own error types.

Every user-facing failure is a :class:`SeizureError` whose message is one line that
names the file (when there is one) and the problem. The CLI prints ``str(err)`` and
exits non-zero; anything else escaping is a bug.
"""

from __future__ import annotations

from pathlib import Path


class SeizureError(Exception):
    """Base class: a clear, one-line, user-facing error."""

    def __init__(self, message: str, path: str | Path | None = None):
        self.path = None if path is None else Path(path)
        self.reason = " ".join(str(message).split())  # always one line
        super().__init__(f"{self.path}: {self.reason}" if self.path else self.reason)


class EDFError(SeizureError):
    """An EDF/EDF+ file cannot be read as asked."""


class AnnotationError(SeizureError):
    """An annotation file is malformed or inconsistent with its recording."""


class MontageError(SeizureError):
    """A montage cannot be formed from a recording's electrodes."""


class ConfigError(SeizureError):
    """A config file or override is invalid (unknown key, wrong type, bad value)."""


class RecipeMismatchError(SeizureError):
    """A checkpoint's preprocessing recipe does not match a store or pipeline."""


class CheckpointError(SeizureError):
    """A checkpoint cannot be loaded safely."""


class SignalQualityError(SeizureError):
    """A signal is unusable: NaN/Inf after filtering, or no usable channels."""
