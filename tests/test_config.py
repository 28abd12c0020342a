from dataclasses import dataclass, field
from typing import Literal

import pytest

from seizure import config
from seizure.errors import ConfigError


@dataclass(frozen=True)
class Inner:
    lr: float = 1e-3
    epochs: int = 3
    cell: Literal["lstm", "gru"] = "lstm"


@dataclass(frozen=True)
class Outer:
    name: str = "x"
    inner: Inner = field(default_factory=Inner)
    tags: tuple[str, ...] = ()
    limit: float | None = None


def test_build_nested_and_coerce():
    cfg = config.build(Outer, {"inner": {"lr": 1, "cell": "gru"}, "tags": ["a", "b"]})
    assert cfg.inner.lr == 1.0 and isinstance(cfg.inner.lr, float)
    assert cfg.inner.cell == "gru" and cfg.tags == ("a", "b") and cfg.limit is None


@pytest.mark.parametrize(
    "data, match",
    [
        ({"inner": {"lrr": 1}}, r"unknown config key 'inner.lrr'"),
        ({"inner": {"epochs": "3"}}, r"'inner.epochs' must be an integer"),
        ({"inner": {"epochs": True}}, r"'inner.epochs' must be an integer"),
        ({"inner": {"cell": "rnn"}}, r"'inner.cell' must be one of \['lstm', 'gru'\]"),
        ({"name": 3}, r"'name' must be a string"),
        ({"tags": "a"}, r"'tags' must be a list"),
    ],
)
def test_build_rejects_naming_the_key(data, match):
    with pytest.raises(ConfigError, match=match):
        config.build(Outer, data)


def test_overrides_and_inherit(tmp_path):
    (tmp_path / "base.toml").write_text('name = "base"\n[inner]\nlr = 0.01\nepochs = 5\n')
    (tmp_path / "child.toml").write_text('inherit = "base.toml"\n[inner]\nepochs = 7\n')
    data = config.load_toml(tmp_path / "child.toml")
    assert data == {"name": "base", "inner": {"lr": 0.01, "epochs": 7}}
    data = config.apply_overrides(data, ["inner.cell=gru", "inner.lr=2e-4", "tags=['q']"])
    cfg = config.build(Outer, data)
    assert cfg.inner.cell == "gru" and cfg.inner.lr == 2e-4 and cfg.tags == ("q",)
    assert config.to_dict(cfg)["tags"] == ["q"]


def test_bad_override_and_cycle(tmp_path):
    with pytest.raises(ConfigError, match="key=value"):
        config.apply_overrides({}, ["inner.lr"])
    (tmp_path / "a.toml").write_text('inherit = "b.toml"\n')
    (tmp_path / "b.toml").write_text('inherit = "a.toml"\n')
    with pytest.raises(ConfigError, match="inherit cycle"):
        config.load_toml(tmp_path / "a.toml")
    (tmp_path / "bad.toml").write_text("x = = 1\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        config.load_toml(tmp_path / "bad.toml")
