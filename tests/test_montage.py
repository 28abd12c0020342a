import numpy as np
import pytest

from seizure.errors import MontageError
from seizure.io import EdfReader, read_edf
from seizure.io.edf import Recording
from seizure.io import channels
from seizure.preprocess import montage
from seizure.io.channels import normalise_label
from seizure.preprocess.montage import MONTAGES, plan

TCP = MONTAGES["tcp"].channels
ELECTRODES_21 = "FP1 FP2 F3 F4 C3 C4 P3 P4 O1 O2 F7 F8 T3 T4 T5 T6 A1 A2 FZ CZ PZ".split()


@pytest.mark.parametrize("label,expected", [
    ("EEG FP1-REF", "FP1"), ("EEG FP1-LE", "FP1"), ("Fp1", "FP1"), ("EEG Fp1", "FP1"), ("FP1", "FP1"),
    ("EEG FP1-AR", "FP1"), (" EEG  fp1-ref ", "FP1"), ("EEG Fz", "FZ"), ("Cz", "CZ"),
    ("T7", "T3"), ("P7", "T5"), ("T8", "T4"), ("P8", "T6"), ("EEG T7-REF", "T3"),
    ("EEG T1-REF", "T1"), ("EEG T2-LE", "T2"), ("EEG A1-REF", "A1"),
    ("FP1-F7", "FP1-F7"), ("T7-P7", "T3-T5"), ("EEG FP1-F7", "FP1-F7"), ("P8-O2", "T6-O2"),
    ("FT9-FT10", "FT9-FT10"), ("FZ-CZ", "FZ-CZ"),
    ("EEG EKG1-REF", "EKG1"), ("EKG EKG", "EKG"), ("ECG", "EKG"), ("EEG ROC-REF", "ROC"), ("EEG LOC-REF", "LOC"),
    ("EMG-REF", "EMG"), ("PHOTIC-REF", "PHOTIC"), ("PHOTIC PH", "PHOTIC"), ("DC1-DC", "DC1"),
    ("EEG 26-LE", "26"), ("IBI", "IBI"), ("EDF Annotations", "EDF ANNOTATIONS"), ("Sph1", "SP1"),
    ("EEG Cp5", "CP5"), ("SPO2", "SPO2"),
])
def test_synonyms(label, expected):
    assert normalise_label(label) == expected
    assert normalise_label(expected) == expected  # idempotent


def test_synonym_table_is_explicit_and_maps_to_canonical_names():
    assert channels.SYNONYMS["T7"] == "T3" and channels.SYNONYMS["P8"] == "T6"
    for alias, canonical in channels.SYNONYMS.items():
        assert alias not in channels.SYNONYMS.values() or alias == canonical
    for a, b in MONTAGES["tcp"].pairs + MONTAGES["double_banana"].pairs:
        assert a in channels.ELECTRODES and b in channels.ELECTRODES


def test_registry_shapes_and_tcp_order():
    assert len(TCP) == 22 and TCP[:4] == ["FP1-F7", "F7-T3", "T3-T5", "T5-O1"]
    assert TCP[8] == "A1-T3" and TCP[13] == "T4-A2" and TCP[-1] == "P4-O2"
    db = MONTAGES["double_banana"].channels
    assert len(db) == 18 and db[-2:] == ["FZ-CZ", "CZ-PZ"] and "A1-T3" not in db


def test_unknown_montage_lists_valid_names():
    with pytest.raises(MontageError, match=r"unknown montage 'tcp_le'; valid montages: double_banana, tcp"):
        plan(ELECTRODES_21, "tcp_le")


def test_parameter_validation():
    with pytest.raises(ValueError, match=r"missing must be one of refuse, zero; got 'drop'"):
        plan(ELECTRODES_21, "tcp", missing="drop")
    with pytest.raises(ValueError, match=r"min_channels must be an integer from 1 to 18 .* got 19"):
        plan(ELECTRODES_21, "double_banana", min_channels=19)
    p = plan(ELECTRODES_21)
    with pytest.raises(ValueError, match="data must have shape"):
        p.apply(np.zeros((3, 10)))
    with pytest.raises(ValueError, match=r"out must have shape \(22, 10\)"):
        p.apply(np.zeros((len(p.needed_indices), 10)), out=np.zeros((21, 10), np.float32))


def test_montage_of_spectra_is_the_spectrum_of_the_montage():
    """The montage is linear: formed on complex spectra (into a given array) it equals the
    transform of the bipolar signals, zero-filled missing pairs included."""
    electrodes = [e for e in ELECTRODES_21 if e not in ("A1", "A2")]
    p = plan(electrodes, "tcp")
    x = np.random.default_rng(1).standard_normal((len(p.needed_indices), 256)).astype(np.float32)
    out = np.full((22, 129), np.nan, dtype=np.complex64)
    assert p.apply(np.fft.rfft(x).astype(np.complex64), out=out) is out
    np.testing.assert_allclose(out, np.fft.rfft(p.apply(x)), atol=1e-4)
    assert not out[~p.mask].any()


def _referential(labels, n=500, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 50, size=(len(labels), n)).astype(np.float32)


def test_tcp_pairs_are_electrode_differences():
    labels = [f"EEG {e}-REF" for e in ELECTRODES_21] + ["EEG EKG1-REF", "IBI"]
    rng = np.random.default_rng(5)
    order = rng.permutation(len(labels))  # any channel order
    labels = [labels[i] for i in order]
    x = _referential(labels)
    p = plan(labels, "tcp")
    assert p.mask.all() and p.missing == [] and p.missing_electrodes == []
    assert [labels[i] for i in p.needed_indices] == sorted(
        (f"EEG {e}-REF" for e in ELECTRODES_21 if e not in ("FZ", "PZ")), key=labels.index)
    out = p.apply(x[p.needed_indices])
    assert out.dtype == np.float32 and out.shape == (22, 500)
    names = [normalise_label(lab) for lab in labels]
    for row, (a, b) in enumerate(MONTAGES["tcp"].pairs):
        np.testing.assert_array_equal(out[row], x[names.index(a)] - x[names.index(b)])
    assert p.sources[0] == "EEG FP1-REF - EEG F7-REF"


def test_ar_a_without_a1_a2_is_zero_filled_and_masked_by_default(real_headers):
    path = next(real_headers.rglob("03_tcp_ar_a/*.edf"))
    rec = read_edf(path)
    assert "A1" not in rec.channels and "A2" not in rec.channels
    m = montage.apply(rec, "tcp")
    assert m.channels == TCP and m.fs_hz == rec.fs_hz == 400.0
    assert m.missing == ["A1-T3", "T4-A2"]
    assert m.mask.tolist() == [c not in ("A1-T3", "T4-A2") for c in TCP]
    assert not m.data[~m.mask].any() and m.data[m.mask].std(axis=1).min() > 1
    fp1, f7 = rec.channels.index("FP1"), rec.channels.index("F7")
    np.testing.assert_array_equal(m.data[0], rec.data[fp1] - rec.data[f7])
    p = plan(rec.channels, "tcp")
    assert p.missing_electrodes == ["A1", "A2"] and p.n_formed == 20
    with pytest.raises(MontageError, match=r"cannot form A1-T3, T4-A2 \(missing electrodes: A1, A2\) and missing='refuse'"):
        montage.apply(rec, "tcp", missing="refuse")


def test_too_few_channels_lists_exactly_the_missing_electrodes():
    present = [e for e in ELECTRODES_21 if e not in ("T3", "T4", "O1")]
    with pytest.raises(MontageError) as info:
        plan([f"EEG {e}-LE" for e in present], "tcp", path="x.edf")
    msg = str(info.value)
    assert msg.startswith("x.edf: montage 'tcp' needs at least 16 of its 22 channels but only 12 can be formed")
    assert "missing electrodes: O1, T3, T4;" in msg
    assert "missing pairs: F7-T3, T3-T5, T5-O1, F8-T4, T4-T6, A1-T3, T3-C3, C4-T4, T4-A2, P3-O1" in msg
    assert plan([f"EEG {e}-LE" for e in present], "tcp", min_channels=12).n_formed == 12


def test_chbmit_bipolar_labels_map_onto_pairs(real_headers):
    rec = read_edf(real_headers / "chbmit" / "chb05" / "chb05_01.edf")
    m = montage.apply(rec, "tcp")
    assert m.mask.sum() == 16
    assert set(m.missing) == {"A1-T3", "T3-C3", "C3-CZ", "CZ-C4", "C4-T4", "T4-A2"}
    idx = {lab: i for i, lab in enumerate(rec.labels)}
    np.testing.assert_array_equal(m.data[TCP.index("T3-T5")], rec.data[idx["T7-P7"]])  # not the reversed P7-T7
    np.testing.assert_array_equal(m.data[TCP.index("T4-T6")], rec.data[idx["T8-P8"]])
    p = plan(rec.channels, "tcp")
    assert p.missing_electrodes == ["A1", "A2"]  # T3, C3, CZ... exist in bipolar labels, A1/A2 nowhere
    db = montage.apply(rec, "double_banana")
    assert db.mask.all() and db.channels[-1] == "CZ-PZ"
    np.testing.assert_array_equal(db.data[-1], rec.data[idx["CZ-PZ"]])


def test_reversed_bipolar_pair_is_negated_and_duplicates_use_the_first():
    labels = ["F7-FP1", "T8-P8", "T8-P8", "P7-T7", "FP2-F8"]
    x = _referential(labels, n=50, seed=1)
    p = plan(labels, "double_banana", min_channels=4)
    out = p.apply(x[p.needed_indices])
    db = MONTAGES["double_banana"].channels
    np.testing.assert_array_equal(out[db.index("FP1-F7")], -x[0])
    np.testing.assert_array_equal(out[db.index("T4-T6")], x[1])
    np.testing.assert_array_equal(out[db.index("T3-T5")], -x[3])
    assert p.needed_indices == [0, 1, 3, 4] and p.n_formed == 4
    assert p.sources[db.index("FP1-F7")] == "-(F7-FP1)"


def test_double_banana_from_10_10_referential_names():
    names = ["Fp1", "Fp2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "F7", "F8", "T7", "T8", "P7", "P8",
             "Fz", "Cz", "Pz"]
    x = _referential(names, n=64, seed=2)
    p = plan(names, "double_banana")
    out = p.apply(x[p.needed_indices])
    assert p.mask.all()
    np.testing.assert_array_equal(out[1], x[names.index("F7")] - x[names.index("T7")])  # F7-T3
    np.testing.assert_array_equal(out[17], x[names.index("Cz")] - x[names.index("Pz")])


def test_plan_on_needed_indices_matches_whole_recording_apply(real_headers):
    path = next(real_headers.rglob("01_tcp_ar/*.edf"))
    whole = montage.apply(read_edf(path), "tcp")
    with EdfReader(path) as r:
        p = plan(r.channels, "tcp")
        rows = r.read(0.5, 1.5, indices=[r.eeg_indices[i] for i in p.needed_indices])
    assert len(p.needed_indices) == 19 and p.mask.all()
    fs = int(whole.fs_hz)
    np.testing.assert_array_equal(p.apply(rows), whole.data[:, fs // 2: fs // 2 + fs])


def test_apply_on_a_constructed_recording():
    labels = [f"EEG {e}-REF" for e in ELECTRODES_21]
    x = _referential(labels, n=10)
    rec = Recording(path="mem.edf", data=x, fs_hz=10.0, channels=[normalise_label(lab) for lab in labels],
                    labels=labels, start_time=None, duration_s=1.0)
    m = montage.apply(rec)
    assert m.data.shape == (22, 10) and m.mask.all() and m.fs_hz == 10.0
