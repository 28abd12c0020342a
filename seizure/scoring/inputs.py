"""Reference and hypothesis annotation sets for ``seizure evaluate``.

A set is a directory (searched recursively) or a text file listing annotation paths (one
per line, relative to the list's folder; blank lines and ``#`` comments skipped) or a
single annotation file. Files are matched by recording name (:func:`recording_name`: the
file name without its format suffix, and without ``_events``/``_a1`` for ``.tsv``). In a
directory, ``.tsv`` files count only when named ``*_events.tsv`` (SzCORE/BIDS) or
``*_a1.tsv`` (SeizeIT), so BIDS side files (``participants.tsv``, ``*_channels.tsv``) are
skipped; in a BIDS dataset (``dataset_description.json``) ``derivatives/``, ``sourcedata/``
and ``code/`` are too, and a name pairs with and without ``_eeg``. When one recording has several formats (TUSZ ships ``.csv`` and ``.csv_bi``),
``.csv_bi`` wins, then ``.csv``, ``.tse_bi``, ``.tse``, ``.lbl_bi``, ``.lbl``, ``.tsv``; the
same recording twice in one format is an error naming both files.

A recording's duration comes from its annotation file (``# duration``, SzCORE
``recordingDuration``, a tiled v1 timeline), else from the EDF beside it (``<name>.edf``
or BIDS ``<name>_eeg.edf``). Reference and hypothesis durations must agree within
``duration_tolerance_s``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from seizure.errors import AnnotationError, SeizureError
from seizure.events import Event
from seizure.io.annotations import (
    END_TOLERANCE_S,
    SUFFIX_FORMATS,
    Annotations,
    annotation_format,
    read_annotations,
    recording_name,
)

log = logging.getLogger(__name__)

DURATION_TOLERANCE_S = 1.0
_PREFERENCE = list(SUFFIX_FORMATS.values())  # csv_bi, csv, tse_bi, tse, lbl_bi, lbl, tsv


@dataclass(frozen=True)
class RecordingPair:
    """One recording to score: its reference and hypothesis events and duration."""

    name: str
    ref_events: list[Event]
    hyp_events: list[Event]
    duration_s: float
    ref_path: Path | None = None
    hyp_path: Path | None = None


def _supported(path: Path, in_directory: bool) -> bool:
    try:
        fmt = annotation_format(path)
    except AnnotationError:
        return False
    if fmt == "tsv" and in_directory:
        return path.name.endswith(("_events.tsv", "_a1.tsv"))
    return True


def _list_file(spec: Path) -> list[Path]:
    try:
        text = spec.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise SeizureError("list file is not UTF-8 text", spec) from None
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        path = Path(entry)
        if not path.is_absolute():
            path = spec.parent / path
        if not path.is_file():
            raise SeizureError(f"line {lineno}: listed file not found: {entry}", spec)
        if not _supported(path, in_directory=False):
            raise SeizureError(f"line {lineno}: not an annotation file (unknown suffix): {entry}", spec)
        out.append(path)
    return out


def collect(spec: str | Path) -> dict[str, Path]:
    """Recording name -> annotation file for a directory, list file or single file."""
    spec = Path(spec)
    if spec.is_dir():
        from seizure.io import bids

        files = sorted(p for p in spec.rglob("*") if p.is_file() and _supported(p, in_directory=True))
        if bids.is_bids_root(spec):  # derivatives/, sourcedata/, code/ hold no reference of this dataset
            files = [p for p in files if bids.is_recording_path(spec, p)]
    elif spec.is_file():
        files = [spec] if _supported(spec, in_directory=False) else _list_file(spec)
    else:
        raise SeizureError("no such directory, list file or annotation file", spec)
    chosen: dict[str, Path] = {}
    for path in files:
        name = _pairing_name(recording_name(path))
        old = chosen.get(name)
        if old is None:
            chosen[name] = path
            continue
        rank_old, rank_new = _PREFERENCE.index(annotation_format(old)), _PREFERENCE.index(annotation_format(path))
        if rank_new == rank_old:
            raise SeizureError(f"recording {name!r} appears twice: {old} and {path}", spec)
        if rank_new < rank_old:
            chosen[name] = path
    return chosen


def _pairing_name(name: str) -> str:
    """BIDS names pair with and without ``_eeg`` (``..._run-00_events.tsv`` is the reference
    of ``..._run-00_eeg.edf``, whose flat-layout detections are ``..._run-00_eeg_events.tsv``)."""
    return name[:-4] if name.endswith("_eeg") else name


def _edf_duration(ann_path: Path, name: str) -> float | None:
    for candidate in (ann_path.with_name(f"{name}.edf"), ann_path.with_name(f"{name}_eeg.edf")):
        if candidate.is_file():
            from seizure.io.edf import EdfReader

            with EdfReader(candidate) as reader:
                return float(reader.duration_s)
    return None


def _duration(ann: Annotations, name: str) -> float | None:
    if ann.duration_s is not None:
        return float(ann.duration_s)
    assert ann.path is not None
    return _edf_duration(ann.path, name)


def _s(x: float) -> str:
    return f"{x:.4f}".rstrip("0").rstrip(".")


def _check_events(ann: Annotations, duration_s: float) -> None:
    for ev in ann.events:
        if ev.stop_s > duration_s + END_TOLERANCE_S:
            raise AnnotationError(
                f"event {_s(ev.start_s)}-{_s(ev.stop_s)} s ends past the recording's end ({_s(duration_s)} s)", ann.path
            )


def pairs(
    ref: str | Path,
    hyp: str | Path,
    *,
    missing_as_empty: bool = False,
    duration_tolerance_s: float = DURATION_TOLERANCE_S,
) -> Iterator[RecordingPair]:
    """Read and pair reference and hypothesis files (sorted by recording name)."""
    ref_files = collect(ref)
    hyp_files = collect(hyp)
    if not ref_files:
        raise SeizureError("no reference annotation files found", ref)
    missing = sorted(set(ref_files) - set(hyp_files))
    if missing and not missing_as_empty:
        raise SeizureError(
            f"{len(missing)} of {len(ref_files)} reference recordings have no hypothesis (first: {missing[0]}, "
            f"{ref_files[missing[0]]}); pass --missing-as-empty to score them as detecting nothing",
            hyp,
        )
    log.info("paired %d of %d reference recordings with a hypothesis file", len(ref_files) - len(missing),
             len(ref_files))
    if missing:
        log.warning("%d reference recordings have no hypothesis: scored as empty", len(missing))
    extra = sorted(set(hyp_files) - set(ref_files))
    if extra:
        log.warning("%d hypothesis files match no reference and are ignored (first: %s)", len(extra), hyp_files[extra[0]])
    for name in sorted(ref_files):
        ref_ann = read_annotations(ref_files[name])
        hyp_path = hyp_files.get(name)
        hyp_ann = read_annotations(hyp_path) if hyp_path is not None else None
        d_ref = _duration(ref_ann, name)
        d_hyp = _duration(hyp_ann, name) if hyp_ann is not None else None
        if d_ref is not None and d_hyp is not None and abs(d_ref - d_hyp) > duration_tolerance_s:
            raise AnnotationError(
                f"reference says the recording lasts {_s(d_ref)} s but the hypothesis {hyp_path} says {_s(d_hyp)} s "
                f"(tolerance {_s(duration_tolerance_s)} s)",
                ref_files[name],
            )
        duration = d_ref if d_ref is not None else d_hyp
        if duration is None:
            raise AnnotationError(
                "no recording duration: the annotation files carry none and no EDF was found beside them",
                ref_files[name],
            )
        _check_events(ref_ann, duration)
        if hyp_ann is not None:
            _check_events(hyp_ann, duration)
        yield RecordingPair(
            name, ref_ann.events, hyp_ann.events if hyp_ann is not None else [], duration,
            ref_files[name], hyp_path,
        )
