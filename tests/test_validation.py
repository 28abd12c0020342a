"""Parameters are validated once, when a config, recipe or model spec is built, naming the key."""

from __future__ import annotations

import pytest

from seizure.errors import ConfigError
from seizure.models import ModelConfig
from seizure.models.config import InitConfig
from seizure.preprocess.recipe import Recipe
from seizure.training.config import load_config


@pytest.mark.parametrize("override,key", [
    ("model.init.conv=kaiming", "model.init.conv"),
    ("model.init.recurrent_hidden=nope", "model.init.recurrent_hidden"),
    ("model.cell=transformer", "model.cell"),
    ("train.eval_window_s=0", "train.eval_window_s"),
    ("recipe.montage=banana", "recipe.montage"),
    ("recipe.feature=wavelet", "feature"),
])
def test_a_bad_value_is_refused_at_config_load_with_the_key_named(override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(None, [override])


def test_the_model_spec_checks_itself_when_built():
    with pytest.raises(ConfigError, match=r"unknown model\.init\.output 'nope'; valid: "):
        ModelConfig(init=InitConfig(output="nope"))


def test_the_recipe_checks_its_feature_window_when_built():
    with pytest.raises(ConfigError, match="window_s"):
        Recipe(feature="spectrogram", feature_params={"window_s": 1e-6})


def test_build_model_trusts_a_built_spec(monkeypatch):
    """Nothing downstream re-checks the names: build_model does not call the registry check."""
    from seizure.models import build_model
    from seizure.models import config as model_config

    cfg = ModelConfig(cell="gru", hidden_size=4, embed_dim=4, conv2d_channels=(2,))
    monkeypatch.setattr(model_config, "_check_names", lambda cfg: (_ for _ in ()).throw(AssertionError("re-checked")))
    build_model(cfg, 22, 26, 10)
