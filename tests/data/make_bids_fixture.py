"""Rebuild ``tests/data/bids``: a tiny BIDS dataset laid out as epilepsy2bids does.

Its EDFs are the 2-second real-header stubs of ``tests/fixtures/real-headers`` (CHB-MIT
chb05, Siena PN00, SeizeIT P_ID64: real headers and channel lists, white-noise samples),
renamed into ``sub-*/ses-01/eeg/*_eeg.edf``; events, sidecars and the dataset files are
written from the headers. Run from the repository root:
``python tests/data/make_bids_fixture.py``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from seizure.events import Event
from seizure.io.annotations import write_szcore_tsv
from seizure.io.edf import EdfReader
from seizure.io.bids import is_eeg_label

ROOT = Path(__file__).resolve().parents[2]
HEADERS = ROOT / "tests" / "fixtures" / "real-headers"
OUT = ROOT / "tests" / "data" / "bids"
TASK = "task-szMonitoring"
# (subject, run, source EDF, seizures [(start_s, stop_s)], write the sidecars)
RECORDINGS = [
    ("01", "00", HEADERS / "chbmit" / "chb05" / "chb05_06.edf", [(0.5, 1.5)], False),
    ("01", "01", HEADERS / "chbmit" / "chb05" / "chb05_01.edf", [], False),
    ("02", "00", HEADERS / "siena" / "PN00" / "PN00-1.edf", [(1.0, 2.0)], True),
    ("03", "00", HEADERS / "seizeit" / "P_ID64" / "P_ID64_r1.edf", [], True),
]
PARTICIPANTS = [("sub-01", "F", 7, "CHB-MIT chb05"), ("sub-02", "M", 55, "Siena PN00"), ("sub-03", "M", 20, "SeizeIT1 P_ID64")]


def _type(label: str) -> str:
    if is_eeg_label(label):
        return "EEG"
    return "ECG" if "EKG" in label.upper() or "ECG" in label.upper() else "MISC"


def main() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    (OUT / "dataset_description.json").write_text(json.dumps({
        "Name": "seizure test fixture: real CHB-MIT, Siena and SeizeIT headers with white-noise signals",
        "BIDSVersion": "1.9.0", "DatasetType": "raw", "License": "MIT (epilepsy2bids test data)",
    }, indent=2) + "\n")
    (OUT / "participants.tsv").write_text("participant_id\tsex\tage\tsource\n" + "".join(
        f"{p}\t{s}\t{a}\t{src}\n" for p, s, a, src in PARTICIPANTS))
    for sub, run, src, seizures, sidecars in RECORDINGS:
        folder = OUT / f"sub-{sub}" / "ses-01" / "eeg"
        folder.mkdir(parents=True, exist_ok=True)
        name = f"sub-{sub}_ses-01_{TASK}_run-{run}"
        edf = folder / f"{name}_eeg.edf"
        shutil.copyfile(src, edf)
        with EdfReader(edf) as r:
            duration, start, fs = r.duration_s, r.header.start_time, r.fs_hz
            signals = [s for s in r.signals if not s.is_annotation]
            n_eeg = sum(_type(s.label) == "EEG" for s in signals)
        write_szcore_tsv(folder / f"{name}_events.tsv", [Event(a, b, "sz") for a, b in seizures], duration,
                         date_time=start)
        if sidecars:
            (folder / f"{name}_eeg.json").write_text(json.dumps({
                "TaskName": "szMonitoring", "SamplingFrequency": fs, "PowerLineFrequency": 50,
                "EEGChannelCount": n_eeg, "EEGReference": "n/a", "RecordingDuration": duration,
                "SoftwareFilters": "n/a"}, indent=2) + "\n")
            (folder / f"{name}_channels.tsv").write_text("name\ttype\tunits\tsampling_frequency\n" + "".join(
                f"{s.label}\t{_type(s.label)}\t{s.physical_dim or 'n/a'}\t{s.fs_hz:g}\n" for s in signals))


if __name__ == "__main__":
    main()
