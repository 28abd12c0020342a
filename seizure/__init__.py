"""EEG seizure detection: TUSZ ingestion, CNN + recurrent models, NEDC and SzCORE scoring."""

__version__ = "0.1.0"
