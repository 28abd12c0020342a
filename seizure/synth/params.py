"""The knobs of the synthetic corpus: seizure mix, seizure burden, SNR, artifact rates.

:class:`SynthParams` is a frozen config section (``seizure synth --set key=value``
overrides it). Defaults aim at TUSZ-like difficulty: about 7 % of the time in seizure,
many hard negatives (muscle, chewing, rhythmic drowsy theta, hyperventilation,
movement) and a share of low-amplitude focal seizures.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from seizure.errors import ConfigError

# TUSZ seizure-type labels the generator renders, with default shares.
SEIZURE_MIX: dict[str, float] = {
    "fnsz": 0.30, "cpsz": 0.14, "spsz": 0.08, "gnsz": 0.16, "absz": 0.12, "tcsz": 0.12, "tnsz": 0.08,
}
FOCAL_TYPES = ("fnsz", "cpsz", "spsz")
GENERALIZED_TYPES = ("gnsz", "absz", "tnsz")
# Artifact and hard-negative events per hour of recording (at state factor 1; see scene).
ARTIFACT_RATES_PER_H: dict[str, float] = {
    "blink": 420.0,          # awake, eyes open; clusters; fewer with eyes closed
    "eye_move": 150.0,       # lateral saccades (F7/F8 opposite polarity)
    "roving": 30.0,          # slow roving eye movements of drowsiness
    "muscle": 40.0,          # broadband EMG bursts, temporal/frontal
    "chewing": 4.0,          # rhythmic temporal EMG at 1-2 Hz, 5-30 s
    "pop": 8.0,              # electrode pops (single electrode step + decay)
    "movement": 8.0,         # large slow diffuse deflections with EMG
    "rhythmic_train": 14.0,  # drowsy rhythmic theta / wicket trains (no evolution)
    "firda": 4.0,            # frontal intermittent rhythmic delta (prone patients)
    "shiver": 1.0,           # rhythmic 4-7 Hz tremor artifact
    "spindle": 240.0,        # sleep spindles (N2 only)
    "vertex": 60.0,          # vertex waves / K-complexes (drowsy, N2)
    "sweat": 1.0,            # very slow large swings
    "bad_contact": 0.5,      # an electrode losing contact for a while
    "ied": 40.0,             # interictal spikes / brief generalized spike-wave (seizure patients)
}
# Ictal patterns a non-subtle fnsz/cpsz/gnsz can take when ``morphology_mix`` is set (the
# default corpus leaves it empty: every seizure is rendered as "evolving").
MORPHOLOGIES = ("evolving", "delta", "theta", "spike_wave", "lvfa")
SPLIT_SHARES: dict[str, float] = {"train": 0.6, "dev": 0.2, "eval": 0.2}


@dataclass(frozen=True)
class SynthParams:
    """Difficulty knobs of :func:`seizure.synth.synthesize` (all have TUSZ-like defaults).

    - ``seizure_fraction``: target fraction of recorded time in seizure, per split.
    - ``seizure_patient_fraction``: share of patients who have seizures at all.
    - ``seizure_mix``: relative share of each seizure type (TUSZ labels).
    - ``seizure_snr``: multiplies every seizure amplitude (1 = default difficulty).
    - ``subtle_fraction``: share of fnsz/cpsz seizures rendered low-amplitude and
      barely spreading (hard positives); ``spsz`` are always subtle.
    - ``artifact_scale``: multiplies every artifact rate; ``artifact_rates_per_h``
      overrides single rates (names as in ``ARTIFACT_RATES_PER_H``).
    - ``line_noise_uv``: median 60 Hz pickup per electrode.
    - ``recording_median_min``: median recording length (log-normal, 3-60 min, a few longer).
    - ``hv_probability`` / ``photic_probability``: share of recordings with
      hyperventilation / photic stimulation.
    - ``split_shares``: share of the hours (and patients) in train/dev/eval.

    Shift knobs (their defaults change nothing; the profiles of
    :mod:`seizure.synth.profiles` set them):

    - ``morphology_mix``: shares of the ictal patterns in ``MORPHOLOGIES`` for non-subtle
      fnsz/cpsz/gnsz (empty: all "evolving", the default rendering).
    - ``slow_onset_fraction``: share of seizures whose amplitude builds up from 10 %
      over 40-70 % of their duration.
    - ``focal_width_scale`` / ``spread_speed_scale`` / ``bilateral_scale``: multiply the
      focal field's final width, its growth speed and the chance of bilateral spread.
    - ``patient_gain_sigma``: log-normal sigma of a per-patient gain on all EEG.
    - ``seizure_amp_sigma``: log-normal sigma of a per-patient factor on ictal amplitude.
    - ``line_hz``: mains frequency (60 Hz as in TUSZ; 50 Hz in Europe and most of Asia).
    - ``fs_choices_hz``: sampling rates drawn per session with these weights (empty: the
      TUSZ layouts' own rates); keys are rates in Hz as strings, e.g. ``{"500": 1}``.
    - ``missing_electrode_probability``: share of recordings lacking 1-2 scalp
      electrodes (at least 16 of the 22 TCP channels kept).
    """

    seizure_fraction: float = 0.07
    seizure_patient_fraction: float = 0.6
    seizure_mix: dict[str, float] = field(default_factory=lambda: dict(SEIZURE_MIX))
    seizure_snr: float = 1.0
    subtle_fraction: float = 0.1
    artifact_scale: float = 1.0
    artifact_rates_per_h: dict[str, float] = field(default_factory=dict)
    line_noise_uv: float = 1.5
    recording_median_min: float = 15.0
    hv_probability: float = 0.3
    photic_probability: float = 0.35
    split_shares: dict[str, float] = field(default_factory=lambda: dict(SPLIT_SHARES))
    morphology_mix: dict[str, float] = field(default_factory=dict)
    slow_onset_fraction: float = 0.0
    focal_width_scale: float = 1.0
    spread_speed_scale: float = 1.0
    bilateral_scale: float = 1.0
    patient_gain_sigma: float = 0.0
    seizure_amp_sigma: float = 0.0
    line_hz: float = 60.0
    fs_choices_hz: dict[str, float] = field(default_factory=dict)
    missing_electrode_probability: float = 0.0

    def __post_init__(self) -> None:
        _range("seizure_fraction", self.seizure_fraction, 0.0, 0.5)
        _range("seizure_patient_fraction", self.seizure_patient_fraction, 0.0, 1.0)
        _range("seizure_snr", self.seizure_snr, 0.05, 20.0)
        _range("subtle_fraction", self.subtle_fraction, 0.0, 1.0)
        _range("artifact_scale", self.artifact_scale, 0.0, 100.0)
        _range("line_noise_uv", self.line_noise_uv, 0.0, 500.0)
        _range("recording_median_min", self.recording_median_min, 3.0, 240.0)
        _range("hv_probability", self.hv_probability, 0.0, 1.0)
        _range("photic_probability", self.photic_probability, 0.0, 1.0)
        _weights("seizure_mix", self.seizure_mix, SEIZURE_MIX, what="type")
        if self.seizure_fraction > 0 and sum(self.seizure_mix.values()) <= 0:
            raise ConfigError("seizure_mix must give some type a positive weight")
        _weights("artifact_rates_per_h", self.artifact_rates_per_h, ARTIFACT_RATES_PER_H, what="artifact")
        _weights("split_shares", self.split_shares, SPLIT_SHARES)
        if set(self.split_shares) != set(SPLIT_SHARES) or any(v <= 0 for v in self.split_shares.values()):
            raise ConfigError(f"split_shares needs a positive share for each of train, dev, eval, got {self.split_shares}")
        if abs(sum(self.split_shares.values()) - 1.0) > 1e-6:
            raise ConfigError(f"split_shares must sum to 1, got {self.split_shares}")
        _weights("morphology_mix", self.morphology_mix, MORPHOLOGIES)
        if self.morphology_mix and sum(self.morphology_mix.values()) <= 0:
            raise ConfigError("morphology_mix must give some pattern a positive weight (or be empty)")
        _range("slow_onset_fraction", self.slow_onset_fraction, 0.0, 1.0)
        _range("focal_width_scale", self.focal_width_scale, 0.3, 2.0)
        _range("spread_speed_scale", self.spread_speed_scale, 0.1, 5.0)
        _range("bilateral_scale", self.bilateral_scale, 0.0, 3.0)
        _range("patient_gain_sigma", self.patient_gain_sigma, 0.0, 1.0)
        _range("seizure_amp_sigma", self.seizure_amp_sigma, 0.0, 1.0)
        _range("line_hz", self.line_hz, 50.0, 60.0)
        if self.line_hz not in (50.0, 60.0):
            raise ConfigError(f"line_hz must be 50 or 60, got {self.line_hz!r}")
        for rate in self.fs_choices_hz:
            try:
                ok = 200 <= float(rate) <= 1024 and float(rate) == int(float(rate))
            except ValueError:
                ok = False
            if not ok:
                raise ConfigError(f"fs_choices_hz keys must be whole rates in Hz in [200, 1024], got {rate!r}")
        _weights("fs_choices_hz", self.fs_choices_hz, None)
        if self.fs_choices_hz and sum(self.fs_choices_hz.values()) <= 0:
            raise ConfigError("fs_choices_hz must give some rate a positive weight (or be empty)")
        _range("missing_electrode_probability", self.missing_electrode_probability, 0.0, 1.0)

    def rate_per_h(self, kind: str) -> float:
        """Events per hour of artifact ``kind`` after overrides and ``artifact_scale``."""
        return self.artifact_rates_per_h.get(kind, ARTIFACT_RATES_PER_H[kind]) * self.artifact_scale

    def mix(self) -> dict[str, float]:
        """``seizure_mix`` with every known type present (missing ones weigh 0)."""
        return {k: float(self.seizure_mix.get(k, 0.0)) for k in SEIZURE_MIX}


def _weights(name: str, weights: dict[str, float], valid: tuple[str, ...] | dict | None, what: str = "key") -> None:
    if valid is not None:
        unknown = sorted(set(weights) - set(valid))
        if unknown:
            raise ConfigError(f"{name} has unknown {what} {unknown[0]!r}; valid: {', '.join(sorted(valid))}")
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 for v in weights.values()):
        raise ConfigError(f"{name} weights must be numbers >= 0, got {weights}")


def _range(name: str, value: float, low: float, high: float) -> None:
    if not isinstance(value, (int, float)) or not (low <= value <= high):
        raise ConfigError(f"{name} must be a number in [{low}, {high}], got {value!r}")
