"""Models: CNN front-ends, recurrent back-ends, initializers and regularizers by name.

``build_model(cfg, n_channels, n_features, frames_per_s)`` returns a pure ``nn.Module``
whose ``forward(x (B, T_frames, C, F), mask (B, C) | None)`` gives one logit per second.
"""

from seizure.models.config import InitConfig, ModelConfig, RegularizerConfig
from seizure.models.frontends import FRONTENDS
from seizure.models.init import INITIALIZERS
from seizure.models.network import SeizureNet, build_model
from seizure.models.recurrent import CELLS
from seizure.models.regularizers import REGULARIZERS

__all__ = [
    "CELLS", "FRONTENDS", "INITIALIZERS", "REGULARIZERS",
    "InitConfig", "ModelConfig", "RegularizerConfig", "SeizureNet", "build_model",
]
