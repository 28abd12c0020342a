"""Artifacts and benign transients: the hard negatives of the corpus.

Each renderer turns one :class:`Transient` into a :class:`Wave` (rows of the virtual
channels of :mod:`seizure.synth.head`, in microvolts, starting at the event's start).
A renderer draws from its own seed only, so an event renders identically whatever the
block it falls in.

Physiology in brief: blinks are large slow positive bumps at FP1/FP2 falling off
backwards; lateral eye movements put F7/F8 (and the eye leads) in opposite polarity;
muscle is broadband (mostly > 20 Hz), local to each electrode, temporal/frontal;
chewing repeats temporal muscle bursts at 1-2 Hz; an electrode pop is a single-electrode
step with exponential decay (a phase reversal in the two bipolar channels sharing it);
drowsy rhythmic theta, wicket trains, FIRDA, photic driving, spindles, vertex waves,
hyperventilation slowing and interictal discharges (focal spikes at the patient's focus,
brief generalized spike-and-wave bursts) are rhythmic, sharp or high-amplitude brain
activity that is not a seizure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from seizure.synth import head, noise


@dataclass(frozen=True)
class Transient:
    """One event on a recording's timeline (``where``: an electrode or region, if fixed)."""

    kind: str
    start_s: float
    duration_s: float
    seed: int
    amplitude: float = 1.0
    where: str = ""

    @property
    def stop_s(self) -> float:
        return self.start_s + self.duration_s


@dataclass
class Wave:
    """Rows ``rows`` of the virtual channels, ``data`` (k, n) uV from the event start."""

    rows: np.ndarray
    data: np.ndarray


@dataclass(frozen=True)
class Ctx:
    """Per-recording facts a renderer may use."""

    fs_hz: float
    alpha_hz: float
    line_hz: float = 60.0


Renderer = Callable[[Transient, Ctx], Wave]

_E = head.INDEX
_BLINK = {"FP1": 1.0, "FP2": 1.0, "F7": 0.45, "F8": 0.45, "F3": 0.32, "F4": 0.32, "FZ": 0.35, "T1": 0.2,
          "T2": 0.2, "C3": 0.1, "C4": 0.1, "CZ": 0.12, "T3": 0.08, "T4": 0.08, "A1": 0.05, "A2": 0.05,
          "LOC": 0.45, "ROC": 0.55}
_LATERAL = {"F7": 1.0, "F8": -1.0, "FP1": 0.45, "FP2": -0.45, "T1": 0.6, "T2": -0.6, "T3": 0.25, "T4": -0.25,
            "F3": 0.2, "F4": -0.2, "A1": 0.12, "A2": -0.12, "LOC": 1.8, "ROC": -1.8}
_TEMPORAL_L = {"T3": 1.0, "F7": 0.9, "T1": 1.0, "A1": 0.8, "T5": 0.55, "FP1": 0.3, "F3": 0.3, "C3": 0.2}
_TEMPORAL_R = {head.MIRROR[k]: v for k, v in _TEMPORAL_L.items()}
_FRONTAL = {"FP1": 1.0, "FP2": 1.0, "F7": 0.7, "F8": 0.7, "F3": 0.6, "F4": 0.6, "FZ": 0.6, "T1": 0.4, "T2": 0.4}
_MUSCLE_REGIONS = {
    "L": _TEMPORAL_L, "R": _TEMPORAL_R, "F": _FRONTAL, "B": {**_TEMPORAL_L, **_TEMPORAL_R},
}


def _rows(mapping: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    names = list(mapping)
    return np.array([_E[n] for n in names]), np.array([mapping[n] for n in names], dtype=np.float32)


def _n(ev: Transient, fs: float) -> int:
    return max(2, int(round(ev.duration_s * fs)))


def emg(rng: np.random.Generator, rows: int, n: int, fs_hz: float) -> np.ndarray:
    """Unit-variance surface EMG: broadband noise mostly above 20 Hz (independent rows)."""
    return noise.shaped_noise(rng, rows, n, fs_hz, noise.bandpass_shape(22.0, min(150.0, 0.42 * fs_hz), 2.0))


def _edges(n: int, ramp: int) -> np.ndarray:
    """A window rising and falling smoothly over ``ramp`` samples at each end."""
    ramp = max(1, min(ramp, n // 2))
    w = np.ones(n, dtype=np.float32)
    r = noise.smoothstep(np.arange(ramp) / ramp).astype(np.float32)
    w[:ramp] = r
    w[n - ramp:] = r[::-1]
    return w


def _walk_env(rng: np.random.Generator, n: int, fs: float, step_s: float, sigma: float) -> np.ndarray:
    kt, kv = noise.smooth_walk(rng, n / fs, step_s, sigma)
    return np.exp(noise.interp(np.arange(n) / fs, kt, kv)).astype(np.float32)


def blink(ev: Transient, ctx: Ctx) -> Wave:
    rng = np.random.default_rng(ev.seed)
    n = _n(ev, ctx.fs_hz)
    t = np.arange(n) / ctx.fs_hz
    tau = 0.3 * ev.duration_s
    shape = (t / tau) ** 2 * np.exp(2.0 * (1.0 - t / tau))
    shape = (shape * _edges(n, n // 5)).astype(np.float32)
    amp = rng.uniform(60.0, 200.0) * ev.amplitude
    rows, w = _rows(_BLINK)
    w = w * rng.uniform(0.85, 1.15, w.size).astype(np.float32)
    return Wave(rows, amp * w[:, None] * shape[None, :])


def eye_move(ev: Transient, ctx: Ctx) -> Wave:
    rng = np.random.default_rng(ev.seed)
    n = _n(ev, ctx.fs_hz)
    t = np.arange(n) / ctx.fs_hz
    rise = 1.0 / (1.0 + np.exp(-(t - 0.1) / 0.012))
    back = 1.0 / (1.0 + np.exp((t - (ev.duration_s - 0.2)) / 0.03))
    shape = (rise * back).astype(np.float32)
    amp = rng.uniform(30.0, 110.0) * ev.amplitude * rng.choice([-1.0, 1.0])
    rows, w = _rows(_LATERAL)
    return Wave(rows, amp * w[:, None] * shape[None, :])


def roving(ev: Transient, ctx: Ctx) -> Wave:
    rng = np.random.default_rng(ev.seed)
    n = _n(ev, ctx.fs_hz)
    f = rng.uniform(0.15, 0.5) * _walk_env(rng, n, ctx.fs_hz, 2.0, 0.2)
    shape = np.sin(noise.phase_from_freq(f, ctx.fs_hz, rng.uniform(0, 2 * np.pi))) * _edges(n, n // 4)
    amp = rng.uniform(20.0, 60.0) * ev.amplitude
    rows, w = _rows(_LATERAL)
    return Wave(rows, (amp * w[:, None] * shape[None, :]).astype(np.float32))


def muscle(ev: Transient, ctx: Ctx) -> Wave:
    rng = np.random.default_rng(ev.seed)
    n = _n(ev, ctx.fs_hz)
    region = ev.where or str(rng.choice(list(_MUSCLE_REGIONS), p=[0.3, 0.3, 0.2, 0.2]))
    rows, w = _rows(_MUSCLE_REGIONS[region])
    w = w * rng.uniform(0.5, 1.3, w.size).astype(np.float32)
    env = _edges(n, int(rng.uniform(0.05, 0.3) * ctx.fs_hz)) * _walk_env(rng, n, ctx.fs_hz, 0.3, 0.4)
    amp = rng.uniform(8.0, 45.0) * ev.amplitude
    data = emg(rng, rows.size + 1, n, ctx.fs_hz) * env[None, :] * amp
    data[:-1] *= w[:, None]
    return Wave(np.append(rows, _E["EMG"]), data)


def _burst_train(rng: np.random.Generator, n: int, fs: float, rate_hz: float, width_s: float,
                 jitter: float = 0.1) -> np.ndarray:
    """Smooth gating pulses at about ``rate_hz`` (each ``width_s`` wide)."""
    t = np.arange(n) / fs
    times = []
    tb = rng.uniform(0, 1.0 / rate_hz)
    while tb < n / fs:
        times.append(tb)
        tb += (1.0 / rate_hz) * (1.0 + jitter * rng.standard_normal())
    gate = np.zeros(n, dtype=np.float32)
    sigma = width_s / 2.5
    for tb in times:
        lo, hi = int(max(0, (tb - 3 * sigma) * fs)), int(min(n, (tb + 3 * sigma) * fs) + 1)
        gate[lo:hi] += np.exp(-0.5 * ((t[lo:hi] - tb) / sigma) ** 2)
    return np.minimum(gate, 1.0)


def chewing(ev: Transient, ctx: Ctx) -> Wave:
    rng = np.random.default_rng(ev.seed)
    n = _n(ev, ctx.fs_hz)
    rows, w = _rows(_MUSCLE_REGIONS["B"])
    gate = _burst_train(rng, n, ctx.fs_hz, rng.uniform(1.0, 2.0), rng.uniform(0.12, 0.25))
    gate *= _edges(n, int(ctx.fs_hz))
    amp = rng.uniform(30.0, 110.0) * ev.amplitude
    data = emg(rng, rows.size + 1, n, ctx.fs_hz) * (gate * amp)[None, :]
    data[:-1] *= w[:, None]
    # Glossokinetic potential: a slow common deflection with each jaw movement.
    slow = np.convolve(gate, np.hanning(int(0.3 * ctx.fs_hz) + 1), mode="same")
    slow = (slow / max(slow.max(), 1e-6) * rng.uniform(10.0, 30.0)).astype(np.float32)
    data[:-1] += w[:, None] * slow[None, :] * 0.5
    return Wave(np.append(rows, _E["EMG"]), data)


def pop(ev: Transient, ctx: Ctx) -> Wave:
    rng = np.random.default_rng(ev.seed)
    n = _n(ev, ctx.fs_hz)
    t = np.arange(n) / ctx.fs_hz
    elec = ev.where or str(rng.choice(head.SCALP_1020))
    shape = np.zeros(n)
    for k in range(int(rng.integers(1, 4))):
        t0 = 0.05 + (rng.uniform(0, 0.6 * ev.duration_s) if k else 0.0)
        tau = rng.uniform(0.05, 0.4)
        amp = rng.uniform(50.0, 350.0) * rng.choice([-1.0, 1.0])
        on = t >= t0
        shape[on] += amp * np.exp(-(t[on] - t0) / tau)
    shape[-max(1, n // 10):] *= np.linspace(1, 0, max(1, n // 10))
    return Wave(np.array([_E[elec]]), (shape * ev.amplitude).astype(np.float32)[None, :])


def movement(ev: Transient, ctx: Ctx) -> Wave:
    rng = np.random.default_rng(ev.seed)
    n = _n(ev, ctx.fs_hz)
    rows = np.arange(head.N_ELEC)
    common = noise.shaped_noise(rng, 1, n, ctx.fs_hz, noise.bandpass_shape(0.3, 3.0, 2.0))
    local = noise.shaped_noise(rng, rows.size, n, ctx.fs_hz, noise.bandpass_shape(0.3, 4.0, 2.0))
    w = rng.uniform(0.2, 1.0, rows.size).astype(np.float32)
    env = _edges(n, int(0.3 * ctx.fs_hz))
    amp = rng.uniform(40.0, 200.0) * ev.amplitude
    slow = (0.5 * common + local) * (w[:, None] * env[None, :] * amp)
    slow += emg(rng, rows.size, n, ctx.fs_hz) * (w[:, None] * env[None, :] * rng.uniform(5.0, 30.0))
    return Wave(rows, slow.astype(np.float32))


def rhythmic_train(ev: Transient, ctx: Ctx) -> Wave:
    """Drowsy rhythmic temporal theta (4.5-7 Hz) or wicket-like 7-11 Hz trains: no evolution."""
    rng = np.random.default_rng(ev.seed)
    n = _n(ev, ctx.fs_hz)
    theta = rng.random() < 0.6
    f0 = rng.uniform(4.5, 7.0) if theta else rng.uniform(7.0, 11.0)
    f = f0 * (1.0 + 0.02 * noise.interp(np.arange(n) / ctx.fs_hz, *noise.smooth_walk(rng, ev.duration_s, 0.5, 1.0)))
    side = ev.where or str(rng.choice(["L", "R", "B"], p=[0.35, 0.35, 0.3]))
    fields = {"L": head.field("T3", 0.6), "R": head.field("T4", 0.6)}
    w = fields["L"] + fields["R"] if side == "B" else fields[side]
    env = np.sin(np.pi * np.arange(n) / n) ** 0.7 * _walk_env(rng, n, ctx.fs_hz, 0.7, 0.25)
    shape = noise.vonmises_wave(noise.phase_from_freq(f, ctx.fs_hz, rng.uniform(0, 6.28)), rng.uniform(0.6, 1.6))
    amp = rng.uniform(25.0, 70.0) * ev.amplitude
    rows = np.flatnonzero(w > 0.03)
    return Wave(rows, (amp * w[rows, None] * (env * shape)[None, :]).astype(np.float32))


def firda(ev: Transient, ctx: Ctx) -> Wave:
    rng = np.random.default_rng(ev.seed)
    n = _n(ev, ctx.fs_hz)
    f = rng.uniform(1.5, 3.0)
    w = head.weights({"FP1": 1.0, "FP2": 1.0, "F3": 0.85, "F4": 0.85, "FZ": 0.85, "F7": 0.7, "F8": 0.7,
                      "C3": 0.3, "C4": 0.3, "CZ": 0.35, "T1": 0.4, "T2": 0.4, "T3": 0.2, "T4": 0.2})
    env = np.sin(np.pi * np.arange(n) / n) ** 0.5
    shape = noise.vonmises_wave(2 * np.pi * f * np.arange(n) / ctx.fs_hz + rng.uniform(0, 6.28), rng.uniform(0.3, 0.9))
    amp = rng.uniform(60.0, 150.0) * ev.amplitude
    rows = np.flatnonzero(w > 0)
    return Wave(rows, (amp * w[rows, None] * (env * shape)[None, :]).astype(np.float32))


def shiver(ev: Transient, ctx: Ctx) -> Wave:
    """Rhythmic 4-7 Hz tremor: gated EMG plus a rhythmic mechanical deflection."""
    rng = np.random.default_rng(ev.seed)
    n = _n(ev, ctx.fs_hz)
    f = rng.uniform(4.0, 7.0)
    rows = np.arange(head.N_ELEC)
    w = rng.uniform(0.2, 1.0, rows.size).astype(np.float32)
    phase = 2 * np.pi * f * np.arange(n) / ctx.fs_hz
    gate = (0.5 + 0.5 * np.cos(phase)) ** 3 * _edges(n, int(ctx.fs_hz))
    mech = np.sin(phase + rng.uniform(0, 6.28, rows.size)[:, None]) * _edges(n, int(ctx.fs_hz))[None, :]
    data = emg(rng, rows.size, n, ctx.fs_hz) * (gate * rng.uniform(20.0, 60.0))[None, :]
    data += mech * rng.uniform(5.0, 25.0)
    return Wave(rows, (data * w[:, None] * ev.amplitude).astype(np.float32))


def spindle(ev: Transient, ctx: Ctx) -> Wave:
    rng = np.random.default_rng(ev.seed)
    n = _n(ev, ctx.fs_hz)
    t = np.arange(n) / ctx.fs_hz
    env = np.exp(-0.5 * ((t - ev.duration_s / 2) / (ev.duration_s / 5)) ** 2)
    shape = np.sin(2 * np.pi * rng.uniform(11.5, 14.5) * t + rng.uniform(0, 6.28)) * env
    w = head.field("CZ", 0.8)
    rows = np.flatnonzero(w > 0.05)
    amp = rng.uniform(15.0, 40.0) * ev.amplitude
    return Wave(rows, (amp * w[rows, None] * shape[None, :]).astype(np.float32))


def vertex(ev: Transient, ctx: Ctx) -> Wave:
    """A vertex sharp wave (short) or a K-complex (long), central maximum."""
    rng = np.random.default_rng(ev.seed)
    n = _n(ev, ctx.fs_hz)
    t = np.arange(n) / ctx.fs_hz - ev.duration_s / 2
    if ev.duration_s < 0.5:
        s = 0.04
        shape = -(t / s) * np.exp(0.5 - 0.5 * (t / s) ** 2)
        amp = rng.uniform(50.0, 140.0)
    else:
        s = 0.12
        shape = -np.exp(-0.5 * (t / s) ** 2) + 0.6 * np.exp(-0.5 * ((t - 2.5 * s) / (1.5 * s)) ** 2)
        amp = rng.uniform(80.0, 200.0)
    w = head.field("CZ", 0.75)
    rows = np.flatnonzero(w > 0.05)
    return Wave(rows, (amp * ev.amplitude * w[rows, None] * shape[None, :]).astype(np.float32))


def sweat(ev: Transient, ctx: Ctx) -> Wave:
    rng = np.random.default_rng(ev.seed)
    n = _n(ev, ctx.fs_hz)
    center = str(rng.choice(["FP1", "FP2", "F7", "F8", "T3", "T4"]))
    w = head.field(center, 0.8)
    rows = np.flatnonzero(w > 0.1)
    slow = noise.shaped_noise(rng, rows.size, n, ctx.fs_hz, noise.bandpass_shape(0.04, 0.3, 2.0))
    amp = rng.uniform(30.0, 100.0) * ev.amplitude
    return Wave(rows, (slow * (amp * w[rows, None]) * _edges(n, n // 4)[None, :]).astype(np.float32))


def bad_contact(ev: Transient, ctx: Ctx) -> Wave:
    """One electrode losing contact: heavy mains pickup, drift and small pops."""
    rng = np.random.default_rng(ev.seed)
    n = _n(ev, ctx.fs_hz)
    t = np.arange(n) / ctx.fs_hz
    elec = ev.where or str(rng.choice(head.SCALP_1020))
    env = _edges(n, int(2 * ctx.fs_hz))
    x = rng.uniform(20.0, 150.0) * np.sin(2 * np.pi * ctx.line_hz * t + rng.uniform(0, 6.28))
    x += rng.uniform(30.0, 120.0) * noise.shaped_noise(rng, 1, n, ctx.fs_hz, noise.bandpass_shape(0.05, 1.0, 2.0))[0]
    return Wave(np.array([_E[elec]]), ((x * env) * ev.amplitude).astype(np.float32)[None, :])


def hyperventilation(ev: Transient, ctx: Ctx) -> Wave:
    """Build-up of diffuse, frontally dominant 1-4 Hz slowing, then recovery (last quarter)."""
    rng = np.random.default_rng(ev.seed)
    n = _n(ev, ctx.fs_hz)
    u = np.arange(n) / n
    env = np.where(u < 0.75, (u / 0.75) ** 2, np.exp(-(u - 0.75) / 0.08)).astype(np.float32)
    rows = np.arange(head.N_ELEC)
    common = noise.shaped_noise(rng, 1, n, ctx.fs_hz, noise.bandpass_shape(1.0, 3.5, 3.0))
    local = noise.shaped_noise(rng, rows.size, n, ctx.fs_hz, noise.bandpass_shape(1.0, 4.0, 3.0))
    w = (0.5 + 0.5 * head.field("FZ", 1.2)).astype(np.float32)
    amp = rng.uniform(30.0, 90.0) * ev.amplitude
    data = (0.8 * common + 0.6 * local) * (w[:, None] * env[None, :] * amp)
    return Wave(rows, data.astype(np.float32))


def ied(ev: Transient, ctx: Ctx) -> Wave:
    """Interictal epileptiform discharge: a focal spike or sharp wave with an after-going slow
    wave at ``where`` (the patient's focus), or a brief generalized spike-and-wave burst
    (``where == "GEN"``, 0.5-3 s at 3-4 Hz). Not a seizure: too short and not evolving."""
    rng = np.random.default_rng(ev.seed)
    n = _n(ev, ctx.fs_hz)
    t = np.arange(n) / ctx.fs_hz
    if ev.where == "GEN":
        f = rng.uniform(3.0, 4.0)
        ph = 2 * np.pi * f * t
        shape = 0.6 * noise.vonmises_wave(ph, 25.0) + noise.vonmises_wave(ph - 2.3, 2.0)
        shape = shape * noise.smoothstep(t / 0.15) * noise.smoothstep((ev.duration_s - t) / 0.15)
        w = head.ABSENCE_FIELD * rng.uniform(0.8, 1.1, head.N_ELEC)
        amp = rng.uniform(120.0, 300.0)
    else:
        t0 = 0.1
        width = rng.uniform(0.012, 0.03)  # spike (20-70 ms) or sharp wave
        shape = -np.exp(-0.5 * ((t - t0) / width) ** 2) + 0.35 * np.exp(-0.5 * ((t - t0 - 0.12) / 0.06) ** 2)
        for k in range(int(rng.integers(0, 3))):  # sometimes a short run
            dt = (k + 1) * rng.uniform(0.25, 0.5)
            shape += 0.8 * (-np.exp(-0.5 * ((t - t0 - dt) / width) ** 2))
        w = head.field(ev.where, rng.uniform(0.45, 0.6))
        amp = rng.uniform(50.0, 150.0)
    rows = np.flatnonzero(w > 0.03)
    return Wave(rows, (amp * ev.amplitude * w[rows, None] * shape[None, :]).astype(np.float32))


PHOTIC_STEPS_HZ = (1.0, 3.0, 5.0, 7.0, 9.0, 11.0, 13.0, 15.0, 17.0, 19.0, 21.0, 25.0)
PHOTIC_ON_S, PHOTIC_OFF_S = 10.0, 5.0


def photic(ev: Transient, ctx: Ctx) -> Wave:
    """Photic stimulation: 10 s flash trains at rising rates; occipital driving; marker channel."""
    rng = np.random.default_rng(ev.seed)
    n = _n(ev, ctx.fs_hz)
    t = np.arange(n) / ctx.fs_hz
    marker = np.zeros(n, dtype=np.float32)
    drive = np.zeros(n, dtype=np.float32)
    gain = rng.uniform(6.0, 22.0) * ev.amplitude
    for k, f in enumerate(PHOTIC_STEPS_HZ):
        t0 = k * (PHOTIC_ON_S + PHOTIC_OFF_S)
        if t0 >= ev.duration_s:
            break
        on = (t >= t0) & (t < min(t0 + PHOTIC_ON_S, ev.duration_s))
        tt = t[on] - t0
        marker[on] = np.where(np.mod(tt, 1.0 / f) < 0.01, 2000.0, 0.0)
        resonance = 1.0 + 1.5 * np.exp(-0.5 * ((f - ctx.alpha_hz) / 1.5) ** 2)
        harm = noise.vonmises_wave(2 * np.pi * f * tt, 1.5 if f < 8 else 0.5)
        drive[on] = gain * resonance * harm * noise.smoothstep(tt / 0.5)
    w = head.field("O1", 0.8) + head.field("O2", 0.8)
    rows = np.flatnonzero(w > 0.05)
    data = np.vstack([w[rows, None] * drive[None, :], marker[None, :]]).astype(np.float32)
    return Wave(np.append(rows, _E["PHOTIC"]), data)


RENDERERS: dict[str, Renderer] = {
    "blink": blink, "eye_move": eye_move, "roving": roving, "muscle": muscle, "chewing": chewing,
    "pop": pop, "movement": movement, "rhythmic_train": rhythmic_train, "firda": firda, "shiver": shiver,
    "spindle": spindle, "vertex": vertex, "sweat": sweat, "bad_contact": bad_contact,
    "hyperventilation": hyperventilation, "photic": photic, "ied": ied,
}
