"""``seizure score``: EDF -> csv_bi / SzCORE TSV / probabilities / plot; inputs, names, exit codes."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from seizure import checkpoint, cli
from seizure.errors import ConfigError, MontageError, SeizureError
from seizure.events import Event
from seizure.io.annotations import read_annotations, write_csv_bi
from seizure.io.edf import write_edf
from seizure.models import build_model
from seizure.models.inference import predict_array
from seizure.preprocess.pipeline import process_edf
from seizure.store import feature_info
from seizure.plots import Envelope
from seizure.postprocess import OperatingPoint, probs_to_events
from seizure.detect import InputError, collect_inputs, output_names, recipe_for, detect_files, detect_recording
from seizure.training.config import load_config

ELECTRODES = "FP1 FP2 F3 F4 C3 C4 P3 P4 O1 O2 F7 F8 T3 T4 T5 T6 A1 A2 FZ CZ PZ".split()
TINY = ["recipe.feature=spectrogram", "model.conv2d_channels=[4]", "model.embed_dim=8", "model.hidden_size=8",
        "model.cell=gru", "train.eval_window_s=60", "train.eval_context_s=20"]
START = dt.datetime(2013, 1, 1, 10, 20, 30)


def write_recording(path: Path, seconds: float = 130.5, electrodes=ELECTRODES, fs_hz: float = 256.0,
                    seed: int = 0, burst: tuple[float, float] | None = (50.0, 70.0)) -> Path:
    """TUH-style referential EDF: 20 uV noise with alpha, and a large 6 Hz burst."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * fs_hz))
    t = np.arange(n) / fs_hz
    x = 20 * rng.standard_normal((len(electrodes), n)) + 15 * np.sin(2 * np.pi * 10 * t)
    if burst is not None:
        on = (t >= burst[0]) & (t < burst[1])
        x[:, on] += 150 * np.sin(2 * np.pi * 6 * t[on]) * rng.uniform(0.5, 1.0, (len(electrodes), 1))
    return write_edf(path, x.astype(np.float32), [f"EEG {e}-REF" for e in electrodes], fs_hz, start_time=START,
                     record_duration_s=0.5)


def make_checkpoint(path: Path, threshold: float = 0.5, smooth_s: float = 0.0) -> Path:
    cfg = load_config(None, TINY)
    info = feature_info(cfg.recipe)
    model = build_model(cfg.model, len(info.channels), info.n_features, info.frames_per_s, seed=3)
    op = OperatingPoint(threshold, smooth_s, 0.0, 0.0)
    return checkpoint.save(path, checkpoint.make(model, cfg, cfg.recipe, op, list(info.channels), {}))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("score")
    edf = root / "edf"
    paths = {
        "full": write_recording(edf / "aaaaaaaa_s001_t000.edf"),
        "no_ears": write_recording(edf / "lab2" / "no_ears.edf", 61.0, [e for e in ELECTRODES if e not in ("A1", "A2")],
                                   fs_hz=250.0, seed=1, burst=None),
        "sparse": write_recording(edf / "lab3" / "sparse.edf", 20.0, "FP1 F7 T3 T5 O1 C3".split(), seed=2, burst=None),
    }
    write_csv_bi(paths["full"].with_suffix(".csv_bi"), [Event(50.0, 70.0)], 130.5)
    probe = make_checkpoint(root / "probe.pt")
    probs = detect_recording(checkpoint.load(probe), paths["full"], root / "probe_out").probs
    # a threshold that splits the seconds: the operating point yields events whatever the random weights
    threshold = float(np.quantile(probs, 0.8))
    model_path = make_checkpoint(root / "model.pt", threshold)
    return root, paths, model_path


@pytest.fixture
def run_cli(monkeypatch, capsys):
    monkeypatch.setattr(cli, "COMMANDS", ("score",))

    def run(*argv: str) -> tuple[int, str, str]:
        code = cli.main(["score", *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_outputs_cover_the_recording_and_match_the_events(data, tmp_path):
    root, paths, model_path = data
    ckpt = checkpoint.load(model_path)
    res = detect_recording(ckpt, paths["full"], tmp_path, probabilities=True, chunk_s=40)
    assert res.duration_s == 130.5 and res.n_seconds == 130 and res.probs.shape == (130,)
    assert res.events and res.events == probs_to_events(res.probs, ckpt.operating_point)

    ann = read_annotations(res.outputs["csv_bi"])
    assert ann.duration_s == 130.5
    rows = ann.events
    assert rows[0].start_s == 0.0 and rows[-1].stop_s == 130.5
    assert all(a.stop_s == b.start_s for a, b in zip(rows, rows[1:]))  # contiguous: the whole file is covered
    seiz = [e for e in rows if e.label == "seiz"]
    assert [(e.start_s, e.stop_s) for e in seiz] == [(e.start_s, e.stop_s) for e in res.events]
    for e in seiz:  # confidence: the mean probability over the event's seconds
        assert e.confidence == pytest.approx(res.probs[int(e.start_s):int(e.stop_s)].mean(), abs=6e-5)

    tsv = res.outputs["tsv"].read_text().splitlines()
    assert tsv[0].split("\t") == ["onset", "duration", "eventType", "confidence", "channels", "dateTime",
                                  "recordingDuration"]
    fields = [line.split("\t") for line in tsv[1:]]
    assert len(fields) == len(res.events)
    assert {f[6] for f in fields} == {"130.50"} and {f[5] for f in fields} == {"2013-01-01 10:20:30"}
    assert read_annotations(res.outputs["tsv"]).duration_s == 130.5

    lines = res.outputs["probs"].read_text().splitlines()
    assert lines[0] == "second,probability" and len(lines) == 131
    table = np.loadtxt(res.outputs["probs"], delimiter=",", skiprows=1)
    np.testing.assert_array_equal(table[:, 0], np.arange(130))
    np.testing.assert_allclose(table[:, 1], res.probs, atol=6e-7)


def test_streaming_equals_the_whole_file_baseline(data, tmp_path):
    """Chunked read + windowed inference give what whole-file processing + predict_array give."""
    _, paths, model_path = data
    ckpt = checkpoint.load(model_path)
    res = detect_recording(ckpt, paths["full"], tmp_path, chunk_s=17)
    whole = process_edf(paths["full"], ckpt.recipe)
    tc = ckpt.config.train
    expected = predict_array(ckpt.model, whole.features, whole.frames_per_s, whole.mask,
                             window_s=tc.eval_window_s, context_s=tc.eval_context_s)
    np.testing.assert_allclose(res.probs, expected, atol=2e-5)


def test_missing_channels_are_masked_with_a_warning(data, tmp_path, caplog):
    _, paths, model_path = data
    with caplog.at_level(logging.WARNING, logger="seizure.detect"):
        res = detect_recording(checkpoint.load(model_path), paths["no_ears"], tmp_path)
    assert res.channels_used == 20 and res.missing_channels == ["A1-T3", "T4-A2"]
    assert "2 of 22 channels missing, zero-filled and masked: A1-T3, T4-A2 (missing electrodes: A1, A2)" in caplog.text
    assert read_annotations(res.outputs["csv_bi"]).duration_s == 61.0


def test_too_few_channels_is_refused_listing_what_is_missing(data, tmp_path):
    _, paths, model_path = data
    ckpt = checkpoint.load(model_path)
    with pytest.raises(MontageError, match=r"sparse\.edf: montage 'tcp' needs at least 16 of its 22 channels but "
                                           r"only 5 can be formed; missing electrodes: A1, A2, C4, CZ, F3, F4, F8, "
                                           r"FP2, O2, P3, P4, T4, T6; missing pairs: FP2-F8, "):
        detect_recording(ckpt, paths["sparse"], tmp_path)
    with pytest.raises(MontageError, match=r"needs at least 21 .* only 20 can be formed; missing electrodes: A1, A2"):
        detect_recording(ckpt, paths["no_ears"], tmp_path, min_channels=21)
    assert not list(tmp_path.iterdir())  # nothing written for a refused file
    res = detect_recording(ckpt, paths["sparse"], tmp_path, min_channels=5)
    assert res.channels_used == 5


def test_min_channels_is_validated():
    recipe = load_config(None, TINY).recipe
    assert recipe_for(recipe, None) is recipe and recipe_for(recipe, 5).min_channels == 5
    for bad in (0, 23, 2.5, True):
        with pytest.raises(ConfigError, match=r"min_channels must be an integer from 1 to 22 \(montage 'tcp'\), got"):
            recipe_for(recipe, bad)


def test_names_are_sanitised_and_stay_inside_out(data, tmp_path):
    _, paths, model_path = data
    res = detect_recording(checkpoint.load(model_path), paths["no_ears"], tmp_path / "out", name="../../evil/x y")
    assert res.name == "x_y"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["x_y.csv_bi", "x_y_events.tsv"]
    assert all(p.parent == (tmp_path / "out").resolve() for p in res.outputs.values())


def test_output_names_disambiguate_shared_stems(tmp_path):
    paths = [tmp_path / "p1" / "EEG.edf", tmp_path / "p2" / "EEG.edf", tmp_path / "other.edf",
             tmp_path / "a" / "x" / "rec.edf", tmp_path / "b" / "x" / "rec.edf", tmp_path / "we ird.edf"]
    assert output_names(paths) == ["p1_EEG", "p2_EEG", "other", "a_x_rec", "b_x_rec", "we_ird"]
    # a disambiguated name may not take the name of another input
    assert output_names([tmp_path / "p1" / "EEG.edf", tmp_path / "p2" / "EEG.edf", tmp_path / "p1_EEG.edf"]) == [
        f"{tmp_path.name}_p1_EEG", f"{tmp_path.name}_p2_EEG", "p1_EEG"]


def test_the_recordings_own_sidecar_is_never_overwritten(data):
    _, paths, model_path = data
    sidecar = paths["full"].with_suffix(".csv_bi")
    before = sidecar.read_text()
    with pytest.raises(SeizureError, match=r"--out is this recording's own folder, where "
                                         r"aaaaaaaa_s001_t000\.csv_bi would"):
        detect_recording(checkpoint.load(model_path), paths["full"], paths["full"].parent)
    assert sidecar.read_text() == before


def test_collect_inputs(data, tmp_path):
    _, paths, _ = data
    listing = tmp_path / "inputs.txt"
    (tmp_path / "sub").mkdir()
    shutil.copy(paths["sparse"], tmp_path / "sub" / "copy.EDF")
    listing.write_text(f"# recordings\n\n{paths['no_ears']}\nsub/copy.EDF\nmissing.edf\n")
    found, failed = collect_inputs([paths["full"].parent, listing])
    # folders are searched recursively, list entries are relative to the list, each file comes once
    assert [p.name for p in found] == ["aaaaaaaa_s001_t000.edf", "no_ears.edf", "sparse.edf", "copy.EDF"]
    assert len(failed) == 1 and failed[0][1].endswith("inputs.txt line 5 but not found")
    with pytest.raises(InputError, match=r"nowhere\.edf: no such file or folder"):
        collect_inputs([tmp_path / "nowhere.edf"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no EDF file found in"):
        collect_inputs([tmp_path / "empty"])
    (tmp_path / "binary.bdf").write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(InputError, match=r"binary\.bdf: neither an EDF file \(\.edf\) nor a UTF-8 list file"):
        collect_inputs([tmp_path / "binary.bdf"])


def test_envelope_chunked_equals_brute_force():
    rng = np.random.default_rng(0)
    fs, seconds = 250.0, 37
    x = rng.standard_normal((3, int(fs * seconds))).astype(np.float32)
    env = Envelope(["a", "b", "c"], seconds, fs, n_columns=100)
    for start in range(0, seconds, 7):  # chunks of 7 s: column boundaries fall inside chunks
        env.add(start, x[:, int(start * fs):int(min(seconds, start + 7) * fs)])
    cols = np.arange(x.shape[1]) * 100 // x.shape[1]
    for c in range(100):
        np.testing.assert_array_equal(env.lo[:, c], x[:, cols == c].min(axis=1))
        np.testing.assert_array_equal(env.hi[:, c], x[:, cols == c].max(axis=1))
    assert Envelope(["a"], 2, 250.0, n_columns=1600).n_columns == 500  # never more columns than samples


def test_cli_exit_codes_summary_and_plot(data, tmp_path, run_cli, caplog):
    root, paths, model_path = data
    out = tmp_path / "out"
    caplog.set_level(logging.WARNING)
    code, stdout, err = run_cli(str(model_path), str(paths["full"]), str(paths["no_ears"]), "--out", str(out),
                                "--plot", "--probabilities")
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == [
        "aaaaaaaa_s001_t000.csv_bi", "aaaaaaaa_s001_t000.png", "aaaaaaaa_s001_t000_events.tsv",
        "aaaaaaaa_s001_t000_probs.csv", "no_ears.csv_bi", "no_ears.png", "no_ears_events.tsv", "no_ears_probs.csv"]
    assert (out / "no_ears.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "2 recording(s) scored, 0 failed: 0.05 h of EEG" in stdout and "h of EEG per second" in stdout
    assert "no_ears.edf: 2 of 22 channels missing, zero-filled and masked: A1-T3, T4-A2" in caplog.text

    # one input refused: exit 1, reason on one line, the other still written
    out2 = tmp_path / "out2"
    code, stdout, err = run_cli(str(model_path), str(paths["sparse"]), str(paths["no_ears"]), "--out", str(out2))
    assert code == 1
    assert sorted(p.name for p in out2.iterdir()) == ["no_ears.csv_bi", "no_ears_events.tsv"]
    failed = [line for line in err.splitlines() if line.startswith("  ")]
    assert len(failed) == 1 and "sparse.edf: montage 'tcp' needs at least 16" in failed[0]

    # usage errors: exit 2
    code, _, err = run_cli(str(model_path), str(tmp_path / "missing.edf"), "--out", str(out2))
    assert code == 2 and "missing.edf: no such file or folder" in err
    code, _, err = run_cli(str(tmp_path / "none.pt"), str(paths["full"]), "--out", str(out2))
    assert code == 2 and "none.pt: model checkpoint not found" in err
    with pytest.raises(SystemExit) as info:
        run_cli(str(model_path), str(paths["full"]), "--out", str(out2), "--jobs", "0")
    assert info.value.code == 2


def test_real_header_fixtures_are_scored_or_refused_with_a_reason(data, real_headers, tmp_path, run_cli, caplog):
    """TUSZ 01/02/03 montages, CHB-MIT bipolar, Siena and SeizeIT headers (2 s of white noise each)."""
    _, _, model_path = data
    caplog.set_level(logging.WARNING)
    n_edf = len(list(real_headers.rglob("*.edf")))
    code, stdout, err = run_cli(str(model_path), str(real_headers), "--out", str(tmp_path / "a"))
    assert code == 0, err
    assert f"{n_edf} recording(s) scored, 0 failed" in stdout
    names = {p.name for p in (tmp_path / "a").iterdir()}
    for stem in ("aaaaahln_s002_t000", "chb05_01", "PN00-1", "P_ID64_r1", "aaaaaool_s001_t000"):
        assert {f"{stem}.csv_bi", f"{stem}_events.tsv"} <= names
    assert "chb05_01.edf: 6 of 22 channels missing" in caplog.text
    assert "PN00-1.edf: 2 of 22 channels missing" in caplog.text
    code, _, err = run_cli(str(model_path), str(real_headers / "seizeit"), str(real_headers / "chbmit"), "--out",
                           str(tmp_path / "b"), "--min-channels", "20")
    assert code == 1
    refused = [line for line in err.splitlines() if line.startswith("  ")]
    assert len(refused) == len(list((real_headers / "chbmit").rglob("*.edf")))
    assert all("needs at least 20 of its 22 channels but only 16 can be formed; missing electrodes: A1, A2" in line
               for line in refused)


def test_plot_draws_the_sidecar_or_says_why_not(data, real_headers, tmp_path, caplog):
    _, paths, model_path = data
    ckpt = checkpoint.load(model_path)
    res = detect_recording(ckpt, paths["full"], tmp_path, plot=True)
    assert res.outputs["png"].stat().st_size > 20_000
    # a SeizeIT sidecar describes the original hour-long recording, not this 2 s stub
    with caplog.at_level(logging.WARNING, logger="seizure.detect"):
        res = detect_recording(ckpt, real_headers / "seizeit/P_ID64/P_ID64_r1.edf", tmp_path, plot=True)
    assert res.outputs["png"].is_file()
    assert "reference events not drawn" in caplog.text and "P_ID64_r1_a1.tsv" in caplog.text


def test_flat_channels_found_by_the_quality_checks_are_masked_for_scoring(data, tmp_path, caplog):
    _, paths, model_path = data
    ckpt = checkpoint.load(model_path)
    path = write_recording(tmp_path / "flat_o2.edf", 40.0, seed=4)
    from seizure.io.edf import read_edf

    rec = read_edf(path)
    data_ = rec.data.copy()
    data_[rec.channels.index("O2")] = 0.0  # a disconnected electrode
    write_edf(path, data_, rec.labels, rec.fs_hz, start_time=START)
    with caplog.at_level(logging.INFO, logger="seizure.detect"):
        res = detect_recording(ckpt, path, tmp_path / "out")
    assert res.channels_used == 20 and "scoring again with the flat channel(s) masked" in caplog.text
    assert any("flat channel(s) masked: T6-O2, P4-O2" in w for w in res.warnings)
    whole = process_edf(path, ckpt.recipe)
    assert not whole.mask[[7, 21]].any()
    tc = ckpt.config.train
    expected = predict_array(ckpt.model, whole.features, whole.frames_per_s, whole.mask,
                             window_s=tc.eval_window_s, context_s=tc.eval_context_s)
    np.testing.assert_allclose(res.probs, expected, atol=2e-5)


@pytest.mark.slow
def test_parallel_jobs_write_the_same_files(data, tmp_path):
    _, paths, model_path = data
    inputs = [paths["full"], paths["no_ears"]]
    one = detect_files(model_path, inputs, tmp_path / "one", probabilities=True)
    two = detect_files(model_path, inputs, tmp_path / "two", probabilities=True, jobs=2)
    assert [r.name for r in one.results] == [r.name for r in two.results] == ["aaaaaaaa_s001_t000", "no_ears"]
    for a, b in zip(one.results, two.results):
        np.testing.assert_allclose(a.probs, b.probs, atol=1e-5)  # other torch thread counts: last-digit changes
        assert [(e.start_s, e.stop_s) for e in a.events] == [(e.start_s, e.stop_s) for e in b.events]
        np.testing.assert_allclose([e.confidence for e in a.events], [e.confidence for e in b.events], atol=1e-5)
        assert {p.name for p in a.outputs.values()} == {p.name for p in b.outputs.values()}
        assert all(p.parent == tmp_path / "two" for p in b.outputs.values())


def test_bfloat16_scoring_is_close_and_validated(data, tmp_path, run_cli):
    _, paths, model_path = data
    ref = detect_files(model_path, [paths["full"]], tmp_path / "f32", probabilities=True).results[0]
    code, _, err = run_cli(str(model_path), str(paths["full"]), "--out", str(tmp_path / "bf16"), "--probabilities",
                           "--precision", "bfloat16")
    assert code == 0, err
    table = np.loadtxt(tmp_path / "bf16" / "aaaaaaaa_s001_t000_probs.csv", delimiter=",", skiprows=1)
    assert table.shape == (130, 2) and np.abs(table[:, 1] - ref.probs).max() < 3e-2
    with pytest.raises(ConfigError, match="precision must be one of bfloat16, float32, got 'half'"):
        detect_files(model_path, [paths["full"]], tmp_path / "x", precision="half")
    with pytest.raises(SystemExit) as info:
        run_cli(str(model_path), str(paths["full"]), "--out", str(tmp_path / "x"), "--precision", "half")
    assert info.value.code == 2


def test_inference_batches_fit_the_memory_budget(data):
    from seizure.evaluation import window_batch_size

    ckpt = checkpoint.load(data[2])

    def inference_batch_size(ckpt, budget_mb):
        return window_batch_size(ckpt.model, ckpt.frames_per_s, ckpt.config.train, budget_mb)

    assert inference_batch_size(ckpt, budget_mb=1e9) == ckpt.config.train.eval_batch_size
    assert inference_batch_size(ckpt, budget_mb=1e-3) == 1  # never below one window
    # 4 copies of the encoded rows (one frame per second, projected by the temporal convolution's 3 taps to
    # 3 x 8 values) and 3 of the largest layer tensor (the bidirectional GRU's output, 2 x 8 per second),
    # float32, over a window's 100 s
    window_mb = (4 * 3 * 8 + 3 * 2 * 8) * 4 * (60 + 2 * 20) / 2**20
    assert inference_batch_size(ckpt, budget_mb=4.5 * window_mb) == 4
