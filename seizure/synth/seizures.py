"""Seizures that evolve, and what they leave behind.

- Focal (fnsz, cpsz, spsz): a rhythmic discharge that starts at the onset electrode
  (sometimes after a few seconds of low-voltage fast activity), slows (e.g. 7 -> 3 Hz),
  grows and sharpens, and spreads to neighbouring electrodes at a finite speed, in some
  seizures to the other hemisphere. cpsz add oral automatisms (chewing-like EMG).
  Subtle seizures (all spsz, a share of fnsz/cpsz) are low-amplitude and stay local.
- Absence (absz): generalized ~3 Hz spike-and-wave, frontal maximum, abrupt on/off.
- Generalized (gnsz): diffuse rhythmic 4-6 Hz slowing to 2-3 Hz, sharpening.
- Tonic (tnsz): diffuse low-voltage fast activity recruiting in amplitude, with EMG.
- Tonic-clonic (tcsz): a tonic phase (fast activity buried in EMG), then clonic bursts
  slowing from ~3 to ~1 Hz with suppression between; focal onset for focal patients.

After the seizure comes post-ictal slowing: polymorphic delta that fades (and, in the
scene, an attenuated background). :func:`spatial_gains` gives the discharge's gain on
every electrode over time; the renderer uses it and :func:`electrode_onsets` derives the
``.csv`` channel rows from it, so the annotation matches the signal.
"""

from __future__ import annotations

import math

import numpy as np

from seizure.events import Event
from seizure.synth import head, noise
from seizure.synth.artifacts import Ctx, Transient, Wave, chewing, emg
from seizure.synth.plan import SeizureSpec

INVOLVED = 0.3  # an electrode whose gain reaches this is annotated as involved
W0 = 0.3  # width (chord units) of the ictal field at onset


def _generalized_field(spec: SeizureSpec) -> tuple[np.ndarray, np.ndarray]:
    """Gain and arrival (s) per electrode of a generalized discharge (near-simultaneous)."""
    rng = np.random.default_rng(spec.seed ^ 0x5EED)
    base = head.ABSENCE_FIELD if spec.label == "absz" else head.DIFFUSE_FIELD
    gain = base * rng.uniform(0.75, 1.15, head.N_ELEC)
    arrival = rng.uniform(0.0, 0.4, head.N_ELEC)
    return gain, arrival - arrival[gain >= INVOLVED].min()


def _focal_field(center: str, t: np.ndarray, width: float, speed: float) -> np.ndarray:
    """A Gaussian field around ``center`` whose width grows at ``speed`` from W0 up to ``width``."""
    w = np.where(t >= 0, np.minimum(width, W0 + speed * np.maximum(t, 0.0)), np.nan)
    d = head.DIST[head.INDEX[center]][:, None]
    with np.errstate(invalid="ignore"):
        g = np.exp(-((d / w[None, :]) ** 2))
    return np.nan_to_num(g, nan=0.0)


def spatial_gains(spec: SeizureSpec, t: np.ndarray) -> np.ndarray:
    """Gain of the discharge on every electrode ``(N_ELEC, len(t))`` at seconds ``t`` after onset.

    Focal seizures recruit cortex around the onset electrode: the field widens at
    ``speed`` up to ``width``; with bilateral spread a mirrored field (or, for a tcsz, a
    diffuse one) joins at ``bilateral_s``. Generalized seizures switch on everywhere
    within a few hundred ms with a fixed frontal-maximum field.
    """
    if spec.generalized:
        gain, arrival = _generalized_field(spec)
        rise = 0.3 if spec.label == "absz" else 1.0
        return gain[:, None] * noise.smoothstep((t[None, :] - arrival[:, None]) / rise)
    g = _focal_field(spec.focus, t, spec.width, spec.speed)
    if math.isfinite(spec.bilateral_s):
        tb = t - spec.bilateral_s
        if spec.label == "tcsz":
            rng = np.random.default_rng(spec.seed ^ 0xB11)
            jitter = rng.uniform(0.0, 0.5, head.N_ELEC)
            g = g + (head.DIFFUSE_FIELD * rng.uniform(0.8, 1.1, head.N_ELEC))[:, None] * noise.smoothstep(
                (tb[None, :] - jitter[:, None]) / 2.0)
        else:
            g = g + 0.8 * _focal_field(head.MIRROR[spec.focus], tb, spec.width, spec.speed)
    return np.minimum(g, 1.2)


def electrode_onsets(spec: SeizureSpec) -> dict[str, float]:
    """Electrodes annotated as involved, with the seconds after onset the discharge reaches them.

    Generalized seizures: every electrode, at its arrival. Focal ones: electrodes whose
    gain reaches ``INVOLVED`` at least 2 s before the end, at that time.
    """
    if spec.generalized:
        _, arrival = _generalized_field(spec)
        return {e: float(arrival[k]) for k, e in enumerate(head.ELECTRODES)}
    t = np.arange(0.0, max(spec.duration_s - 2.0, 0.05), 0.05)
    g = spatial_gains(spec, t) >= INVOLVED
    out = {head.ELECTRODES[k]: float(t[np.argmax(g[k])]) for k in np.flatnonzero(g.any(axis=1))}
    out.setdefault(spec.focus, 0.0)
    return out


def channel_events(spec: SeizureSpec, channels: tuple[str, ...]) -> list[Event]:
    """``.csv`` rows: each TCP channel with an involved electrode, from its arrival to the end.

    Generalized seizures are annotated on every channel. The earliest channel starts at
    the seizure onset (the ``.csv_bi`` onset), as an annotator marks the first change.
    """
    onsets = electrode_onsets(spec)
    rel: dict[str, float] = {}
    for ch in channels:
        times = [onsets[e] for e in ch.split("-") if e in onsets]
        if times:
            rel[ch] = min(times)
    if not rel:  # the discharge is annotated on the channel nearest its focus
        focus = spec.focus or "FZ"
        near = min(channels, key=lambda c: min(head.DIST[head.INDEX[focus], head.INDEX[e]] for e in c.split("-")))
        rel = {near: 0.0}
    first = min(rel.values())
    return [Event(round(spec.onset_s + t - first, 4), spec.stop_s, spec.label, 1.0, ch) for ch, t in rel.items()]


def _frequency(rng: np.random.Generator, t: np.ndarray, dur: float, f0: float, f1: float) -> np.ndarray:
    u = np.clip(t / dur, 0.0, 1.0)
    f = f0 * (f1 / f0) ** (u ** rng.uniform(0.7, 1.4))
    kt, kv = noise.smooth_walk(rng, dur + 1.0, 0.5, 0.07)
    return f * np.exp(noise.interp(t, kt, kv))


def _envelope(t: np.ndarray, dur: float, start_frac: float, grow_frac: float, offset_s: float) -> np.ndarray:
    """Amplitude growth from ``start_frac`` to 1, a gentle late decline, a short offset."""
    u = t / dur
    grow = start_frac + (1.0 - start_frac) * noise.smoothstep(u / grow_frac)
    fade = 1.0 - 0.3 * noise.smoothstep((t - (dur - 6.0)) / 6.0)
    off = 1.0 - noise.smoothstep((t - (dur - offset_s)) / offset_s)
    return grow * fade * off


def _ictal(spec: SeizureSpec, ctx: Ctx, rng: np.random.Generator, n: int, f: np.ndarray, kappa: np.ndarray,
           amp_t: np.ndarray, wave_fn=None, phase0: float | None = None) -> np.ndarray:
    """The discharge on every electrode ``(N_ELEC, n)``: per-electrode gain ramps and small lags."""
    fs = ctx.fs_hz
    t = np.arange(n) / fs
    phase = noise.phase_from_freq(f, fs, rng.uniform(0, 2 * np.pi) if phase0 is None else phase0)
    gains = spatial_gains(spec, t)
    out = np.zeros((head.N_ELEC, n), dtype=np.float32)
    irregular = noise.shaped_noise(rng, 1, n, fs, noise.bandpass_shape(1.5, 8.0, 2.0))[0]
    # Propagation: the rhythm reaches distant electrodes tens of ms later (phase lags), so
    # bipolar pairs inside the ictal field still show it.
    if spec.generalized:
        lags = rng.uniform(0.005, 0.05, head.N_ELEC)
    else:
        lags = head.DIST[head.INDEX[spec.focus]] * rng.uniform(0.04, 0.09) + rng.uniform(0.0, 0.015, head.N_ELEC)
    for k in range(head.N_ELEC):
        g = gains[k]
        if g.max() < 0.02:
            continue
        ph = phase - 2 * np.pi * f * lags[k]
        w = wave_fn(ph) if wave_fn is not None else noise.vonmises_wave(ph, kappa)
        out[k] = (g * amp_t * (w + 0.3 * irregular)).astype(np.float32)
    return out


def _spike_wave_fn(rng: np.random.Generator, spike_k: tuple[float, float] = (22.0, 35.0)):
    """A spike followed by a slow wave per cycle (von Mises pulses), as a function of phase."""
    sk, wk = rng.uniform(*spike_k), rng.uniform(1.5, 2.5)
    delay = rng.uniform(2.0, 2.6)

    def spike_wave(ph: np.ndarray) -> np.ndarray:
        return 0.6 * noise.vonmises_wave(ph, sk) + noise.vonmises_wave(ph - delay, wk)

    return spike_wave


def _patterned(spec: SeizureSpec, ctx: Ctx, rng: np.random.Generator, nd: int) -> np.ndarray:
    """The ictal patterns of ``morphology_mix`` (focal or generalized field alike).

    ``delta``: rhythmic 1.5-3 Hz delta with little evolution; ``theta``: rhythmic theta
    slowing a little; ``spike_wave``: repetitive spike-and-wave at 1.5-3 Hz; ``lvfa``:
    5-15 s of low-voltage 15-30 Hz activity before the evolving rhythm.
    """
    fs = ctx.fs_hz
    t = np.arange(nd) / fs
    dur = spec.duration_s
    u = t / dur
    start_frac, grow = (0.1, spec.ramp) if spec.ramp > 0 else (0.35, 0.35)
    amp_t = spec.amplitude_uv * _envelope(t, dur, start_frac, grow, 0.5)
    amp_t = amp_t * np.exp(noise.interp(t, *noise.smooth_walk(rng, dur + 1.0, 0.4, 0.2)))
    f = _frequency(rng, t, dur, spec.f_start_hz, spec.f_end_hz)
    wave_fn = None
    if spec.morphology == "delta":
        kappa = 1.0 + 1.5 * u
    elif spec.morphology == "theta":
        kappa = 0.6 + 2.0 * u
    elif spec.morphology == "spike_wave":
        kappa = np.zeros(1)
        wave_fn = _spike_wave_fn(rng, (12.0, 25.0))
    else:  # lvfa: the fast onset, then the evolving rhythm grows out of it
        lvfa_s = min(rng.uniform(5.0, 15.0), 0.4 * dur)
        fast = t < lvfa_s
        f = np.where(fast, rng.uniform(15.0, 30.0) * (1.0 - 0.3 * t / lvfa_s), f)
        amp_t = np.where(fast, 0.15 * spec.amplitude_uv * (0.5 + 0.5 * noise.smoothstep(t / lvfa_s)), amp_t)
        kappa = np.where(fast, 0.3, 0.5 + 3.0 * u ** 1.2)
    return _ictal(spec, ctx, rng, nd, f, kappa, amp_t, wave_fn)


def _focal(spec: SeizureSpec, ctx: Ctx, rng: np.random.Generator, nd: int) -> np.ndarray:
    if spec.morphology != "evolving":
        return _patterned(spec, ctx, rng, nd)
    fs = ctx.fs_hz
    t = np.arange(nd) / fs
    dur = spec.duration_s
    f = _frequency(rng, t, dur, spec.f_start_hz, spec.f_end_hz)
    lvfa_s = 0.0 if spec.subtle or rng.random() > 0.4 else min(rng.uniform(2.0, 5.0), 0.25 * dur)
    if spec.ramp > 0:  # slow onset (slow_onset_fraction)
        amp_t = spec.amplitude_uv * _envelope(t, dur, 0.1, spec.ramp, 0.5)
    else:
        amp_t = spec.amplitude_uv * _envelope(t, dur, 0.35 if not spec.subtle else 0.5, 0.35, 0.5)
    if lvfa_s:
        fast = t < lvfa_s
        f = np.where(fast, rng.uniform(14.0, 22.0), f)
        amp_t = np.where(fast, 0.18 * spec.amplitude_uv * noise.smoothstep(t / 0.5), amp_t)
    u = t / dur
    kappa = (0.5 + 3.0 * u ** 1.2) if not spec.subtle else (0.4 + 0.8 * u)
    amp_t = amp_t * np.exp(noise.interp(t, *noise.smooth_walk(rng, dur + 1.0, 0.4, 0.2)))
    return _ictal(spec, ctx, rng, nd, f, kappa, amp_t)


def _absence(spec: SeizureSpec, ctx: Ctx, rng: np.random.Generator, nd: int) -> np.ndarray:
    fs = ctx.fs_hz
    t = np.arange(nd) / fs
    dur = spec.duration_s
    f = spec.f_start_hz + (spec.f_end_hz - spec.f_start_hz) * (t / dur)
    on = noise.smoothstep(t / 0.3) * (1.0 - noise.smoothstep((t - (dur - 0.4)) / 0.4))
    amp_t = spec.amplitude_uv * on * np.exp(noise.interp(t, *noise.smooth_walk(rng, dur + 1.0, 0.5, 0.1)))
    return _ictal(spec, ctx, rng, nd, f, np.zeros(1), amp_t, _spike_wave_fn(rng))


def _generalized(spec: SeizureSpec, ctx: Ctx, rng: np.random.Generator, nd: int) -> np.ndarray:
    if spec.morphology != "evolving":
        return _patterned(spec, ctx, rng, nd)
    fs = ctx.fs_hz
    t = np.arange(nd) / fs
    dur = spec.duration_s
    f = _frequency(rng, t, dur, spec.f_start_hz, spec.f_end_hz)
    if spec.ramp > 0:
        amp_t = spec.amplitude_uv * _envelope(t, dur, 0.1, spec.ramp, 0.7)
    else:
        amp_t = spec.amplitude_uv * _envelope(t, dur, 0.35, 0.3, 0.7)
    kappa = 0.8 + 3.0 * (t / dur)
    return _ictal(spec, ctx, rng, nd, f, kappa, amp_t)


def _muscle_all(rng: np.random.Generator, n: int, fs: float, env: np.ndarray, uv: float) -> np.ndarray:
    w = (0.35 + 0.65 * np.maximum(head.field("T3", 0.9), head.field("T4", 0.9))
         + 0.4 * head.field("FZ", 0.9)).astype(np.float32)
    return emg(rng, head.N_ELEC, n, fs) * (w[:, None] * env[None, :] * uv)


def _tonic(spec: SeizureSpec, ctx: Ctx, rng: np.random.Generator, nd: int) -> np.ndarray:
    fs = ctx.fs_hz
    t = np.arange(nd) / fs
    dur = spec.duration_s
    f = spec.f_start_hz * (1.0 - 0.3 * t / dur)
    # Generalized paroxysmal fast activity recruiting in amplitude (the EMG rides on it).
    amp_t = 0.6 * spec.amplitude_uv * (0.3 + 0.7 * noise.smoothstep(t / (0.6 * dur))) * _envelope(t, dur, 1.0, 0.1, 0.5)
    out = _ictal(spec, ctx, rng, nd, f, np.full(nd, 0.3), amp_t)
    env = noise.smoothstep((t - 2.0) / 3.0) * (1.0 - noise.smoothstep((t - (dur - 1.0)) / 1.0))
    return out + _muscle_all(rng, nd, fs, env, rng.uniform(8.0, 25.0))


def _tonic_clonic(spec: SeizureSpec, ctx: Ctx, rng: np.random.Generator, nd: int) -> np.ndarray:
    fs = ctx.fs_hz
    t = np.arange(nd) / fs
    dur = spec.duration_s
    lead = spec.bilateral_s if math.isfinite(spec.bilateral_s) else 0.0
    out = np.zeros((head.N_ELEC, nd), dtype=np.float32)
    if lead > 0:  # focal onset before the bilateral tonic-clonic phase
        focal = SeizureSpec(spec.label, spec.onset_s, lead + 2.0, spec.focus, False, 0.8 * spec.amplitude_uv,
                            rng.uniform(5.0, 8.0), rng.uniform(4.0, 5.0), spec.width, spec.speed, math.inf, 0.0, spec.seed)
        nl = min(nd, int(round((lead + 2.0) * fs)))
        out[:, :nl] += _focal(focal, ctx, rng, nl)
    tonic_s = rng.uniform(10.0, 20.0)
    tg = t - lead
    tonic = (tg >= 0) & (tg < tonic_s)
    clonic = tg >= tonic_s
    # Tonic: recruiting fast activity under massive EMG.
    gen = SeizureSpec(spec.label, spec.onset_s, dur, "", False, spec.amplitude_uv, spec.f_start_hz, spec.f_end_hz,
                      spec.width, spec.speed, math.inf, 0.0, spec.seed)
    fast_amp = np.where(tonic, 0.3 * spec.amplitude_uv * noise.smoothstep(tg / tonic_s), 0.0)
    out += _ictal(gen, ctx, rng, nd, np.full(nd, spec.f_start_hz), np.full(nd, 0.3), fast_amp)
    # Clonic: bursts (polyspikes + EMG + slow wave) at a rate slowing from ~3 to ~1 Hz.
    uc = np.clip((tg - tonic_s) / max(dur - lead - tonic_s, 1.0), 0.0, 1.0)
    rate = 3.0 * (spec.f_end_hz / 3.0) ** uc
    phase = noise.phase_from_freq(np.where(clonic, rate, 0.0), fs)
    gate = np.where(clonic, np.exp(4.0 * (np.cos(phase) - 1.0)), 0.0)
    burst = _ictal(gen, ctx, rng, nd, np.where(clonic, rate, 0.0), np.full(nd, 6.0),
                   np.where(clonic, spec.amplitude_uv, 0.0), phase0=0.0)
    out += burst
    emg_env = np.where(tonic, noise.smoothstep(tg / 2.0), 0.0) + gate
    emg_env = emg_env * (1.0 - noise.smoothstep((t - (dur - 0.5)) / 0.5))
    out += _muscle_all(rng, nd, fs, emg_env.astype(np.float32), rng.uniform(60.0, 150.0))
    # Gross movement: large slow swings during the clonic phase.
    mov = noise.shaped_noise(rng, head.N_ELEC, nd, fs, noise.bandpass_shape(0.5, 3.0, 2.0))
    out += mov * (np.where(clonic, 1.0, 0.3) * (tg >= 0) * rng.uniform(30.0, 80.0))[None, :]
    return out


def _postictal(spec: SeizureSpec, ctx: Ctx, rng: np.random.Generator, n_post: int) -> np.ndarray:
    """Polymorphic delta after the seizure, fading; lateralised after focal seizures."""
    fs = ctx.fs_hz
    t = np.arange(n_post) / fs
    delay = 15.0 if spec.label == "tcsz" else 0.0  # suppression comes first after a tcsz
    env = noise.smoothstep((t - delay) / 4.0) * np.exp(-np.maximum(t - delay, 0.0) / max(spec.postictal_s / 2.5, 1.0))
    env *= 1.0 - noise.smoothstep((t - (spec.postictal_s - 5.0)) / 5.0)
    if spec.generalized or spec.label == "tcsz":
        w = 0.6 + 0.4 * head.field("FZ", 1.2)
    else:
        w = 0.25 + 0.75 * head.field(spec.focus, 1.0)
    amp = min(0.45 * spec.amplitude_uv, 70.0)
    common = noise.shaped_noise(rng, 1, n_post, fs, noise.bandpass_shape(0.5, 2.5, 3.0))
    local = noise.shaped_noise(rng, head.N_ELEC, n_post, fs, noise.bandpass_shape(0.5, 3.0, 3.0))
    return ((0.7 * common + 0.7 * local) * (w[:, None] * env[None, :] * amp)).astype(np.float32)


_KINDS = {"fnsz": _focal, "cpsz": _focal, "spsz": _focal, "absz": _absence, "gnsz": _generalized,
          "tnsz": _tonic, "tcsz": _tonic_clonic}


def render(spec: SeizureSpec, ctx: Ctx) -> Wave:
    """The seizure and its post-ictal slowing on the electrodes, from the onset."""
    rng = np.random.default_rng(spec.seed)
    nd = int(round(spec.duration_s * ctx.fs_hz))
    n_post = int(round(spec.postictal_s * ctx.fs_hz))
    data = np.zeros((head.N_VIRTUAL, nd + n_post), dtype=np.float32)
    data[:head.N_ELEC, :nd] = _KINDS[spec.label](spec, ctx, rng, nd)
    if spec.label == "cpsz" and not spec.subtle and spec.duration_s > 25:
        start = rng.uniform(0.3, 0.5) * spec.duration_s
        ev = Transient("chewing", 0.0, rng.uniform(0.3, 0.45) * spec.duration_s, int(rng.integers(2**62)), 0.7)
        w = chewing(ev, ctx)
        s0 = int(round(start * ctx.fs_hz))
        m = min(w.data.shape[1], nd - s0)
        data[w.rows, s0:s0 + m] += w.data[:, :m]
    if n_post:
        data[:head.N_ELEC, nd:] = _postictal(spec, ctx, rng, n_post)
    if spec.label in ("tcsz", "tnsz"):  # the chin EMG lead saturates with muscle
        t = np.arange(nd) / ctx.fs_hz
        env = noise.smoothstep(t / 2.0) * (1.0 - noise.smoothstep((t - (spec.duration_s - 1.0)) / 1.0))
        data[head.INDEX["EMG"], :nd] = emg(rng, 1, nd, ctx.fs_hz)[0] * env * rng.uniform(50.0, 150.0)
    return Wave(np.arange(head.N_VIRTUAL), data)


def attenuation(spec: SeizureSpec) -> list[tuple[float, float, np.ndarray, float]]:
    """Background attenuation ``(start_s, stop_s, depth per electrode, tau_s)`` during and after.

    During the seizure the involved region's background is partly replaced; after it the
    background is depressed (deeply after a tcsz) and recovers with time constant tau.
    """
    if spec.label == "absz":
        return []
    gain = spatial_gains(spec, np.array([spec.duration_s]))[:, 0]
    depth_post = {"tcsz": 0.9, "cpsz": 0.6, "fnsz": 0.5, "gnsz": 0.45, "tnsz": 0.45, "spsz": 0.2}[spec.label]
    if spec.subtle:
        depth_post = 0.2
    post = depth_post * (0.5 + 0.5 * np.minimum(gain / max(gain.max(), 1e-9), 1.0))
    if spec.label == "tcsz":
        post = np.full(head.N_ELEC, depth_post)
    out = [(spec.onset_s, spec.stop_s, 0.4 * np.minimum(gain, 1.0), math.inf)]
    if spec.postictal_s > 0:
        out.append((spec.stop_s, spec.stop_s + spec.postictal_s, post, spec.postictal_s / 3.0))
    return out
