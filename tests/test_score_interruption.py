"""A killed `seizure score` leaves nothing a rerun keeps: the rerun removes the hidden temporary
files of the outputs it writes, and no partial file is ever visible under an output's name."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bad_inputs import CASES, tiny_checkpoint, write_case

ROOT = Path(__file__).resolve().parents[1]

# `seizure score` in a subprocess whose atomic rename onto an output ending in argv[1] stops
# (after writing argv[2]) until the process is killed: the moment a temporary file exists.
HANG = r"""
import os, sys, time
from pathlib import Path

real_replace = os.replace

def replace(src, dst, *args, **kwargs):
    if str(dst).endswith(sys.argv[1]):
        Path(sys.argv[2]).write_text(str(src))
        time.sleep(600)
    return real_replace(src, dst, *args, **kwargs)

os.replace = replace
from seizure.cli import main
sys.exit(main(sys.argv[3:]))
"""


CLI = "import sys; from seizure.cli import main; sys.exit(main(sys.argv[1:]))"


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")


def _score_argv(model: Path, edf: Path, out: Path) -> list[str]:
    return ["-q", "score", str(model), str(edf), "--out", str(out), "--plot", "--probabilities"]


def _kill_while_writing(suffix: str, argv: list[str], signal_file: Path) -> Path:
    """Run score until it is about to rename the temporary file of the output ending in
    ``suffix``; SIGKILL it there; return that temporary file."""
    proc = subprocess.Popen([sys.executable, "-c", HANG, suffix, str(signal_file), *argv], env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while not signal_file.exists():
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "score never reached the write"
            time.sleep(0.1)
        time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    tmp = Path(signal_file.read_text())
    signal_file.unlink()
    return tmp


def _hidden(out: Path) -> set[str]:
    return {p.name for p in out.iterdir() if p.name.startswith(".")}


def test_killed_score_leaves_no_temporary_file_after_a_rerun(tmp_path):
    model = tiny_checkpoint(tmp_path / "model.pt")
    edf = write_case(CASES["edf/record_count_unknown"], tmp_path / "in", "rec")
    out = tmp_path / "out"
    out.mkdir()
    foreign = out / ".other.csv_bi.abcd1234.tmp"  # not an output of this run: left alone
    foreign.write_text("another run's file")
    argv = _score_argv(model, edf, out)

    # killed while writing the probabilities: its temporary file stays, nothing partial is visible
    tmp1 = _kill_while_writing("_probs.csv", argv, tmp_path / "signal")
    assert tmp1.parent == out and tmp1.name.startswith(".rec_probs.csv.") and tmp1.exists()
    assert {p.name for p in out.iterdir() if not p.name.startswith(".")} == {"rec.csv_bi", "rec_events.tsv"}

    # the rerun removes it on start; killed again while writing the figure
    tmp2 = _kill_while_writing(".png", argv, tmp_path / "signal")
    assert not tmp1.exists(), "the rerun did not remove the stale temporary file"
    assert tmp2.name.startswith(".rec.png.") and tmp2.exists()
    assert not (out / "rec.png").exists()

    # a full rerun: complete outputs, no temporary file, the same bytes as an uninterrupted run
    done = subprocess.run([sys.executable, "-c", CLI, *argv], env=_env(), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert _hidden(out) == {foreign.name}
    ref = tmp_path / "ref"
    clean = subprocess.run([sys.executable, "-c", CLI, *_score_argv(model, edf, ref)], env=_env(),
                           capture_output=True, text=True, timeout=300)
    assert clean.returncode == 0, clean.stderr[-2000:]
    assert sorted(p.name for p in out.iterdir() if p != foreign) == sorted(p.name for p in ref.iterdir())
    for name in ("rec.csv_bi", "rec_events.tsv", "rec_probs.csv"):
        assert (out / name).read_bytes() == (ref / name).read_bytes(), name
    assert (out / "rec.png").stat().st_size > 1000
