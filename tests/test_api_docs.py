"""The public API: ``import seizure`` exports six documented functions, and the five
examples of ``docs/api.md`` run as printed."""

from __future__ import annotations

import importlib
import inspect
import re
import shutil
from pathlib import Path

import pytest

import seizure

ROOT = Path(__file__).resolve().parents[1]
API = ("synth", "preprocess", "train", "score_files", "score_raw", "evaluate_paths")


def test_the_package_exports_the_documented_functions():
    for name in API:
        fn = getattr(seizure, name)
        assert callable(fn) and name in seizure.__all__
        assert (fn.__doc__ or "").strip(), name
    importlib.import_module("seizure.synth")
    importlib.import_module("seizure.preprocess.pipeline")
    # importing the subpackages of the same names rebinds them: still callable, still the API
    assert callable(seizure.preprocess) and callable(seizure.synth)
    assert seizure.preprocess.pipeline.EdfPipeline is not None and seizure.synth.SynthParams is not None
    assert "store" in inspect.signature(seizure.api.train).parameters


def test_the_five_examples_of_docs_api_run(tmp_path, monkeypatch):
    text = (ROOT / "docs" / "api.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 5
    shutil.copytree(ROOT / "tests" / "data" / "bids", tmp_path / "bids_dataset")
    monkeypatch.chdir(tmp_path)
    for i, code in enumerate(blocks, 1):
        try:
            exec(compile(code, f"docs/api.md example {i}", "exec"), {"__name__": f"example{i}"})
        except Exception as exc:  # name the example that broke
            pytest.fail(f"docs/api.md example {i} failed: {type(exc).__name__}: {exc}")
    assert (tmp_path / "bids_dataset/derivatives/seizure/dataset_description.json").is_file()
    assert len(list((tmp_path / "bids_dataset/derivatives/seizure").rglob("*_events.tsv"))) == 4
