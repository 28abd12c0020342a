"""EEG seizure detection: TUSZ ingestion, CNN + recurrent models, NEDC and SzCORE scoring.

The notebook API (:mod:`seizure.api`, examples in ``docs/api.md``)::

    seizure.synth(out_dir, hours, seed)               # a synthetic TUSZ-layout corpus
    seizure.preprocess(corpus, store, config=...)     # TUSZ tree or BIDS dataset -> feature store
    seizure.train(store, out_dir, config=...)         # -> result.best_path
    seizure.score_files(model, inputs, out_dir)       # EDF -> .csv_bi, _events.tsv (flat or BIDS)
    seizure.score_raw(model, raw)                     # mne.io.Raw -> probabilities, events, .to_annotations()
    seizure.evaluate_paths(ref, hyp)                  # NEDC + SzCORE report
"""

__version__ = "0.1.0"

from seizure.api import evaluate_paths, preprocess, score_files, score_raw, synth, train  # noqa: E402

__all__ = ["__version__", "evaluate_paths", "preprocess", "score_files", "score_raw", "synth", "train"]
