"""``run_study``: load a study file, run its grid (resumable, parallel), write its tables."""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seizure import parallel
from seizure.errors import ConfigError, SeizureError
from seizure.fsutil import atomic_write
from seizure.study.runner import (
    RunSpec,
    available_cores,
    check_folders,
    execute,
    finished,
    init_worker,
    job_of,
    plan,
    record_failure,
    threads_per_job,
)
from seizure.store import split_plan
from seizure.study.baseline import FOLDER, run_baseline
from seizure.study.spec import Study, load_study
from seizure.study.tables import write_tables

log = logging.getLogger(__name__)


class StudyInterrupted(SeizureError):
    """The study stopped before its end (Ctrl-C); running the same command again resumes."""


@dataclass
class StudyResult:
    """What one invocation did, and where the tables are."""

    study: Study
    out_dir: Path
    split: str                       # the split scored
    planned: int = 0
    skipped: int = 0                 # finished before this invocation
    done: int = 0                    # finished now
    failed: list[dict[str, Any]] = field(default_factory=list)
    baseline: dict[str, Any] | None = None  # the baseline's result.json (or its failure)
    tables: dict[str, Path] = field(default_factory=dict)
    elapsed_s: float = 0.0


def run_study(study_path: str | Path, store: str | Path, out_dir: str | Path, *, jobs: int = 1,
              seeds: int | None = None, overrides: list[str] | tuple[str, ...] = (),
              base: str | Path | None = None, only: list[str] | tuple[str, ...] | None = None,
              progress: bool = False, command: str | None = None,
              status: Callable[[str], None] | None = None, baseline: bool = True,
              executor: parallel.Executor | None = None) -> StudyResult:
    """Run (or resume) every run of a study and write its tables into ``out_dir``.

    ``jobs`` runs train in parallel processes with ``cores // jobs`` torch threads each
    (``executor``: on a Dask cluster instead, :mod:`seizure.parallel`);
    ``seeds``, ``overrides``, ``base`` and ``only`` as in :func:`~seizure.study.spec.load_study`.
    ``status`` receives one line per finished run. The split plan
    (:func:`seizure.store.split_plan`) decides what trains, what tunes and what is scored;
    with ``baseline`` the fitted band-power baseline is made once for the tables
    (:mod:`seizure.study.baseline`; its failure is recorded, not raised). Failed runs are
    recorded and the rest goes on (see ``result.failed``); Ctrl-C stops every run at a step
    boundary, writes the tables of what finished and raises :class:`StudyInterrupted`.
    """
    from seizure.store import FeatureStore

    t0 = time.monotonic()
    parallel.check_jobs(jobs)
    study = load_study(study_path, seeds=seeds, overrides=overrides, base=base, only=only)
    store = Path(store)
    feature_store = FeatureStore(store)
    for v in study.variants:
        feature_store.check_recipe(study.config(v, 0).recipe.hash(), what=f"variant {v.name!r} of {study.path}")
    if not feature_store.records("train") or not feature_store.records("dev"):
        raise SeizureError("the store needs 'train' and 'dev' recordings to run a study", store)
    base_cfg = study.base_config()
    tunings = {(study.config(v, 0).train.tuning_seed, study.config(v, 0).train.tuning_fraction)
               for v in study.variants}
    if len(tunings) > 1:
        raise ConfigError("every variant must use the same train.tuning_seed and train.tuning_fraction (one split "
                          "plan per study)", study.path)
    splits = split_plan(feature_store, seed=base_cfg.train.tuning_seed, fraction=base_cfg.train.tuning_fraction)
    out = Path(out_dir)
    specs = plan(study, out)
    check_folders(specs)
    split = splits.score_split
    result = StudyResult(study, out, split, planned=len(specs))
    todo = [s for s in specs if finished(s) is None]
    result.skipped = len(specs) - len(todo)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(out / "study.json") as fh:
        json.dump({"study": str(study.path), "name": study.name, "axis": study.axis, "base": str(study.base_path),
                   "overrides": list(study.overrides), "seeds": list(study.seeds), "store": str(store),
                   "split": split, "splits": splits.to_dict(), "command": command,
                   "runs": [{"variant": s.variant, "seed": s.seed, "config_hash": s.config_hash} for s in specs]},
                  fh, indent=1)
        fh.write("\n")
    jobs = min(jobs, max(1, len(todo)))
    threads = threads_per_job(jobs)
    log.info("study %s (%s): %d runs planned, %d already finished, %d to run with %d job(s) x %d thread(s)",
             study.name, study.axis, len(specs), result.skipped, len(todo), jobs, threads)
    if jobs * threads > available_cores() or any(s.config.train.threads * jobs > available_cores() for s in todo):
        log.warning("%d jobs with the configs' train.threads oversubscribe the %d available cores", jobs,
                    available_cores())
    interrupted = False
    try:
        _run_all(todo, store, split, jobs, threads, result, progress, status, executor)
        if baseline:
            result.baseline = run_baseline(feature_store, splits, out / FOLDER, base_cfg.postprocess,
                                           progress=progress, jobs=jobs, executor=executor)
    except KeyboardInterrupt:
        interrupted = True
    result.tables = write_tables(study, specs, out, store=store, command=command)
    result.elapsed_s = time.monotonic() - t0
    if interrupted:
        raise StudyInterrupted(f"study stopped after {result.done} of {len(todo)} runs; the tables hold what "
                               "finished; run the same command again to resume", out)
    return result


def _line(index: int, total: int, outcome: dict[str, Any]) -> str:
    head = f"[{index}/{total}] {outcome['variant']} seed {outcome['seed']}"
    if outcome["status"] != "ok":
        return f"{head}: {outcome['status']}: {outcome.get('message', '')}"
    r = outcome["result"]
    f = r["figures"]
    pct = (lambda x: "n/a" if x is None else f"{100 * x:.1f}%")
    return (f"{head}: OVLP {pct(f['ovlp_sensitivity'])} at {f['ovlp_fa_per_24h']:.2f} FA/24h, specificity "
            f"{pct(f['specificity'])}, SzCORE F1 {pct(f['szcore_f1'])} ({r['elapsed_s'] / 60:.1f} min)")


def _record(outcome: dict[str, Any], result: StudyResult, index: int, total: int,
            status: Callable[[str], None] | None) -> bool:
    """Account for one finished run (one line to ``status``, else to the log); False when it was interrupted."""
    line = _line(index, total, outcome)
    if outcome["status"] == "ok":
        result.done += 1
    elif outcome["status"] == "failed":
        result.failed.append(outcome)
        line += f" (see {outcome['run_dir']}/run.log)"
    if status is not None:
        status(line)
    elif outcome["status"] == "ok":
        log.info("%s", line)
    else:
        log.error("%s", line)
    return outcome["status"] != "interrupted"


def _run_all(todo: list[RunSpec], store: Path, split: str, jobs: int, threads: int, result: StudyResult,
             progress: bool, status: Callable[[str], None] | None, executor: parallel.Executor | None) -> None:
    """Every run through :func:`seizure.parallel.run`; an interrupted run (Ctrl-C reaches the
    workers too: they stop at a step boundary and save ``last.pt``) stops the study."""
    index = 0

    def record(_i: int, outcome: dict[str, Any]) -> bool:
        nonlocal index
        index += 1
        if not _record(outcome, result, index, len(todo), status):
            raise KeyboardInterrupt
        return outcome["status"] == "ok"

    inline = jobs == 1 and (executor is None or executor.kind == "local")
    res = parallel.run([job_of(s, store, split, 1 if inline else jobs, threads) for s in todo], execute, jobs,
                       progress=progress, executor=executor, on_result=record,
                       setup=functools.partial(init_worker, threads), name=lambda job: f"{job['variant']}-seed{job['seed']}",
                       desc=f"study {result.study.name}", unit="run")
    for failure in res.failures:  # the worker process died (killed, out of memory)
        spec = todo[failure.index]
        index += 1
        _record(record_failure(spec, f"worker process failed: {failure.reason}"), result, index, len(todo), status)
