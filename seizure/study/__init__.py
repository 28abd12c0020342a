"""Study room: the paper's controlled comparisons as one command (``seizure study``).

A study file (``configs/study/*.toml``, see :mod:`seizure.study.spec`) names a base
experiment config and ONE varying axis (cell, initializer or regularizer); each variant
is a set of config overrides, trained with several seeds on one feature store.
:func:`run_study` runs the grid (resumable, in parallel processes; see
:mod:`seizure.study.runner`), scores every run on the split its split plan leaves unseen
(eval; dev when the store has none and a tuning split is carved from train,
:func:`seizure.store.split_plan`) at the operating point chosen on the tuning split
(:func:`seizure.evaluation.evaluate_run`), makes the fitted band-power baseline once
(:mod:`seizure.study.baseline`) and writes the tables with patient-level bootstrap
intervals and paired comparisons, and the DET plot (:mod:`seizure.study.tables`).
"""

from seizure.study.grid import StudyInterrupted, StudyResult, run_study
from seizure.study.runner import RunSpec, plan
from seizure.study.spec import AXES, Study, Variant, config_hash, load_study
from seizure.study.tables import write_tables

__all__ = ["AXES", "RunSpec", "Study", "StudyInterrupted", "StudyResult", "Variant", "config_hash",
           "load_study", "plan", "run_study", "write_tables"]
