"""A realistic, deterministic synthetic EEG corpus in the exact TUSZ v2 layout.

Public API: :func:`synthesize` (a corpus split 60/20/20 by patient),
:func:`synthesize_long_recording` (one long file, streamed in bounded memory),
:class:`SynthParams` (the difficulty knobs) and :class:`SynthSummary`.
See ``docs/synthetic_corpus.md`` for what is modelled and its limits.

Modules: ``head`` (electrode geometry), ``noise`` (random-process primitives),
``params`` (knobs), ``plan`` (patients, splits, recordings, seizure placement),
``scene`` (one recording's timeline), ``background`` (ongoing EEG, block-wise),
``artifacts`` (hard negatives), ``seizures`` (evolving seizures, post-ictal),
``channels`` (TUH header layouts), ``render`` (EDF + annotations), ``corpus``.
"""

from seizure.synth.corpus import SplitSummary, SynthSummary, synthesize, synthesize_long_recording
from seizure.synth.params import SynthParams
from seizure.synth.render import RecordingInfo

__all__ = ["RecordingInfo", "SplitSummary", "SynthParams", "SynthSummary", "synthesize", "synthesize_long_recording"]

from seizure.api import callable_module, synth as _synth  # noqa: E402

callable_module(__name__, _synth)  # ``seizure.synth(...)`` still calls the API once this package is imported
