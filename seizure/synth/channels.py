"""EDF channel layouts copied from real TUSZ headers, and the mapping from virtual channels.

Each :class:`Template` reproduces the signal list of a real TUSZ v2 file (order,
labels, physical ranges and dimensions; see ``shared/fixtures/real-headers/tuh``):
``01_tcp_ar`` files recorded against the common reference (``EEG FP1-REF``),
``02_tcp_le`` files against linked ears (``EEG FP1-LE``), and ``03_tcp_ar_a`` files
without ear electrodes. Extra non-EEG signals (eye leads, EKG, EMG, photic marker,
unconnected inputs ``EEG 26-REF``, ``DC*`` inputs and the 1 Hz ``IBI``/``BURSTS``/``SUPPR``
trend channels) are written as TUH writes them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seizure.synth import head

# Output kinds: eeg (an electrode against the reference), derived (a weighted sum of
# electrodes, for leads outside the head model), eog, ekg, emg, photic, unconnected
# (a floating input: mostly line noise), dc (a near-zero DC input), trend (1 Hz).
_EEG = ("FP1", "FP2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "F7", "F8", "T3", "T4", "T5", "T6")
_DERIVED: dict[str, dict[str, float]] = {
    "SP1": {"T1": 0.7, "F7": 0.2, "A1": 0.1}, "SP2": {"T2": 0.7, "F8": 0.2, "A2": 0.1},
    "C3P": {"C3": 0.5, "P3": 0.5}, "C4P": {"C4": 0.5, "P4": 0.5},
    "PG1": {"F7": 0.4, "T1": 0.4, "FP1": 0.2}, "PG2": {"F8": 0.4, "T2": 0.4, "FP2": 0.2},
}


@dataclass(frozen=True)
class Signal:
    """One EDF signal: its label, what it carries, its unit and physical range."""

    label: str
    kind: str
    source: str = ""
    dim: str = "uV"
    physical_range: tuple[float, float] = (-4999.84, 4999.847)

    @property
    def fs_hz_fixed(self) -> float | None:
        """1.0 for the 1 Hz trend channels; None for signals at the recording's rate."""
        return 1.0 if self.kind == "trend" else None


@dataclass(frozen=True)
class Template:
    """One TUSZ header layout: montage folder, reference, rates and the signal list."""

    name: str
    montage_dir: str
    reference: str  # "AR" (common average) or "LE" (linked ears)
    rates: tuple[tuple[float, float], ...]  # (fs_hz, weight)
    signals: tuple[Signal, ...]
    transducer: str = "Unknown"
    prefilter: str = "HP:0.000 Hz LP:0.0 Hz N:0.0"

    @property
    def electrodes(self) -> tuple[str, ...]:
        return tuple(s.source for s in self.signals if s.kind == "eeg")


def _eeg(suffix: str, names: tuple[str, ...], rng: tuple[float, float]) -> list[Signal]:
    return [Signal(f"EEG {n}-{suffix}", "derived" if n in _DERIVED else "eeg", n, "uV", rng) for n in names]


def _trends() -> list[Signal]:
    r = (-3276.7, 3276.7)
    return [Signal("IBI", "trend", "", "sec", r), Signal("BURSTS", "trend", "", "brst/min", r),
            Signal("SUPPR", "trend", "", "%", r)]


def _numbered(suffix: str, numbers: range, rng: tuple[float, float]) -> list[Signal]:
    return [Signal(f"EEG {k}-{suffix}", "unconnected", str(k), "uV", rng) for k in numbers]


def _build() -> dict[str, Template]:
    r250 = (-4999.84, 4999.847)
    r256 = (-5482.28, 5482.288)
    rle = (-4999.85, 4999.85)
    r400 = (-29483.0, 29483.11)
    ar_2013 = [
        *_eeg("REF", (*_EEG, "A1", "A2", "FZ", "CZ", "PZ"), r250),
        Signal("EEG ROC-REF", "eog", "ROC", "uV", r250), Signal("EEG LOC-REF", "eog", "LOC", "uV", r250),
        Signal("EEG EKG1-REF", "ekg", "EKG", "uV", r250), Signal("EMG-REF", "emg", "EMG", "uV", r250),
        *_numbered("REF", range(26, 31), r250), *_eeg("REF", ("T1", "T2"), r250),
        Signal("PHOTIC-REF", "photic", "PHOTIC", "uV", (-32767.0, 32767.0)), *_trends(),
    ]
    ar_256 = [
        *_eeg("REF", (*_EEG, "T1", "T2", "FZ", "CZ", "PZ"), r256),
        Signal("EEG EKG1-REF", "ekg", "EKG", "uV", r256),
        *_eeg("REF", ("C3P", "C4P", "SP1", "SP2", "A1", "A2"), r256),
        *_numbered("REF", range(31, 33), r256), *_trends(),
    ]
    le = [
        *_eeg("LE", ("FP1", "FP2", "F3", "F4", "C3", "C4", "A1", "A2", "P3", "P4", "O1", "O2",
                     "F7", "F8", "T3", "T4", "T5", "T6", "FZ", "CZ", "PZ", "OZ", "PG1", "PG2"), rle),
        Signal("EEG EKG-LE", "ekg", "EKG", "uV", rle), *_numbered("LE", range(26, 33), rle),
        Signal("PHOTIC PH", "photic", "PHOTIC", "mm", (-32767.0, 32767.0)),
        *[Signal(f"DC{k}-DC", "dc", str(k), "uV", (-4999850.0, 4999850.0)) for k in range(1, 9)],
    ]
    ar_a = [*_eeg("REF", (*_EEG, "FZ", "CZ", "PZ"), r400), *_numbered("REF", range(20, 33), r400)]
    ar_a_256 = [
        *_eeg("REF", (*_EEG, "FZ", "CZ", "PZ"), r256),
        Signal("EEG ROC-REF", "eog", "ROC", "uV", r256), Signal("EEG LOC-REF", "eog", "LOC", "uV", r256),
        Signal("EEG EKG1-REF", "ekg", "EKG", "uV", r256), *_numbered("REF", range(26, 31), r256),
        Signal("PHOTIC-REF", "photic", "PHOTIC", "uV", (-32767.0, 32767.0)), *_trends(),
    ]
    templates = [
        Template("ar_250", "01_tcp_ar", "AR", ((250.0, 1.0),), tuple(ar_2013)),
        Template("ar_256", "01_tcp_ar", "AR", ((256.0, 0.85), (512.0, 0.15)), tuple(ar_256)),
        Template("le_250", "02_tcp_le", "LE", ((250.0, 0.7), (256.0, 0.3)), tuple(le), "EEG",
                 "HP:-1.000 Hz LP:-2.0 Hz N:0.0"),
        Template("ar_a_400", "03_tcp_ar_a", "AR", ((400.0, 1.0),), tuple(ar_a), "EEG",
                 "HP:-1.000 Hz LP:-2.0 Hz N:0.0"),
        Template("ar_a_256", "03_tcp_ar_a", "AR", ((256.0, 1.0),), tuple(ar_a_256)),
    ]
    return {t.name: t for t in templates}


TEMPLATES: dict[str, Template] = _build()
# How often each layout is drawn for a session (01_tcp_ar dominates TUSZ, as here).
TEMPLATE_WEIGHTS: dict[str, float] = {"ar_250": 0.38, "ar_256": 0.30, "le_250": 0.16, "ar_a_400": 0.08, "ar_a_256": 0.08}


def tcp_channels(template: Template) -> tuple[str, ...]:
    """The TCP channels a file of this layout can form (A1-T3, T4-A2 need ear electrodes)."""
    have = set(template.electrodes)
    return tuple(f"{a}-{b}" for a, b in head.TCP_PAIRS if a in have and b in have)


def reference_signal(v: np.ndarray, reference: str) -> np.ndarray:
    """The reference potential ``(n,)`` subtracted from every referential lead."""
    if reference == "LE":
        return 0.5 * (v[head.INDEX["A1"]] + v[head.INDEX["A2"]])
    idx = [head.INDEX[e] for e in head.SCALP_1020]
    return v[idx].mean(axis=0)


def map_block(template: Template, v: np.ndarray, t_s: np.ndarray, rng: np.random.Generator,
              extras: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Turn a block of virtual channels ``v`` (``head.VIRTUAL`` rows) into the EDF signals.

    ``t_s`` are the block's sample times; ``extras`` carries per-recording constants
    (``unconnected_uv`` gains, ``line_phase``). 1 Hz trend channels get one value per
    second. Returns one float64 array per signal of ``template``.
    """
    n = v.shape[1]
    ref = reference_signal(v, template.reference)
    cm = v[head.INDEX["CM"]]
    base = cm - ref  # added to every referential lead
    line = np.sin(2 * np.pi * extras["line_hz"] * t_s + extras["line_phase"])
    out: list[np.ndarray] = []
    for k, sig in enumerate(template.signals):
        if sig.kind == "eeg":
            x = v[head.INDEX[sig.source]] + base
        elif sig.kind == "derived":
            x = sum(w * v[head.INDEX[e]] for e, w in _DERIVED[sig.source].items()) + base
            x = x + rng.standard_normal(n) * 1.5
        elif sig.kind == "eog":
            frontal = v[head.INDEX["F7" if sig.source == "LOC" else "F8"]]
            x = v[head.INDEX[sig.source]] + 0.5 * frontal + base
        elif sig.kind in ("ekg", "emg"):
            x = v[head.INDEX[sig.source]] + cm
        elif sig.kind == "photic":
            x = v[head.INDEX["PHOTIC"]]
        elif sig.kind == "unconnected":
            gain = extras["unconnected_uv"][k]
            x = gain * line + rng.standard_normal(n) * 0.05 * gain + cm
        elif sig.kind == "dc":
            x = rng.standard_normal(n) * 20.0
        else:  # 1 Hz trend channel: zero, as on most TUH recordings
            x = np.zeros(int(round(n / extras["fs_hz"])))
        out.append(x)
    return out
