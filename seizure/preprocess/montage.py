"""Bipolar montages (channel labels are normalised by :mod:`seizure.io.channels`).

:data:`MONTAGES` maps a name to its ordered bipolar pairs: ``tcp`` (the 22
channels of the ACNS temporal central parasagittal montage used by TUSZ) and
``double_banana`` (the 18-channel longitudinal bipolar montage of non-TUH data such as
CHB-MIT). :func:`plan` works out, once per channel list, how each pair is formed:

* from two referential electrodes, ``X-Y = X - Y``;
* from an already-bipolar channel that is the pair itself, or its reverse (negated);
  when a bipolar label occurs twice (CHB-MIT records ``T8-P8`` twice) the first is used.

Missing-channel policy (the recipe's ``missing_channels``): with ``missing="zero"`` (the
default) a pair that cannot be formed is filled with zeros and its ``mask`` entry is
False, so models can ignore it. 03_tcp_ar_a recordings have no A1/A2 electrodes: their
``A1-T3`` and ``T4-A2`` are zero-filled and masked and the other 20 TCP channels are
real. With ``missing="refuse"`` any missing pair raises :class:`MontageError`. Fewer
than ``min_channels`` formable pairs always raises, naming the missing electrodes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seizure.errors import MontageError
from seizure.io.channels import TCP_CHANNELS, normalise_label
from seizure.registry import pick

if TYPE_CHECKING:
    from seizure.io.edf import Recording

log = logging.getLogger(__name__)

MISSING_POLICIES = ("refuse", "zero")


@dataclass(frozen=True)
class Montage:
    """A named bipolar montage: ordered ``(plus, minus)`` electrode pairs, and its chains
    (named runs of channels, e.g. the left temporal chain, that channel dropout and the
    robustness table remove as a whole)."""

    name: str
    pairs: tuple[tuple[str, str], ...]
    description: str
    chains: dict[str, tuple[str, ...]] = field(default_factory=dict, hash=False)

    def channels_with(self, electrodes: set[str] | frozenset[str]) -> tuple[str, ...]:
        """The channels (in montage order) that use any of ``electrodes``."""
        return tuple(f"{a}-{b}" for a, b in self.pairs if a in electrodes or b in electrodes)

    @property
    def channels(self) -> list[str]:
        return [f"{a}-{b}" for a, b in self.pairs]


def _pairs(text: str) -> tuple[tuple[str, str], ...]:
    return tuple(tuple(p.split("-")) for p in text.split())  # type: ignore[misc]


MONTAGES: dict[str, Montage] = {
    "tcp": Montage(
        "tcp",
        _pairs(" ".join(TCP_CHANNELS)),
        "ACNS temporal central parasagittal montage (22 channels, TUSZ)",
        {"left_temporal": ("FP1-F7", "F7-T3", "T3-T5", "T5-O1"),
         "right_temporal": ("FP2-F8", "F8-T4", "T4-T6", "T6-O2"),
         "central": ("A1-T3", "T3-C3", "C3-CZ", "CZ-C4", "C4-T4", "T4-A2"),
         "left_parasagittal": ("FP1-F3", "F3-C3", "C3-P3", "P3-O1"),
         "right_parasagittal": ("FP2-F4", "F4-C4", "C4-P4", "P4-O2"),
         "ears": ("A1-T3", "T4-A2")},
    ),
    "double_banana": Montage(
        "double_banana",
        _pairs("FP1-F7 F7-T3 T3-T5 T5-O1 FP2-F8 F8-T4 T4-T6 T6-O2 FP1-F3 F3-C3 C3-P3 "
               "P3-O1 FP2-F4 F4-C4 C4-P4 P4-O2 FZ-CZ CZ-PZ"),
        "longitudinal bipolar 'double banana' montage (18 channels)",
        {"left_temporal": ("FP1-F7", "F7-T3", "T3-T5", "T5-O1"),
         "right_temporal": ("FP2-F8", "F8-T4", "T4-T6", "T6-O2"),
         "left_parasagittal": ("FP1-F3", "F3-C3", "C3-P3", "P3-O1"),
         "right_parasagittal": ("FP2-F4", "F4-C4", "C4-P4", "P4-O2")},
    ),
}


TCP_PAIRS: tuple[tuple[str, str], ...] = MONTAGES["tcp"].pairs


def get_montage(name: str) -> Montage:
    """The montage registered under ``name``; an unknown name lists the valid ones."""
    return pick(MONTAGES, name, "montage", plural="montages", error=MontageError)


@dataclass(frozen=True)
class MontagePlan:
    """How each pair of a montage is formed from one recording's channels.

    ``needed_indices`` are the input channels to read, in increasing order; :meth:`apply`
    takes exactly those rows (so a chunked reader can read only them).
    """

    name: str
    channels: list[str]
    mask: np.ndarray
    missing: list[str]
    missing_electrodes: list[str]
    needed_indices: list[int]
    sources: list[str]
    # internal index math: output rows, +input row, -input row (-1: none), sign of + row
    _rows: np.ndarray
    _plus: np.ndarray
    _minus: np.ndarray
    _sign: np.ndarray

    @property
    def n_formed(self) -> int:
        return int(self.mask.sum())

    def apply(self, data: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Bipolar channels ``(n_pairs, n)`` from rows ``needed_indices``: float32, or complex64
        for complex ``data`` (the montage is linear, so it may be formed on spectra); written
        into ``out`` when given."""
        data = np.asarray(data)
        if data.ndim != 2 or data.shape[0] != len(self.needed_indices):
            raise ValueError(
                f"data must have shape (len(needed_indices)={len(self.needed_indices)}, n_samples), "
                f"got {data.shape}"
            )
        shape = (len(self.channels), data.shape[1])
        if out is None:
            out = np.empty(shape, dtype=np.complex64 if np.iscomplexobj(data) else np.float32)
        elif out.shape != shape:
            raise ValueError(f"out must have shape {shape}, got {out.shape}")
        # row by row into the output: one pass over memory (fancy indexing would copy twice)
        for row, plus, minus, sign in zip(self._rows, self._plus, self._minus, self._sign):
            if minus >= 0:
                np.subtract(data[plus], data[minus], out=out[row])
            else:
                np.multiply(data[plus], sign, out=out[row])
        if len(self._rows) < len(self.channels):  # pairs that cannot be formed are zero-filled
            out[np.setdiff1d(np.arange(len(self.channels)), self._rows)] = 0.0
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (used by ``seizure inspect``)."""
        return {
            "name": self.name,
            "n_pairs": len(self.channels),
            "n_formed": self.n_formed,
            "missing": list(self.missing),
            "missing_electrodes": list(self.missing_electrodes),
            "pairs": dict(zip(self.channels, self.sources)),
        }


def plan(
    channels: list[str],
    name: str = "tcp",
    missing: str = "zero",
    min_channels: int = 16,
    *,
    path: str | Path | None = None,
) -> MontagePlan:
    """Work out how to form montage ``name`` from ``channels`` (labels, normalised here).

    ``path`` only names the recording in error messages.
    """
    montage = get_montage(name)
    if missing not in MISSING_POLICIES:
        raise ValueError(f"missing must be one of {', '.join(MISSING_POLICIES)}; got {missing!r}")
    if isinstance(min_channels, bool) or not isinstance(min_channels, (int, np.integer)) or not (
        1 <= min_channels <= len(montage.pairs)
    ):
        raise ValueError(
            f"min_channels must be an integer from 1 to {len(montage.pairs)} for montage {name!r}; "
            f"got {min_channels!r}"
        )
    names = [normalise_label(c) for c in channels]
    referential: dict[str, int] = {}
    bipolar: dict[tuple[str, str], int] = {}
    present: set[str] = set()
    for i, n in enumerate(names):
        parts = n.split("-")
        present.update(parts)
        if len(parts) == 1:
            referential.setdefault(n, i)
        elif len(parts) == 2:
            bipolar.setdefault((parts[0], parts[1]), i)

    rows: list[int] = []
    plus: list[int] = []
    minus: list[int] = []
    sign: list[float] = []
    sources: list[str] = []
    missing_pairs: list[str] = []

    def form(row: int, p: int, m: int, s: float, source: str) -> None:
        rows.append(row)
        plus.append(p)
        minus.append(m)
        sign.append(s)
        sources.append(source)

    for row, (a, b) in enumerate(montage.pairs):
        if a in referential and b in referential:
            form(row, referential[a], referential[b], 1.0, f"{channels[referential[a]]} - {channels[referential[b]]}")
        elif (a, b) in bipolar:
            form(row, bipolar[(a, b)], -1, 1.0, str(channels[bipolar[(a, b)]]))
        elif (b, a) in bipolar:
            form(row, bipolar[(b, a)], -1, -1.0, f"-({channels[bipolar[(b, a)]]})")
        else:
            missing_pairs.append(f"{a}-{b}")
            sources.append("missing")
    absent = sorted({e for p in missing_pairs for e in p.split("-")} - present)
    n_formed = len(rows)
    where = f"montage {name!r}"
    if n_formed < min_channels:
        raise MontageError(
            f"{where} needs at least {min_channels} of its {len(montage.pairs)} channels but only "
            f"{n_formed} can be formed; missing electrodes: {', '.join(absent) or 'none'}; "
            f"missing pairs: {', '.join(missing_pairs)}",
            path,
        )
    if missing_pairs and missing == "refuse":
        raise MontageError(
            f"{where} cannot form {', '.join(missing_pairs)} (missing electrodes: "
            f"{', '.join(absent) or 'none'}) and missing='refuse'",
            path,
        )
    if missing_pairs:
        log.debug("%s: %s zero-filled and masked", path or where, ", ".join(missing_pairs))

    needed = sorted(set(plus) | {m for m in minus if m >= 0})
    pos = {src: k for k, src in enumerate(needed)}
    mask = np.zeros(len(montage.pairs), dtype=bool)
    mask[rows] = True
    return MontagePlan(
        name=name,
        channels=montage.channels,
        mask=mask,
        missing=missing_pairs,
        missing_electrodes=absent,
        needed_indices=needed,
        sources=sources,
        _rows=np.asarray(rows, dtype=np.intp),
        _plus=np.asarray([pos[p] for p in plus], dtype=np.intp),
        _minus=np.asarray([pos[m] if m >= 0 else -1 for m in minus], dtype=np.intp),
        _sign=np.asarray(sign, dtype=np.float32),
    )


@dataclass(frozen=True)
class Montaged:
    """A recording in a bipolar montage: ``data`` float32 ``(n_pairs, n_samples)`` in uV."""

    channels: list[str]
    data: np.ndarray
    mask: np.ndarray
    missing: list[str]
    fs_hz: float


def apply(recording: "Recording", name: str = "tcp", missing: str = "zero", min_channels: int = 16) -> Montaged:
    """Montage ``name`` of a :class:`~seizure.io.edf.Recording` (missing pairs per ``missing``)."""
    p = plan(recording.channels, name, missing, min_channels, path=recording.path)
    data = p.apply(recording.data[p.needed_indices])
    return Montaged(channels=p.channels, data=data, mask=p.mask, missing=p.missing, fs_hz=recording.fs_hz)
