"""Reference detectors to compare a model against, each giving per-second probabilities of a
recording aligned with the feature store's per-second labels.

- ``bandpower`` (:mod:`seizure.baselines.bandpower`): fitted on the train split, operated on
  dev with the model's own operating-point rule; the baseline a model must beat.
- ``line_length`` (:mod:`seizure.baselines.line_length`): the untrained Gotman-style
  line-length / energy detector with fixed constants, a second reference.
"""

from __future__ import annotations

from seizure.errors import ConfigError

BASELINES = {
    "bandpower": "fitted: band powers, line length and variance per TCP channel; gradient-boosted trees",
    "line_length": "untrained: line-length / energy robust z-scores with fixed constants (Gotman-style)",
}


def check_name(name: str) -> str:
    """``name`` if it is a known baseline, else a ConfigError listing the valid names."""
    if name not in BASELINES:
        raise ConfigError(f"unknown baseline {name!r}; valid: {', '.join(sorted(BASELINES))}")
    return name
