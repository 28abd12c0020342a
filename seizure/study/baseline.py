"""The study's fitted baseline row: the band-power baseline (:mod:`seizure.baselines.bandpower`)
fitted once per study on the split plan's ``fit`` recordings, operated on its ``tune``
recordings with the base config's post-processing rule, scored on the scored split.

Written into ``OUT/baseline/``: ``eval_report.json`` and ``det.json`` (as a run's, with the
equal-FA points), ``result.json`` (written last: its figures, the split plan and what it
was fitted on) or ``failed.json`` (one line; e.g. a store whose EDF files are gone). A
finished baseline with the same key (store recipe, feature cache key, split plan, rule,
seed) is kept; anything else is redone (its features are cached in the store, so a refit
takes seconds).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

from seizure.errors import SeizureError
from seizure.fsutil import atomic_write
from seizure.study.runner import FA_TARGETS, FAILED, RESULT, read_json

log = logging.getLogger(__name__)

NAME = "bandpower baseline"
FOLDER = "baseline"


def _key(store, plan, pp, seed: int) -> dict[str, Any]:
    from seizure.baselines import bandpower as bp

    return {"recipe_hash": store.recipe_hash, "features": bp.cache_key(store.recipe), "seed": seed,
            "splits": plan.to_dict(), "postprocess": dataclasses.asdict(pp), "fa_targets": list(FA_TARGETS)}


def run_baseline(store, plan, out_dir: str | Path, pp, *, seed: int = 0, progress: bool = False, jobs: int = 1,
                 executor=None) -> dict[str, Any]:
    """Fit, operate and score the band-power baseline (see the module docstring; its features
    are computed by ``jobs`` workers of ``executor``, :mod:`seizure.parallel`); returns its ``result.json`` content, or
    ``{"status": "failed", "error": ...}`` (recorded, never raised)."""
    from seizure.baselines import bandpower as bp
    from seizure.evaluation import equal_fa, figures, score_split

    out = Path(out_dir)
    key = _key(store, plan, pp, seed)
    done = read_json(out / RESULT)
    if done is not None and done.get("key") == key:
        return done
    out.mkdir(parents=True, exist_ok=True)
    (out / FAILED).unlink(missing_ok=True)
    (out / RESULT).unlink(missing_ok=True)
    try:
        bp.cache_features(plan.fit + plan.tune + store.records(plan.score_split), store.recipe,
                          bp.default_cache_dir(store), jobs, progress=progress, executor=executor)
        model = bp.fit(store, "train", seed=seed, records=plan.fit, progress=progress)
        model, tune_probs = bp.operate(model, store, plan.tune_split, pp, records=plan.tune, progress=progress)
        records = store.records(plan.score_split)
        probs = [bp.predict_probs(model, r) for r in records]
        report, curve = score_split(records, probs, model.operating_point)
        points = equal_fa(plan.tune, tune_probs, records, probs, pp, FA_TARGETS)
    except (SeizureError, OSError, ValueError) as exc:
        message = " ".join(str(exc).split())[:500]
        log.error("the band-power baseline failed: %s", message)
        with atomic_write(out / FAILED) as fh:
            json.dump({"key": key, "error": message}, fh, indent=1)
        return {"status": "failed", "error": message}
    values = figures(records, report)
    with atomic_write(out / "eval_report.json") as fh:
        json.dump({"split": plan.score_split, "operating_point": dataclasses.asdict(model.operating_point),
                   "figures": values, "splits": plan.to_dict(), "equal_fa": points, "report": report.to_dict()},
                  fh, indent=1, allow_nan=False)
        fh.write("\n")
    with atomic_write(out / "det.json") as fh:
        json.dump(curve.to_dict(), fh, allow_nan=False)
        fh.write("\n")
    result = {"status": "ok", "key": key, "figures": values, "split": plan.score_split,
              "operating_point": dataclasses.asdict(model.operating_point), "baseline": model.summary()}
    with atomic_write(out / RESULT) as fh:
        json.dump(result, fh, indent=1, allow_nan=False)
        fh.write("\n")
    log.info("band-power baseline on %s: OVLP %.1f%% at %.2f FA/24h", plan.score_split,
             100 * (values["ovlp_sensitivity"] or 0), values["ovlp_fa_per_24h"] or 0)
    return result
