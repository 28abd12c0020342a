"""Reading and writing recordings and their annotations.

Public API: :func:`read_edf` (a whole EDF/EDF+ file -> :class:`Recording`, float32 uV),
:class:`EdfReader` (partial reads in bounded memory), :func:`write_edf` and the streaming
:class:`EdfWriter`; :func:`read_annotations` (any annotation format; ``.to_mne()``) and
:func:`from_mne` (``mne.Annotations`` -> our events). Annotation formats live in
:mod:`seizure.io.annotations`, BIDS datasets in :mod:`seizure.io.bids`, MNE interop in
:mod:`seizure.io.mne_raw`.
"""

from seizure.io.annotations import read_annotations
from seizure.io.edf import EdfReader, EdfWriter, Recording, read_edf, write_edf
from seizure.io.mne_raw import from_mne

__all__ = ["EdfReader", "EdfWriter", "Recording", "from_mne", "read_annotations", "read_edf", "write_edf"]
