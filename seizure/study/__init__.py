"""Study room: the paper's controlled comparisons as one command (``seizure study``).

A study file (``configs/study/*.toml``, see :mod:`seizure.study.spec`) names a base
experiment config and ONE varying axis (cell, initializer or regularizer); each variant
is a set of config overrides, trained with several seeds on one feature store.
:func:`run_study` runs the grid (resumable, in parallel processes; see
:mod:`seizure.study.runner`), scores every run on the store's eval split at its
dev-chosen operating point (:func:`seizure.evaluation.evaluate_run`) and writes the tables and
the DET plot (:mod:`seizure.study.tables`).
"""

from seizure.study.grid import StudyInterrupted, StudyResult, evaluation_split, run_study
from seizure.study.runner import RunSpec, plan
from seizure.study.spec import AXES, Study, Variant, config_hash, load_study
from seizure.study.tables import write_tables

__all__ = ["AXES", "RunSpec", "Study", "StudyInterrupted", "StudyResult", "Variant", "config_hash",
           "evaluation_split", "load_study", "plan", "run_study", "write_tables"]
