"""Channel labels: one canonical name per recorded label, and the TCP channel names.

Names. :func:`normalise_label` turns any recorded label into one canonical, upper-case
name through a few explicit rules and the one synonym table :data:`SYNONYMS`:

* a type prefix (:data:`TYPE_PREFIXES`: ``EEG``, ``EKG``, ``ECG``, ``EMG``, ``EOG``,
  ``POL``) followed by a space is dropped: ``EEG Fp1`` -> ``FP1``, ``EKG EKG`` -> ``EKG``;
* a trailing reference (:data:`REFERENCE_SUFFIXES`: ``-REF``, ``-LE``, ``-AR``, ...) is
  dropped: it names the recording reference, not a bipolar partner (``EEG FP1-LE`` ->
  ``FP1``, ``EEG T1-REF`` -> ``T1``, ``DC1-DC`` -> ``DC1``);
* each remaining part goes through :data:`SYNONYMS` (10-10 names to the 10-20 names TUSZ
  uses: T7->T3, T8->T4, P7->T5, P8->T6, and a few non-EEG aliases), so already-bipolar
  labels keep their two halves: ``T7-P7`` -> ``T3-T5``, ``EEG FP1-F7`` -> ``FP1-F7``.

This module is the one owner of label normalisation: :mod:`seizure.io.edf` and
:mod:`seizure.preprocess.montage` both use it.
"""

from __future__ import annotations

TYPE_PREFIXES = ("EEG", "EKG", "ECG", "EMG", "EOG", "POL")
REFERENCE_SUFFIXES = frozenset({"REF", "LE", "AR", "AVG", "CAR", "DC"})

# The one synonym table: upper-case alias -> canonical name. Applied to the whole label
# first (for labels with spaces such as "PHOTIC PH"), then to each electrode part.
SYNONYMS: dict[str, str] = {
    # 10-10 names of the four temporal electrodes -> 10-20 names used by TUSZ and TCP
    "T7": "T3",
    "T8": "T4",
    "P7": "T5",
    "P8": "T6",
    # sphenoidal electrodes: SeizeIT "Sph1" vs TUH "SP1"
    "SPH1": "SP1",
    "SPH2": "SP2",
    # non-EEG channels: one recognisable name each
    "ECG": "EKG",
    "PHOTIC PH": "PHOTIC",
}

# Scalp electrode names after normalisation (10-20, 10-10, ear/mastoid, TUH extras).
ELECTRODES = frozenset(
    {"FP1", "FP2", "FPZ", "AF3", "AF4", "AF7", "AF8", "AFZ", "NZ", "IZ",
     "F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8", "F9", "F10", "FZ",
     "FC1", "FC2", "FC3", "FC4", "FC5", "FC6", "FCZ", "FT7", "FT8", "FT9", "FT10",
     "C1", "C2", "C3", "C4", "C5", "C6", "CZ", "T1", "T2", "T3", "T4", "T5", "T6", "T9", "T10",
     "TP7", "TP8", "TP9", "TP10", "CP1", "CP2", "CP3", "CP4", "CP5", "CP6", "CPZ",
     "P1", "P2", "P3", "P4", "P5", "P6", "P9", "P10", "PZ",
     "PO3", "PO4", "PO7", "PO8", "POZ", "O1", "O2", "OZ",
     "A1", "A2", "M1", "M2", "SP1", "SP2", "PG1", "PG2"}
)

# The 22 channels of the TCP montage, as a TUSZ ``.csv`` names them (the montage's pairs
# are built from this list in :mod:`seizure.preprocess.montage`).
TCP_CHANNELS: tuple[str, ...] = (
    "FP1-F7", "F7-T3", "T3-T5", "T5-O1", "FP2-F8", "F8-T4", "T4-T6", "T6-O2", "A1-T3", "T3-C3", "C3-CZ",
    "CZ-C4", "C4-T4", "T4-A2", "FP1-F3", "F3-C3", "C3-P3", "P3-O1", "FP2-F4", "F4-C4", "C4-P4", "P4-O2",
)


def normalise_label(label: str) -> str:
    """Canonical upper-case channel name: ``'EEG Fp1-REF'`` -> ``'FP1'``, ``'T7-P7'`` -> ``'T3-T5'``."""
    text = " ".join(str(label).split()).upper()
    text = SYNONYMS.get(text, text)
    for prefix in TYPE_PREFIXES:
        if text.startswith(prefix + " "):
            text = text[len(prefix) + 1:]
            break
    parts = [p.strip() for p in text.split("-")]
    if len(parts) >= 2 and parts[-1] in REFERENCE_SUFFIXES and parts[0]:
        parts = parts[:-1]
    return "-".join(SYNONYMS.get(p, p) for p in parts)


def is_electrode_label(name: str) -> bool:
    """True when a normalised name is a scalp electrode or a pair of them (``FP1``, ``FP1-F7``)."""
    parts = name.split("-")
    return 1 <= len(parts) <= 2 and all(p in ELECTRODES for p in parts)
