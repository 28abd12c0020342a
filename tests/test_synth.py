"""The synthetic TUSZ corpus: layout, headers, annotations, determinism, and signal content."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from scipy import signal

from seizure.cli import main
from seizure.errors import ConfigError, SeizureError
from seizure.io import EdfReader, read_edf
from seizure.io.annotations import read_annotations
from seizure.preprocess.montage import apply
from seizure.synth import SynthParams, synthesize, synthesize_long_recording
from seizure.synth import head
from seizure.synth.artifacts import Transient
from seizure.synth.channels import TEMPLATES, tcp_channels
from seizure.synth.plan import SPLITS, RecordingPlan, make_seizure, patient_traits, plan_corpus
from seizure.synth.render import virtual_blocks, write_recording
from seizure.synth.scene import build_scene

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")  # no overflow / invalid value anywhere

EDF_PATH = re.compile(r"^edf/(train|dev|eval)/([a-z]{8})/s(\d{3})_(\d{4})/(01_tcp_ar|02_tcp_le|03_tcp_ar_a)/"
                      r"\2_s\3_t(\d{3})\.edf$")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    summary = synthesize(out, 0.17, seed=11, patients=3)
    return out, summary


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted((root / "edf").rglob("*")) if p.is_file()}


def _plan(seizures=(), template="ar_250", fs=250.0, duration_s=240, seed=0, focus="T3", **traits):
    """A one-recording plan with chosen seizures: ``seizures`` is ``[(label, onset_s, duration_s), ...]``."""
    params = SynthParams(subtle_fraction=0.0)
    rng = np.random.default_rng(seed)
    t = dataclasses.replace(patient_traits(rng, params, True), syndrome="focal", focus=focus, **traits)
    specs = tuple(make_seizure(rng, t, lab, on, dur, params) for lab, on, dur in seizures)
    return RecordingPlan("eval", "aaaatest", 1, 2010, 0, template, fs, duration_s, seed + 1, t, specs)


def _tcp(edf: Path):
    m = apply(read_edf(edf), "tcp")
    sos = signal.butter(4, [1.0, 70.0], btype="bandpass", fs=m.fs_hz, output="sos")
    return m, signal.sosfiltfilt(sos, m.data, axis=1)


def _band_power_per_s(x: np.ndarray, fs: float, lo: float, hi: float) -> np.ndarray:
    """(channels, seconds) power in [lo, hi) Hz of each 1-s window."""
    n = int(x.shape[1] // fs)
    seg = x[:, : int(n * fs)].reshape(x.shape[0], n, int(fs))
    spec = np.abs(np.fft.rfft(seg * np.hanning(int(fs)), axis=2)) ** 2
    f = np.fft.rfftfreq(int(fs), 1.0 / fs)
    return spec[:, :, (f >= lo) & (f < hi)].sum(axis=2)


# --------------------------------------------------------------------------- layout, determinism


def test_layout_names_and_patient_wise_splits(corpus):
    root, summary = corpus
    edfs = sorted(p.relative_to(root).as_posix() for p in (root / "edf").rglob("*.edf"))
    assert len(edfs) == len(summary.recordings) >= 3
    split_of: dict[str, str] = {}
    for rel in edfs:
        m = EDF_PATH.match(rel)
        assert m, rel
        split, patient = m.group(1), m.group(2)
        assert split_of.setdefault(patient, split) == split  # never one patient in two splits
        for suffix in (".csv", ".csv_bi"):
            assert (root / rel).with_suffix(suffix).is_file()
    assert set(split_of.values()) == set(SPLITS)
    hours = {k: s.hours for k, s in summary.splits.items()}
    assert hours == pytest.approx({"train": 0.6 * 0.17, "dev": 0.2 * 0.17, "eval": 0.2 * 0.17}, abs=1 / 3600)
    meta = json.loads((root / "synth.json").read_text())
    assert meta["seed"] == 11 and meta["splits"]["train"]["files"] == summary.splits["train"].files
    assert "| eval |" in (root / "SYNTH.md").read_text()


def test_same_seed_same_bytes_other_seed_differs(corpus, tmp_path):
    root, _ = corpus
    again = synthesize(tmp_path / "a", 0.17, seed=11, patients=3, jobs=2)
    assert _files(tmp_path / "a") == _files(root)
    assert (tmp_path / "a" / "synth.json").read_bytes() == (root / "synth.json").read_bytes()
    assert again.splits == corpus[1].splits
    synthesize(tmp_path / "b", 0.17, seed=12, patients=3)
    assert _files(tmp_path / "b") != _files(root)


def test_plan_does_not_depend_on_the_string_hash_seed():
    """Python salts str hashes per process (PYTHONHASHSEED): the demo's 40 h plan must be the
    same in every process (a set of patient ids once made it differ from run to run)."""
    code = ("import zlib; from seizure.synth import SynthParams; from seizure.synth.plan import plan_corpus; "
            "p = plan_corpus(40, 0, SynthParams()); "
            "key = [(r.patient, r.duration_s, r.seed, [round(s.onset_s, 6) for s in r.seizures]) for r in p]; "
            "print(len(p), sum(len(r.seizures) for r in p), zlib.crc32(repr(key).encode()))")
    outs = set()
    for hash_seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
        assert proc.returncode == 0, proc.stderr
        outs.add(proc.stdout)
    assert len(outs) == 1, outs


def test_refuses_to_overwrite_unless_asked(corpus, tmp_path):
    root, _ = corpus
    with pytest.raises(SeizureError, match="already holds a corpus"):
        synthesize(root, 0.17, seed=11, patients=3)
    foreign = tmp_path / "foreign"
    (foreign / "edf" / "x").mkdir(parents=True)
    with pytest.raises(SeizureError, match="refusing to delete"):
        synthesize(foreign, 0.17, seed=1, patients=3, overwrite=True)


# --------------------------------------------------------------------------- EDF headers


def test_headers_read_back_like_tuh(tmp_path):
    """Every layout: TUH labels and order, rates, 1 Hz side channels, no A1/A2 in 03_tcp_ar_a."""
    for k, (name, template) in enumerate(TEMPLATES.items()):
        fs = template.rates[0][0]
        plan = dataclasses.replace(_plan(duration_s=130, seed=k), template=name, fs_hz=fs, patient=f"aaaahea{'abcde'[k]}")
        info = write_recording(plan, SynthParams(), tmp_path)
        edf = tmp_path / info.path
        assert info.montage_dir == template.montage_dir and f"/{template.montage_dir}/" in info.path
        with EdfReader(edf) as r:
            labels = [s.label for s in r.signals if s.label != "EDF Annotations"]
            assert labels == [s.label for s in template.signals]
            assert r.header.is_edf_plus and r.duration_s == 130
            assert r.fs_hz == fs
            rates = {s.label: s.fs_hz for s in r.signals}
            for side in ("IBI", "BURSTS", "SUPPR"):
                if side in rates:
                    assert rates[side] == 1.0
                    assert side not in r.labels  # dropped from the EEG signals
            phys = {s.label: (s.physical_min, s.physical_max) for s in r.signals}
            first = template.signals[0]
            assert phys[first.label] == pytest.approx(first.physical_range)
        suffix = "LE" if template.montage_dir == "02_tcp_le" else "REF"
        assert f"EEG FP1-{suffix}" in labels
        has_ears = f"EEG A1-{suffix}" in labels
        assert has_ears == (template.montage_dir != "03_tcp_ar_a")
        mont = apply(read_edf(edf), "tcp")
        assert (mont.missing == ["A1-T3", "T4-A2"]) if not has_ears else not mont.missing
        assert np.isfinite(mont.data).all() and mont.data[mont.mask].std() > 1.0
        assert np.abs(read_edf(edf).data).max() < first.physical_range[1]


# --------------------------------------------------------------------------- annotations


def test_annotations_match_plan_and_edf(corpus):
    root, summary = corpus
    for info in summary.recordings:
        edf = root / info.path
        with EdfReader(edf) as r:
            duration = r.duration_s
        assert duration == info.duration_s
        bi = read_annotations(edf.with_suffix(".csv_bi"))
        per_ch = read_annotations(edf.with_suffix(".csv"))
        assert bi.duration_s == duration == per_ch.duration_s
        seiz = [e for e in bi.events if e.is_seizure]
        assert [(e.start_s, e.stop_s) for e in seiz] == [(a, b) for a, b, _ in info.seizures]
        assert all(e.channel == "TERM" for e in bi.events)
        allowed = set(tcp_channels(TEMPLATES[next(t for t in TEMPLATES if TEMPLATES[t].montage_dir == info.montage_dir)]))
        rows = [e for e in per_ch.events if e.is_seizure]
        assert {e.channel for e in per_ch.events} <= set(head.TCP_CHANNELS)
        for (start, stop, label) in info.seizures:
            mine = [e for e in rows if start <= e.start_s < stop]
            assert mine and all(e.label == label and e.stop_s == stop for e in mine)
            assert min(e.start_s for e in mine) == start  # the onset channel starts at the onset
        if info.montage_dir == "03_tcp_ar_a":
            assert {e.channel for e in per_ch.events} <= allowed
    assert sum(r.seizure_s for r in summary.recordings) > 0


def test_seizure_fraction_and_seizure_free_recordings_over_hours():
    for seed in range(4):
        plans = plan_corpus(4.0, seed, SynthParams())
        total = sum(p.duration_s for p in plans)
        sz = sum(s.duration_s for p in plans for s in p.seizures)
        assert 0.05 <= sz / total <= 0.10
        assert sum(1 for p in plans if not p.seizures) >= 0.3 * len(plans)
        for split in SPLITS:
            mine = [p for p in plans if p.split == split]
            assert sum(s.duration_s for p in mine for s in p.seizures) > 0
        durations = [s.duration_s for p in plans for s in p.seizures]
        assert min(durations) >= 6.0 and max(durations) <= 180.0
        for p in plans:
            spans = sorted((s.onset_s, s.stop_s) for s in p.seizures)
            assert all(b < c for (_, b), (c, _) in zip(spans, spans[1:]))
            assert all(0 < a and b < p.duration_s for a, b in spans)


def test_knobs_change_the_plan_and_are_validated():
    only_absence = SynthParams(seizure_mix={"absz": 1.0})
    labels = {s.label for p in plan_corpus(2.0, 0, only_absence) for s in p.seizures}
    assert labels == {"absz"}
    assert not any(p.seizures for p in plan_corpus(1.0, 0, SynthParams(seizure_fraction=0.0)))
    quiet = build_scene(_plan(seed=3), SynthParams(artifact_scale=0.0, hv_probability=0, photic_probability=0))
    assert quiet.transients == []
    busy = build_scene(_plan(seed=3), SynthParams(artifact_scale=3.0))
    assert len(busy.transients) > len(build_scene(_plan(seed=3), SynthParams()).transients)
    with pytest.raises(ConfigError, match="seizure_fraction must be a number in"):
        SynthParams(seizure_fraction=0.9)
    with pytest.raises(ConfigError, match="seizure_mix has unknown type 'xx'"):
        SynthParams(seizure_mix={"xx": 1.0})
    with pytest.raises(ConfigError, match="artifact_rates_per_h has unknown artifact 'sneeze'"):
        SynthParams(artifact_rates_per_h={"sneeze": 1.0})
    with pytest.raises(ConfigError, match="hours=0.1 is too little for 3 patients"):
        plan_corpus(0.1, 0, SynthParams())
    with pytest.raises(ConfigError, match="hours=0.3 is too little for 9 patients: the dev split"):
        plan_corpus(0.3, 0, SynthParams(), patients=9)
    assert len({p.patient for p in plan_corpus(0.2, 0, SynthParams())}) == 5  # default shrinks to fit: 3+1+1
    with pytest.raises(ConfigError, match="patients must be an integer >= 3"):
        plan_corpus(1.0, 0, SynthParams(), patients=2)
    with pytest.raises(ConfigError, match="fs_hz must be a whole number"):
        synthesize("/nonexistent-never-written", 1.0, 0, fs_hz=100.0)


# --------------------------------------------------------------------------- signal content


@pytest.fixture(scope="module")
def focal_recording(tmp_path_factory):
    root = tmp_path_factory.mktemp("focal")
    plan = _plan([("fnsz", 80.0, 60.0)], seed=5, focus="T4")
    plan = dataclasses.replace(plan, seizures=(dataclasses.replace(plan.seizures[0], bilateral_s=float("inf")),))
    info = write_recording(plan, SynthParams(), root)
    return root / info.path, plan


def test_focal_seizure_is_visible_where_annotated(focal_recording):
    edf, plan = focal_recording
    sz = plan.seizures[0]
    m, x = _tcp(edf)
    power = _band_power_per_s(x, m.fs_hz, 2.0, 10.0)
    rows = [e for e in read_annotations(edf.with_suffix(".csv")).events if e.is_seizure]
    involved = {e.channel for e in rows}
    assert {"F8-T4", "T4-T6", "C4-T4", "T4-A2"} <= involved  # channels sharing the focus
    assert not involved & {"FP1-F7", "T3-T5", "P3-O1"}  # the other hemisphere stays out
    ictal = slice(int(sz.onset_s + 0.5 * sz.duration_s), int(sz.stop_s))
    before = slice(5, int(sz.onset_s) - 5)
    for ch in ("F8-T4", "T4-T6", "C4-T4"):
        i = m.channels.index(ch)
        assert np.median(power[i, ictal]) > 5 * np.median(power[i, before]), ch
    far = m.channels.index("T3-T5")
    assert np.median(power[far, ictal]) < 2 * np.median(power[far, before])
    # the rhythm slows: the dominant frequency late in the seizure is below the early one
    i = m.channels.index("T4-T6")
    fs = m.fs_hz

    def peak(t0: float) -> float:
        f, p = signal.welch(x[i, int(t0 * fs):int((t0 + 8) * fs)], fs=fs, nperseg=int(4 * fs))
        band = (f >= 1.5) & (f <= 12)
        return float(f[band][np.argmax(p[band])])

    assert peak(sz.stop_s - 10) < peak(sz.onset_s + 3)


def test_absence_is_generalized_three_hertz(tmp_path):
    plan = _plan([("absz", 60.0, 20.0)], seed=2)
    plan = dataclasses.replace(plan, traits=dataclasses.replace(plan.traits, syndrome="generalized", focus=""),
                               seizures=(dataclasses.replace(plan.seizures[0], focus=""),))
    info = write_recording(plan, SynthParams(), tmp_path)
    edf = tmp_path / info.path
    rows = {e.channel for e in read_annotations(edf.with_suffix(".csv")).events if e.is_seizure}
    assert rows == set(head.TCP_CHANNELS)
    m, x = _tcp(edf)
    i = m.channels.index("F3-C3")
    f, p = signal.welch(x[i, int(63 * m.fs_hz):int(78 * m.fs_hz)], fs=m.fs_hz, nperseg=int(4 * m.fs_hz))
    assert 2.4 <= f[np.argmax(p)] <= 4.2


def test_posterior_alpha_peak(focal_recording):
    edf, plan = focal_recording
    m, x = _tcp(edf)
    fs = m.fs_hz
    alpha_hz = build_scene(plan, SynthParams()).consts["alpha_hz"]
    seg = slice(0, int(70 * fs))  # before the seizure
    f, p = signal.welch(x[:, seg], fs=fs, nperseg=int(4 * fs), axis=1)

    def band(i: int, lo: float, hi: float) -> float:
        return float(p[i, (f >= lo) & (f < hi)].mean())

    for ch in ("P3-O1", "P4-O2", "T5-O1"):
        i = m.channels.index(ch)
        peak = f[(f >= 6) & (f <= 14)][np.argmax(p[i, (f >= 6) & (f <= 14)])]
        assert abs(peak - alpha_hz) <= 1.0, ch
        assert band(i, alpha_hz - 1, alpha_hz + 1) > 2 * band(i, alpha_hz + 3, alpha_hz + 5)
    posterior = band(m.channels.index("P3-O1"), alpha_hz - 1, alpha_hz + 1)
    frontal = band(m.channels.index("FP1-F3"), alpha_hz - 1, alpha_hz + 1)
    assert posterior > 2 * frontal


def test_common_mode_line_noise_cancels_in_bipolar(focal_recording):
    edf, _ = focal_recording
    rec = read_edf(edf)
    m = apply(rec, "tcp")
    fs = rec.fs_hz
    f, p_ref = signal.welch(rec.data[rec.channels.index("FP1")], fs=fs, nperseg=int(2 * fs))
    _, p_bip = signal.welch(m.data[m.channels.index("FP1-F7")], fs=fs, nperseg=int(2 * fs))
    k = np.argmin(np.abs(f - 60.0))
    assert p_ref[k] > 10 * p_bip[k] > 0


def test_line_length_is_fooled_by_chewing_but_spectrum_separates(tmp_path):
    """Hard negatives: chewing beats a subtle seizure on line length; the seizure wins on rhythm."""
    plan = _plan([("spsz", 100.0, 30.0)], seed=7, focus="T3")
    params = SynthParams(artifact_scale=0.0, hv_probability=0, photic_probability=0)
    scene = build_scene(plan, params)
    scene.transients = [Transient("chewing", 30.0, 20.0, 123, 1.0), Transient("muscle", 160.0, 6.0, 321, 1.0, "L")]
    v = np.concatenate([b for _, b in virtual_blocks(scene)], axis=1)
    x = np.stack([v[head.INDEX[a]] - v[head.INDEX[b]] for a, b in head.TCP_PAIRS])
    sos = signal.butter(4, [1.0, 70.0], btype="bandpass", fs=plan.fs_hz, output="sos")
    x = signal.sosfiltfilt(sos, x, axis=1)
    fs = int(plan.fs_hz)
    ll_ch = np.abs(np.diff(x, axis=1))[:, : (x.shape[1] - 1) // fs * fs].reshape(x.shape[0], -1, fs).sum(2)
    ll = ll_ch.max(0)
    top = ll_ch.argmax(0)  # the channel a line-length detector would flag, each second
    seconds = np.arange(ll.size)
    rhythm = _band_power_per_s(x, fs, 3.0, 9.0)[top, seconds]
    broad = _band_power_per_s(x, fs, 20.0, 70.0)[top, seconds]
    ratio = rhythm / (broad + 1e-9)
    seizure, chew, muscle = slice(110, 128), slice(34, 46), slice(161, 165)
    assert np.median(ll[chew]) > np.median(ll[seizure])
    assert np.median(ll[muscle]) > np.median(ll[seizure])
    assert np.median(ratio[seizure]) > 5 * max(np.median(ratio[chew]), np.median(ratio[muscle]))


# --------------------------------------------------------------------------- long recording, CLI


@pytest.mark.slow
def test_long_recording_streams_in_bounded_memory(tmp_path):
    params = SynthParams(seizure_fraction=0.0, hv_probability=0.0, photic_probability=0.0)

    def peak_mb(hours: float, out: Path) -> float:
        tracemalloc.start()
        info = synthesize_long_recording(out, hours, seed=1, fs_hz=250.0, params=params)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        with EdfReader(out / info.path) as r:
            assert r.duration_s == round(hours * 3600) and r.fs_hz == 250.0
        return peak

    short = peak_mb(0.25, tmp_path / "short")  # 3 blocks of 5 min
    long = peak_mb(1.0, tmp_path / "long")  # 12 blocks
    assert long < 1.3 * short  # memory does not grow with the duration


def test_cli_writes_corpus_and_reports_errors(tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["synth", str(out), "--hours", "0.17", "--patients", "3", "--seed", "4", "--set", "artifact_scale=0.5",
                 "--set", "seizure_mix.absz=0"]) == 0
    meta = json.loads((out / "synth.json").read_text())
    assert meta["params"]["artifact_scale"] == 0.5 and meta["params"]["seizure_mix"]["absz"] == 0
    assert meta["params"]["seizure_mix"]["fnsz"] > 0  # a partial table overrides one entry only
    assert "eval" in capsys.readouterr().out
    assert main(["synth", str(out), "--hours", "0.17", "--patients", "3"]) == 1
    assert "already holds a corpus" in capsys.readouterr().err
    assert main(["synth", str(tmp_path / "x"), "--set", "seizure_snr=-1"]) == 1
    assert "seizure_snr must be a number" in capsys.readouterr().err
    assert main(["synth", str(tmp_path / "y"), "--set", "bogus=1"]) == 1
    assert "unknown config key 'synth.bogus'" in capsys.readouterr().err
    assert main(["synth", str(tmp_path / "z"), "--long-hours", "0.04", "--fs", "256"]) == 0
    assert len(list((tmp_path / "z" / "edf").rglob("*.edf"))) == 1
