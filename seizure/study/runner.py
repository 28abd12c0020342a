"""Running a study's grid: resumable, in parallel processes, one failure never stops the rest.

Each run (variant x seed) lives in ``OUT/runs/<variant>/seed<k>/``::

    run.json            variant, seed and config hash (written when the run starts)
    resolved_config.toml, best.pt, last.pt, metrics.csv, training_curve.png   (seizure train)
    eval_probs.npz, eval_report.json, det.json                              (evaluation)
    result.json         the run's figures; written LAST, so it marks a finished run
    failed.json         the one-line error of a failed run (removed when it is retried)
    run.log             the run's log

A run is identified by its resolved config hash (seed included). A folder holding a
finished run of the same hash is skipped; an interrupted one resumes from ``last.pt``;
a folder holding another config is refused before anything starts (use another ``OUT``).
When the hashes differ only because the code gained config keys since the run was made,
the run is still the same: its saved ``resolved_config.toml``, read by the current code
(new keys at their defaults), equals the planned config, as when training resumes.
"""

from __future__ import annotations

import json
import logging
import os
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seizure.errors import ConfigError, SeizureError
from seizure.fsutil import atomic_write
from seizure.study.spec import Study, config_hash

log = logging.getLogger(__name__)

RESULT, FAILED, RUN = "result.json", "failed.json", "run.json"


@dataclass(frozen=True)
class RunSpec:
    """One run of the grid."""

    variant: str
    seed: int
    config: Any            # ExperimentConfig
    config_hash: str
    run_dir: Path

    @property
    def label(self) -> str:
        return f"{self.variant} seed {self.seed}"


def plan(study: Study, out_dir: str | Path) -> list[RunSpec]:
    """Every run of ``study``, seed-major (all variants of seed 0 first), so a partial
    study already has one complete pass over the axis."""
    runs = Path(out_dir) / "runs"
    specs = []
    for seed in study.seeds:
        for v in study.variants:
            cfg = study.config(v, seed)
            specs.append(RunSpec(v.name, seed, cfg, config_hash(cfg), runs / v.name / f"seed{seed}"))
    return specs


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from ``path``, or None when missing or unreadable."""
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def saved_config_matches(spec: RunSpec) -> bool:
    """True when the folder's ``resolved_config.toml``, read by the current code, is the planned config."""
    from seizure.training.config import load_config

    path = spec.run_dir / "resolved_config.toml"
    if not path.is_file():
        return False
    try:
        return load_config(path) == spec.config
    except SeizureError:
        return False


def same_config(spec: RunSpec, data: dict[str, Any]) -> bool:
    """Whether ``data`` (a run.json, result.json or failed.json) belongs to this run's config."""
    return data.get("config_hash") == spec.config_hash or saved_config_matches(spec)


def finished(spec: RunSpec) -> dict[str, Any] | None:
    """The run's result when it finished with this config, else None."""
    result = read_json(spec.run_dir / RESULT)
    if result is not None and same_config(spec, result):
        return result
    return None


def check_folders(specs: list[RunSpec]) -> None:
    """Refuse run folders that hold a run of another config (before anything starts); a
    folder whose run never got to train (no checkpoint, no saved config) is reused."""
    for spec in specs:
        trained = any((spec.run_dir / n).exists() for n in ("resolved_config.toml", "last.pt", "best.pt"))
        for name in (RUN, RESULT):
            data = read_json(spec.run_dir / name)
            if data is not None and trained and not same_config(spec, data):
                raise ConfigError(f"this folder holds a run of another config (hash {data.get('config_hash')}; "
                                  f"{spec.label} now resolves to {spec.config_hash}): the study file, --base, --set "
                                  "or the code changed; use another --out, or delete the folder to redo it",
                                  spec.run_dir)


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def threads_per_job(jobs: int) -> int:
    """Torch threads per run process so that ``jobs`` processes share the cores without oversubscription."""
    return max(1, available_cores() // jobs)


def machine(jobs: int, threads: int) -> str:
    """One line saying where and how runs are made."""
    import platform

    import torch

    return (f"{platform.system()} {platform.machine()}, {available_cores()} CPU cores available, torch "
            f"{torch.__version__}, {jobs} run(s) in parallel x {threads} torch thread(s)")


def job_of(spec: RunSpec, store: Path, split: str, jobs: int, threads: int) -> dict[str, Any]:
    """What a worker needs, as plain (picklable) data."""
    return {"variant": spec.variant, "seed": spec.seed, "config": spec.config.to_dict(),
            "config_hash": spec.config_hash, "run_dir": str(spec.run_dir), "store": str(store), "split": split,
            "threads": threads, "jobs": jobs}


def execute(job: dict[str, Any]) -> dict[str, Any]:
    """Train and evaluate one run in this process; returns its status, never raises a
    run's error (a failure is recorded in ``failed.json`` and ``run.log``)."""
    import torch

    from seizure.evaluation import evaluate_run
    from seizure.training.loop import TrainingInterrupted, train
    from seizure.training.config import from_dict

    run_dir = Path(job["run_dir"])
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / FAILED).unlink(missing_ok=True)
    handler = logging.FileHandler(run_dir / "run.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    pkg = logging.getLogger("seizure")
    old_level = pkg.level
    pkg.addHandler(handler)
    if pkg.getEffectiveLevel() > logging.INFO:
        pkg.setLevel(logging.INFO)
    old_threads = torch.get_num_threads()
    status = {"variant": job["variant"], "seed": job["seed"], "run_dir": str(run_dir)}
    t0 = time.monotonic()
    try:
        cfg = from_dict(job["config"])
        threads = cfg.train.threads or job["threads"]  # a config's explicit thread count wins, as in training
        torch.set_num_threads(threads)
        with atomic_write(run_dir / RUN) as fh:
            json.dump({k: job[k] for k in ("variant", "seed", "config_hash", "split")}, fh, indent=1)
        trained = train(job["store"], run_dir, cfg, progress=False)
        t_train = time.monotonic() - t0
        evaluated = evaluate_run(trained.best_path, job["store"], job["split"], run_dir)
        s = trained.summary
        history = trained.metrics
        train_s = float(history[-1]["elapsed_s"]) if history else t_train
        result = {
            "variant": job["variant"], "seed": job["seed"], "config_hash": job["config_hash"],
            **evaluated,
            "sparsity": s["sparsity"]["sparsity"] if "sparsity" in s else None,
            "train": {"epochs_run": s.get("epochs_run"), "best_epoch": s.get("best_epoch"),
                      "dev_sensitivity": s.get("dev_sensitivity"), "dev_fa_per_24h": s.get("dev_fa_per_24h"),
                      "dev_target_reached": s.get("dev_target_reached"), "train_s": train_s},
            "elapsed_s": time.monotonic() - t0,
            "machine": machine(job["jobs"], threads),
        }
        with atomic_write(run_dir / RESULT) as fh:
            json.dump(result, fh, indent=1, allow_nan=False)
            fh.write("\n")
        return {**status, "status": "ok", "result": result}
    except TrainingInterrupted as exc:
        return {**status, "status": "interrupted", "message": exc.reason}
    except Exception as exc:  # noqa: BLE001 - one failed run is recorded and the study goes on
        message = str(exc) if isinstance(exc, SeizureError) else f"{type(exc).__name__}: {exc}"
        logging.getLogger(__name__).error("run failed: %s\n%s", message, traceback.format_exc())
        return {**status, **_write_failure(run_dir, job["config_hash"], message, time.monotonic() - t0)}
    finally:
        torch.set_num_threads(old_threads)
        pkg.removeHandler(handler)
        pkg.setLevel(old_level)
        handler.close()


def _write_failure(run_dir: Path, config_hash: str, message: str, elapsed_s: float) -> dict[str, Any]:
    message = " ".join(message.split())[:500]
    run_dir.mkdir(parents=True, exist_ok=True)
    with atomic_write(run_dir / FAILED) as fh:
        json.dump({"config_hash": config_hash, "error": message, "elapsed_s": elapsed_s}, fh, indent=1)
    return {"status": "failed", "message": message}


def record_failure(spec: RunSpec, message: str) -> dict[str, Any]:
    """Record a run that failed outside :func:`execute` (its worker process died)."""
    return {"variant": spec.variant, "seed": spec.seed, "run_dir": str(spec.run_dir),
            **_write_failure(spec.run_dir, spec.config_hash, message, 0.0)}


def init_worker(threads: int) -> None:
    """Worker process start: leave Ctrl-C to the training loop (it saves last.pt and stops),
    one inter-op thread, ``threads`` intra-op threads."""
    import signal
    import threading

    import torch

    if threading.current_thread() is threading.main_thread():  # a Dask worker runs tasks in a thread
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # pragma: no cover - already set in this process
        pass
