"""Training room: ``train(store_path, out_dir, cfg, progress) -> TrainResult``.

The implementation lives in :mod:`seizure.training` (config, sampler, loop, dev
evaluation); this module is the room's public entry point.
"""

from seizure.training.config import ExperimentConfig, PostprocessConfig, TrainConfig, load_config, to_toml
from seizure.training.loop import TrainingInterrupted, TrainResult, train

__all__ = ["ExperimentConfig", "PostprocessConfig", "TrainConfig", "TrainResult", "TrainingInterrupted",
           "load_config", "to_toml", "train"]

from seizure.api import callable_module, train as _train  # noqa: E402

callable_module(__name__, _train)  # ``seizure.train(...)`` still calls the API once this module is imported
