"""The ongoing EEG of a recording, rendered block by block in bounded memory.

Per block, every random source is synthesised in the frequency domain in one batched
inverse FFT: 1/f ("pink") broadband activity mixed across electrodes by a
distance-based covariance (volume conduction), posterior alpha from two coherent
generators, central mu in some patients, diffuse theta and delta whose gains follow
the vigilance state, per-electrode slow drift, and slow eye and common-mode signals.
Consecutive blocks are joined by a power-complementary crossfade (cos/sin weights)
over a few seconds, so the stream is seamless and stationary.

Deterministic parts are functions of absolute time: 60 Hz line pickup (per electrode,
slowly varying; the common-mode part cancels in bipolar derivations) and the EKG
(beats from the scene) with its leak into ear/temporal electrodes.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from seizure.synth import head, noise
from seizure.synth.scene import GRID_S, Scene

FADE_S = 4.0
SLOW_FS_HZ = 8.0
SLOW_FADE_S = 30.0
FAST_ROWS = head.N_ELEC + 8
SLOW_ROWS = head.N_ELEC + 3
_E = head.INDEX


def ekg_template(fs_hz: float) -> tuple[np.ndarray, int]:
    """One PQRST complex (R peak 1.0) and the sample index of its R peak."""
    t = np.arange(int(-0.3 * fs_hz), int(0.5 * fs_hz)) / fs_hz

    def g(mu: float, s: float, a: float) -> np.ndarray:
        return a * np.exp(-0.5 * ((t - mu) / s) ** 2)

    x = g(-0.17, 0.025, 0.12) + g(-0.03, 0.008, -0.12) + g(0.0, 0.011, 1.0) + g(0.035, 0.01, -0.28) + g(0.26, 0.045, 0.28)
    return x.astype(np.float32), int(0.3 * fs_hz)


class Background:
    """Iterates ``(start_sample, block)`` with ``block`` float32 ``(head.N_VIRTUAL, n)``."""

    def __init__(self, scene: Scene):
        self.scene = scene
        c = scene.consts
        self.fs = scene.fs_hz
        self.mix = head.mixing_matrix(float(c["mix_length"])).astype(np.float32)
        fields = {  # (N_ELEC, n_sources) spatial patterns
            "alpha": np.stack([head.field("O1", 0.85), float(c["alpha_asym"]) * head.field("O2", 0.85)], axis=1),
            "mu": np.stack([head.field("C3", 0.45), head.field("C4", 0.45)], axis=1),
            "theta": np.stack([0.5 + 0.5 * head.field("F3", 1.2), 0.5 + 0.5 * head.field("F4", 1.2)], axis=1),
            "delta": (0.6 + 0.4 * head.field("FZ", 1.4))[:, None],
        }
        self.fields = {k: v.astype(np.float32) for k, v in fields.items()}
        self._specs: dict[tuple[str, int], np.ndarray] = {}
        self._tails: dict[str, np.ndarray] = {}
        self._ekg, self._ekg_peak = ekg_template(self.fs)

    # Fast rows (at fs): broadband (N_ELEC), alpha (2), mu (2), theta (2), delta (1), chin EMG (1).
    # Slow rows (at SLOW_FS_HZ, interpolated): drift (N_ELEC), eye leads (2), common mode (1).
    def _fast_spectrum(self, freqs: np.ndarray) -> np.ndarray:
        key = ("fast", freqs.size)
        if key not in self._specs:
            c = self.scene.consts
            broad = noise.pink(float(c["exponent"]))(freqs)
            broad = broad / np.sqrt(np.mean(broad**2)) + float(c["beta_level"]) * noise.band(19.0, 3.5)(freqs) * 0.2
            alpha = noise.band(float(c["alpha_hz"]), 0.55)(freqs)
            mu = noise.band(float(c["mu_hz"]), 0.5)(freqs) + 0.4 * noise.band(2 * float(c["mu_hz"]), 0.8)(freqs)
            theta = noise.bandpass_shape(4.0, 7.5, 3.0)(freqs)
            rows = [broad] * head.N_ELEC + [alpha, alpha, mu, mu, theta, theta,
                                            noise.bandpass_shape(0.5, 3.5, 3.0)(freqs),
                                            noise.bandpass_shape(25.0, min(120.0, 0.42 * self.fs), 2.0)(freqs)]
            self._specs[key] = np.stack(rows)
        return self._specs[key]

    def _slow_spectrum(self, freqs: np.ndarray) -> np.ndarray:
        key = ("slow", freqs.size)
        if key not in self._specs:
            drift = noise.bandpass_shape(0.02, 0.3, 2.0)(freqs)
            eog = noise.bandpass_shape(0.05, 1.0, 2.0)(freqs)
            self._specs[key] = np.stack([drift] * head.N_ELEC + [eog, eog, noise.bandpass_shape(0.02, 0.5, 2.0)(freqs)])
        return self._specs[key]

    def blocks(self, block_s: int = 300) -> Iterator[tuple[int, np.ndarray]]:
        """Yield consecutive blocks of ``block_s`` whole seconds (the last may be shorter)."""
        step = int(round(block_s * self.fs))
        for k, start in enumerate(range(0, self.scene.n_samples, step)):
            n = min(step, self.scene.n_samples - start)
            yield start, self.block(k, start, n)

    def _crossfaded(self, name: str, x: np.ndarray, m: int) -> np.ndarray:
        """Crossfade the head of ``x`` with the previous block's tail; keep ``x[:, m:]`` as tail."""
        tail = self._tails.get(name)
        if tail is not None:
            f = min(tail.shape[1], x.shape[1])
            w = np.linspace(0.0, np.pi / 2, f, dtype=np.float32)
            x[:, :f] = tail[:, :f] * np.cos(w) + x[:, :f] * np.sin(w)
        self._tails[name] = x[:, m:].copy()
        return x

    def _noise(self, k: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Fast rows ``(FAST_ROWS, n)`` and slow rows interpolated to ``(SLOW_ROWS, n)``."""
        rng = np.random.default_rng(np.random.SeedSequence([self.scene.plan.seed, 2, k]))
        fade = min(int(FADE_S * self.fs), n)
        fast = noise.shaped_noise(rng, FAST_ROWS, n + fade, self.fs, self._fast_spectrum)
        fast = self._crossfaded("fast", fast, n)[:, :n]
        m = int(round(n / self.fs * SLOW_FS_HZ))
        slow = noise.shaped_noise(rng, SLOW_ROWS, m + int(SLOW_FADE_S * SLOW_FS_HZ), SLOW_FS_HZ, self._slow_spectrum)
        slow = self._crossfaded("slow", slow, m)
        pos = np.arange(n) * (SLOW_FS_HZ / self.fs)
        i0 = pos.astype(np.int64)
        frac = (pos - i0).astype(np.float32)
        slow_n = slow[:, i0] * (1.0 - frac) + slow[:, i0 + 1] * frac
        return fast, slow_n

    def block(self, k: int, start: int, n: int) -> np.ndarray:
        """Block ``k`` (samples ``start .. start + n``); blocks must be asked for in order."""
        sc, c = self.scene, self.scene.consts
        t = (start + np.arange(n)) / self.fs
        x, slow = self._noise(k, n)
        ne = head.N_ELEC
        out = np.zeros((head.N_VIRTUAL, n), dtype=np.float32)
        brain = self.mix @ x[:ne] * float(c["bg_uv"])
        gi = np.minimum((t / GRID_S).astype(int), sc.gains["alpha"].size - 1)
        r = ne
        src = np.stack([x[r], 0.75 * x[r] + 0.66 * x[r + 1]])  # coherent left/right generators
        brain += (self.fields["alpha"] @ src) * (float(c["alpha_uv"]) * sc.gains["alpha"][gi])
        if c["mu"]:
            brain += (self.fields["mu"] @ x[r + 2:r + 4]) * (0.6 * float(c["alpha_uv"]) * sc.gains["mu"][gi])
        brain += (self.fields["theta"] @ x[r + 4:r + 6]) * (float(c["theta_uv"]) * sc.gains["theta"][gi])
        brain += (self.fields["delta"] @ x[r + 6:r + 7]) * (float(c["delta_uv"]) * sc.gains["delta"][gi])
        brain *= self._attenuation(t)  # ictal / post-ictal depression of the ongoing activity
        brain += slow[:ne] * np.asarray(c["drift_uv"], dtype=np.float32)[:, None]
        rng = np.random.default_rng(np.random.SeedSequence([sc.plan.seed, 3, k]))
        white = rng.random((ne, n), dtype=np.float32) - np.float32(0.5)
        brain += white * np.float32(np.sqrt(12.0) * float(c["amp_noise_uv"]))
        brain += self._line(t)
        ekg = self._ekg_wave(start, n)
        brain += np.asarray(c["ekg_leak"], dtype=np.float32)[:, None] * ekg[None, :]
        out[:ne] = brain
        out[_E["LOC"]] = slow[ne] * float(c["eog_uv"])
        out[_E["ROC"]] = slow[ne + 1] * float(c["eog_uv"])
        out[_E["EKG"]] = ekg * float(c["ekg_uv"]) + (rng.random(n, dtype=np.float32) - 0.5) * 15.0
        out[_E["EMG"]] = x[r + 7] * float(c["emg_uv"])
        cm = float(c["cm_line_uv"]) * np.sin(2 * np.pi * float(c["line_hz"]) * t + float(c["line_phase_ref"]))
        out[_E["CM"]] = cm + slow[ne + 2] * float(c["cm_slow_uv"])
        return out

    def _attenuation(self, t: np.ndarray) -> np.ndarray:
        """Per-electrode background gain from seizure/post-ictal modulators (1 = none)."""
        g = np.ones((head.N_ELEC, t.size), dtype=np.float32)
        for start, stop, depth, tau in self.scene.modulators:
            if stop <= t[0] or start >= t[-1]:
                continue
            on = (t >= start) & (t < stop)
            tt = t[on] - start
            prof = noise.smoothstep(tt / 1.0) * (np.exp(-tt / tau) if np.isfinite(tau) else 1.0)
            prof = prof * (1.0 - noise.smoothstep((tt - (stop - start - 2.0)) / 2.0)) if np.isfinite(tau) else prof
            g[:, on] *= (1.0 - depth[:, None] * prof[None, :]).astype(np.float32)
        return g

    def _line(self, t: np.ndarray) -> np.ndarray:
        c = self.scene.consts
        env = np.exp(noise.interp(t, *self.scene.line_knots)).astype(np.float32)
        w = 2 * np.pi * float(c["line_hz"]) * t + float(c["line_phase_ref"])
        s, co = np.sin(w).astype(np.float32), np.cos(w).astype(np.float32)
        ph = np.asarray(c["line_phase"])
        amp = np.asarray(c["line_uv"], dtype=np.float32)
        line = (amp * np.cos(ph)).astype(np.float32)[:, None] * s[None, :] + (amp * np.sin(ph)).astype(np.float32)[:, None] * co[None, :]
        if self.fs > 250.0:  # a little 120 Hz where the rate can carry it
            line += 0.1 * amp[:, None] * np.sin(2 * w).astype(np.float32)[None, :]
        return line * env[None, :]

    def _ekg_wave(self, start: int, n: int) -> np.ndarray:
        """The EKG (R peak 1.0) over samples ``start .. start + n``, from absolute beat times."""
        tpl, peak = self._ekg, self._ekg_peak
        beats = np.rint(self.scene.beats_s * self.fs).astype(np.int64) - start
        beats = beats[(beats > -tpl.size) & (beats < n + tpl.size)]
        train = np.zeros(n + 2 * tpl.size, dtype=np.float32)
        np.add.at(train, beats + tpl.size, 1.0)
        full = np.convolve(train, tpl, mode="full")
        off = tpl.size + peak
        return full[off:off + n].astype(np.float32)

