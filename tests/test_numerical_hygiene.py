"""Numerical hygiene through the commands: flat, bridged and clipped channels, NaN/Inf from a
physical range or from a bad filter design at an unusual rate are detected and reported,
never fed silently to a model."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from bad_inputs import corpus_path, good_csv_bi, run_cli, tiny_checkpoint
from seizure.preprocess import signal as sig
from seizure.io.edf import write_edf
from seizure.preprocess.montage import MONTAGES
from seizure.store import FeatureStore

ELECTRODES = "FP1 FP2 F3 F4 C3 C4 P3 P4 O1 O2 F7 F8 T3 T4 T5 T6 A1 A2 FZ CZ PZ".split()
LABELS = [f"EEG {e}-REF" for e in ELECTRODES]
TCP = MONTAGES["tcp"].channels
SECONDS = 30


def eeg(fs: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(SECONDS * fs) / fs
    return rng.standard_normal((len(ELECTRODES), t.size)) * 15 + 20 * np.sin(2 * np.pi * 10 * t)


def pairs_using(*electrodes: str) -> list[str]:
    return [c for c in TCP if set(c.split("-")) & set(electrodes)]


def _flat(x):
    x[ELECTRODES.index("T3")] = 37.0  # a disconnected electrode at a constant level
    return x


def _bridged(x):
    x[ELECTRODES.index("C4")] = x[ELECTRODES.index("CZ")]  # gel bridge: CZ-C4 is flat
    return x


def _clipped(x):
    o1 = ELECTRODES.index("O1")
    x[o1] = np.clip(x[o1] * 10, -150, 150)
    return x


def _many_flat(x):
    for e in ("C3", "C4", "T3", "T4"):
        x[ELECTRODES.index(e)] = 0.0
    return x


def _all_zero(x):
    return np.zeros_like(x)


def _clip_limits():
    limits = [(-1000.0, 1000.0)] * len(ELECTRODES)
    limits[ELECTRODES.index("O1")] = (-150.0, 150.0)
    return limits


# name: (sampling rate, how the signal is spoiled, physical ranges, expected outcome)
RECORDINGS = {
    "clean": (256, None, None, "ok"),
    "flat_electrode": (256, _flat, None, "ok"),
    "bridged_electrodes": (256, _bridged, None, "ok"),
    "clipped_electrode": (256, _clipped, _clip_limits(), "ok"),
    "too_many_flat": (256, _many_flat, None, r"SignalQualityError: only 8 usable channel\(s\) after masking flat "
                                              r"channel\(s\) .*; the recipe needs min_channels=16"),
    "all_zero": (256, _all_zero, None, r"SignalQualityError: only 0 usable channel\(s\)"),
    "rate_100": (100, None, None, "ok"),
    "rate_512": (512, None, None, "ok"),
    "rate_1000": (1000, None, None, "ok"),
}


def write_corpus(root: Path) -> dict[str, str]:
    """One recording per case (one patient each); returns case -> recording id."""
    ids = {}
    for i, (name, (fs, spoil, ranges, _)) in enumerate(RECORDINGS.items()):
        folder, stem = corpus_path(root, i)
        x = eeg(fs, seed=i)
        if spoil is not None:
            x = spoil(x)
        kw = {"physical_range": ranges} if ranges else {"physical_range": (-1000.0, 1000.0)}
        write_edf(folder / f"{stem}.edf", x, LABELS, fs, **kw)
        (folder / f"{stem}.csv_bi").write_bytes(good_csv_bi(stem, SECONDS))
        ids[name] = stem
    return ids


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("hygiene")
    return root, write_corpus(root / "corpus")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp("model") / "model.pt")


@pytest.fixture(scope="module")
def preprocessed(corpus):
    root, ids = corpus
    code, out, err = run_cli(["-q", "preprocess", str(root / "corpus"), str(root / "store")])
    store = FeatureStore(root / "store")
    metas = {name: next(m for m in store.records(status=None) if m.rec_id == rec) for name, rec in ids.items()}
    return code, out + err, store, metas


def test_preprocess_reports_each_problem_and_goes_on(preprocessed):
    code, output, store, metas = preprocessed
    assert code == 1 and "9 recording(s) found: 7 processed, 0 already done, 2 failed" in output
    for name, (_, _, _, expected) in RECORDINGS.items():
        meta = metas[name]
        if expected == "ok":
            assert meta.status == "ok", meta.error
            x = store.features(meta.rec_id)
            assert x.shape == (SECONDS * 10, 22, 26) and np.isfinite(x).all()
        else:
            assert meta.status == "error" and re.search(expected, meta.error), meta.error


def test_flat_and_bridged_channels_are_masked_and_listed(preprocessed):
    _, _, store, metas = preprocessed
    masked = {name: [c for c, m in zip(TCP, metas[name].channel_mask) if not m]
              for name in ("clean", "flat_electrode", "bridged_electrodes", "clipped_electrode")}
    assert masked == {"clean": [], "flat_electrode": pairs_using("T3"), "bridged_electrodes": ["CZ-C4"],
                      "clipped_electrode": []}  # clipping warns, it does not mask
    assert metas["flat_electrode"].warnings == [
        "flat electrode(s) T3 (std < 0.5 uV)", f"flat channel(s) masked: {', '.join(pairs_using('T3'))}"]
    assert metas["bridged_electrodes"].warnings == ["flat channel(s) masked: CZ-C4"]
    manifest = (store.root / "manifest.csv").read_text()
    assert "flat channel(s) masked: CZ-C4" in manifest
    rows = {line.split(",")[0]: line for line in manifest.splitlines()[1:]}
    assert ",18," in rows[metas["flat_electrode"].rec_id] and ",21," in rows[metas["bridged_electrodes"].rec_id]


def test_clipping_is_reported(preprocessed):
    meta = preprocessed[3]["clipped_electrode"]
    assert meta.warnings == ["clipped electrode O1: 25% of samples at 150 uV (digital maximum)",
                             "clipped electrode O1: 25% of samples at -150 uV (digital minimum)"]
    assert "clipped electrode O1" in (preprocessed[2].root / "manifest.csv").read_text()


def test_unusual_rates_give_finite_features_and_say_what_was_skipped(preprocessed):
    metas = preprocessed[3]
    assert metas["rate_100"].warnings == [
        "low-pass 70 Hz skipped: at or above the Nyquist frequency 50 Hz of the 100 Hz signal, which holds "
        "nothing above it", "notch 60 Hz skipped: at or above the Nyquist frequency 50 Hz of the 100 Hz signal"]
    assert metas["rate_512"].warnings == metas["rate_1000"].warnings == []
    assert [metas[n].fs_hz_original for n in ("rate_100", "rate_512", "rate_1000")] == [100, 512, 1000]


def unstable(spec, freqs_hz):
    """A huge (finite) resonance at 8-12 Hz: what a badly conditioned filter amounts to."""
    f = np.asarray(freqs_hz, dtype=np.float64)
    return np.where(np.abs(f - 10.0) < 2.0, 1e36, 1.0)


def nan_design(spec, freqs_hz):
    return np.full(np.shape(freqs_hz), np.nan)


BAD_DESIGNS = [
    (nan_design, r"the bandpass filter 0.5/(70|-) at {fs} Hz has a non-finite response"),
    (unstable, r"NaN/Inf (after filtering at {fs} Hz|in the \w+ features) in channel\(s\) FP1-F7, .*; "
               r"refusing to use this signal"),
]
UNUSUAL_RATES = (100, 512, 1000)


@pytest.fixture
def bad_design(request, monkeypatch):
    """Replace the filter design (and bypass the gain cache) for one test."""
    monkeypatch.setattr(sig, "zero_phase_gain", request.param)
    monkeypatch.setattr(sig, "_gain", sig._gain.__wrapped__)


def write_unusual_rates(root: Path) -> list[Path]:
    paths = []
    for i, fs in enumerate(UNUSUAL_RATES):
        folder, stem = corpus_path(root, i)
        paths.append(write_edf(folder / f"{stem}.edf", eeg(fs), LABELS, fs, physical_range=(-1000.0, 1000.0)))
        (folder / f"{stem}.csv_bi").write_bytes(good_csv_bi(stem, SECONDS))
    return paths


@pytest.mark.parametrize("bad_design, message", BAD_DESIGNS, indirect=["bad_design"])
def test_a_bad_filter_design_at_an_unusual_rate_fails_the_recording_in_preprocess(tmp_path, bad_design, message):
    write_unusual_rates(tmp_path / "corpus")
    code, out, err = run_cli(["-q", "preprocess", str(tmp_path / "corpus"), str(tmp_path / "store")])
    assert code == 1 and "0 processed, 0 already done, 3 failed" in out, out + err
    for i, fs in enumerate(UNUSUAL_RATES):
        meta = json.loads((tmp_path / "store" / "records" / f"p{i:07d}_s001_t000.json").read_text())
        assert meta["status"] == "error", meta
        assert re.search("SignalQualityError: " + message.format(fs=fs), meta["error"]), meta["error"]
    assert not list((tmp_path / "store" / "records").glob("*.npy"))  # nothing left for a model to read


@pytest.mark.parametrize("bad_design, message", BAD_DESIGNS, indirect=["bad_design"])
def test_a_bad_filter_design_at_an_unusual_rate_fails_the_recording_in_score(tmp_path, model, bad_design, message):
    edfs = write_unusual_rates(tmp_path / "in")
    code, out, err = run_cli(["score", str(model), *map(str, edfs), "--out", str(tmp_path / "out")])
    assert code == 1 and "3 recording(s) failed:" in err, out + err
    for edf, fs in zip(edfs, UNUSUAL_RATES):
        assert re.search(rf"\n  {re.escape(str(edf))}: " + message.format(fs=fs), err), err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_score_reports_each_problem_and_scores_the_rest(corpus, model, tmp_path):
    root, ids = corpus
    edfs = {name: next((root / "corpus").rglob(f"{rec}.edf")) for name, rec in ids.items()}
    code, out, err = run_cli(["score", str(model), *map(str, edfs.values()), "--out", str(tmp_path),
                              "--probabilities"])
    assert code == 1 and "7 recording(s) scored, 2 failed" in out, out + err
    for name, (_, _, _, expected) in RECORDINGS.items():
        probs = tmp_path / f"{ids[name]}_probs.csv"
        if expected == "ok":
            p = np.loadtxt(probs, delimiter=",", skiprows=1)
            assert p.shape == (SECONDS, 2) and np.isfinite(p).all() and ((0 <= p[:, 1]) & (p[:, 1] <= 1)).all()
        else:
            assert not probs.exists()
            reason = expected.removeprefix("SignalQualityError: ")
            assert re.search(rf"\n  {re.escape(str(edfs[name]))}: {reason}", err), err
    for name, warning in [("flat_electrode", "flat channel(s) masked: F7-T3, T3-T5, A1-T3, T3-C3"),
                          ("bridged_electrodes", "flat channel(s) masked: CZ-C4"),
                          ("clipped_electrode", "clipped electrode O1: 25% of samples at 150 uV (digital maximum)"),
                          ("rate_100", "low-pass 70 Hz skipped")]:
        assert f"WARNING: {edfs[name]}: {warning}" in err, err


def test_a_flat_electrode_reaches_the_model_exactly_as_a_missing_one(tmp_path, model):
    """The flat T3 is masked, so the model sees what it sees when T3 is not recorded at all."""
    x = eeg(256, seed=5)
    t3 = ELECTRODES.index("T3")
    flat = x.copy()
    flat[t3] = 12.0
    write_edf(tmp_path / "in" / "flat.edf", flat, LABELS, 256, physical_range=(-1000.0, 1000.0))
    keep = [i for i in range(len(ELECTRODES)) if i != t3]
    write_edf(tmp_path / "in" / "absent.edf", x[keep], [LABELS[i] for i in keep], 256, physical_range=(-1000.0, 1000.0))
    code, out, err = run_cli(["score", str(model), str(tmp_path / "in"), "--out", str(tmp_path / "out"),
                              "--probabilities"])
    assert code == 0, out + err
    assert "flat electrode(s) T3" in err and "missing, zero-filled and masked: F7-T3, T3-T5, A1-T3, T3-C3" in err
    p_flat, p_absent = (np.loadtxt(tmp_path / "out" / f"{n}_probs.csv", delimiter=",", skiprows=1)
                        for n in ("flat", "absent"))
    np.testing.assert_allclose(p_flat, p_absent, atol=1e-6)
