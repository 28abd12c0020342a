"""The one event type every annotation format and scorer shares."""

from __future__ import annotations

from dataclasses import dataclass

SEIZURE_LABELS = frozenset(
    {"seiz", "fnsz", "gnsz", "spsz", "cpsz", "absz", "tnsz", "cnsz", "tcsz", "atsz", "mysz", "nesz"}
)
BACKGROUND_LABELS = frozenset({"bckg"})
# SzCORE/BIDS eventType values (ILAE keys) that denote a seizure.
SZCORE_SEIZURE_PREFIX = "sz"


@dataclass(frozen=True, order=True)
class Event:
    """An annotated interval of one recording.

    ``channel`` is ``"TERM"`` for whole-head events (``.csv_bi``, ``.tse``) or a
    bipolar channel name such as ``"FP1-F7"`` for per-channel ``.csv`` rows.
    """

    start_s: float
    stop_s: float
    label: str = "seiz"
    confidence: float = 1.0
    channel: str = "TERM"

    @property
    def duration_s(self) -> float:
        return self.stop_s - self.start_s

    @property
    def is_seizure(self) -> bool:
        return is_seizure_label(self.label)


def is_seizure_label(label: str) -> bool:
    """True for TUSZ seizure labels (``seiz`` and subtypes) and SzCORE ``sz*`` types."""
    low = label.strip().lower()
    return low in SEIZURE_LABELS or low.startswith(SZCORE_SEIZURE_PREFIX)


def to_binary(label: str) -> str:
    """Map any seizure subtype to ``seiz`` and background to ``bckg``."""
    return "seiz" if is_seizure_label(label) else "bckg"
