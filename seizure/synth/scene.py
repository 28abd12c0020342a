"""One recording's timeline: vigilance states, artifact events, seizure effects, heartbeats.

A :class:`Scene` is built from a :class:`~seizure.synth.plan.RecordingPlan` alone (its
seed drives everything) and holds only small arrays (a 0.25 s gain grid, event lists,
beat times), so even a 24 h recording's scene fits in a few megabytes; the samples are
rendered block by block later.

Vigilance states: ``open`` (awake, eyes open: blinks, eye movements, little alpha),
``closed`` (awake, eyes closed: full posterior alpha), ``drowsy`` (alpha drop-out,
theta, rhythmic drowsy trains, roving eye movements) and ``n2`` (light sleep: spindles,
vertex waves, K-complexes, more delta). Artifact rates depend on the state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from seizure.synth import head, noise
from seizure.synth.artifacts import PHOTIC_OFF_S, PHOTIC_ON_S, PHOTIC_STEPS_HZ, Transient
from seizure.synth.channels import TEMPLATES
from seizure.synth.params import ARTIFACT_RATES_PER_H, SynthParams
from seizure.synth.plan import RecordingPlan
from seizure.synth.seizures import attenuation

GRID_S = 0.25
STATES = ("open", "closed", "drowsy", "n2")
# Background rhythm gains per state.
GAINS = {
    "alpha": {"open": 0.25, "closed": 1.0, "drowsy": 0.3, "n2": 0.08},
    "theta": {"open": 0.35, "closed": 0.45, "drowsy": 1.2, "n2": 1.0},
    "delta": {"open": 0.4, "closed": 0.4, "drowsy": 0.75, "n2": 1.7},
    "mu": {"open": 1.0, "closed": 0.35, "drowsy": 0.15, "n2": 0.0},
}
# Artifact rate multipliers per state.
STATE_FACTORS: dict[str, dict[str, float]] = {
    "blink": {"open": 1.0, "closed": 0.1, "drowsy": 0.05, "n2": 0.0},
    "eye_move": {"open": 1.0, "closed": 0.08, "drowsy": 0.05, "n2": 0.0},
    "roving": {"open": 0.0, "closed": 0.1, "drowsy": 1.0, "n2": 0.2},
    "muscle": {"open": 1.0, "closed": 0.6, "drowsy": 0.3, "n2": 0.15},
    "chewing": {"open": 1.0, "closed": 0.5, "drowsy": 0.15, "n2": 0.0},
    "pop": {"open": 1.0, "closed": 1.0, "drowsy": 1.0, "n2": 1.0},
    "movement": {"open": 1.0, "closed": 0.6, "drowsy": 0.4, "n2": 0.3},
    "rhythmic_train": {"open": 0.05, "closed": 0.15, "drowsy": 1.0, "n2": 0.3},
    "firda": {"open": 0.6, "closed": 0.6, "drowsy": 1.0, "n2": 0.5},
    "shiver": {"open": 1.0, "closed": 1.0, "drowsy": 0.5, "n2": 0.2},
    "spindle": {"open": 0.0, "closed": 0.0, "drowsy": 0.05, "n2": 1.0},
    "vertex": {"open": 0.0, "closed": 0.0, "drowsy": 0.5, "n2": 1.0},
    "sweat": {"open": 1.0, "closed": 1.0, "drowsy": 1.0, "n2": 1.0},
    "bad_contact": {"open": 1.0, "closed": 1.0, "drowsy": 1.0, "n2": 1.0},
    "ied": {"open": 0.7, "closed": 0.8, "drowsy": 1.3, "n2": 1.5},  # activated by drowsiness and sleep
}
BRAIN_EVENTS = frozenset({"rhythmic_train", "firda", "spindle", "vertex", "hyperventilation", "photic", "ied"})


@dataclass
class Scene:
    """Everything about one recording except the samples."""

    plan: RecordingPlan
    fs_hz: float
    n_samples: int
    states: list[tuple[float, float, str]]
    gains: dict[str, np.ndarray]                 # on the GRID_S grid
    line_knots: tuple[np.ndarray, np.ndarray]    # slow 60 Hz amplitude changes
    transients: list[Transient]
    modulators: list[tuple[float, float, np.ndarray, float]]
    beats_s: np.ndarray
    consts: dict[str, object] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs_hz


def _state_sequence(rng: np.random.Generator, duration_s: float, sleepiness: float) -> list[tuple[float, float, str]]:
    out: list[tuple[float, float, str]] = []
    t = 0.0
    state = "closed" if rng.random() < 0.6 else "open"
    lengths = {"open": (20, 150), "closed": (20, 200), "drowsy": (30, 400), "n2": (60, 900)}
    while t < duration_s:
        lo, hi = lengths[state]
        d = float(rng.uniform(lo, hi))
        out.append((t, min(t + d, duration_s), state))
        t += d
        if state in ("open", "closed"):
            state = "drowsy" if rng.random() < 0.1 + 0.35 * sleepiness and t > 120 else ("closed" if state == "open" else "open")
        elif state == "drowsy":
            r = rng.random()
            state = "n2" if r < 0.35 * sleepiness else ("closed" if r < 0.7 else "open")
        else:
            state = "drowsy"
    return out


def _grid_states(states: list[tuple[float, float, str]], grid_t: np.ndarray) -> np.ndarray:
    idx = np.zeros(grid_t.size, dtype=np.int8)
    for start, stop, state in states:
        idx[(grid_t >= start) & (grid_t < stop)] = STATES.index(state)
    return idx


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    if width <= 1:
        return x
    k = np.ones(width) / width
    return np.convolve(np.pad(x, (width // 2, width - 1 - width // 2), mode="edge"), k, mode="valid")


_DURATIONS = {
    "blink": (0.25, 0.5), "eye_move": (0.4, 2.5), "roving": (5.0, 20.0), "chewing": (5.0, 30.0),
    "pop": (1.0, 3.0), "movement": (1.0, 8.0), "firda": (2.0, 10.0), "shiver": (5.0, 30.0),
    "spindle": (0.5, 2.0), "sweat": (30.0, 180.0), "bad_contact": (30.0, 300.0), "ied": (0.5, 1.2),
}


def _duration(rng: np.random.Generator, kind: str, where: str = "") -> float:
    if kind == "ied" and where == "GEN":
        return float(rng.uniform(0.5, 3.0))
    if kind == "muscle":
        return float(np.clip(2.0 * rng.lognormal(0.0, 0.7), 0.4, 10.0))
    if kind == "rhythmic_train":
        return float(np.clip(5.0 * rng.lognormal(0.0, 0.5), 2.0, 20.0))
    if kind == "vertex":
        return float(rng.uniform(0.25, 0.4) if rng.random() < 0.7 else rng.uniform(0.8, 1.2))
    lo, hi = _DURATIONS[kind]
    return float(rng.uniform(lo, hi))


def _transients(rng: np.random.Generator, plan: RecordingPlan, params: SynthParams, state_idx: np.ndarray,
                duration_s: float, brain_scale: float) -> list[Transient]:
    traits = plan.traits
    out: list[Transient] = []
    for kind in ARTIFACT_RATES_PER_H:
        rate = params.rate_per_h(kind) / 3600.0
        if kind in ("muscle", "chewing", "movement", "shiver"):
            rate *= traits.muscle_factor
        elif kind in ("blink", "eye_move"):
            rate *= traits.blink_factor
        elif kind == "firda" and not traits.firda:
            rate = 0.0
        elif kind == "ied":  # discharges belong to patients with epilepsy, at their own rate
            rate *= 0.0 if traits.syndrome == "none" else traits.ied_factor
        factors = np.array([STATE_FACTORS[kind][s] for s in STATES])
        top = factors.max()
        if rate <= 0 or top <= 0:
            continue
        count = rng.poisson(rate * top * duration_s)
        times = np.sort(rng.uniform(0.0, duration_s, count))
        keep = rng.random(count) < factors[state_idx[np.minimum((times / GRID_S).astype(int), state_idx.size - 1)]] / top
        where = ""
        if kind == "ied":
            where = traits.focus if traits.syndrome == "focal" else "GEN"
        for t0 in times[keep]:
            d = _duration(rng, kind, where)
            if t0 + d > duration_s:
                continue
            amp = brain_scale if kind in BRAIN_EVENTS else float(rng.lognormal(0.0, 0.2))
            out.append(Transient(kind, float(t0), d, int(rng.integers(2**62)), amp, where))
            if kind == "blink" and rng.random() < 0.2 and t0 + 1.5 < duration_s:  # blink clusters
                out.append(Transient(kind, float(t0 + rng.uniform(0.5, 0.9)), d, int(rng.integers(2**62)), amp))
    # A bad electrode popping repeatedly in some recordings.
    if rng.random() < 0.15:
        elec = str(rng.choice(head.SCALP_1020))
        for t0 in rng.uniform(0.0, max(duration_s - 3.0, 0.0), rng.poisson(rng.uniform(20, 90) * duration_s / 3600)):
            out.append(Transient("pop", float(t0), float(rng.uniform(1.0, 2.5)), int(rng.integers(2**62)), 1.0, elec))
    # Routine-EEG procedures: hyperventilation then photic stimulation (not over a seizure).
    busy = [(s.onset_s - 30.0, s.stop_s + s.postictal_s) for s in plan.seizures]

    def free(t0: float, d: float) -> bool:
        return t0 + d < duration_s and all(t0 + d <= a or t0 >= b for a, b in busy)

    t_free = rng.uniform(120.0, 240.0)
    if duration_s >= 480 and rng.random() < params.hv_probability:
        d = float(rng.uniform(200.0, 300.0))
        if free(t_free, d):
            out.append(Transient("hyperventilation", float(t_free), d, int(rng.integers(2**62)), brain_scale))
            t_free += d + rng.uniform(30.0, 90.0)
    photic_s = len(PHOTIC_STEPS_HZ) * (PHOTIC_ON_S + PHOTIC_OFF_S)
    if duration_s >= 480 and rng.random() < params.photic_probability and free(t_free, photic_s):
        out.append(Transient("photic", float(t_free), photic_s, int(rng.integers(2**62)), brain_scale))
    out.sort(key=lambda e: (e.start_s, e.kind))
    return out


def _beats(rng: np.random.Generator, duration_s: float, hr_bpm: float, plan: RecordingPlan) -> np.ndarray:
    """Heartbeat times with respiratory variability and ictal tachycardia (+35 %, fading after)."""
    grid_t = np.arange(int(duration_s / GRID_S) + 2) * GRID_S
    boost = np.zeros(grid_t.size)
    for sz in plan.seizures:
        during = np.clip((grid_t - sz.onset_s) / 10.0, 0.0, 1.0) * ((grid_t >= sz.onset_s) & (grid_t < sz.stop_s))
        after = np.exp(-np.maximum(grid_t - sz.stop_s, 0.0) / 60.0) * (grid_t >= sz.stop_s)
        boost = np.maximum(boost, 0.35 * np.maximum(during, after * (grid_t < sz.stop_s + sz.postictal_s + 60)))
    n_max = int(duration_s * hr_bpm * 1.6 / 60) + 10
    jitter = rng.normal(0.0, 0.015, n_max)
    resp_hz, resp_phase = rng.uniform(0.2, 0.3), rng.uniform(0, 2 * np.pi)
    beats = np.empty(n_max)
    t = rng.uniform(0.0, 60.0 / hr_bpm)
    k = 0
    while t < duration_s and k < n_max:
        beats[k] = t
        hr = hr_bpm * (1.0 + 0.04 * math.sin(2 * math.pi * resp_hz * t + resp_phase)) * (1.0 + boost[int(t / GRID_S)])
        t += 60.0 / hr * (1.0 + jitter[k])
        k += 1
    return beats[:k]


def build_scene(plan: RecordingPlan, params: SynthParams) -> Scene:
    """The recording's timeline and constants, from its plan (deterministic in ``plan.seed``)."""
    rng = np.random.default_rng(np.random.SeedSequence([plan.seed, 1]))
    fs = plan.fs_hz
    n = int(round(plan.duration_s * fs))
    duration = n / fs
    traits = plan.traits
    states = _state_sequence(rng, duration, traits.sleepiness)
    grid_t = np.arange(int(math.ceil(duration / GRID_S)) + 2) * GRID_S
    state_idx = _grid_states(states, grid_t)
    gains = {}
    for name, table in GAINS.items():
        g = np.array([table[s] for s in STATES])[state_idx]
        g = _smooth(g, int(3.0 / GRID_S))
        kt, kv = noise.smooth_walk(rng, duration + 2.0, 1.0, 0.3)
        gains[name] = (g * np.exp(noise.interp(grid_t, kt, kv))).astype(np.float32)
    for sz in plan.seizures:  # alpha vanishes during a seizure and recovers slowly after it
        during = (grid_t >= sz.onset_s) & (grid_t < sz.stop_s)
        after = grid_t >= sz.stop_s
        sup = np.where(during, 0.7, 0.0)
        sup = np.where(after, 0.9 * np.exp(-np.maximum(grid_t - sz.stop_s, 0.0) / max(sz.postictal_s / 2.0, 5.0)), sup)
        if sz.label == "absz":
            sup *= 0.3
        for name in ("alpha", "mu"):
            gains[name] *= (1.0 - sup).astype(np.float32)
    scale = traits.bg_uv / 14.0
    modulators = [m for sz in plan.seizures for m in attenuation(sz)]
    transients = _transients(rng, plan, params, state_idx, duration, scale)
    hr = float(rng.uniform(60.0, 90.0))
    template = TEMPLATES[plan.template]
    line_uv = params.line_noise_uv * rng.uniform(0.7, 1.4) * (5.0 if rng.random() < 0.1 else 1.0)
    leak = traits.ekg_leak_uv * rng.uniform(0.5, 1.5)
    consts = {
        "bg_uv": traits.bg_uv * rng.uniform(0.9, 1.1),
        "exponent": traits.exponent + rng.uniform(-0.1, 0.1),
        "beta_level": traits.beta_level,
        "alpha_hz": traits.alpha_hz + rng.uniform(-0.3, 0.3),
        "alpha_uv": traits.alpha_uv * rng.uniform(0.85, 1.15),
        "alpha_asym": rng.uniform(0.8, 1.0),
        "mu": traits.mu,
        "mu_hz": traits.alpha_hz + rng.uniform(0.0, 1.5),
        "theta_uv": traits.theta_uv * scale,
        "delta_uv": traits.delta_uv * scale,
        "mix_length": rng.uniform(0.9, 1.4),
        "line_uv": line_uv * rng.lognormal(0.0, 0.7, head.N_ELEC),
        "line_phase": rng.uniform(-0.3, 0.3, head.N_ELEC),
        "drift_uv": rng.uniform(2.0, 10.0, head.N_ELEC),
        "amp_noise_uv": 0.7,
        "cm_line_uv": rng.uniform(10.0, 200.0),
        "cm_slow_uv": rng.uniform(5.0, 40.0),
        "ekg_uv": rng.uniform(400.0, 1500.0),
        "ekg_leak": leak * head.weights({"A1": 1.0, "A2": 0.6, "T3": 0.45, "T5": 0.4, "T4": 0.2, "T6": 0.25,
                                         "O1": 0.15, "O2": 0.1, "T1": 0.3, "T2": 0.15}),
        "emg_uv": rng.uniform(1.0, 5.0),
        "eog_uv": rng.uniform(3.0, 10.0),
        "unconnected_uv": rng.uniform(50.0, 400.0, len(template.signals)),
        "line_phase_ref": rng.uniform(0, 2 * np.pi),
        "line_hz": float(params.line_hz),
    }
    return Scene(plan, fs, n, states, gains, noise.smooth_walk(rng, duration + 10.0, 10.0, 0.3), transients,
                 modulators, _beats(rng, duration, hr, plan), consts)
