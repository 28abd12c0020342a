"""TUSZ-layout corpora: discovery, patient-wise splits, and parallel, resumable preprocessing
into a feature store (:mod:`seizure.store`).

Layouts (ROOT may be the corpus folder, its ``edf`` folder, or one split folder):

* TUSZ v2: ``edf/{train,dev,eval}/<patient>/<sNNN_YYYY>/<montage>/<patient>_sNNN_tNNN.edf``
  with ``.csv`` / ``.csv_bi`` beside each EDF;
* TUSZ v1.5: ``edf/{train,dev_test}/<montage>/<NNN>/<patient>/<session>/<file>.edf`` with
  ``.tse`` / ``.tse_bi`` / ``.lbl`` (``dev_test`` is the ``dev`` split).

The split is the folder's; a patient found in two splits is an error (splits are by
patient). Preprocessing streams each recording's features to disk chunk by chunk (a
worker's memory stays bounded), writes the arrays before the metadata (so a killed run
leaves nothing a later run trusts), skips recordings already done with the same recipe,
records a failing file with its one-line reason and goes on, and rebuilds
``manifest.csv`` at the end (a later run rebuilds it if this one was killed first).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seizure import parallel
from seizure.errors import ConfigError, RecipeMismatchError, SeizureError
from seizure.fsutil import atomic_path, safe_name, temp_path
from seizure.io.annotations import find_sidecar
from seizure.preprocess.normalize import normalize_file
from seizure.preprocess.pipeline import CHUNK_S, EdfPipeline, labels_for
from seizure.preprocess.recipe import Recipe
from seizure.store import EXTERNAL_SEP, FeatureStore, RecordMeta, StoreWriter, feature_info

log = logging.getLogger(__name__)

SPLITS = ("train", "dev", "eval")
SPLIT_FOLDERS = {"train": "train", "dev": "dev", "eval": "eval", "dev_test": "dev"}
LOCK_NAME = ".preprocess.lock"
# The tables of an experiment config (seizure.training.config.ExperimentConfig, not imported: it needs torch).
EXPERIMENT_TABLES = ("model", "postprocess", "recipe", "train")


@dataclass(frozen=True)
class CorpusEntry:
    """One EDF recording of a corpus."""

    rec_id: str  # file stem (made a safe file name: 'a b.edf' -> a_b), unique in the corpus
    split: str  # train | dev | eval
    patient: str
    session: str
    montage_dir: str  # e.g. 01_tcp_ar
    path: Path
    sidecar: Path | None  # annotation file (csv_bi preferred), if any
    layout: str  # "v2" | "v1.5" | "bids"


def discover(root: str | Path, split_file: str | Path | None = None, split_seed: int = 0) -> list[CorpusEntry]:
    """All recordings under ``root`` in a TUSZ v2 or v1.5 layout, or of a BIDS dataset
    (:mod:`seizure.io.bids`: split by ``split_file``, else seeded by subject), sorted by
    split and id."""
    root = Path(root)
    if not root.is_dir():
        raise SeizureError("corpus folder not found (expected a TUSZ-layout folder or a BIDS dataset)", root)
    from seizure.io import bids

    if bids.is_bids_root(root):
        entries = [CorpusEntry(safe_name(r.path.stem), split, r.subject, r.session, "eeg", r.path,
                               r.events_path if r.events_path.is_file() else None, "bids")
                   for r, split in bids.split_recordings(root, split_file, split_seed)]
        _check_unique(entries, root)
        return sorted(entries, key=lambda e: (SPLITS.index(e.split), e.rec_id))
    if split_file is not None:
        raise ConfigError("a split file applies to BIDS datasets only (a TUSZ tree is split by its folders)",
                          split_file)
    base = len(root.parts) - 1  # index of root's own name: ROOT may itself be a split folder
    entries: list[CorpusEntry] = []
    unmatched: list[Path] = []
    for path in sorted(_edf_files(root)):
        entry = _entry(path, base)
        if entry is None:
            unmatched.append(path)
        else:
            entries.append(entry)
    if unmatched:
        log.warning("%s: %d EDF file(s) outside the TUSZ layout were skipped, e.g. %s",
                    root, len(unmatched), unmatched[0])
    if not entries:
        raise SeizureError(
            "no EDF files in a TUSZ layout: expected edf/{train,dev,eval}/<patient>/<session>/<montage>/"
            "<file>.edf (v2) or edf/{train,dev_test}/<montage>/<NNN>/<patient>/<session>/<file>.edf (v1.5)", root)
    _check_unique(entries, root)
    return sorted(entries, key=lambda e: (SPLITS.index(e.split), e.rec_id))


def _edf_files(root: Path) -> Iterator[Path]:
    for folder, _dirs, files in os.walk(root):
        for name in files:
            if name.lower().endswith(".edf"):
                yield Path(folder) / name


def _entry(path: Path, base: int) -> CorpusEntry | None:
    parts = path.parts
    for i in range(len(parts) - 2, base - 1, -1):
        split = SPLIT_FOLDERS.get(parts[i])
        if split is None:
            continue
        tail = parts[i + 1:]
        if len(tail) == 4:  # v2: patient / session / montage / file
            patient, session, montage_dir, layout = tail[0], tail[1], tail[2], "v2"
        elif len(tail) == 5:  # v1.5: montage / NNN / patient / session / file
            montage_dir, patient, session, layout = tail[0], tail[2], tail[3], "v1.5"
        else:
            return None
        rec_id = safe_name(path.stem)  # it names the store's files: no separators, spaces or leading dots
        if rec_id != path.stem:
            log.warning("%s: the file name is not a safe recording id; stored as %r", path, rec_id)
        return CorpusEntry(rec_id, split, patient, session, montage_dir, path, find_sidecar(path), layout)
    return None


def _check_unique(entries: list[CorpusEntry], root: Path) -> None:
    splits_of: dict[str, set[str]] = {}
    by_id: dict[str, Path] = {}
    for e in entries:
        splits_of.setdefault(e.patient, set()).add(e.split)
        if e.rec_id in by_id:
            raise SeizureError(f"recording id {e.rec_id} occurs twice: {by_id[e.rec_id]} and {e.path}", root)
        by_id[e.rec_id] = e.path
    for patient, splits in sorted(splits_of.items()):
        if len(splits) > 1:
            raise SeizureError(f"patient {patient} appears in splits {', '.join(sorted(splits))}; "
                               "splits must be by patient", root)


# --------------------------------------------------------------------------- preprocessing


def recipe_from_config(config_path: str | Path | None = None, overrides: Sequence[str] = ()) -> Recipe:
    """The ``[recipe]`` table of a TOML config (``inherit`` resolved) with ``recipe.key=value``
    overrides; the default :class:`Recipe` when neither is given. Overrides of other tables
    are refused (preprocessing uses only the recipe)."""
    from seizure import config

    data = config.load_toml(config_path) if config_path is not None else {}
    unknown = sorted(set(data) - set(EXPERIMENT_TABLES))
    if unknown:  # e.g. a misspelt [recpie] would otherwise leave the default recipe in force
        raise ConfigError(f"unknown config key {unknown[0]!r}; valid keys here: {', '.join(EXPERIMENT_TABLES)}",
                          config_path)
    for text in overrides:
        parts, _ = config.parse_override(text)
        if parts[0] != "recipe" or len(parts) < 2:
            raise ConfigError(f"override {text!r} does not set the recipe; preprocessing takes only "
                              "recipe.KEY=VALUE (e.g. recipe.feature=raw)")
    data = config.apply_overrides(data, list(overrides))
    return config.build(Recipe, data.get("recipe", {}), "recipe")


@dataclass
class PreprocessSummary:
    """What a preprocessing run did."""

    store: Path
    found: int = 0
    done: int = 0
    skipped: int = 0  # already done with this recipe
    failures: list[tuple[str, str]] = field(default_factory=list)  # (rec_id, reason)
    hours_done: float = 0.0  # hours of EEG processed by this run
    hours_in_store: float = 0.0  # hours of EEG in the store's ok records
    elapsed_s: float = 0.0

    @property
    def failed(self) -> int:
        return len(self.failures)

    def reasons(self) -> list[tuple[str, int, str]]:
        """Failures grouped by reason (numbers generalised, unless the group has one member):
        (reason, count, example id)."""
        groups: Counter[str] = Counter()
        example: dict[str, tuple[str, str]] = {}
        for rec_id, reason in self.failures:
            key = re.sub(r"\d+(\.\d+)?", "#", reason)
            groups[key] += 1
            example.setdefault(key, (rec_id, reason))
        return [(key if n > 1 else example[key][1], n, example[key][0]) for key, n in groups.most_common()]

    def lines(self) -> list[str]:
        """A human-readable summary."""
        rate = self.hours_done / self.elapsed_s if self.elapsed_s > 0 else 0.0
        out = [f"{self.found} recording(s) found: {self.done} processed, {self.skipped} already done, "
               f"{self.failed} failed",
               f"{self.hours_done:.2f} h of EEG processed in {self.elapsed_s:.1f} s ({rate:.2f} h/s); "
               f"{self.hours_in_store:.2f} h in the store {self.store}"]
        for reason, n, rec_id in self.reasons():
            out.append(f"  failed x{n}: {reason} (e.g. {rec_id})")
        return out


@dataclass(frozen=True)
class _Outcome:
    """What a worker hands back for one recording (small: its features stay in a file)."""

    rec_id: str
    ok: bool
    reason: str = ""
    n_seconds: int = 0
    meta: RecordMeta | None = None
    labels: np.ndarray | None = None  # uint8 per-second labels
    x_tmp: str = ""  # the finished temporary feature file in the store's records folder


def preprocess(corpus_root: str | Path, store_root: str | Path, recipe: Recipe, jobs: int = 1,
               progress: bool = False, splits: Sequence[str] | None = None,
               chunk_s: float = CHUNK_S, split_file: str | Path | None = None, split_seed: int = 0,
               executor: parallel.Executor | None = None, shard: tuple[int, int] | None = None) -> PreprocessSummary:
    """Preprocess every recording of a corpus into a feature store (resumable, parallel);
    ``split_file``/``split_seed``: the split of a BIDS dataset (see :func:`discover`).

    ``executor``: where the recordings are processed (:mod:`seizure.parallel`; default local
    processes). Workers write each recording's features to a temporary file in the store;
    this process alone commits them (renames them into place, writes the labels and the
    record, then the manifest), so a store is the same byte for byte whatever the executor.
    ``shard=(i, n)`` processes only the i-th (1-based) of ``n`` deterministic shards of the
    corpus (:func:`shard_of`); :func:`merge_stores` joins the shards' stores.
    """
    parallel.check_jobs(jobs)
    if splits is not None:
        bad = sorted(set(splits) - set(SPLITS))
        if bad:
            raise ConfigError(f"unknown split {bad[0]!r}; valid splits: {', '.join(SPLITS)}")
    started = time.perf_counter()
    entries = discover(corpus_root, split_file, split_seed)
    if splits is not None:
        entries = [e for e in entries if e.split in set(splits)]
    if shard is not None:
        entries = shard_of(entries, *shard)
    writer = StoreWriter(store_root, recipe, feature_info(recipe))
    summary = PreprocessSummary(writer.root, found=len(entries))
    with _store_lock(writer.root):
        _check_splits(entries, writer)
        _remove_stale_temps(writer.root / "records")
        todo = [e for e in entries if not writer.is_done(e.rec_id)]
        summary.skipped = len(entries) - len(todo)
        todo.sort(key=lambda e: -_size(e.path))  # largest first: better load balance

        def commit(_index: int, outcome: _Outcome) -> bool:
            if outcome.ok:
                writer.write_ok(outcome.meta, outcome.labels, features_file=Path(outcome.x_tmp))
                summary.done += 1
                summary.hours_done += outcome.n_seconds / 3600
            else:
                writer.write_error(outcome.meta, outcome.reason)
                summary.failures.append((outcome.rec_id, outcome.reason))
            return outcome.ok

        try:
            res = parallel.run(todo, _Preprocess(str(writer.root), recipe, chunk_s), jobs, progress=progress,
                               executor=executor, on_result=commit, setup=_reuse_freed_memory,
                               name=lambda e: e.rec_id, desc="preprocess", unit="file")
            for failure in res.failures:  # its worker died on every attempt (or a bug outside the task)
                writer.write_error(_meta(failure.task), failure.reason)
                summary.failures.append((failure.task.rec_id, failure.reason))
        finally:
            writer.write_manifest()
        _remove_stale_temps(writer.root / "records")  # left by workers that died
    summary.failures.sort()
    summary.hours_in_store = sum(m.n_seconds for m in writer.records()) / 3600
    summary.elapsed_s = time.perf_counter() - started
    return summary


def _check_splits(entries: list[CorpusEntry], writer: StoreWriter) -> None:
    """Refuse a store whose finished recordings were split otherwise (e.g. a BIDS dataset run
    again with another --splits or --split-seed): one patient would be in two splits."""
    split_of = {e.rec_id: e.split for e in entries}
    for meta in writer.records(status=None):
        new = split_of.get(meta.rec_id)
        if new is not None and new != meta.split:
            raise ConfigError(f"recording {meta.rec_id} is in split {meta.split} in this store but in {new} now "
                              "(another split file or seed?); use a new store, or the split it was made with",
                              writer.root)


def shard_of(entries: Sequence[CorpusEntry], index: int, count: int) -> list[CorpusEntry]:
    """The ``index``-th (1-based) of ``count`` shards: recordings dealt round-robin in order of
    file size (largest first, then id), so the shards hold about the same bytes; the same
    corpus always gives the same shards."""
    parallel.parse_shard(f"{index}/{count}")
    ordered = sorted(entries, key=lambda e: (-_size(e.path), e.rec_id))
    return sorted(ordered[index - 1::count], key=lambda e: (SPLITS.index(e.split), e.rec_id))


def merge_stores(store_root: str | Path, shards: Sequence[str | Path],
                 external: Sequence[tuple[str, str | Path]] = (), external_splits: Sequence[str] = SPLITS,
                 ) -> PreprocessSummary:
    """Join the stores of ``seizure preprocess --shard i/N`` runs into ``store_root``: their
    records are hard-linked (copied across file systems) and the manifest rebuilt, so the
    result equals a store made in one run. The shards must share a recipe; a recording found
    in two shards is refused. Re-running adds what is new.

    ``external`` (``(name, store)`` pairs) joins other corpora as training data only: their
    recordings of ``external_splits`` enter with split ``train``, ``external = "name:split"``
    and id and patient prefixed ``name__`` (so no patient of theirs meets one of ours). They are
    fitted on, never tuned on or scored. With no shards, ``store_root`` must be a store already."""
    started = time.perf_counter()
    if not shards and not external:
        raise ConfigError("name the shard stores to merge, or an external store (--external NAME=STORE)")
    names = [name for name, _ in external]
    for name in names:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*", name) or names.count(name) > 1:
            raise ConfigError(f"external corpus name {name!r} must be unique, letters, digits and '-' only "
                              "(it prefixes the corpus's recording ids and patients)")
    bad = sorted(set(external_splits) - set(SPLITS))
    if bad or not external_splits:
        raise ConfigError(f"external splits must be among {', '.join(SPLITS)}; got {', '.join(external_splits) or 'none'}")
    stores = [FeatureStore(s) for s in shards]
    externals = [(name, FeatureStore(path)) for name, path in external]
    if stores:
        first = stores[0]
    elif (Path(store_root) / "store.json").is_file():
        first = FeatureStore(store_root)
    else:
        raise ConfigError("with no shards to merge, STORE must be an existing feature store to add external "
                          "training data to", store_root)
    sources = [*stores, *(e for _, e in externals)]
    for s in sources:
        if s.recipe_hash != first.recipe_hash:
            raise RecipeMismatchError(f"recipe {s.recipe_hash} differs from {first.recipe_hash} of {first.root}; "
                                      "all stores merged must be made with one recipe", s.root)
    writer = StoreWriter(store_root, first.recipe, first.info)
    summary = PreprocessSummary(writer.root)
    with _store_lock(writer.root):
        for store in sources:
            if store.root.resolve() == writer.root.resolve():
                raise ConfigError("the merged store cannot be one of the stores merged into it", store.root)
        plan = _merge_plan(writer, stores, externals, external_splits)  # every refusal before any record is written
        for store, meta, src_id in plan:
            summary.found += 1
            _merge_record(writer, store, meta, src_id, summary)
        writer.write_manifest()
    summary.failures.sort()
    summary.hours_in_store = sum(m.n_seconds for m in writer.records()) / 3600
    summary.elapsed_s = time.perf_counter() - started
    return summary


def _merge_plan(writer: StoreWriter, stores: list[FeatureStore], externals: list[tuple[str, FeatureStore]],
                external_splits: Sequence[str]) -> list[tuple[FeatureStore, RecordMeta, str]]:
    """What :func:`merge_stores` joins: (source store, record as it will be, source id), after
    every check (a recording in two shards; an external one that is external data already, or
    one of this store's own recordings)."""
    plan, owner = [], {}
    for store in stores:
        for meta in store.records(status=None):
            if meta.rec_id in owner:
                raise SeizureError(f"recording {meta.rec_id} is in two shards ({owner[meta.rec_id]} and "
                                   f"{store.root}): shards must come from one corpus and one N", store.root)
            owner[meta.rec_id] = store.root
            plan.append((store, meta, meta.rec_id))
    own = {_content(m) for m in writer.records() if not m.external} | {_content(m) for _, m, _ in plan}
    for name, store in externals:
        for meta in store.records(status="ok"):
            if meta.split not in external_splits:
                continue
            if meta.external:
                raise SeizureError(f"recording {meta.rec_id} is external data of that store already "
                                   f"({meta.external}); join its own corpus instead", store.root)
            if _content(meta) in own:
                raise SeizureError(f"recording {meta.rec_id} of external corpus {name!r} is in this store "
                                   "already: training on it would leak into the splits scored", store.root)
            src_id = meta.rec_id
            meta.external, meta.split = f"{name}:{meta.split}", "train"
            meta.rec_id, meta.patient = f"{name}{EXTERNAL_SEP}{src_id}", f"{name}{EXTERNAL_SEP}{meta.patient}"
            plan.append((store, meta, src_id))
    return plan


def _content(meta: RecordMeta) -> tuple:
    """What identifies one recording across stores: its id, length and seizures."""
    return meta.rec_id, meta.n_seconds, tuple(tuple(s) for s in meta.seizures)


def _merge_record(writer: StoreWriter, store: FeatureStore, meta: RecordMeta, src_id: str,
                  summary: PreprocessSummary) -> None:
    """One record of ``store`` (its files named ``src_id``) into ``writer`` as ``meta``: arrays
    linked, then the record's JSON (copied as it is, or rewritten for an external record)."""
    if meta.status == "ok" and writer.is_done(meta.rec_id):
        summary.skipped += 1
        return
    if meta.status == "ok":
        for ext in (".x.npy", ".y.npy"):
            _link_or_copy(store.root / "records" / f"{src_id}{ext}", writer.root / "records" / f"{meta.rec_id}{ext}")
    if src_id == meta.rec_id:
        _link_or_copy(store.root / "records" / f"{src_id}.json", writer.root / "records" / f"{meta.rec_id}.json")
    else:
        writer.write_meta(meta)
    if meta.status == "ok":
        summary.done += 1
        summary.hours_done += meta.n_seconds / 3600
    else:
        summary.failures.append((meta.rec_id, meta.error))


def _link_or_copy(src: Path, dst: Path) -> None:
    """``dst`` made the same bytes as ``src``, atomically (a hard link where possible)."""
    with atomic_path(dst) as tmp:
        tmp.unlink()
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)


def _meta(entry: CorpusEntry) -> RecordMeta:
    return RecordMeta(entry.rec_id, entry.split, entry.patient, str(entry.path), session=entry.session,
                      montage_dir=entry.montage_dir)


@dataclass(frozen=True)
class _Preprocess:
    """The worker's task: one recording -> a finished temporary feature file in the store, its
    labels and metadata (paths in, small results out; the filter plans are built once per
    process, cached by :mod:`seizure.signal` and :mod:`seizure.features`)."""

    store_root: str
    recipe: Recipe
    chunk_s: float

    def __call__(self, entry: CorpusEntry) -> _Outcome:
        """Any failure of the recording becomes a failed outcome with its one-line reason."""
        meta = _meta(entry)
        x_tmp = None
        try:
            with EdfPipeline(entry.path, self.recipe, self.chunk_s) as pipe:
                meta.fs_hz_original = pipe.fs_hz_original
                meta.duration_s = pipe.duration_s
                meta.n_seconds = pipe.n_seconds
                meta.n_frames = pipe.n_frames
                meta.missing_channels = pipe.missing
                labels = labels_for(entry.path, pipe.duration_s, pipe.n_seconds)
                x_tmp = temp_path(Path(self.store_root) / "records" / f"{entry.rec_id}.x.npy", ".npy")
                _stream_features(pipe, x_tmp)
                report = pipe.report()
            meta.channel_mask = [bool(v) for v in report.mask]
            meta.warnings = list(report.warnings)
            meta.seizures = [[e.start_s, e.stop_s] for e in labels.seizures]
            return _Outcome(entry.rec_id, True, n_seconds=meta.n_seconds, meta=meta,
                            labels=np.asarray(labels.per_second, dtype=np.uint8), x_tmp=str(x_tmp))
        except SeizureError as exc:
            reason = f"{type(exc).__name__}: {exc.reason}"
        except Exception as exc:  # a bug or an unforeseen file problem must not stop the corpus run
            log.exception("%s: unexpected failure", entry.path)
            reason = f"internal error: {type(exc).__name__}: {exc}"
        if x_tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                x_tmp.unlink()
        return _Outcome(entry.rec_id, False, " ".join(reason.split()), meta=meta)


def _stream_features(pipe: EdfPipeline, tmp: Path) -> None:
    """Write the ``.npy`` header, then each chunk's frames as they come (bounded memory).

    Each chunk is handed to the disk at once (``POSIX_FADV_DONTNEED`` starts write-back and
    keeps the page cache clean), so the final ``fsync`` that makes the file durable before
    its metadata is written has little left to wait for. A recipe that normalises each
    recording has its median subtracted from the written file, in place, before the ``fsync``
    (one pass over the EDF; the same values as :meth:`EdfPipeline.feature_chunks`).
    """
    shape = (pipe.n_frames, len(pipe.channels), pipe.n_features)
    written = 0
    advise = getattr(os, "posix_fadvise", None)
    median = pipe.median_collector() if pipe.recipe.normalize != "none" else None
    with open(tmp, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": "<f4", "fortran_order": False, "shape": shape})
        for chunk in pipe.raw_feature_chunks():
            if median is not None:
                median.add(chunk.start_s, chunk.features)
            start = fh.tell()
            fh.write(np.ascontiguousarray(chunk.features, dtype="<f4").data)
            written += chunk.features.shape[0]
            fh.flush()
            if advise:  # the chunk just written: start its write-back
                advise(fh.fileno(), start, fh.tell() - start, os.POSIX_FADV_DONTNEED)
        if written != shape[0]:
            raise RuntimeError(f"wrote {written} frames, expected {shape[0]}")
        if median is not None:
            normalize_file(tmp, median.median())
        os.fsync(fh.fileno())
        if advise:  # all of it is on disk now: drop what is still cached
            advise(fh.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


@contextlib.contextmanager
def _store_lock(root: Path) -> Iterator[None]:
    """Refuse a second preprocessing run on the same store while one is running."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with open(root / LOCK_NAME, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SeizureError("another `seizure preprocess` is writing this store; wait for it to finish",
                               root) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _remove_stale_temps(records: Path) -> None:
    """Temporary files left by a killed run (never trusted; safe to delete under the lock)."""
    stale = [p for p in records.glob(".*.tmp*") if p.is_file()]
    for p in stale:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
    if stale:
        log.info("removed %d temporary file(s) left by an interrupted run", len(stale))


def _reuse_freed_memory() -> None:
    """glibc, in a pool worker: keep freed memory for the next chunk instead of handing it back.

    Every chunk allocates the same few arrays of several MB; by default glibc maps each afresh
    and unmaps it when freed, so every page is faulted in and zeroed again (about 10% of a
    worker's time). With the mmap threshold at its 32 MB maximum and no trimming, they are
    reused from the heap; the worker's peak memory is unchanged, its memory between chunks
    stays at that peak.
    """
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 32 * 2**20)   # M_MMAP_THRESHOLD
        libc.mallopt(-1, 2**30)        # M_TRIM_THRESHOLD


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
