"""Named synthetic profiles: the default corpus is unchanged, each shift profile (the shifted
development set and the held-out set) moves the data the way it says, and every profile's
corpus goes through preprocessing."""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from scipy import signal

from seizure.cli import main
from seizure.corpus import preprocess, recipe_from_config
from seizure.errors import ConfigError
from seizure.io import EdfReader
from seizure.store import FeatureStore
from seizure.synth import SynthParams, head, synthesize
from seizure.synth.artifacts import Ctx
from seizure.synth.channels import tcp_channels
from seizure.synth.plan import make_seizure, patient_traits, plan_corpus, shift_traits
from seizure.synth.profiles import HELD_OUT, PROFILES, SHIFTED_DEV, SMALL_LAB_SHARES, get_profile
from seizure.synth.scene import build_scene
from seizure.synth.seizures import render

ROOT = Path(__file__).resolve().parents[1]
# sha256 over the path and bytes of every .edf/.csv/.csv_bi of synthesize(OUT, 0.4, 7, patients=3),
# measured with the generator as it was before the profiles (commit 5f6657a).
DEFAULT_CORPUS_SHA256 = "ec136f674fc92d39f373067d9d8693e0c7fdd8ac47fcfe3ee90ec17c9d3c42fe"


def data_sha256(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.suffix in (".edf", ".csv", ".csv_bi"):
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def test_default_corpus_is_bit_for_bit_what_it_was(tmp_path):
    summary = synthesize(tmp_path / "a", 0.4, 7, patients=3)
    assert data_sha256(tmp_path / "a") == DEFAULT_CORPUS_SHA256
    assert summary.profile == "default"
    assert json.loads((tmp_path / "a" / "synth.json").read_text())["profile"] == "default"
    # the default profile, named, is the same corpus
    synthesize(tmp_path / "b", 0.4, 7, patients=3, profile="default")
    assert data_sha256(tmp_path / "b") == DEFAULT_CORPUS_SHA256


def test_unknown_profile_lists_the_valid_names(tmp_path, capsys):
    with pytest.raises(ConfigError, match="unknown synth profile 'nope'; valid: default, focal_evolving"):
        get_profile("nope")
    assert main(["synth", str(tmp_path / "x"), "--profile", "nope"]) == 1
    err = capsys.readouterr().err
    assert "nope" in err and "hard_negatives" in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()


def test_shift_knobs_are_validated():
    with pytest.raises(ConfigError, match="morphology_mix has unknown key 'wobble'"):
        SynthParams(morphology_mix={"wobble": 1.0})
    with pytest.raises(ConfigError, match="split_shares must sum to 1"):
        SynthParams(split_shares={"train": 0.5, "dev": 0.2, "eval": 0.2})
    with pytest.raises(ConfigError, match="line_hz must be 50 or 60"):
        SynthParams(line_hz=55.0)
    with pytest.raises(ConfigError, match="fs_choices_hz keys"):
        SynthParams(fs_choices_hz={"fast": 1.0})
    for name in PROFILES:
        get_profile(name).params()  # every profile builds


def test_cli_profile_is_recorded_and_set_applies_on_top(tmp_path, capsys):
    out = tmp_path / "hn"
    assert main(["synth", str(out), "--profile", "hard_negatives", "--hours", "0.2", "--patients", "3",
                 "--set", "line_noise_uv=9"]) == 0
    assert "profile hard_negatives" in capsys.readouterr().out
    info = json.loads((out / "synth.json").read_text())
    assert info["profile"] == "hard_negatives"
    assert info["params"]["line_noise_uv"] == 9
    assert info["params"]["artifact_rates_per_h"]["chewing"] == PROFILES["hard_negatives"].overrides[
        "artifact_rates_per_h"]["chewing"]
    assert "profile `hard_negatives`" in (out / "SYNTH.md").read_text()


def _seizures(plans):
    return [s for p in plans for s in p.seizures]


def test_focal_evolving_changes_morphology_onset_and_spread():
    base = _seizures(plan_corpus(12.0, 3, SynthParams()))
    prof = _seizures(plan_corpus(12.0, 3, get_profile("focal_evolving").params()))
    assert {s.morphology for s in base} == {"evolving"} and all(s.ramp == 0 for s in base)
    kinds = collections.Counter(s.morphology for s in prof)
    assert {"delta", "theta", "spike_wave", "lvfa", "evolving"} <= set(kinds)
    assert 0.3 < np.mean([s.ramp > 0 for s in prof]) < 0.7
    focal = [s for s in prof if not s.generalized and not s.subtle]
    focal_base = [s for s in base if not s.generalized and not s.subtle]
    assert np.median([s.width for s in focal]) < 0.85 * np.median([s.width for s in focal_base])
    assert np.median([s.speed for s in focal]) < 0.6 * np.median([s.speed for s in focal_base])
    share = {}
    for name in ("default", "focal_evolving"):  # share of seizure patients with a focal syndrome
        syndromes = {p.patient: p.traits.syndrome for p in plan_corpus(120.0, 3, get_profile(name).params())}
        share[name] = np.mean([s == "focal" for s in syndromes.values() if s != "none"])
    assert share["focal_evolving"] > share["default"] + 0.08


def _peak_hz(x: np.ndarray, fs: float, lo: float = 0.5, hi: float = 40.0) -> float:
    f, p = signal.welch(x, fs=fs, nperseg=int(4 * fs))
    band = (f >= lo) & (f <= hi)
    return float(f[band][np.argmax(p[band])])


@pytest.mark.parametrize("morphology, lo_hz, hi_hz", [("delta", 1.2, 3.3), ("theta", 3.0, 8.0),
                                                      ("spike_wave", 1.2, 3.3)])
def test_rendered_patterns_have_their_rhythm(morphology, lo_hz, hi_hz):
    params = SynthParams(morphology_mix={morphology: 1.0}, subtle_fraction=0.0)
    rng = np.random.default_rng(5)
    t = dataclasses.replace(patient_traits(rng, params, True), syndrome="focal", focus="T3")
    spec = make_seizure(rng, t, "fnsz", 20.0, 60.0, params)
    assert spec.morphology == morphology
    fs = 250.0
    wave = render(spec, Ctx(fs, 10.0))
    x = wave.data[head.INDEX["T3"], : int(60 * fs)]
    assert lo_hz <= _peak_hz(x, fs) <= hi_hz
    far = wave.data[head.INDEX["O2"], : int(60 * fs)]
    assert np.std(far) < 0.5 * np.std(x)  # focal: the far side is much weaker


def test_lvfa_onset_is_low_voltage_and_fast():
    params = SynthParams(morphology_mix={"lvfa": 1.0}, subtle_fraction=0.0)
    rng = np.random.default_rng(2)
    t = dataclasses.replace(patient_traits(rng, params, True), syndrome="focal", focus="F7")
    spec = make_seizure(rng, t, "fnsz", 10.0, 80.0, params)
    fs = 256.0
    x = render(spec, Ctx(fs, 10.0)).data[head.INDEX["F7"]]
    onset, later = x[: int(4 * fs)], x[int(40 * fs): int(60 * fs)]
    assert _peak_hz(onset, fs) >= 10.0
    assert np.std(onset) < 0.4 * np.std(later)


def test_hard_negatives_carry_many_more_artifacts():
    plans = plan_corpus(8.0, 4, SynthParams())
    counts, params = {}, {}
    for name in ("default", "hard_negatives"):
        params[name] = get_profile(name).params()
        counts[name] = collections.Counter(ev.kind for p in plans for ev in build_scene(p, params[name]).transients)
    for kind in ("chewing", "muscle", "blink", "eye_move", "pop", "rhythmic_train", "sweat", "shiver"):
        ratio = params["hard_negatives"].rate_per_h(kind) / params["default"].rate_per_h(kind)
        assert ratio >= 1.5
        assert counts["hard_negatives"][kind] > 0.6 * ratio * max(counts["default"][kind], 1), kind
    assert get_profile("hard_negatives").params().line_noise_uv >= 4 * SynthParams().line_noise_uv


def test_lab_shift_plans_other_rates_missing_electrodes_and_patient_gains():
    params = get_profile("lab_shift").params()
    plans = plan_corpus(12.0, 6, params)
    rates = {p.fs_hz for p in plans}
    assert rates <= {200.0, 500.0, 512.0, 1000.0} and len(rates) >= 3
    missing = [p for p in plans if p.missing]
    assert 0.2 < len(missing) / len(plans) < 0.6
    for p in missing:
        assert 1 <= len(p.missing) <= 2
        assert not set(p.missing) & set(p.layout.electrodes)
    # every file keeps the 16 TCP channels the recipes need, files without A1/A2 included
    many = plan_corpus(60.0, 6, dataclasses.replace(params, missing_electrode_probability=1.0))
    assert {p.template for p in many} >= {"ar_a_400", "ar_a_256"}
    assert min(len(tcp_channels(p.layout)) for p in many) >= 16
    assert all(p.missing for p in many if p.template == "ar_250")
    gains = {p.patient: p.traits.gain for p in plans}
    assert np.std(np.log(list(gains.values()))) > 0.15
    # the default draws nothing: traits are returned as they are
    t = patient_traits(np.random.default_rng(0), SynthParams(), True)
    assert shift_traits(np.random.default_rng(1), t, SynthParams()) is t


def test_the_two_shift_sets_are_disjoint_named_profiles():
    assert set(SHIFTED_DEV) | set(HELD_OUT) <= set(PROFILES) - {"default"}
    assert not set(SHIFTED_DEV) & set(HELD_OUT)


def _seizure_summary(plans):
    seizures = [sz for p in plans for sz in p.seizures]
    generalized = sum(sz.label in ("gnsz", "absz", "tnsz", "tcsz") for sz in seizures) / len(seizures)
    seconds = sum(p.duration_s for p in plans)
    return seizures, generalized, sum(sz.duration_s for sz in seizures) / seconds


def test_held_out_profiles_turn_the_knobs_they_name():
    default = plan_corpus(16.0, 4, SynthParams())
    d_seizures, d_generalized, d_burden = _seizure_summary(default)
    # generalised-heavy, lower-amplitude seizures
    gen = plan_corpus(16.0, 4, get_profile("generalized_subtle").params())
    g_seizures, g_generalized, _ = _seizure_summary(gen)
    assert g_generalized > d_generalized + 0.1
    assert np.median([sz.amplitude_uv for sz in g_seizures]) < np.median([sz.amplitude_uv for sz in d_seizures])
    # monitoring-unit recordings: longer, rarer seizures, fewer activation procedures
    params = get_profile("long_monitoring").params()
    long = plan_corpus(16.0, 4, params)
    assert np.median([p.duration_s for p in long]) > 1.5 * np.median([p.duration_s for p in default])
    assert _seizure_summary(long)[2] < d_burden
    assert params.hv_probability < SynthParams().hv_probability and params.artifact_scale > 1
    # another site: its rates, missing electrodes, wider patient gains
    site = plan_corpus(16.0, 4, get_profile("multi_site").params())
    assert {p.fs_hz for p in site} <= {250.0, 256.0, 400.0, 1024.0} and 1024.0 in {p.fs_hz for p in site}
    assert 0.05 < sum(bool(p.missing) for p in site) / len(site) < 0.5
    assert np.std(np.log([p.traits.gain for p in site])) > 0.25
    # all three at a small lab's size
    clinic = get_profile("small_clinic").params()
    assert clinic.split_shares == SMALL_LAB_SHARES
    assert clinic.seizure_snr < 1 and clinic.recording_median_min > 15 and clinic.fs_choices_hz


def test_small_lab_has_the_issue_sizes():
    prof = get_profile("small_lab")
    params = prof.params()
    assert params.split_shares == SMALL_LAB_SHARES
    plans = plan_corpus(prof.hours, 0, params)
    hours = {s: sum(p.duration_s for p in plans if p.split == s) / 3600 for s in ("train", "dev", "eval")}
    assert hours == pytest.approx({"train": 6.72, "dev": 1.4, "eval": 14.28}, abs=0.01)
    n_sz = {s: sum(len(p.seizures) for p in plans if p.split == s) for s in ("train", "dev", "eval")}
    assert 20 <= n_sz["train"] <= 50 and 5 <= n_sz["dev"] <= 20 and 50 <= n_sz["eval"] <= 110
    # and it carries the three shifts
    assert params.morphology_mix and params.missing_electrode_probability > 0
    assert params.rate_per_h("chewing") > SynthParams().rate_per_h("chewing")


@pytest.fixture(scope="module")
def demo_recipe():
    return recipe_from_config(ROOT / "configs" / "demo.toml")


@pytest.mark.parametrize("name", list(PROFILES))
def test_every_profile_corpus_preprocesses_cleanly(name, tmp_path, demo_recipe):
    corpus = tmp_path / "corpus"
    small = PROFILES[name].data()["split_shares"] == SMALL_LAB_SHARES
    hours = 0.6 if small else 0.3  # a small lab's dev split is 6.25 % of the hours: 2 min at least
    summary = synthesize(corpus, hours, 9, patients=3, profile=name)
    pre = preprocess(corpus, tmp_path / "store", demo_recipe)
    assert pre.failed == 0, pre.reasons()
    store = FeatureStore(tmp_path / "store")
    records = store.records()
    assert len(records) == len(summary.recordings)
    assert sum(r.n_seizures for r in records) == sum(len(r.seizures) for r in summary.recordings)


def test_lab_shift_files_lack_electrodes_and_hum_at_50_hz(tmp_path, demo_recipe):
    params = dataclasses.replace(get_profile("lab_shift").params(), missing_electrode_probability=1.0)
    corpus = tmp_path / "corpus"
    summary = synthesize(corpus, 0.2, 3, patients=3, params=params, profile="lab_shift")
    info = summary.recordings[0]
    assert info.missing_electrodes and info.fs_hz in (200.0, 500.0, 512.0, 1000.0)
    with EdfReader(corpus / info.path) as reader:
        labels = [s.label for s in reader.signals]
        for e in info.missing_electrodes:
            assert not any(lab.startswith(f"EEG {e}-") for lab in labels)
        idx = next(i for i, lab in enumerate(labels) if lab.startswith("EEG 26-"))  # unconnected input: line only
        x = reader.read(0.0, 60.0, indices=[idx])[0]
    assert abs(_peak_hz(x, info.fs_hz, 40.0, 70.0) - 50.0) < 1.0
    preprocess(corpus, tmp_path / "store", demo_recipe)
    rec = next(r for r in FeatureStore(tmp_path / "store").records() if r.rec_id in info.path)
    assert rec.channel_mask and not all(rec.channel_mask)  # the pairs needing a missing electrode are masked
