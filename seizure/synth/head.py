"""The head model: electrode positions, scalp distances, spatial fields and mixing.

Electrodes sit on a unit sphere at their idealised 10-20 positions (azimuth clockwise
from the nose, polar radius as in EEGLAB's 2-D layout where 0.5 is the equator); x
points right, y to the nose, z up. A head radius of about 9 cm makes a chord of 1.0
roughly 9 cm.

The generator works on *virtual channels*: the scalp electrodes (their potential
against an ideal distant reference), then auxiliary sources (eye leads, EKG, chin EMG,
photic marker) and the recording system's common-mode signal. Referencing and the EDF
channel list are applied later.
"""

from __future__ import annotations

import numpy as np

from seizure.io.channels import TCP_CHANNELS  # the .csv rows name these

TCP_PAIRS: tuple[tuple[str, str], ...] = tuple((c.split("-")[0], c.split("-")[1]) for c in TCP_CHANNELS)

# name: (azimuth degrees, clockwise from nose; polar radius, 0.5 = equator)
_LAYOUT: dict[str, tuple[float, float]] = {
    "FP1": (-18, 0.511), "FP2": (18, 0.511), "F3": (-39, 0.333), "F4": (39, 0.333),
    "C3": (-90, 0.256), "C4": (90, 0.256), "P3": (-141, 0.333), "P4": (141, 0.333),
    "O1": (-162, 0.511), "O2": (162, 0.511), "F7": (-54, 0.511), "F8": (54, 0.511),
    "T3": (-90, 0.511), "T4": (90, 0.511), "T5": (-126, 0.511), "T6": (126, 0.511),
    "A1": (-90, 0.64), "A2": (90, 0.64), "FZ": (0, 0.256), "CZ": (0, 0.0), "PZ": (180, 0.256),
    "T1": (-68, 0.6), "T2": (68, 0.6), "OZ": (180, 0.511),
}
ELECTRODES: tuple[str, ...] = tuple(_LAYOUT)
# The 19 scalp electrodes of the 10-20 system (the common average uses these).
SCALP_1020: tuple[str, ...] = (
    "FP1", "FP2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2",
    "F7", "F8", "T3", "T4", "T5", "T6", "FZ", "CZ", "PZ",
)
AUX: tuple[str, ...] = ("LOC", "ROC", "EKG", "EMG", "PHOTIC", "CM")
VIRTUAL: tuple[str, ...] = ELECTRODES + AUX
INDEX: dict[str, int] = {name: i for i, name in enumerate(VIRTUAL)}
N_ELEC = len(ELECTRODES)
N_VIRTUAL = len(VIRTUAL)


# Homologous electrode on the other hemisphere (midline maps to itself).
_MIRROR_PAIRS = [("FP1", "FP2"), ("F3", "F4"), ("C3", "C4"), ("P3", "P4"), ("O1", "O2"),
                 ("F7", "F8"), ("T3", "T4"), ("T5", "T6"), ("A1", "A2"), ("T1", "T2")]
MIRROR: dict[str, str] = {**{a: b for a, b in _MIRROR_PAIRS}, **{b: a for a, b in _MIRROR_PAIRS},
                          "FZ": "FZ", "CZ": "CZ", "PZ": "PZ", "OZ": "OZ"}


def positions() -> np.ndarray:
    """Unit-sphere coordinates ``(N_ELEC, 3)`` of :data:`ELECTRODES`."""
    az = np.deg2rad([_LAYOUT[e][0] for e in ELECTRODES])
    incl = np.array([_LAYOUT[e][1] for e in ELECTRODES]) * np.pi
    return np.stack([np.sin(incl) * np.sin(az), np.sin(incl) * np.cos(az), np.cos(incl)], axis=1)


POS = positions()
DIST = np.linalg.norm(POS[:, None, :] - POS[None, :, :], axis=2)  # chord distances


def field(center: str | np.ndarray, width: float) -> np.ndarray:
    """Gaussian spatial field ``exp(-(d/width)^2)`` over electrodes, 1 at ``center``."""
    point = POS[INDEX[center]] if isinstance(center, str) else np.asarray(center)
    d = np.linalg.norm(POS - point[None, :], axis=1)
    return np.exp(-((d / width) ** 2))


def mixing_matrix(length: float) -> np.ndarray:
    """Square root of the spatial covariance ``exp(-d/length)`` (rows: electrodes).

    Independent unit-variance sources mixed by it give electrode signals whose
    correlation falls with scalp distance, as volume conduction does.
    """
    cov = np.exp(-DIST / length)
    vals, vecs = np.linalg.eigh(cov)
    return (vecs * np.sqrt(np.clip(vals, 0.0, None))) @ vecs.T


def weights(mapping: dict[str, float], default: float = 0.0) -> np.ndarray:
    """An electrode weight vector from ``{name: weight}``."""
    w = np.full(N_ELEC, default)
    for name, value in mapping.items():
        w[INDEX[name]] = value
    return w


# Fields of generalized discharges: frontal maximum (absence spike-and-wave) and a broader
# frontocentral one (other generalized seizures).
ABSENCE_FIELD = weights({"FP1": 0.8, "FP2": 0.8, "F3": 1.0, "F4": 1.0, "FZ": 1.0, "F7": 0.6, "F8": 0.6,
                         "C3": 0.6, "C4": 0.6, "CZ": 0.7, "T3": 0.3, "T4": 0.3, "P3": 0.35, "P4": 0.35,
                         "PZ": 0.4, "T5": 0.2, "T6": 0.2, "O1": 0.15, "O2": 0.15, "A1": 0.15, "A2": 0.15,
                         "T1": 0.45, "T2": 0.45, "OZ": 0.15})
DIFFUSE_FIELD = weights({"FP1": 0.8, "FP2": 0.8, "F3": 1.0, "F4": 1.0, "FZ": 1.0, "F7": 0.85, "F8": 0.85,
                         "C3": 0.9, "C4": 0.9, "CZ": 0.9, "T3": 0.7, "T4": 0.7, "P3": 0.7, "P4": 0.7,
                         "PZ": 0.7, "T5": 0.55, "T6": 0.55, "O1": 0.5, "O2": 0.5, "A1": 0.4, "A2": 0.4,
                         "T1": 0.75, "T2": 0.75, "OZ": 0.5})

