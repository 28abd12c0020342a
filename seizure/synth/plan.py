"""The corpus plan: patients, splits, sessions, recordings and where each seizure goes.

Planning is cheap and fully determined by the seed; rendering a recording needs only
its :class:`RecordingPlan` (which carries its own seed), so recordings can be rendered
in any order or in parallel with identical bytes.

Splits are by patient (60/20/20 % of the hours, to the second); the seizure budget
(``seizure_fraction`` of each split's time) is spread over the recordings of that
split's seizure patients, so many recordings have no seizure at all.
"""

from __future__ import annotations

import dataclasses
import math
import string
from dataclasses import dataclass

import numpy as np

from seizure.errors import ConfigError
from seizure.synth import head
from seizure.synth.channels import TEMPLATE_WEIGHTS, TEMPLATES, Template, tcp_channels
from seizure.synth.params import FOCAL_TYPES, GENERALIZED_TYPES, SPLIT_SHARES, SynthParams

SPLITS = ("train", "dev", "eval")
MIN_TCP_KEPT = 16  # a recording with missing electrodes keeps this many TCP channels (the recipes' min_channels)
MIN_RECORDING_S = 120
MAX_SEIZURE_SHARE = 0.35  # of one recording's duration
FOCI = {"T3": 14, "T4": 14, "F7": 9, "F8": 9, "T5": 7, "T6": 7, "F3": 6, "F4": 6, "FP1": 4, "FP2": 4,
        "C3": 5, "C4": 5, "P3": 3, "P4": 3, "O1": 2, "O2": 2}
# Seizure durations (s): log-normal median, sigma, and hard bounds; post-ictal (min, max).
DURATIONS = {
    "fnsz": (55.0, 0.5, 15.0, 150.0), "cpsz": (80.0, 0.45, 30.0, 180.0), "spsz": (22.0, 0.4, 10.0, 45.0),
    "gnsz": (40.0, 0.5, 12.0, 120.0), "absz": (11.0, 0.4, 6.0, 28.0), "tcsz": (95.0, 0.3, 60.0, 180.0),
    "tnsz": (16.0, 0.3, 10.0, 30.0),
}
POSTICTAL_S = {"fnsz": (30, 120), "cpsz": (60, 240), "spsz": (0, 20), "gnsz": (20, 90), "absz": (0, 0),
               "tcsz": (120, 300), "tnsz": (10, 60)}


@dataclass(frozen=True)
class PatientTraits:
    """What stays the same across one patient's recordings."""

    bg_uv: float          # broadband background RMS per electrode (referential)
    exponent: float       # 1/f power exponent of the background
    beta_level: float     # relative 15-25 Hz bump (drug effect in some patients)
    alpha_hz: float
    alpha_uv: float       # posterior alpha RMS at O1/O2 (eyes closed)
    mu: bool
    theta_uv: float
    delta_uv: float
    syndrome: str         # "none" | "focal" | "generalized"
    focus: str            # electrode of the focal onset zone ("" if none)
    seizure_uv: float     # peak-to-peak ictal amplitude at the focus (referential), before seizure_snr
    f_start_hz: float     # typical ictal rhythm at onset
    f_end_hz: float       # typical ictal rhythm at the end
    muscle_factor: float
    blink_factor: float
    firda: bool
    ekg_leak_uv: float
    sleepiness: float     # 0..1, how readily recordings drift into drowsiness / N2
    ied_factor: float     # interictal discharge rate relative to the default
    gain: float = 1.0     # multiplies all of the patient's EEG (patient_gain_sigma)


@dataclass(frozen=True)
class SeizureSpec:
    """One seizure: its TUSZ label, timing and the parameters its renderer uses."""

    label: str
    onset_s: float
    duration_s: float
    focus: str
    subtle: bool
    amplitude_uv: float
    f_start_hz: float
    f_end_hz: float
    width: float            # final spatial field width (chord units; ~0.62 between neighbours)
    speed: float            # growth of the field width (chord units per second)
    bilateral_s: float      # time after onset the other hemisphere joins (inf: never)
    postictal_s: float
    seed: int
    morphology: str = "evolving"  # one of params.MORPHOLOGIES
    ramp: float = 0.0             # > 0: amplitude builds from 10 % over this share of the duration

    @property
    def stop_s(self) -> float:
        return round(self.onset_s + self.duration_s, 4)

    @property
    def generalized(self) -> bool:
        return self.label in ("gnsz", "absz", "tnsz") or (self.label == "tcsz" and self.focus == "")


@dataclass(frozen=True)
class RecordingPlan:
    """Everything needed to render one EDF and its annotations."""

    split: str
    patient: str
    session: int
    year: int
    token: int
    template: str
    fs_hz: float
    duration_s: int
    seed: int
    traits: PatientTraits
    seizures: tuple[SeizureSpec, ...] = ()
    missing: tuple[str, ...] = ()  # scalp electrodes this recording lacks

    @property
    def montage_dir(self) -> str:
        return TEMPLATES[self.template].montage_dir

    @property
    def layout(self) -> Template:
        """The header layout of this file: its template less the ``missing`` electrodes."""
        template = TEMPLATES[self.template]
        if not self.missing:
            return template
        return dataclasses.replace(template, signals=tuple(
            s for s in template.signals if not (s.kind == "eeg" and s.source in self.missing)))

    @property
    def bname(self) -> str:
        return f"{self.patient}_s{self.session:03d}_t{self.token:03d}"

    @property
    def relpath(self) -> str:
        """Path of the EDF inside the corpus root, TUSZ v2 layout."""
        return (f"edf/{self.split}/{self.patient}/s{self.session:03d}_{self.year}/"
                f"{self.montage_dir}/{self.bname}.edf")


def default_patients(hours: float, shares: dict[str, float] | None = None) -> int:
    """Patients for a corpus of ``hours``: about 2.5 per hour, at least 8, fewer (down to
    3) when the splits would be too short for every patient to get a recording."""
    shares = SPLIT_SHARES if shares is None else shares
    n = max(8, math.ceil(2.5 * hours))
    while n > 3 and not _feasible(hours * 3600.0, n, shares):
        n -= 1
    return n


def _feasible(total_s: float, n: int, shares: dict[str, float]) -> bool:
    return all(shares[split] * total_s >= k * MIN_RECORDING_S for split, k in zip(SPLITS, _split_counts(n, shares)))


def plan_corpus(hours: float, seed: int, params: SynthParams, patients: int | None = None,
                fs_hz: float | None = None) -> list[RecordingPlan]:
    """Plan a corpus of ``hours`` of EEG split 60/20/20 by patient. Deterministic in ``seed``."""
    if not isinstance(hours, (int, float)) or not hours > 0:
        raise ConfigError(f"hours must be a positive number, got {hours!r}")
    shares = params.split_shares
    n_pat = default_patients(hours, shares) if patients is None else patients
    if not isinstance(n_pat, int) or n_pat < 3:
        raise ConfigError(f"patients must be an integer >= 3 (one per split at least), got {n_pat!r}")
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    total_s = hours * 3600.0
    counts = _split_counts(n_pat, shares)
    for split, n in zip(SPLITS, counts):
        share = shares[split]
        need = n * MIN_RECORDING_S
        if share * total_s < need:
            raise ConfigError(f"hours={hours} is too little for {n_pat} patients: the {split} split "
                              f"needs at least {need / 3600:.3f} h ({n} patients x {MIN_RECORDING_S} s)")
    names = _patient_names(rng, n_pat)
    plans: list[RecordingPlan] = []
    start = 0
    # Shift knobs draw from their own streams, so the default corpus stays bit-for-bit the same.
    shift_rng = np.random.default_rng(np.random.SeedSequence([seed, 17]))
    for split, n in zip(SPLITS, counts):
        share = shares[split]
        split_names = names[start:start + n]
        start += n
        n_sz = 0 if params.seizure_fraction == 0 else max(1, round(params.seizure_patient_fraction * n))
        has_sz = np.zeros(n, bool)
        has_sz[rng.permutation(n)[:n_sz]] = True
        seconds = _patient_seconds(rng, share * total_s, n)
        split_plans: list[RecordingPlan] = []
        for name, sec, sz in zip(split_names, seconds, has_sz):
            traits = shift_traits(shift_rng, patient_traits(rng, params, sz), params)
            split_plans += _patient_recordings(rng, split, name, sec, traits, params, fs_hz)
        plans += allocate_seizures(rng, split_plans, params)
    return missing_electrodes(np.random.default_rng(np.random.SeedSequence([seed, 29])), plans, params)


def _split_counts(n: int, shares: dict[str, float] | None = None) -> tuple[int, int, int]:
    shares = SPLIT_SHARES if shares is None else shares
    n_eval = max(1, round(shares["eval"] * n))
    n_dev = max(1, round(shares["dev"] * n))
    n_eval = max(1, min(n_eval, n - n_dev - 1))  # train keeps at least one patient
    return n - n_dev - n_eval, n_dev, n_eval


def shift_traits(rng: np.random.Generator, traits: PatientTraits, params: SynthParams) -> PatientTraits:
    """Between-patient variation of the shift knobs: an overall EEG gain and background mix
    (``patient_gain_sigma``) and an ictal amplitude factor (``seizure_amp_sigma``). Draws
    nothing when both are 0."""
    changes: dict[str, float] = {}
    if params.patient_gain_sigma > 0:
        sigma = params.patient_gain_sigma
        changes.update(gain=float(rng.lognormal(0.0, sigma)),
                       alpha_uv=traits.alpha_uv * float(rng.lognormal(0.0, sigma)),
                       theta_uv=traits.theta_uv * float(rng.lognormal(0.0, sigma)),
                       delta_uv=traits.delta_uv * float(rng.lognormal(0.0, sigma)),
                       exponent=float(np.clip(traits.exponent + rng.normal(0.0, 0.25), 1.2, 2.5)))
    if params.seizure_amp_sigma > 0:
        changes["seizure_uv"] = traits.seizure_uv * float(rng.lognormal(0.0, params.seizure_amp_sigma))
    return dataclasses.replace(traits, **changes) if changes else traits


def missing_electrodes(rng: np.random.Generator, plans: list[RecordingPlan], params: SynthParams) -> list[RecordingPlan]:
    """With ``missing_electrode_probability``, drop 1-2 scalp electrodes from a recording's
    header, keeping at least ``MIN_TCP_KEPT`` TCP channels (files without A1/A2 start at 20)."""
    if params.missing_electrode_probability <= 0:
        return plans
    out = []
    for plan in plans:
        if rng.random() >= params.missing_electrode_probability:
            out.append(plan)
            continue
        template = TEMPLATES[plan.template]
        have = [e for e in template.electrodes if e in head.SCALP_1020]
        missing: tuple[str, ...] = ()
        for e in rng.permutation(have)[:int(rng.integers(1, 3))]:
            trial = dataclasses.replace(plan, missing=(*missing, str(e)))
            if len(tcp_channels(trial.layout)) >= MIN_TCP_KEPT:
                missing = trial.missing
        out.append(dataclasses.replace(plan, missing=tuple(sorted(missing))))
    return out


def _patient_names(rng: np.random.Generator, n: int) -> list[str]:
    """Unique 8-letter lowercase ids in TUSZ style (``aaaa`` + 4 letters)."""
    letters = np.array(list(string.ascii_lowercase))
    names: set[str] = set()
    while len(names) < n:
        names.add("aaaa" + "".join(rng.choice(letters, 4)))
    out = sorted(names)
    return [out[i] for i in rng.permutation(n)]


def _patient_seconds(rng: np.random.Generator, split_s: float, n: int) -> list[int]:
    """Integer seconds per patient summing to ``split_s``, each >= MIN_RECORDING_S."""
    w = rng.lognormal(0.0, 0.5, n)
    spare = split_s - n * MIN_RECORDING_S
    secs = np.floor(MIN_RECORDING_S + spare * w / w.sum()).astype(int)
    secs[0] += int(round(split_s)) - int(secs.sum())
    return secs.tolist()


def patient_traits(rng: np.random.Generator, params: SynthParams, seizures: bool) -> PatientTraits:
    """Draw one patient; ``seizures`` gives them a focal or generalized syndrome (by the mix)."""
    mix = params.mix()
    focal_w = sum(mix[t] for t in FOCAL_TYPES) + 0.5 * mix["tcsz"]
    gen_w = sum(mix[t] for t in GENERALIZED_TYPES) + 0.5 * mix["tcsz"]
    syndrome = "none"
    if seizures:
        syndrome = "focal" if rng.random() < focal_w / max(focal_w + gen_w, 1e-12) else "generalized"
    foci = list(FOCI)
    p = np.array([FOCI[f] for f in foci], float)
    focus = str(rng.choice(foci, p=p / p.sum())) if syndrome == "focal" else ""
    slow_alpha = rng.random() < 0.1
    return PatientTraits(
        bg_uv=float(rng.uniform(10.0, 18.0)),
        exponent=float(rng.uniform(1.5, 2.1)),
        beta_level=float(rng.uniform(0.4, 0.9) if rng.random() < 0.15 else rng.uniform(0.0, 0.2)),
        alpha_hz=float(rng.uniform(7.6, 8.5) if slow_alpha else rng.uniform(8.8, 11.2)),
        alpha_uv=float(rng.uniform(10.0, 28.0)),
        mu=bool(rng.random() < 0.2),
        theta_uv=float(rng.uniform(5.0, 11.0)),
        delta_uv=float(rng.uniform(4.0, 9.0)),
        syndrome=syndrome,
        focus=focus,
        seizure_uv=float(rng.uniform(100.0, 200.0)),
        f_start_hz=float(rng.uniform(5.0, 8.5)),
        f_end_hz=float(rng.uniform(2.0, 3.8)),
        muscle_factor=float(rng.lognormal(0.0, 0.45)),
        blink_factor=float(rng.lognormal(0.0, 0.35)),
        firda=bool(rng.random() < 0.2),
        ekg_leak_uv=float(rng.uniform(0.0, 10.0)),
        sleepiness=float(rng.uniform(0.0, 1.0)),
        ied_factor=float(rng.lognormal(0.0, 0.8)),
    )


def _durations(rng: np.random.Generator, total: int, median_s: float) -> list[int]:
    """Split ``total`` seconds into recordings: log-normal around ``median_s``, a few long."""
    out: list[int] = []
    left = total
    while left > 0:
        d = median_s * rng.lognormal(0.0, 0.55)
        if rng.random() < 0.06:
            d = rng.uniform(3600.0, 7200.0)
        d = int(np.clip(d, 180.0, 7200.0))
        if left - d < MIN_RECORDING_S:
            d = left
        out.append(d)
        left -= d
    return out


def _patient_recordings(rng: np.random.Generator, split: str, name: str, seconds: int, traits: PatientTraits,
                        params: SynthParams, fs_hz: float | None) -> list[RecordingPlan]:
    durations = _durations(rng, seconds, params.recording_median_min * 60.0)
    names = list(TEMPLATE_WEIGHTS)
    tw = np.array([TEMPLATE_WEIGHTS[t] for t in names])
    year = int(rng.integers(2002, 2016))
    plans: list[RecordingPlan] = []
    session, token, left_in_session = 0, 0, 0
    template, fs = names[0], 250.0
    for d in durations:
        if left_in_session == 0:
            session += 1
            token = 0
            left_in_session = int(rng.integers(1, 7))
            year += int(rng.integers(0, 2)) if session > 1 else 0
            template = str(rng.choice(names, p=tw / tw.sum()))
            rates = TEMPLATES[template].rates
            if params.fs_choices_hz:
                rates = tuple((float(k), float(w)) for k, w in params.fs_choices_hz.items() if w > 0)
            rw = np.array([w for _, w in rates])
            fs = float(rates[int(rng.choice(len(rates), p=rw / rw.sum()))][0]) if fs_hz is None else float(fs_hz)
        plans.append(RecordingPlan(split, name, session, min(year, 2019), token, template, fs, int(d),
                                   int(rng.integers(0, 2**62)), traits))
        token += 1
        left_in_session -= 1
    return plans


def _allowed_types(traits: PatientTraits, mix: dict[str, float]) -> dict[str, float]:
    if traits.syndrome == "focal":
        allowed = {t: mix[t] for t in (*FOCAL_TYPES, "tcsz")}
    else:
        allowed = {t: mix[t] for t in (*GENERALIZED_TYPES, "tcsz")}
    return {k: v for k, v in allowed.items() if v > 0}


def allocate_seizures(rng: np.random.Generator, plans: list[RecordingPlan], params: SynthParams) -> list[RecordingPlan]:
    """Place seizures in the split's recordings until ``seizure_fraction`` of its time is used."""
    total = sum(p.duration_s for p in plans)
    budget = params.seizure_fraction * total
    mix = params.mix()
    candidates = [i for i, p in enumerate(plans) if p.traits.syndrome != "none" and _allowed_types(p.traits, mix)]
    # Each seizure patient has seizures in some of their recordings only.
    active = [i for i in candidates if rng.random() < 0.7]
    # in plan order (a set of strings would iterate in an order that changes with PYTHONHASHSEED)
    for patient in dict.fromkeys(plans[i].patient for i in candidates):
        mine = [i for i in candidates if plans[i].patient == patient]
        if not any(i in active for i in mine):
            active.append(mine[int(rng.integers(len(mine)))])
    placed: dict[int, list[SeizureSpec]] = {i: [] for i in active}
    used = 0.0
    failures = 0
    while active and failures < 200:
        left = budget - used
        i = active[int(rng.integers(len(active)))]
        plan = plans[i]
        allowed = _allowed_types(plan.traits, mix)
        fits = {t: w for t, w in allowed.items() if DURATIONS[t][2] <= left}
        if not fits:
            break
        names = list(fits)
        w = np.array([fits[t] for t in names])
        label = str(rng.choice(names, p=w / w.sum()))
        med, sigma, lo, hi = DURATIONS[label]
        dur = float(np.clip(med * rng.lognormal(0.0, sigma), lo, hi))
        dur = min(dur, left)
        cap = MAX_SEIZURE_SHARE * plan.duration_s - sum(s.duration_s for s in placed[i])
        one_tcsz = label != "tcsz" or all(s.label != "tcsz" for s in placed[i])
        onset = _free_onset(rng, plan, placed[i], dur, POSTICTAL_S[label][1]) if dur <= cap and one_tcsz else None
        if onset is None:
            failures += 1
            if failures % 20 == 0:
                active.remove(i)
            continue
        spec = make_seizure(rng, plan.traits, label, onset, dur, params)
        placed[i].append(spec)
        used += spec.duration_s
    out = []
    for i, p in enumerate(plans):
        specs = tuple(sorted(placed.get(i, []), key=lambda s: s.onset_s))
        out.append(dataclasses.replace(p, seizures=specs) if specs else p)
    return out


def _free_onset(rng: np.random.Generator, plan: RecordingPlan, existing: list[SeizureSpec], dur: float,
                post_s: float) -> float | None:
    """An onset 10 s from the file's ends, and 60 s plus the post-ictal period from other seizures."""
    lo, hi = 10.0, plan.duration_s - dur - 10.0
    if hi <= lo:
        return None
    for _ in range(30):
        onset = round(float(rng.uniform(lo, hi)), 4)
        ok = all(onset + dur + post_s + 60.0 < s.onset_s or onset > s.stop_s + s.postictal_s + 60.0 for s in existing)
        if ok:
            return onset
    return None


def make_seizure(rng: np.random.Generator, t: PatientTraits, label: str, onset: float, dur: float,
                 params: SynthParams) -> SeizureSpec:
    """One seizure of type ``label`` for a patient with traits ``t`` (amplitude, rhythm, spread)."""
    subtle = label == "spsz" or (label in ("fnsz", "cpsz") and rng.random() < params.subtle_fraction)
    focal = t.syndrome == "focal"
    focus = t.focus if focal else ""
    if focal and rng.random() < 0.15:  # occasionally a neighbouring onset zone
        near = [e for e in FOCI if 0 < head.DIST[head.INDEX[e], head.INDEX[t.focus]] < 0.7]
        focus = str(rng.choice(near)) if near else t.focus
    amp = t.seizure_uv * rng.uniform(0.8, 1.2) * params.seizure_snr
    f0 = t.f_start_hz * rng.uniform(0.9, 1.1)
    f1 = t.f_end_hz * rng.uniform(0.9, 1.1)
    width = float(rng.uniform(0.6, 1.0))
    speed = float(rng.uniform(0.02, 0.08))
    bilateral = math.inf
    if subtle:
        amp *= rng.uniform(0.25, 0.4)
        width = float(rng.uniform(0.4, 0.5))
        speed = float(rng.uniform(0.01, 0.03))
        f0, f1 = rng.uniform(5.0, 7.0), rng.uniform(3.8, 5.0)
    elif ((label == "cpsz" and rng.random() < 0.3 * params.bilateral_scale)
          or (label == "fnsz" and rng.random() < 0.2 * params.bilateral_scale)):
        bilateral = float(rng.uniform(0.3, 0.7) * dur)
    elif label == "tcsz" and focal:
        bilateral = float(rng.uniform(5.0, 20.0))
    if label == "absz":
        f0, f1 = rng.uniform(3.2, 4.0), rng.uniform(2.6, 3.1)
        amp = t.seizure_uv * rng.uniform(1.6, 2.4) * params.seizure_snr
    elif label == "gnsz":
        f0, f1 = rng.uniform(4.0, 6.5), rng.uniform(2.0, 3.5)
    elif label in ("tcsz", "tnsz"):
        f0, f1 = rng.uniform(14.0, 22.0), rng.uniform(1.0, 2.0)
    lo, hi = POSTICTAL_S[label]
    post = float(rng.uniform(lo, hi)) * (0.3 if subtle else 1.0)
    morphology, ramp = "evolving", 0.0
    patterns = {k: w for k, w in params.morphology_mix.items()
                if w > 0 and (label != "gnsz" or k in ("evolving", "delta", "spike_wave"))}
    if patterns and not subtle and label in ("fnsz", "cpsz", "gnsz"):
        names = list(patterns)
        w = np.array([patterns[k] for k in names])
        morphology = str(rng.choice(names, p=w / w.sum()))
        if morphology in ("delta", "spike_wave"):  # rhythmic delta / repetitive spike-wave, little evolution
            f0 = rng.uniform(1.5, 3.0)
            f1 = f0 * rng.uniform(0.8, 1.0)
        elif morphology == "theta":  # rhythmic theta, slowing a little
            f0 = rng.uniform(4.5, 7.5)
            f1 = f0 * rng.uniform(0.7, 0.95)
    if params.slow_onset_fraction > 0 and rng.random() < params.slow_onset_fraction:
        ramp = float(rng.uniform(0.4, 0.7))
    width *= params.focal_width_scale  # x 1.0 is exact: the default corpus is unchanged
    speed *= params.spread_speed_scale
    return SeizureSpec(label, onset, round(dur, 4), focus, bool(subtle), float(amp), float(f0), float(f1),
                       width, speed, bilateral, round(post, 1), int(rng.integers(0, 2**62)), morphology, ramp)
