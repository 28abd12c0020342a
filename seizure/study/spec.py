"""Study files: one varying axis around a base experiment config.

A study file (TOML, under ``configs/study/``) looks like::

    [study]
    axis = "cell"                        # one of AXES
    base = "../paper_cnn_lstm.toml"      # experiment config, relative to this file
    seeds = 3                            # runs per variant: train.seed = 0 .. seeds-1
    reference = "lstm"                   # optional: the variant the others are compared with
                                         # (default REFERENCES[axis])
    set = ["train.epochs=10"]            # optional overrides of the base, for every variant
    description = "..."                  # optional, shown above the table

    [variants.lstm]                      # one table per variant, in display order
    note = "..."                         # optional
    model = { cell = "lstm" }            # config tables merged over the base

Every variant must set its study's axis key (``model.cell`` for ``cell``); it may set
other keys too (e.g. minimalRNN with critical initialization changes the cell and the
initializer), and the results table lists each variant's differences from the base.
Unknown keys, bad values and overrides that fight the variants are refused with a
:class:`~seizure.errors.ConfigError` naming the file, the variant and the key.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seizure import config
from seizure.errors import ConfigError
from seizure.training.config import ExperimentConfig, from_dict, to_toml

# axis name -> the config key every variant of such a study sets
AXES: dict[str, str] = {
    "cell": "model.cell",
    "initializer": "model.init",
    "regularizer": "model.regularizers",
}
# axis name -> the variant every other one is compared with (the paper's choice on that axis)
REFERENCES: dict[str, str] = {"cell": "lstm", "initializer": "orthogonal", "regularizer": "none"}
STUDY_KEYS = ("axis", "base", "description", "name", "reference", "seeds", "set")
VARIANT_KEYS = ("model", "note", "postprocess", "train")
MAX_SEEDS = 100
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Variant:
    """One point of the axis: config tables merged over the base."""

    name: str
    tables: dict[str, Any]
    note: str = ""

    def keys(self) -> list[str]:
        """The dotted config keys this variant sets."""
        return _leaves(self.tables)


@dataclass(frozen=True)
class Study:
    """A validated study: its axis, base config, seeds, overrides and variants."""

    path: Path
    name: str
    axis: str
    base_path: Path
    seeds: tuple[int, ...]
    overrides: tuple[str, ...]
    variants: tuple[Variant, ...]
    description: str = ""
    reference: str = ""      # the variant the paired comparisons are made against

    def base_data(self) -> dict[str, Any]:
        """The base config (with the study's and the caller's overrides) as a dict."""
        return config.apply_overrides(config.load_toml(self.base_path), list(self.overrides))

    def base_config(self) -> ExperimentConfig:
        return from_dict(self.base_data())

    def config(self, variant: Variant, seed: int) -> ExperimentConfig:
        """The resolved config of one run (ConfigError naming the variant)."""
        data = config.merge(self.base_data(), variant.tables)
        data = config.apply_overrides(data, [f"train.seed={int(seed)}"])
        try:
            return from_dict(data)
        except ConfigError as exc:
            raise ConfigError(f"variant {variant.name!r}: {exc.reason}", self.path) from None

    def variant(self, name: str) -> Variant:
        for v in self.variants:
            if v.name == name:
                return v
        raise ConfigError(f"unknown variant {name!r}; valid: {', '.join(sorted(v.name for v in self.variants))}",
                          self.path)


def config_hash(cfg: ExperimentConfig) -> str:
    """Identity of a resolved config (seed included): sha256 of its TOML, 16 hex digits."""
    return hashlib.sha256(to_toml(cfg).encode()).hexdigest()[:16]


def _leaves(table: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key, value in table.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict) and value and not key.endswith("params"):
            out.extend(_leaves(value, name))
        else:
            out.append(name)
    return out


def _overlaps(a: str, b: str) -> bool:
    """True when one dotted key is the other or contains it (``model.init`` / ``model.init.conv``)."""
    pa, pb = a.split("."), b.split(".")
    n = min(len(pa), len(pb))
    return pa[:n] == pb[:n]


def _unknown(keys: list[str], valid: tuple[str, ...], where: str, path: Path) -> None:
    bad = sorted(set(keys) - set(valid))
    if bad:
        raise ConfigError(f"unknown key {bad[0]!r} in {where}; valid: {', '.join(valid)}", path)


def load_study(path: str | Path, *, seeds: int | None = None, overrides: list[str] | tuple[str, ...] = (),
               base: str | Path | None = None, only: list[str] | tuple[str, ...] | None = None) -> Study:
    """Read and validate a study file.

    ``seeds`` replaces the file's seed count, ``overrides`` (``key=value``) apply to the
    base of every variant after the file's own ``set``, ``base`` replaces the file's base
    config (e.g. a CPU-sized one), ``only`` keeps the named variants (in the file's
    order). Every variant's config is built once here, so a bad key fails before any run
    starts.
    """
    path = Path(path)
    raw = config.load_toml(path)
    _unknown(list(raw), ("study", "variants"), "the study file (top level)", path)
    head = raw.get("study")
    if not isinstance(head, dict):
        raise ConfigError("missing [study] table (axis, base, seeds)", path)
    _unknown(list(head), STUDY_KEYS, "[study]", path)
    axis = head.get("axis")
    if axis not in AXES:
        raise ConfigError(f"[study] axis must be one of {', '.join(sorted(AXES))}, got {axis!r}", path)
    if base is not None:
        base_path = Path(base)
    elif isinstance(head.get("base"), str):
        base_path = path.parent / head["base"]
    else:
        raise ConfigError("[study] base must name the base experiment config (a path relative to the study file)",
                          path)
    if not base_path.is_file():
        raise ConfigError(f"base config not found: {base_path}", path)
    n_seeds = head.get("seeds", 3) if seeds is None else seeds
    if isinstance(n_seeds, bool) or not isinstance(n_seeds, int) or not 1 <= n_seeds <= MAX_SEEDS:
        where = "--seeds" if seeds is not None else "[study] seeds"
        raise ConfigError(f"{where} must be an integer from 1 to {MAX_SEEDS}, got {n_seeds!r}", path)
    file_sets = head.get("set", [])
    if not isinstance(file_sets, list) or not all(isinstance(s, str) for s in file_sets):
        raise ConfigError("[study] set must be a list of 'key=value' strings", path)
    for name in ("name", "description", "reference"):
        if name in head and not isinstance(head[name], str):
            raise ConfigError(f"[study] {name} must be a string, got {head[name]!r}", path)
    name = head.get("name", path.stem)
    if not _NAME.match(name):
        raise ConfigError(f"[study] name must be letters, digits, '.', '_' or '-', got {name!r}", path)

    variants = _variants(raw.get("variants"), axis, path)
    if only is not None:
        names = [v.name for v in variants]
        unknown = [n for n in only if n not in names]
        if unknown or not only:
            raise ConfigError(f"unknown variant {unknown[0] if unknown else ''!r} (--only); valid: "
                              f"{', '.join(sorted(names))}", path)
        variants = [v for v in variants if v.name in only]
    all_sets = [*file_sets, *overrides]
    _check_overrides(all_sets, variants, axis, path)
    reference = head.get("reference", REFERENCES[axis])
    names = [v.name for v in variants]
    if "reference" in head and reference not in _names(raw):
        raise ConfigError(f"[study] reference {reference!r} is not a variant; valid: "
                          f"{', '.join(sorted(_names(raw)))}", path)
    if reference not in names:  # --only left it out (or the axis default is absent): compare with the first
        reference = names[0]
    study = Study(path=path, name=name, axis=axis, base_path=base_path, seeds=tuple(range(n_seeds)),
                  overrides=tuple(all_sets), variants=tuple(variants), description=head.get("description", ""),
                  reference=reference)
    try:
        study.base_config()
    except ConfigError as exc:
        raise ConfigError(f"base config {base_path} with the overrides: {exc.reason}", path) from None
    for v in variants:
        study.config(v, 0)
    return study


def _names(raw: dict[str, Any]) -> list[str]:
    table = raw.get("variants")
    return list(table) if isinstance(table, dict) else []


def _variants(table: Any, axis: str, path: Path) -> list[Variant]:
    if not isinstance(table, dict) or not table:
        raise ConfigError("no variants: add [variants.NAME] tables, one per point of the axis", path)
    out = []
    axis_key = AXES[axis]
    for name, body in table.items():
        if not _NAME.match(name):
            raise ConfigError(f"variant name {name!r} must be letters, digits, '.', '_' or '-' "
                              "(it names the run folder)", path)
        if not isinstance(body, dict):
            raise ConfigError(f"variant {name!r} must be a table of config overrides", path)
        extra = "" if "recipe" not in body else " (the recipe is the store's, shared by every variant)"
        bad = sorted(set(body) - set(VARIANT_KEYS))
        if bad:
            raise ConfigError(f"unknown key {bad[0]!r} in variant {name!r}; valid: {', '.join(VARIANT_KEYS)}{extra}",
                              path)
        note = body.get("note", "")
        if not isinstance(note, str):
            raise ConfigError(f"variant {name!r}: note must be a string, got {note!r}", path)
        tables = {k: v for k, v in body.items() if k != "note"}
        for section, value in tables.items():
            if not isinstance(value, dict):
                raise ConfigError(f"variant {name!r}: {section} must be a table of config keys, got {value!r}", path)
        variant = Variant(name, tables, note)
        keys = variant.keys()
        if not any(k.split(".")[:len(axis_key.split("."))] == axis_key.split(".") for k in keys):
            raise ConfigError(f"variant {name!r} does not set {axis_key}, the key of this study's axis {axis!r}", path)
        if any(_overlaps(k, "train.seed") for k in keys):
            raise ConfigError(f"variant {name!r} sets train.seed; seeds are the study's (one run per seed)", path)
        out.append(variant)
    return out


def _check_overrides(overrides: list[str], variants: list[Variant], axis: str, path: Path) -> None:
    for text in overrides:
        parts, _ = config.parse_override(text)
        key = ".".join(parts)
        if _overlaps(key, "train.seed"):
            raise ConfigError(f"override {text!r}: train.seed is set by the study (one run per seed; use --seeds)",
                              path)
        for v in variants:
            clash = next((k for k in v.keys() if _overlaps(k, key)), None)
            if clash is not None:
                raise ConfigError(f"override {text!r} conflicts with variant {v.name!r}, which sets {clash} "
                                  f"(axis {axis!r}); the variants decide it", path)
