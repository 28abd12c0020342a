"""Reading and writing recordings and their annotations.

Public API: :func:`read_edf` (a whole EDF/EDF+ file -> :class:`Recording`, float32 uV),
:class:`EdfReader` (partial reads in bounded memory), :func:`write_edf` and the streaming
:class:`EdfWriter`. Annotation formats live in :mod:`seizure.io.annotations`.
"""

from seizure.io.edf import EdfReader, EdfWriter, Recording, read_edf, write_edf

__all__ = ["EdfReader", "EdfWriter", "Recording", "read_edf", "write_edf"]
