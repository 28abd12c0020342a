"""One-line messages in our own words: unreadable checkpoints (no PyTorch text passed through)
and a symbolic link planted in `--out` (named by the file that would have been written).
The absurd EDF record duration is a catalogue case (tests/bad_inputs.py)."""

from __future__ import annotations

import pickle

import pytest
import torch

from bad_inputs import CASES, run_cli, tiny_checkpoint, write_case
from seizure import checkpoint
from seizure.errors import CheckpointError

EXPECTED = "expected a checkpoint written by `seizure train` (a torch.save zip archive of plain data)"


class Payload:
    def __reduce__(self):
        return print, ("ran",)


@pytest.mark.parametrize("name, content, what", [
    ("empty", b"", "the file is empty"),
    ("truncated_zip", b"PK\x03\x04 truncated zip", "a damaged or truncated zip archive"),
    ("pickle0", pickle.dumps({"format": "seizure-checkpoint", "x": Payload()}, protocol=0),
     "a plain pickle or other bytes, not torch.save output (stopped at pickle opcode 100)"),
    ("pickle5", pickle.dumps({"format": "seizure-checkpoint"}, protocol=5),
     "a plain pickle or other bytes, not torch.save output (stopped at pickle opcode 149)"),
    ("text", b"garbage" * 10, "a plain pickle or other bytes, not torch.save output (stopped at pickle opcode 103)"),
    ("frame_garbage", b"\x80\x95abc", "unreadable data (IndexError)"),
])
def test_unreadable_checkpoints_are_described_in_our_words(tmp_path, name, content, what):
    path = tmp_path / f"{name}.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError) as info:
        checkpoint.load(path)
    assert str(info.value) == f"{path}: not a readable PyTorch checkpoint: {what}; {EXPECTED}"


def test_a_checkpoint_that_would_run_code_names_the_callable(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": checkpoint.FORMAT, "summary": Payload()}, path)
    with pytest.raises(CheckpointError) as info:
        checkpoint.read(path)
    assert str(info.value) == (f"{path}: refused: the file holds more than plain data and would run code (it calls "
                               "print); a checkpoint holds only tensors, numbers, strings, lists and dicts")


def test_symlink_planted_in_out_is_refused_naming_the_file_it_would_write(tmp_path):
    model = tiny_checkpoint(tmp_path / "model.pt")
    edf = write_case(CASES["edf/record_count_unknown"], tmp_path / "in", "rec")
    out = tmp_path / "out"
    out.mkdir()
    elsewhere = tmp_path / "elsewhere.csv_bi"
    (out / "rec.csv_bi").symlink_to(elsewhere)
    code, stdout, err = run_cli(["score", str(model), str(edf), "--out", str(out)])
    assert code == 1, stdout + err
    resolved = out.resolve()
    assert (f"  {resolved / 'rec.csv_bi'}: refusing to write this output: it is a symbolic link to "
            f"{elsewhere.resolve()}, outside the output folder {resolved}; expected a regular file or no file "
            "(remove the link)") in err.splitlines(), err
    assert not elsewhere.exists() and (out / "rec.csv_bi").is_symlink()
    assert not (out / "rec_events.tsv").exists()
