"""BIDS / SzCORE datasets: recordings in, detections out as a BIDS derivative.

A BIDS dataset (as epilepsy2bids lays out CHB-MIT, Siena, SeizeIT and TUSZ) is a folder
with ``dataset_description.json`` and ``sub-<label>/[ses-<label>/]eeg/<name>_eeg.edf``;
the reference events of a recording are ``<name>_events.tsv`` (its name without
``_eeg``), sidecars ``<name>_eeg.json`` and ``<name>_channels.tsv`` may sit beside it.
``derivatives/``, ``sourcedata/`` and ``code/`` hold no recordings. The subject is the
patient.

Splits: a split file (``participant_id`` and ``split`` columns, tab-separated, subjects
with or without ``sub-``, splits ``train``/``dev``/``eval``) or else a seeded split by
subject (:func:`seeded_split`: 60/20/20, at least one dev and one eval subject when there
are three or more).

Output (:func:`derivative_targets`, :func:`write_description`): SzCORE's scorer walks
``REF/sub-*/**/*.tsv`` and reads each hypothesis at the same relative path under ``HYP``
(a missing one counts, silently, as "no detection"), so detections mirror
``sub-*/[ses-*/]eeg/`` and carry the reference's exact file name; the derivative's own
``dataset_description.json`` says ``DatasetType: derivative`` and ``GeneratedBy``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seizure.errors import ConfigError, SeizureError
from seizure.fsutil import atomic_write

log = logging.getLogger(__name__)

DESCRIPTION = "dataset_description.json"
NOT_RECORDINGS = frozenset({"derivatives", "sourcedata", "code"})
SPLIT_FRACTIONS = {"train": 0.6, "dev": 0.2, "eval": 0.2}
BIDS_VERSION = "1.9.0"
_SUBJECT = re.compile(r"^sub-[A-Za-z0-9]+$")
_SESSION = re.compile(r"^ses-[A-Za-z0-9]+$")


@dataclass(frozen=True)
class BidsRecording:
    """One ``*_eeg.edf`` of a BIDS dataset."""

    path: Path
    root: Path
    subject: str  # e.g. sub-01
    session: str  # e.g. ses-01, or "" when the dataset has no sessions
    name: str  # the recording name: the file name without ``_eeg.edf``

    @property
    def relative_dir(self) -> Path:
        """The folder under the root (``sub-01/ses-01/eeg``)."""
        return self.path.parent.relative_to(self.root)

    @property
    def events_path(self) -> Path:
        """Where its reference events are (whether or not the file exists)."""
        return self.path.with_name(f"{self.name}_events.tsv")


def is_bids_root(path: str | Path) -> bool:
    """True for a folder with ``dataset_description.json``."""
    return (Path(path) / DESCRIPTION).is_file()


def recording_name(edf: str | Path) -> str:
    """``sub-01_..._run-00_eeg.edf`` -> ``sub-01_..._run-00`` (other names: their stem)."""
    stem = Path(edf).stem
    return stem[:-4] if stem.endswith("_eeg") else stem


def events_sidecar(edf: str | Path) -> Path | None:
    """The BIDS events file of an ``*_eeg.edf`` (``<name>_events.tsv``), if the EDF is so
    named; None otherwise (whether or not the file exists: the caller checks)."""
    edf = Path(edf)
    if not edf.stem.endswith("_eeg"):
        return None
    return edf.with_name(f"{recording_name(edf)}_events.tsv")


def find_root(path: str | Path) -> Path | None:
    """The BIDS root a file lies in (an ancestor with ``dataset_description.json`` from which
    the path goes through ``sub-*``), or None."""
    path = Path(path).resolve()
    for parent in path.parents:
        if is_bids_root(parent):
            rel = path.relative_to(parent).parts
            if rel and _SUBJECT.match(rel[0]):
                return parent
            return None
    return None


def is_recording_path(root: Path, path: Path) -> bool:
    """False for files under ``derivatives/``, ``sourcedata/``, ``code/`` or hidden folders."""
    try:
        rel = path.resolve().relative_to(root.resolve()).parts[:-1]
    except ValueError:
        return True
    return not any(p in NOT_RECORDINGS or p.startswith(".") for p in rel)


def recordings(root: str | Path) -> list[BidsRecording]:
    """Every ``sub-*/[ses-*/]eeg/*_eeg.edf`` of a BIDS dataset, sorted; EDFs elsewhere (not
    under ``derivatives/``, ``sourcedata/``, ``code/``) are skipped with a warning."""
    root = Path(root)
    found: list[BidsRecording] = []
    outside: list[Path] = []
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        if here == root:
            dirs[:] = [d for d in dirs if d not in NOT_RECORDINGS and not d.startswith(".")]
        for name in files:
            if not name.lower().endswith(".edf"):
                continue
            path = here / name
            rec = _recording(root, path)
            if rec is None:
                outside.append(path)
            else:
                found.append(rec)
    if outside:
        log.warning("%s: %d EDF file(s) outside sub-*/[ses-*/]eeg/*_eeg.edf were skipped, e.g. %s",
                    root, len(outside), outside[0])
    return sorted(found, key=lambda r: r.path)


def _recording(root: Path, path: Path) -> BidsRecording | None:
    parts = path.relative_to(root).parts
    if len(parts) == 3:
        (subject, eeg, _), session = parts, ""
    elif len(parts) == 4 and _SESSION.match(parts[1]):
        subject, session, eeg, _ = parts
    else:
        return None
    if not (_SUBJECT.match(subject) and eeg == "eeg" and path.stem.endswith("_eeg")
            and path.name.startswith(subject + "_")):
        return None
    return BidsRecording(path, root, subject, session, recording_name(path))


# --------------------------------------------------------------------------- splits


def read_splits(path: str | Path) -> dict[str, str]:
    """A split file: subject (``sub-01``) -> ``train``/``dev``/``eval``.

    Tab-separated (commas accepted) with a header naming a subject column
    (``participant_id``, ``subject`` or ``patient``) and a ``split`` column."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError("split file not found", path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the split file: {exc}", path) from None
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    if not lines:
        raise ConfigError("empty split file; expected a header 'participant_id<TAB>split' and one row per subject",
                          path)
    delimiter = "\t" if "\t" in lines[0] else ","
    rows = list(csv.reader(lines, delimiter=delimiter))
    header = [h.strip().lower() for h in rows[0]]
    subject_col = next((header.index(h) for h in ("participant_id", "subject", "patient") if h in header), None)
    if subject_col is None or "split" not in header:
        raise ConfigError(f"the split file's header must name a participant_id and a split column, got {rows[0]!r}",
                          path)
    split_col = header.index("split")
    out: dict[str, str] = {}
    for lineno, row in enumerate(rows[1:], 2):
        if len(row) <= max(subject_col, split_col):
            raise ConfigError(f"line {lineno}: expected {len(header)} columns, got {len(row)}", path)
        subject, split = row[subject_col].strip(), row[split_col].strip().lower()
        subject = subject if subject.startswith("sub-") else f"sub-{subject}"
        if split not in SPLIT_FRACTIONS:
            raise ConfigError(f"line {lineno}: unknown split {split!r}; valid splits: {', '.join(SPLIT_FRACTIONS)}",
                              path)
        if out.get(subject, split) != split:
            raise ConfigError(f"line {lineno}: subject {subject} is in two splits ({out[subject]}, {split})", path)
        out[subject] = split
    return out


def seeded_split(subjects: Iterable[str], seed: int = 0) -> dict[str, str]:
    """A patient-wise split of ``subjects``: shuffled with ``seed``, then 60/20/20 to
    train/dev/eval (at least one dev and one eval subject when there are three or more,
    one dev when there are two)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"split seed must be an integer >= 0, got {seed!r}")
    order = sorted(set(subjects))
    random.Random(seed).shuffle(order)
    n = len(order)
    n_eval = max(1, round(n * SPLIT_FRACTIONS["eval"])) if n >= 3 else 0
    n_dev = max(1, round(n * SPLIT_FRACTIONS["dev"])) if n >= 2 else 0
    split = {s: "eval" for s in order[:n_eval]}
    split.update({s: "dev" for s in order[n_eval:n_eval + n_dev]})
    split.update({s: "train" for s in order[n_eval + n_dev:]})
    return split


def split_recordings(root: str | Path, split_file: str | Path | None = None, split_seed: int = 0
                     ) -> list[tuple[BidsRecording, str]]:
    """The recordings of a BIDS dataset with their split (by subject, see the module
    docstring); a subject missing from the split file is an error."""
    root = Path(root)
    recs = recordings(root)
    if not recs:
        raise SeizureError("a BIDS dataset (dataset_description.json) without recordings: expected "
                           "sub-<label>/[ses-<label>/]eeg/sub-<label>_..._eeg.edf", root)
    subjects = sorted({r.subject for r in recs})
    if split_file is not None:
        split = read_splits(split_file)
        missing = [s for s in subjects if s not in split]
        if missing:
            raise ConfigError(f"{len(missing)} subject(s) of the dataset are not in the split file, e.g. "
                              f"{', '.join(missing[:5])}", split_file)
        how = f"split file {split_file}"
    else:
        split = seeded_split(subjects, split_seed)
        how = f"seeded patient-wise split (seed {split_seed})"
    counts = {s: sum(1 for x in subjects if split[x] == s) for s in SPLIT_FRACTIONS}
    log.info("%s: %d subjects, %s: %s", root, len(subjects), how, ", ".join(f"{n} {s}" for s, n in counts.items()))
    return [(r, split[r.subject]) for r in recs]


# --------------------------------------------------------------------------- derivatives


LAYOUTS = ("auto", "bids", "flat")


def score_layout(inputs: Sequence[str | Path], paths: Sequence[Path], layout: str, out_dir: Path
                 ) -> tuple[list[Path], list[tuple[Path, str]] | None]:
    """For ``seizure score``: the EDFs to score (those under ``derivatives/``, ``sourcedata/``
    or ``code/`` of a BIDS dataset given as an input folder dropped) and, for the BIDS layout,
    each one's (output folder, name) (:func:`derivative_targets`); None for the flat layout.
    ``auto`` is ``bids`` when every EDF lies in a BIDS dataset."""
    if layout not in LAYOUTS:
        raise ConfigError(f"unknown layout {layout!r}; valid layouts: {', '.join(LAYOUTS)}")
    roots = [Path(s) for s in inputs if Path(s).is_dir() and is_bids_root(s)]
    kept = [p for p in paths if all(is_recording_path(r, p) for r in roots)]
    if len(kept) < len(paths):
        log.info("%d EDF file(s) under derivatives/, sourcedata/ or code/ skipped", len(paths) - len(kept))
    if layout == "auto":
        layout = "bids" if kept and all(find_root(p) is not None for p in kept) else "flat"
    if layout == "flat":
        return kept, None
    return kept, derivative_targets(kept, out_dir)


def derivative_targets(paths: Sequence[Path], out_dir: Path) -> list[tuple[Path, str]]:
    """Per EDF of a BIDS dataset: (output folder mirroring ``sub-*/[ses-*/]eeg/``, output
    name = the recording name, so that ``<name>_events.tsv`` is the reference's file name).
    A path outside any BIDS dataset raises :class:`SeizureError`."""
    out: list[tuple[Path, str]] = []
    seen: dict[Path, Path] = {}
    for path in paths:
        root = find_root(path)
        if root is None:
            raise SeizureError("not inside a BIDS dataset (no dataset_description.json above sub-*/): "
                               "use --layout flat", path)
        rel = path.resolve().parent.relative_to(root)
        target = out_dir / rel
        name = recording_name(path)
        key = target / name
        if key in seen:
            raise SeizureError(f"two recordings map to the same output {rel / name} ({seen[key]} and {path})", path)
        seen[key] = path
        reference = path.resolve().with_name(f"{name}_events.tsv")
        if (target / f"{name}_events.tsv").resolve() == reference:
            raise SeizureError("--out is the dataset itself: the detections would replace its reference events; "
                               "choose another folder (e.g. ROOT/derivatives/seizure)", path)
        out.append((target, name))
    return out


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_description(out_dir: str | Path, *, checkpoint: str | Path, version: str,
                      sources: Sequence[Path] = (), extra: dict[str, Any] | None = None) -> Path:
    """``OUT/dataset_description.json`` of a derivative dataset of detections."""
    checkpoint = Path(checkpoint)
    generated = {"Name": "seizure", "Version": version,
                 "Description": "EEG seizure detection (CNN + recurrent network); events per recording",
                 "Checkpoint": {"File": checkpoint.name, "SHA256": file_sha256(checkpoint), **(extra or {})}}
    desc = {"Name": "seizure detections", "BIDSVersion": BIDS_VERSION, "DatasetType": "derivative",
            "GeneratedBy": [generated]}
    if sources:
        desc["SourceDatasets"] = [{"URL": Path(s).resolve().as_uri()} for s in sorted(set(sources))]
    path = Path(out_dir) / DESCRIPTION
    with atomic_write(path) as fh:
        json.dump(desc, fh, indent=2)
        fh.write("\n")
    return path


# --------------------------------------------------------------------------- sidecars (inspect)


def check_sidecars(edf: str | Path, fs_hz: float, signals: Sequence[tuple[str, float, bool]]) -> dict[str, Any] | None:
    """Cross-check ``<name>_eeg.json`` and ``<name>_channels.tsv`` against the EDF.

    ``signals``: per EDF signal (annotations excluded) its label, rate and whether it is
    kept as EEG. Returns None when neither sidecar exists, else the files read and the
    disagreements found (``problems``: one line each)."""
    edf = Path(edf)
    base = edf.with_name(recording_name(edf))
    eeg_json = base.with_name(base.name + "_eeg.json")
    channels_tsv = base.with_name(base.name + "_channels.tsv")
    if not eeg_json.is_file() and not channels_tsv.is_file():
        return None
    problems: list[str] = []
    out: dict[str, Any] = {"eeg_json": None, "channels_tsv": None, "problems": problems}
    if eeg_json.is_file():
        out["eeg_json"] = str(eeg_json)
        try:
            meta = json.loads(eeg_json.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            problems.append(f"{eeg_json.name}: unreadable JSON ({exc})")
            meta = {}
        rate = meta.get("SamplingFrequency")
        if rate is not None and not _same_rate(rate, fs_hz):
            problems.append(f"{eeg_json.name}: SamplingFrequency {rate} Hz but the EDF's EEG is at {fs_hz:g} Hz")
        n_eeg = meta.get("EEGChannelCount")
        electrodes = sum(1 for label, _, kept in signals if kept and is_eeg_label(label))
        if isinstance(n_eeg, int) and n_eeg != electrodes:
            problems.append(f"{eeg_json.name}: EEGChannelCount {n_eeg} but the EDF has {electrodes} EEG electrode "
                            "signals")
    if channels_tsv.is_file():
        out["channels_tsv"] = str(channels_tsv)
        problems.extend(_check_channels(channels_tsv, signals))
    out["ok"] = not problems
    return out


def is_eeg_label(label: str) -> bool:
    """An EDF label that names a scalp electrode or a pair of them (``EEG Fp1``, ``T8-P8``)."""
    from seizure.io.channels import is_electrode_label, normalise_label

    name = normalise_label(label)
    return is_electrode_label(name) or ("-" in name and all(is_electrode_label(p) for p in name.split("-")))


def _same_rate(value: Any, fs_hz: float) -> bool:
    try:
        return abs(float(value) - fs_hz) < 1e-6 * max(1.0, fs_hz)
    except (TypeError, ValueError):
        return False


def _check_channels(path: Path, signals: Sequence[tuple[str, float, bool]]) -> list[str]:
    try:
        rows = list(csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines(), delimiter="\t"))
    except (OSError, UnicodeDecodeError) as exc:
        return [f"{path.name}: unreadable ({exc})"]
    if rows and "name" not in rows[0]:
        return [f"{path.name}: no 'name' column"]
    problems = []
    by_label: dict[str, tuple[float, bool]] = {}
    for label, rate, kept in signals:  # a duplicated label (CHB-MIT's T8-P8): used if any copy is
        by_label[label.strip()] = (rate, kept or by_label.get(label.strip(), (rate, False))[1])
    listed = [r["name"].strip() for r in rows]
    absent = [n for n in listed if n not in by_label]
    if absent:
        problems.append(f"{path.name}: {len(absent)} channel(s) not in the EDF: {', '.join(absent[:8])}")
    unlisted = [label for label in by_label if label not in listed]
    if unlisted:
        problems.append(f"{path.name}: {len(unlisted)} EDF signal(s) not listed: {', '.join(unlisted[:8])}")
    for r in rows:
        name = r["name"].strip()
        if name not in by_label:
            continue
        rate, kept = by_label[name]
        if r.get("sampling_frequency") not in (None, "", "n/a") and not _same_rate(r["sampling_frequency"], rate):
            problems.append(f"{path.name}: {name} sampling_frequency {r['sampling_frequency']} but the EDF "
                            f"signal is at {rate:g} Hz")
        kind = (r.get("type") or "").strip().upper()
        if kind == "EEG" and not kept:
            problems.append(f"{path.name}: {name} has type EEG but the EDF signal is not used as EEG")
    return problems
