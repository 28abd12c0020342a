"""Score new EDF recordings with a trained model: EDF -> seizure events (and files).

:func:`detect_recording` is the pure per-recording step: it applies the checkpoint's own
preprocessing recipe through the chunked pipeline (:class:`seizure.preprocess.pipeline.EdfPipeline`),
feeds the feature chunks to the model as they come (:func:`seizure.evaluation.probabilities`),
keeps only one probability per second, turns them into events at the checkpoint's operating
point, and writes, inside ``out_dir``:

* ``<name>.csv_bi``: TUSZ binary annotations; rows cover the whole recording, ``seiz`` rows
  carry the event's mean probability as confidence;
* ``<name>_events.tsv``: SzCORE/BIDS events (``recordingDuration`` exact, ``dateTime`` the
  EDF start);
* with ``probabilities``: ``<name>_probs.csv``, one row per whole second
  (``second,probability``; second ``k`` covers ``[k, k + 1)`` s; 6 decimals) -- plain text
  that any tool reads;
* with ``plot``: ``<name>.png`` (:func:`seizure.plots.plot_scored_recording`), whose
  compressed EEG view is gathered during the same chunked pass.

Memory is bounded by the chunk and the inference windows, not the recording's length: as
many windows run at once as fit a memory budget (:func:`seizure.evaluation.window_batch_size`).
``benchmarks/bench_score_24h.py`` measures a 24-hour recording (0.37 GB peak with the demo
model, against 1.3 GB for whole-file processing).
Channels the recording lacks are zero-filled and masked as the recipe says (a warning lists
them); fewer usable channels than ``min_channels`` (the recipe's, or the override) refuses
the file with a :class:`~seizure.errors.MontageError` listing what is missing. Channels the
quality checks find flat at the end of the pass are masked too, and the probabilities are
then computed again with that mask (a second pass, only in that case).

:func:`detect_files` is the corpus-level loop (EDF files, folders searched recursively, list
files), optionally in parallel processes; one failing recording is reported and the others
are still scored. Output names are the EDF's stem (sanitised); when several inputs share a
stem, each of those gets its parent folders' names prepended (``p1_EEG``, ``p2_EEG``: the
fewest folders that make them distinct) and a warning says so. Outputs are never written
over an input's own annotation sidecar: ``--out`` may not be a recording's own folder.
Every output is written to a hidden temporary file renamed into place when complete; a run
first removes the temporary files that a killed run left for the outputs it is about to
write (the same names; other files in ``--out`` are left alone).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seizure import parallel
from seizure.preprocess import montage
from seizure.errors import AnnotationError, ConfigError, RecipeMismatchError, SeizureError
from seizure.events import Event
from seizure.fsutil import atomic_write, inside, remove_temp_files, safe_name
from seizure.io.annotations import (
    SIDECAR_SUFFIXES,
    binary_events,
    find_sidecar,
    read_annotations,
    write_csv_bi,
    write_szcore_tsv,
)
from seizure.preprocess.pipeline import CHUNK_S, EdfPipeline
from seizure.postprocess import probs_to_events
from seizure.preprocess.recipe import Recipe

if TYPE_CHECKING:
    from seizure.checkpoint import Checkpoint

log = logging.getLogger(__name__)

EDF_SUFFIX = ".edf"
TABLE_ROWS = 30  # recordings listed one per row in the closing summary
OUTPUT_SUFFIXES = {"csv_bi": ".csv_bi", "tsv": "_events.tsv", "probs": "_probs.csv", "png": ".png"}


class InputError(SeizureError):
    """The inputs themselves are unusable (a missing path, nothing to score): a usage error."""


@dataclass
class ScoreResult:
    """One scored recording."""

    path: Path
    name: str
    duration_s: float
    n_seconds: int
    events: list[Event]
    probs: np.ndarray  # float32 (n_seconds,)
    outputs: dict[str, Path]
    channels_used: int
    missing_channels: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    first_time_s: float = 0.0  # an MNE Raw's first_time (0 for a file)
    orig_time: Any = None  # an MNE Raw's meas_date (None for a file)

    @property
    def hours(self) -> float:
        return self.duration_s / 3600.0

    def to_annotations(self):
        """The detected events as ``mne.Annotations`` ('seiz', onsets relative to the Raw's
        ``first_time``; see :func:`seizure.io.mne_raw.to_mne`)."""
        from seizure.io.mne_raw import to_mne

        return to_mne(self.events, first_time_s=self.first_time_s, orig_time=self.orig_time)


@dataclass
class ScoreSummary:
    """What :func:`detect_files` did: results in input order, failures ``(path, reason)``."""

    out_dir: Path
    results: list[ScoreResult] = field(default_factory=list)
    failures: list[tuple[Path, str]] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def hours(self) -> float:
        return sum(r.hours for r in self.results)

    @property
    def n_events(self) -> int:
        return sum(len(r.events) for r in self.results)

    @property
    def hours_per_s(self) -> float:
        """Throughput: hours of EEG scored per wall-clock second."""
        return self.hours / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def table(self) -> str:
        """The closing summary: one row per scored recording, then the totals."""
        lines = [f"{'recording':<32} {'hours':>7} {'events':>6} {'channels':>8} {'time (s)':>8}"]
        for r in self.results[:TABLE_ROWS]:
            lines.append(f"{r.name:<32} {r.hours:7.2f} {len(r.events):6d} {r.channels_used:8d} {r.elapsed_s:8.1f}")
        if len(self.results) > TABLE_ROWS:
            lines.append(f"... and {len(self.results) - TABLE_ROWS} more")
        lines.append(f"{len(self.results)} recording(s) scored, {len(self.failures)} failed: {self.hours:.2f} h of "
                     f"EEG, {self.n_events} event(s), {self.elapsed_s:.1f} s ({self.hours_per_s:.2f} h of EEG per "
                     "second); "
                     f"outputs in {self.out_dir}")
        return "\n".join(lines)


# --------------------------------------------------------------------------- one recording


def recipe_for(recipe: Recipe, min_channels: int | None) -> Recipe:
    """The checkpoint's recipe, with ``min_channels`` overridden when given (validated)."""
    if min_channels is None:
        return recipe
    n_pairs = len(montage.get_montage(recipe.montage).pairs)
    if isinstance(min_channels, bool) or not isinstance(min_channels, int) or not 1 <= min_channels <= n_pairs:
        raise ConfigError(f"min_channels must be an integer from 1 to {n_pairs} (montage {recipe.montage!r}), "
                          f"got {min_channels!r}")
    return dataclasses.replace(recipe, min_channels=min_channels)


def output_paths(out_dir: str | Path, name: str, plot: bool = False, probabilities: bool = False) -> dict[str, Path]:
    """Where the outputs of recording ``name`` go (always inside ``out_dir``)."""
    kinds = ["csv_bi", "tsv"] + (["probs"] if probabilities else []) + (["png"] if plot else [])
    base = safe_name(name)
    return {k: inside(out_dir, base + OUTPUT_SUFFIXES[k]) for k in kinds}


def _infer(ckpt: Checkpoint, path: Path, recipe: Recipe, chunk_s: float, mask: np.ndarray | None = None,
           envelope: bool = False, precision: str = "float32") -> tuple[np.ndarray, Any, EdfPipeline, Any]:
    """One chunked pass: per-second probabilities, the quality report, the (closed) pipeline and,
    with ``envelope``, the plot's compressed view of the montaged signal from the same pass."""
    from seizure.evaluation import probabilities

    with EdfPipeline(path, recipe, chunk_s) as pipe:
        if ckpt.channels and list(ckpt.channels) != list(pipe.channels):
            raise RecipeMismatchError(f"the model expects channels {', '.join(ckpt.channels)} but the recipe "
                                      f"forms {', '.join(pipe.channels)}", ckpt.path)
        env = None
        if envelope:
            from seizure.plots import Envelope

            env = Envelope(pipe.channels, pipe.n_seconds, pipe.fs_hz, mask=pipe.plan.mask)
        chunks = pipe.feature_chunks(None if env is None else lambda c: env.add(c.start_s, c.data))
        use = pipe.plan.mask if mask is None else mask
        probs = probabilities(ckpt.model, (c.features for c in chunks), pipe.frames_per_s, use, ckpt.config.train,
                              precision=precision)
        report = pipe.report()
    return probs, report, pipe, env


def _reference_events(path: Path, duration_s: float) -> list[Event] | None:
    """Seizures of the EDF's annotation sidecar, or None (none found or unreadable: a warning)."""
    sidecar = find_sidecar(path)
    if sidecar is None:
        return None
    try:
        return binary_events(read_annotations(sidecar, duration_s=duration_s).events)
    except AnnotationError as exc:
        log.warning("reference events not drawn: %s", exc)
        return None


@contextlib.contextmanager
def _repeat_pass() -> Iterator[None]:
    """Silence the EDF reader's header warnings while a file is opened again (the first pass
    already reported them)."""
    logger = logging.getLogger("seizure.io.edf")
    quiet = logging.Filter("nothing")  # a filter whose name matches no logger drops every record
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)


def _check_not_sidecar(path: Path, outputs: dict[str, Path]) -> None:
    """Refuse to write where the recording's own annotations live (or would be looked for)."""
    stem = path.resolve().with_suffix("")
    sidecars = {stem.with_name(stem.name + suffix) for suffix in SIDECAR_SUFFIXES}
    for out in outputs.values():
        if out in sidecars:
            raise SeizureError(f"--out is this recording's own folder, where {out.name} would replace or pose as "
                               "its annotation sidecar; choose another output folder", path)


def detect_recording(ckpt: Checkpoint, path: str | Path, out_dir: str | Path, *, name: str | None = None,
                    plot: bool = False, probabilities: bool = False, min_channels: int | None = None,
                    chunk_s: float = CHUNK_S, precision: str = "float32") -> ScoreResult:
    """Score one EDF recording with a loaded checkpoint and write its outputs into ``out_dir``.

    ``precision``: ``"float32"`` or ``"bfloat16"`` (autocast; faster for large models on CPUs
    with AMX and on GPUs, see :mod:`seizure.models.inference`).

    ``name`` (default: the EDF's stem) names the outputs; it is sanitised and can never
    point outside ``out_dir``. Raises a :class:`~seizure.errors.SeizureError` for a file
    that cannot be scored; nothing is written then.
    """
    t0 = time.perf_counter()
    path = Path(path)
    recipe = recipe_for(ckpt.recipe, min_channels)
    name = safe_name(name if name is not None else path.stem)
    out_dir = Path(out_dir)
    outputs = output_paths(out_dir, name, plot, probabilities)
    _check_not_sidecar(path, outputs)

    probs, report, pipe, env = _infer(ckpt, path, recipe, chunk_s, envelope=plot,  # plot: from the same pass
                                      precision=precision)
    mask = np.asarray(report.mask, dtype=bool)
    if pipe.missing:
        log.warning("%s: %d of %d channels missing, zero-filled and masked: %s (missing electrodes: %s)",
                    path, len(pipe.missing), len(pipe.channels), ", ".join(pipe.missing),
                    ", ".join(pipe.plan.missing_electrodes) or "none")
    for text in report.warnings:
        log.warning("%s: %s", path, text)
    if not np.array_equal(mask, pipe.plan.mask):
        log.info("%s: scoring again with the flat channel(s) masked", path)
        with _repeat_pass():
            probs, report, _, _ = _infer(ckpt, path, recipe, chunk_s, mask, precision=precision)
    if env is not None:
        env.mask = mask  # the signal is the same; flat channels are drawn as masked

    events = probs_to_events(probs, ckpt.operating_point)
    duration_s = pipe.duration_s
    write_csv_bi(outputs["csv_bi"], events, duration_s, bname=name)
    write_szcore_tsv(outputs["tsv"], events, duration_s, date_time=pipe.start_time)
    if probabilities:
        with atomic_write(outputs["probs"]) as fh:
            fh.write("second,probability\n")
            fh.writelines(f"{k},{p:.6f}\n" for k, p in enumerate(probs.tolist()))
    if env is not None:
        from seizure.plots import plot_scored_recording

        op = ckpt.operating_point
        title = (f"{name}: {len(events)} seizure event(s) detected; threshold {op.threshold:.3g}, smoothing "
                 f"{op.smooth_s:g} s, min duration {op.min_duration_s:g} s, merge gap {op.merge_gap_s:g} s")
        plot_scored_recording(outputs["png"], env, probs, op, events, _reference_events(path, duration_s), title)
    elapsed = time.perf_counter() - t0
    log.info("scored %s: %.2f h, %d event(s), %.1f s", path, duration_s / 3600, len(events), elapsed)
    return ScoreResult(path=path, name=name, duration_s=duration_s, n_seconds=int(probs.size), events=events,
                       probs=probs, outputs=outputs, channels_used=int(mask.sum()),
                       missing_channels=list(pipe.missing), warnings=list(report.warnings), elapsed_s=elapsed)


# --------------------------------------------------------------------------- many recordings


def _list_file(spec: Path) -> tuple[list[Path], list[tuple[Path, str]]]:
    try:
        text = spec.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("neither an EDF file (.edf) nor a UTF-8 list file of paths", spec) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", spec) from None
    found: list[Path] = []
    failed: list[tuple[Path, str]] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        path = Path(entry).expanduser()
        if not path.is_absolute():
            path = spec.parent / path
        if path.is_dir():
            found.extend(_edf_files(path))
        elif path.is_file():
            found.append(path)
        else:
            failed.append((path, f"{path}: listed in {spec} line {lineno} but not found"))
    return found, failed


def _edf_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() == EDF_SUFFIX and p.is_file())


def collect_inputs(inputs: Sequence[str | Path]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """EDF paths to score (each file once, in order) and listed paths that were not found.

    An input is an EDF file (``.edf``, any case), a folder (searched recursively) or a text
    file listing such paths (one per line, relative to the list's folder; blank lines and
    ``#`` comments skipped). A missing input, or no EDF file at all, raises
    :class:`InputError`.
    """
    if not inputs:
        raise InputError("no input given: name EDF files, folders or list files")
    found: list[Path] = []
    failed: list[tuple[Path, str]] = []
    for spec in map(Path, inputs):
        if spec.is_dir():
            files = _edf_files(spec)
            if not files:
                log.warning("%s: no .edf file in this folder", spec)
            found.extend(files)
        elif spec.is_file():
            if spec.suffix.lower() == EDF_SUFFIX:
                found.append(spec)
            else:
                more, bad = _list_file(spec)
                found.extend(more)
                failed.extend(bad)
        else:
            raise InputError("no such file or folder", spec)
    unique: dict[Path, Path] = {}
    for p in found:
        unique.setdefault(p.resolve(), p)
    if len(unique) < len(found):
        log.warning("%d input(s) named more than once; each is scored once", len(found) - len(unique))
    if not unique and not failed:
        raise InputError(f"no EDF file found in {', '.join(map(str, inputs))}")
    return list(unique.values()), failed


def output_names(paths: Sequence[Path]) -> list[str]:
    """A distinct output name per path: the sanitised stem, with parent folder names prepended
    (as few as make them distinct) to the stems that several paths share."""
    names = [safe_name(p.stem) for p in paths]
    groups: dict[str, list[int]] = {}
    for i, n in enumerate(names):
        groups.setdefault(n, []).append(i)
    taken = set(names)
    for stem, idx in groups.items():
        if len(idx) < 2:
            continue
        parents = [[safe_name(part) for part in paths[i].resolve().parent.parts[1:]] for i in idx]
        depth = max(len(p) for p in parents)
        for k in range(1, depth + 2):
            cand = ["_".join([*par[max(0, len(par) - k):], stem]) for par in parents]
            if k > depth:  # identical folders (cannot happen for distinct files): number them
                cand = [f"{c}_{j + 1}" for j, c in enumerate(cand)]
            if len(set(cand)) == len(cand) and not (set(cand) & (taken - {stem})):
                break
        for i, c in zip(idx, cand):
            names[i] = c
        taken |= set(cand)
        log.warning("%d inputs share the name %s; their outputs are named %s", len(idx), stem, ", ".join(cand))
    return names


_CHECKPOINTS: dict[str, Checkpoint] = {}  # per process: loaded once, by the first task that needs it


def _set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


@dataclass(frozen=True)
class _Detect:
    """The worker's task: one ``(path, name, out_dir)`` with the checkpoint at ``model_path``
    (loaded once per process), a user-facing failure turned into ``(path, reason)``."""

    model_path: str
    options: dict[str, Any]

    def __call__(self, item: tuple[Path, str, Path]) -> ScoreResult | tuple[Path, str]:
        from seizure import checkpoint

        path, name, out_dir = item
        ckpt = _CHECKPOINTS.get(self.model_path)
        if ckpt is None:
            ckpt = _CHECKPOINTS[self.model_path] = checkpoint.load(self.model_path)
        try:
            return detect_recording(ckpt, path, out_dir, name=name, **self.options)
        except SeizureError as exc:
            return path, str(exc) if exc.path else f"{path}: {exc}"
        except OSError as exc:
            return path, f"{path}: cannot read: {exc.strerror or exc}"


def detect_files(model_path: str | Path, inputs: Sequence[str | Path], out_dir: str | Path, *, plot: bool = False,
                probabilities: bool = False, jobs: int = 1, min_channels: int | None = None,
                chunk_s: float = CHUNK_S, precision: str = "float32", progress: bool = False,
                layout: str = "auto", executor: parallel.Executor | None = None,
                shard: str | tuple[int, int] | None = None) -> ScoreSummary:
    """Score every recording of ``inputs`` with the checkpoint at ``model_path`` into ``out_dir``.

    ``layout``: ``"flat"`` (every output in ``out_dir``), ``"bids"`` (a BIDS derivative:
    ``out_dir/sub-*/[ses-*/]eeg/<recording>_events.tsv`` and ``dataset_description.json``, see
    :mod:`seizure.io.bids`) or ``"auto"`` (bids when every input lies in a BIDS dataset).

    ``jobs`` > 1 scores recordings in that many processes (each loads the model once and uses
    ``cpu_count // jobs`` torch threads); ``executor`` runs them on a Dask cluster instead
    (:mod:`seizure.parallel`). ``shard`` ``(i, n)`` or ``"i/n"`` scores only every n-th input
    from the i-th (output names are still chosen over all inputs, so shards write into one
    folder without clashing). Failures are collected, not raised; see :class:`ScoreSummary`.
    """
    from seizure import checkpoint

    t0 = time.perf_counter()
    parallel.check_jobs(jobs)
    model_path = Path(model_path)
    if not model_path.is_file():
        raise InputError("model checkpoint not found", model_path)
    paths, failures = collect_inputs(inputs)
    from seizure.io import bids

    paths, targets = bids.score_layout(inputs, paths, layout, Path(out_dir))
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError("--out must be a folder, but a file of that name exists", out)
    ckpt = checkpoint.load(model_path)
    recipe_for(ckpt.recipe, min_channels)  # validate before any work
    from seizure.models.inference import PRECISIONS

    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    out.mkdir(parents=True, exist_ok=True)
    if targets is None:
        dirs, names = [out] * len(paths), output_names(paths)
    else:
        dirs, names = [d for d, _ in targets], [n for _, n in targets]
    outputs = [Path(d) / (safe_name(name) + suffix) for d, name in zip(dirs, names)
               for suffix in OUTPUT_SUFFIXES.values()]
    stale = remove_temp_files(outputs + ([out / "dataset_description.json"] if targets is not None else []))
    if stale:
        log.info("removed %d temporary file(s) left by an interrupted run", stale)
    options = {"plot": plot, "probabilities": probabilities, "min_channels": min_channels, "chunk_s": chunk_s,
               "precision": precision}
    summary = ScoreSummary(out.resolve(), failures=list(failures))
    for _, reason in failures:
        log.error("%s", reason)
    results: dict[int, ScoreResult] = {}

    def record(i: int, outcome: ScoreResult | tuple[Path, str]) -> bool:
        if isinstance(outcome, ScoreResult):
            results[i] = outcome
            return True
        summary.failures.append(outcome)
        log.error("%s", outcome[1])
        return False

    items = list(zip(paths, names, dirs))
    if shard is not None:
        index, count = parallel.parse_shard(shard) if isinstance(shard, str) else shard
        items = items[index - 1::count]
    if executor is not None and executor.kind == "dask":  # workers may start elsewhere
        items = [(p.resolve(), n, d.resolve()) for p, n, d in items]
    key = str(model_path.resolve())
    _CHECKPOINTS[key] = ckpt  # tasks run here (jobs 1) use the checkpoint loaded above
    try:
        threads = 1 if executor is not None and executor.scheduler else max(1, (os.cpu_count() or 1) // jobs)
        res = parallel.run(items, _Detect(key, options), jobs, progress=progress, executor=executor,
                           on_result=record, setup=functools.partial(_set_threads, threads),
                           name=lambda item: item[1], desc="score", unit="file")
    finally:
        _CHECKPOINTS.pop(key, None)
    for failure in res.failures:  # its worker died on every attempt
        summary.failures.append((failure.task[0], f"{failure.task[0]}: {failure.reason}"))
    summary.results = [results[i] for i in sorted(results)]
    if targets is not None:
        from seizure import __version__

        bids.write_description(out, checkpoint=model_path, version=__version__,
                               sources=[r for r in (bids.find_root(p) for p in paths) if r is not None],
                               extra={"RecipeHash": ckpt.recipe_hash,
                                      "OperatingPoint": dataclasses.asdict(ckpt.operating_point)})
    summary.elapsed_s = time.perf_counter() - t0
    return summary

