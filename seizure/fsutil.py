"""Atomic writes and safe output paths.

Every file the tool writes goes through :func:`atomic_write` (or :func:`atomic_path`):
the content lands in a temporary file in the same folder and is renamed into place
only when complete, so an interrupted run never leaves a half-written file that a
later run would trust.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from seizure.errors import SeizureError

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    ``suffix`` keeps an extension some writers insist on (``np.save`` adds ``.npy``).
    """
    tmp_path = temp_path(path, suffix)
    try:
        yield tmp_path
        commit(tmp_path, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()


def temp_path(path: str | Path, suffix: str = "") -> Path:
    """A new empty temporary file beside ``path`` (``.NAME.<random>.tmpSUFFIX``: never trusted,
    removed by the writer's next run); :func:`commit` renames it onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    return Path(tmp)


def commit(tmp: str | Path, path: str | Path) -> None:
    """Rename the finished temporary file ``tmp`` onto ``path`` (same folder)."""
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs are shared data
    os.replace(tmp, path)


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temporary file for writing; fsync and rename onto ``path`` on success."""
    if "b" in mode:
        encoding = None
    with atomic_path(path) as tmp:
        with open(tmp, mode, encoding=encoding, newline="" if encoding else None) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())


def temp_files(path: str | Path) -> list[Path]:
    """The temporary files :func:`atomic_path` makes for ``path`` (``.<name>.<8 chars>.tmp[suffix]``)
    that exist now: left behind when a run writing ``path`` was killed."""
    path = Path(path)
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[A-Za-z0-9_]{{8}}\.tmp(\.[A-Za-z0-9]+)?")
    if not path.parent.is_dir():
        return []
    return sorted(p for p in path.parent.glob(f".{glob.escape(path.name)}.*.tmp*")
                  if pattern.fullmatch(p.name) and p.is_file() and not p.is_symlink())


def remove_temp_files(paths: Iterable[str | Path]) -> int:
    """Delete the stale temporary files of the outputs ``paths`` (:func:`temp_files`); their count."""
    removed = 0
    for path in paths:
        for tmp in temp_files(path):
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
                removed += 1
    return removed


def save_figure(fig, path: str | Path) -> Path:
    """Write a matplotlib figure to ``path`` as PNG, atomically, and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    try:
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, format="png")
    finally:
        plt.close(fig)
    return path


def safe_name(name: str) -> str:
    """A file-name component with no path separators or traversal (``../x`` -> ``x``)."""
    base = name.replace("\\", "/").split("/")[-1]
    base = _UNSAFE.sub("_", base).lstrip(".")
    return base or "unnamed"


def inside(root: str | Path, name: str) -> Path:
    """``root / safe_name(name)``, guaranteed to lie inside ``root``."""
    root = Path(root).resolve()
    planned = root / safe_name(name)
    try:
        target = planned.resolve()
    except (OSError, RuntimeError):  # a symbolic link loop
        raise SeizureError("refusing to write this output: it is a symbolic link that loops; expected a "
                           "regular file or no file (remove the link)", planned) from None
    if root != target.parent:
        raise SeizureError(f"refusing to write this output: it is a symbolic link to {target}, outside the "
                           f"output folder {root}; expected a regular file or no file (remove the link)", planned)
    return target
