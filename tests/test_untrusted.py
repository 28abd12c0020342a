"""Untrusted inputs: malicious checkpoints are refused without running their payload, names
with ``../`` cannot write outside the output folder, bad configs are refused naming the key."""

import dataclasses
import os
import pickle
import re
from pathlib import Path

import pytest
import torch

from bad_inputs import CASES, corpus_path, run_cli, tiny_checkpoint, tiny_store, train_argv, write_case
from seizure import checkpoint
from seizure.errors import CheckpointError
from seizure.store import FeatureStore

GOOD = CASES["edf/record_count_unknown"]  # a valid 20 s recording with its csv_bi
REFUSED = r"refused: the file holds more than plain data and would run code \(it calls io\.open\)"


class Payload:
    """Unpickling this object opens (creates) ``marker`` for writing: code run by a checkpoint."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def malicious_files(folder: Path, marker: Path) -> dict[str, Path]:
    """The payload in every container torch.load might be handed."""
    evil = {"format": checkpoint.FORMAT, "version": checkpoint.VERSION, "summary": Payload(marker)}
    files = {"zip": folder / "zip.pt", "legacy": folder / "legacy.pt"}
    torch.save(evil, files["zip"])
    torch.save(evil, files["legacy"], _use_new_zipfile_serialization=False)
    for protocol in (0, 2, pickle.HIGHEST_PROTOCOL):
        files[f"pickle{protocol}"] = folder / f"pickle{protocol}.pt"
        files[f"pickle{protocol}"].write_bytes(pickle.dumps(evil, protocol=protocol))
    return files


def test_the_payload_is_real(tmp_path):
    """Loaded without weights_only, the file does run code: the tests below would catch it."""
    marker = tmp_path / "pwned"
    files = malicious_files(tmp_path, marker)
    torch.load(files["zip"], weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("kind", ["zip", "legacy", "pickle0", "pickle2", f"pickle{pickle.HIGHEST_PROTOCOL}"])
def test_malicious_checkpoint_is_refused_and_never_runs(tmp_path, kind):
    marker = tmp_path / "pwned"
    path = malicious_files(tmp_path, marker)[kind]
    with pytest.raises(CheckpointError, match=r"\.pt: (refused: .*would run code|not a readable PyTorch checkpoint)"):
        checkpoint.load(path)
    with pytest.raises(CheckpointError):
        checkpoint.read(path)
    assert not marker.exists()
    if kind in ("zip", "legacy"):  # torch's own containers: the message says why
        with pytest.raises(CheckpointError, match=REFUSED):
            checkpoint.read(path)


def test_score_refuses_a_malicious_model_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    model = malicious_files(tmp_path, marker)["zip"]
    edf = write_case(GOOD, tmp_path / "in", "rec")
    code, out, err = run_cli(["score", str(model), str(edf), "--out", str(tmp_path / "out")])
    assert code == 1 and re.search(rf"error: {re.escape(str(model))}: {REFUSED}", err), out + err
    assert not marker.exists() and not (tmp_path / "out" / "rec.csv_bi").exists()


def test_train_refuses_a_malicious_last_checkpoint_to_resume_from(tmp_path):
    marker = tmp_path / "pwned"
    store = tiny_store(tmp_path / "store")
    (tmp_path / "out").mkdir()
    malicious_files(tmp_path, marker)["zip"].rename(tmp_path / "out" / "last.pt")
    code, out, err = run_cli(["-q", *train_argv(store, tmp_path / "out")])
    assert code == 1 and re.search(rf"error: {re.escape(str(tmp_path / 'out' / 'last.pt'))}: {REFUSED}", err), err
    assert not marker.exists() and not (tmp_path / "out" / "best.pt").exists()


@pytest.mark.parametrize("content, message", [
    (b"", r"not a readable PyTorch checkpoint"),
    (b"PK\x03\x04 truncated zip", r"not a readable PyTorch checkpoint"),
    (None, r"not a seizure checkpoint \(expected format 'seizure-checkpoint'\)"),
])
def test_files_that_are_not_checkpoints_are_refused(tmp_path, content, message):
    path = tmp_path / "x.pt"
    if content is None:
        torch.save({"weights": torch.zeros(3)}, path)  # plain data, but not ours
    else:
        path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        checkpoint.load(path)
    with pytest.raises(CheckpointError, match="checkpoint file not found"):
        checkpoint.load(tmp_path / "missing.pt")


# --------------------------------------------------------------------------- names with ../


def snapshot(root: Path, skip: tuple[Path, ...]) -> set[Path]:
    """Every path under ``root`` except those under ``skip``."""
    out = set()
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            p = Path(folder) / name
            if not any(p == s or s in p.parents for s in skip):
                out.add(p)
    return out


UNSAFE_STEMS = ["..\\..\\evil", "...", "a b;rm -rf ~", ".hidden", "..\\store2\\x"]


def test_preprocess_keeps_unsafe_recording_names_inside_the_store(tmp_path):
    corpus, store = tmp_path / "corpus", tmp_path / "store"
    for i, stem in enumerate(UNSAFE_STEMS):
        folder, _ = corpus_path(corpus, i)
        write_case(GOOD, folder, stem)
        # the annotation's own bname points outside too: nothing may use it as a file name
        sidecar = folder / f"{stem}.csv_bi"
        sidecar.write_bytes(sidecar.read_bytes().replace(f"# bname = {stem}".encode(), b"# bname = ../../pwned"))
    before = snapshot(tmp_path, (store,))
    code, out, err = run_cli(["preprocess", str(corpus), str(store), "--set", "recipe.feature=raw"])
    assert code == 0, out + err
    assert "5 recording(s) found: 5 processed, 0 already done, 0 failed" in out
    assert snapshot(tmp_path, (store,)) == before  # nothing written outside the store
    ids = sorted(m.rec_id for m in FeatureStore(store).records())
    assert ids == ["a_b_rm_-rf_", "evil", "hidden", "unnamed", "x"]
    assert all(p.parent == store / "records" for p in (store / "records").iterdir())


def test_preprocess_refuses_two_files_that_map_to_one_id(tmp_path):
    corpus = tmp_path / "corpus"
    for i, stem in enumerate(["a b", "a_b"]):
        write_case(GOOD, corpus_path(corpus, i)[0], stem)
    code, _, err = run_cli(["preprocess", str(corpus), str(tmp_path / "store")])
    assert code == 1 and "error: " in err and "recording id a_b occurs twice" in err


def test_score_keeps_unsafe_recording_names_inside_its_output_folder(tmp_path):
    model = tiny_checkpoint(tmp_path / "model.pt")
    inputs = [write_case(GOOD, tmp_path / "in" / str(i), stem) for i, stem in enumerate(UNSAFE_STEMS)]
    listing = tmp_path / "list.txt"  # a list file naming inputs through '..'
    listing.write_text("".join(f"in/{i}/../{i}/{p.name}\n" for i, p in enumerate(inputs)))
    out = tmp_path / "out"
    before = snapshot(tmp_path, (out,))
    code, text, err = run_cli(["score", str(model), str(listing), "--out", str(out)])
    assert code == 0, text + err
    assert snapshot(tmp_path, (out,)) == before  # nothing written outside --out
    written = sorted(p.name for p in out.iterdir())
    assert len(written) == 2 * len(UNSAFE_STEMS) and all(not n.startswith(".") for n in written)
    assert all(p.parent == out for p in snapshot(out, ()))


def test_synth_writes_only_inside_its_output_folder_and_never_deletes_foreign_files(tmp_path):
    out = tmp_path / "corpus"
    before = snapshot(tmp_path, (out,))
    code, text, err = run_cli(["-q", "synth", str(out), "--hours", "0.2", "--patients", "3", "--seed", "3",
                               "--set", "recording_median_min=3"])
    assert code == 0, text + err
    assert snapshot(tmp_path, (out,)) == before
    assert all(out in p.parents for p in snapshot(out, ()))
    # --overwrite replaces only a corpus synth wrote: a folder of someone else's files is refused
    foreign = tmp_path / "mine"
    (foreign / "edf").mkdir(parents=True)
    (foreign / "edf" / "precious.edf").write_bytes(b"data")
    code, _, err = run_cli(["synth", str(foreign), "--hours", "0.2", "--overwrite"])
    assert code == 1 and "refusing to delete files this tool did not write" in err
    assert (foreign / "edf" / "precious.edf").read_bytes() == b"data"


# --------------------------------------------------------------------------- configs


@pytest.mark.parametrize("argv, toml, message", [
    (["preprocess", "C", "S"], "[recipe]\nfeature_param = {}\n",
     r"unknown config key 'recipe.feature_param'; valid keys here: feature, feature_params"),
    (["preprocess", "C", "S"], "[recipe]\nfs_hz = \"fast\"\n", r"config key 'recipe.fs_hz' must be a number, got str"),
    (["preprocess", "C", "S"], "[recpie]\nfeature = \"raw\"\n",
     r"unknown config key 'recpie'; valid keys here: model, postprocess, recipe, train"),
    (["preprocess", "C", "S", "--set", "recipe.notch_hz=60"], None,
     r"config key 'recipe.notch_hz' must be a list, got int 60"),
    (["preprocess", "C", "S", "--set", "recipe.feature=wavelet"], None, r"unknown feature 'wavelet'; valid features"),
    (["preprocess", "C", "S", "--set", "train.epochs=3"], None, r"override 'train.epochs=3' does not set the recipe"),
    (["synth", "O"], "[synth]\nseizure_snr = \"high\"\n", r"config key 'synth.seizure_snr' must be a number, got str"),
    (["synth", "O", "--set", "seizure_snrr=1"], None, r"unknown config key 'synth.seizure_snrr'; valid keys here"),
    (["synth", "O", "--set", "seizure_mix.xxsz=1"], None, r"seizure_mix has unknown type 'xxsz'; valid: absz"),
    (["train", "S", "O"], "[trainer]\nepochs = 3\n", r"unknown config key 'trainer'; valid keys here: model"),
    (["train", "S", "O"], "[model]\ncell = 3\n", r"config key 'model.cell' must be a string, got int 3"),
    (["train", "S", "O", "--set", "train.epoch=3"], None, r"unknown config key 'train.epoch'; valid keys here"),
    (["train", "S", "O", "--set", "train.epochs=two"], None, r"config key 'train.epochs' must be an integer, got str"),
    (["train", "S", "O", "--set", "model.cell=transformer"], None, r"unknown model.cell 'transformer'; valid: gru"),
    (["train", "S", "O"], "inherit = \"config.toml\"\n", r"inherit cycle"),
    (["train", "S", "O"], "[train]\nepochs = \n", r"invalid TOML"),
])
def test_bad_configs_are_refused_naming_the_key(tmp_path, argv, toml, message):
    names = {"C": tmp_path / "corpus", "S": tmp_path / "store", "O": tmp_path / "out"}
    argv = [str(names.get(a, a)) for a in argv]
    if toml is not None:
        (tmp_path / "config.toml").write_text(toml)
        argv += ["--config", str(tmp_path / "config.toml")]
    code, out, err = run_cli(argv)
    assert code == 1 and out == "", out + err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert re.search(message, err), err
    assert not any(names[k].exists() for k in "SO")  # refused before anything is written


def test_preprocess_knows_every_experiment_table():
    from seizure.corpus import EXPERIMENT_TABLES
    from seizure.training.config import ExperimentConfig

    assert set(EXPERIMENT_TABLES) == {f.name for f in dataclasses.fields(ExperimentConfig)}
