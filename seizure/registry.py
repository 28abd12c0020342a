"""Registries by name: :func:`pick` is the one lookup every registry uses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from seizure.errors import ConfigError, SeizureError

T = TypeVar("T")


def pick(registry: Mapping[str, T], name: Any, what: str, *, plural: str = "",
         error: type[SeizureError] = ConfigError) -> T:
    """``registry[name]``, or ``error`` (a :class:`ConfigError` unless told) naming ``what`` and
    listing the valid names: ``unknown model.cell 'x'; valid: gru, lstm``."""
    try:
        return registry[name]
    except (KeyError, TypeError):
        label = f"valid {plural}" if plural else "valid"
        raise error(f"unknown {what} {name!r}; {label}: {', '.join(sorted(registry))}") from None
