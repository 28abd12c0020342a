"""Every bad input of the catalogue (tests/bad_inputs.py) through `seizure inspect`,
`seizure preprocess` and `seizure score`, one at a time and all together in one corpus."""

import re
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from bad_inputs import CASES, SECONDS, corpus_path, run_cli, run_preprocess, run_score, tiny_checkpoint, write_case
from edf_factory import TCP_REF_LABELS, edf_bytes
from seizure.io.annotations import read_annotations
from seizure.io.edf import EdfReader, EdfWriter
from seizure.preprocess.pipeline import EdfPipeline
from seizure.preprocess.recipe import Recipe
from seizure.store import FeatureStore

ROOT = Path(__file__).resolve().parents[1]
NAMES = sorted(CASES)
EDF_CASES = [n for n in NAMES if n.startswith("edf/")]
ANNOTATION_CASES = [n for n in NAMES if n.startswith("annotation/")]


def test_the_catalogue_covers_the_issue_list():
    groups = {name.split("/")[1] if name.startswith("annotation/") else "edf" for name in CASES}
    assert groups == {"edf", "csv_bi", "csv", "tse", "tsv", "missing"}
    assert len([n for n in CASES if n.startswith("edf/")]) >= 30
    for kind in ("stop_before_start", "event_past_end", "overlapping_events", "unknown_label", "missing_header_line",
                 "wrong_column_count", "non_utf8", "windows_line_endings", "confidence_out_of_range", "header_only"):
        assert {f"annotation/{fmt}/{kind}" for fmt in ("csv_bi", "csv", "tse", "tsv")} <= set(CASES)


@pytest.mark.parametrize("name", NAMES)
def test_inspect(tmp_path, name):
    case = CASES[name]
    edf = write_case(case, tmp_path, "rec")
    code, out, err = run_cli(["inspect", str(edf)])
    expect = case.expect["inspect"]
    assert code == expect.code, out + err
    assert re.search(expect.pattern, out + err), out + err
    assert "Traceback" not in out + err
    if code == 1:  # one line on stderr naming the file, nothing on stdout
        assert out == "" and err.count("\n") == 1 and err.startswith(f"error: {edf}: "), err


@pytest.mark.parametrize("name", NAMES)
def test_preprocess(tmp_path, name):
    case = CASES[name]
    code, output, error = run_preprocess(case, tmp_path)
    expect = case.expect["preprocess"]
    assert code == expect.code, output + error
    assert "Traceback" not in output
    store = FeatureStore(tmp_path / "store")
    (rec,) = store.records(status=None)
    if expect.code:
        assert re.search(expect.pattern, error), error
        assert rec.status == "error" and f"failed x1: {error} (e.g. {rec.rec_id})" in output
        assert not (tmp_path / "store" / "records" / f"{rec.rec_id}.x.npy").exists()
    else:
        assert rec.status == "ok" and error == ""
        x, y = store.features(rec.rec_id), store.labels(rec.rec_id)
        assert x.shape == (SECONDS * 250, 22, 1) and np.isfinite(x).all() and y.shape == (SECONDS,)
    assert not list((tmp_path / "store" / "records").glob(".*tmp*"))  # no partial file left behind


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp("model") / "model.pt")


@pytest.mark.parametrize("name", EDF_CASES)
def test_score(tmp_path, model, name):
    case = CASES[name]
    code, text = run_score(case, tmp_path, model)
    expect = case.expect["score"]
    assert code == expect.code, text
    assert re.search(expect.pattern, text), text
    assert "Traceback" not in text
    written = sorted(p.name for p in (tmp_path / "out").glob("*")) if (tmp_path / "out").exists() else []
    if code == 0:
        assert written == ["rec.csv_bi", "rec_events.tsv"]
        assert read_annotations(tmp_path / "out" / "rec.csv_bi", duration_s=SECONDS).duration_s == SECONDS
    else:  # nothing written for a refused recording; the failure is named on one line
        assert written == []
        if code == 1:
            assert f"1 recording(s) failed:\n  {tmp_path / 'rec.edf'}: " in text


def check_score_reads_no_annotation_file(tmp_path: Path, model: Path, names: list[str]) -> None:
    edfs = [write_case(CASES[name], tmp_path / "in" / str(i), name.replace("/", "_")) for i, name in enumerate(names)]
    code, out, err = run_cli(["score", str(model), *map(str, edfs), "--out", str(tmp_path / "out")])
    assert code == 0, out + err
    assert "WARNING" not in err
    assert len(list((tmp_path / "out").glob("*.csv_bi"))) == len(edfs)


def test_score_reads_no_annotation_file(tmp_path, model):
    """Without --plot a sidecar is never read: a recording whose sidecar is unreadable is scored."""
    check_score_reads_no_annotation_file(tmp_path, model, [n for n in ANNOTATION_CASES if n.endswith("/non_utf8")])


@pytest.mark.slow
def test_score_reads_no_annotation_file_of_any_case(tmp_path, model):
    check_score_reads_no_annotation_file(tmp_path, model, ANNOTATION_CASES)


def check_score_plot(tmp_path: Path, model: Path, name: str) -> None:
    code, text = run_score(CASES[name], tmp_path, model, plot=True)
    expect = CASES[name].expect["score --plot"]
    assert code == expect.code == 0, text
    assert re.search(expect.pattern, text) if expect.pattern else "reference events not drawn" not in text, text
    assert (tmp_path / "out" / "rec.png").stat().st_size > 0


@pytest.mark.parametrize("name", ["annotation/csv_bi/non_utf8", "annotation/tse/event_past_end",
                                  "annotation/tsv/wrong_column_count"])
def test_score_plot_draws_the_sidecar_or_says_why_not(tmp_path, model, name):
    check_score_plot(tmp_path, model, name)


@pytest.mark.slow
@pytest.mark.parametrize("name", ANNOTATION_CASES)
def test_score_plot_every_annotation_case(tmp_path, model, name):
    check_score_plot(tmp_path, model, name)


@pytest.mark.parametrize("name, seizures", [
    ("annotation/csv_bi/overlapping_events", [[3.0, 10.0]]),  # merged for binary use
    ("annotation/tsv/overlapping_events", [[3.0, 10.0]]),
    ("annotation/csv_bi/windows_line_endings", [[3.0, 7.5]]),  # read exactly as with LF
    ("annotation/tse/windows_line_endings", [[3.0, 7.5]]),
    ("annotation/csv_bi/byte_order_mark", [[3.0, 7.5]]),
    ("annotation/csv_bi/missing_duration_line", [[3.0, 7.5]]),
])
def test_accepted_annotation_quirks_give_the_right_labels(tmp_path, name, seizures):
    assert run_preprocess(CASES[name], tmp_path)[0] == 0
    store = FeatureStore(tmp_path / "store")
    (rec,) = store.records()
    assert rec.seizures == seizures
    expected = np.zeros(SECONDS, np.uint8)
    for a, b in seizures:
        expected[int(np.ceil(a - 0.5)):int(np.ceil(b - 0.5))] = 1
    np.testing.assert_array_equal(store.labels(rec.rec_id), expected)


def test_one_corpus_run_records_every_bad_input_and_writes_the_good_ones(tmp_path):
    root = tmp_path / "corpus"
    expected = {}
    for i, name in enumerate(NAMES):
        folder, stem = corpus_path(root, i)
        write_case(CASES[name], folder, stem)
        expected[stem] = CASES[name].expect["preprocess"]
    good = CASES["edf/record_count_unknown"]  # a plain valid recording with a csv_bi
    for i in range(len(NAMES), len(NAMES) + 3):
        folder, stem = corpus_path(root, i)
        write_case(good, folder, stem)
        expected[stem] = good.expect["preprocess"]
    n_bad = sum(1 for e in expected.values() if e.code)
    code, out, err = run_cli(["-q", "preprocess", str(root), str(tmp_path / "store"), "--set", "recipe.feature=raw"])
    assert code == 1 and "Traceback" not in out + err
    assert f"{len(expected)} recording(s) found: {len(expected) - n_bad} processed, 0 already done, {n_bad} failed" in out
    store = FeatureStore(tmp_path / "store")
    records = {m.rec_id: m for m in store.records(status=None)}
    assert set(records) == set(expected)
    for stem, outcome in expected.items():
        meta = records[stem]
        if outcome.code:
            assert meta.status == "error" and re.search(outcome.pattern, meta.error), (stem, meta.error)
        else:
            assert meta.status == "ok", (stem, meta.error)
            assert store.features(stem).shape == (SECONDS * 250, 22, 1)
    manifest = (tmp_path / "store" / "manifest.csv").read_text().splitlines()
    assert len(manifest) == 1 + len(expected)
    # a second run skips the good recordings and retries (and again records) the bad ones
    code, out, _ = run_cli(["-q", "preprocess", str(root), str(tmp_path / "store"), "--set", "recipe.feature=raw"])
    assert code == 1
    assert f"0 processed, {len(expected) - n_bad} already done, {n_bad} failed" in out


def _ten_hour_sparse_file(path: Path, hours: int = 10) -> Path:
    """A valid 10 h EDF (21 electrodes, T3 at 128 Hz, the rest at 256 Hz): the first 10 minutes
    are noise, the rest is a sparse run of zero records (no disk space, no write time)."""
    spr = [128 if lab == "EEG T3-REF" else 256 for lab in TCP_REF_LABELS]
    n_records = hours * 3600
    data = edf_bytes(TCP_REF_LABELS, spr, 600, annotations=False, header_n_records=str(n_records))
    header = 256 * (len(TCP_REF_LABELS) + 1)
    record_bytes = (len(data) - header) // 600
    with open(path, "wb") as fh:
        fh.write(data)
        fh.truncate(header + n_records * record_bytes)
    return path


def test_ten_hour_file_with_one_channel_at_another_rate_is_read_in_bounded_memory(tmp_path):
    path = _ten_hour_sparse_file(tmp_path / "long.edf")
    code, out, err = run_cli(["inspect", str(path)])
    assert code == 0 and "36000 records x 1 s = 36000 s" in out
    assert re.search(r"EEG T3-REF\s+rate 128 Hz differs from the EEG rate 256 Hz", out)
    assert re.search(r"tcp\s+18/22 channels; zero-filled and masked: F7-T3, T3-T5, A1-T3, T3-C3", out)

    with EdfReader(path) as reader:  # windows anywhere in the 10 hours cost the window, not the file
        assert reader.duration_s == 36000 and len(reader.eeg_indices) == 20
        tracemalloc.start()
        for start in (0.0, 300.0, 18000.0, 35940.0):
            window = reader.read(start, start + 60)
            assert window.shape == (20, 60 * 256)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < 4 * window.nbytes + 8 * 2**20
        assert np.abs(window).max() < 0.1  # the sparse tail: digital 0 is 0 uV
        t3 = reader.read(0, 60, indices=[TCP_REF_LABELS.index("EEG T3-REF")])
        assert t3.shape == (1, 60 * 128)

    def peak_of_first_chunks(edf: Path) -> int:
        tracemalloc.start()
        with EdfPipeline(edf, Recipe(), chunk_s=60) as pipe:
            assert pipe.missing == ["F7-T3", "T3-T5", "A1-T3", "T3-C3"]
            for k, chunk in zip(range(3), pipe.feature_chunks()):
                assert chunk.features.shape == (600, 22, 26)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    short = _ten_hour_sparse_file(tmp_path / "short.edf", hours=1)
    assert peak_of_first_chunks(path) < 1.2 * peak_of_first_chunks(short)


@pytest.mark.slow
def test_ten_hour_file_is_preprocessed_whole_in_bounded_memory(tmp_path):
    """The whole 10 h recording (real noise, no sparse part) through `seizure preprocess` in a
    child process: its peak resident memory stays far below the 1.4 GB of the float32 recording."""
    folder, stem = corpus_path(tmp_path / "corpus", 0)
    folder.mkdir(parents=True)
    rates = [128 if lab == "EEG T3-REF" else 256 for lab in TCP_REF_LABELS]
    rng = np.random.default_rng(0)
    with EdfWriter(folder / f"{stem}.edf", TCP_REF_LABELS, rates, physical_ranges=(-500.0, 500.0)) as w:
        blocks = [(rng.standard_normal(600 * f) * 20).astype(np.float32) for f in rates]
        for _ in range(10 * 6):  # 10 h in 10-minute blocks
            w.write(blocks)
    (folder / f"{stem}.csv_bi").write_bytes(
        b"# version = csv_v1.0.0\n# bname = x\n# duration = 36000.00 secs\n#\n"
        b"channel,start_time,stop_time,label,confidence\nTERM,0.0000,36000.0000,bckg,1.0000\n")
    # VmHWM, not ru_maxrss: the latter survives exec, so a child spawned by a large pytest worker
    # (vfork) would report the worker's peak
    code = ("import re, sys; from seizure.cli import main; rc = main(sys.argv[1:]); "
            "print(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)); sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code, "-q", "preprocess", str(tmp_path / "corpus"),
                           str(tmp_path / "store")], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr
    peak_kb = int(proc.stdout.strip().splitlines()[-1])
    assert peak_kb < 700 * 1024  # float32 of the recording alone: 36000 * 256 * 21 * 4 B = 774 MB
    store = FeatureStore(tmp_path / "store")
    (rec,) = store.records()
    assert rec.n_seconds == 36000 and rec.missing_channels == ["F7-T3", "T3-T5", "A1-T3", "T3-C3"]
    assert store.features(rec.rec_id).shape == (360000, 22, 26)


def test_docs_table_lists_every_case():
    text = (ROOT / "docs" / "robustness.md").read_text()
    missing = [name for name in NAMES if f"`{name}`" not in text]
    assert not missing, f"docs/robustness.md lacks {missing}; regenerate it with `python tests/bad_inputs.py`"


def test_contiguous_edf_plus_d_gives_the_same_features_as_edf_plus_c(tmp_path):
    plus_d = CASES["edf/edf_d_contiguous"]
    plus_c = CASES["edf/record_count_unknown"]  # same samples (seed 0), EDF+C
    stores = []
    for i, case in enumerate((plus_d, plus_c)):
        assert run_preprocess(case, tmp_path / str(i))[0] == 0
        stores.append(FeatureStore(tmp_path / str(i) / "store"))
    (a,), (b,) = (s.records() for s in stores)
    np.testing.assert_array_equal(stores[0].features(a.rec_id), stores[1].features(b.rec_id))
