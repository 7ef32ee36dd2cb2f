"""Log-mel front-end (kind "log_mel"): the alternative to HuBERT for small motion models trained on mel features.

Defined for an exact port (all constants below are the manifest's config):
  * input: float32 mono samples at 16 kHz, nominally in [-1, 1]; no per-utterance normalisation (streamable);
  * frame t (0-based) covers samples [hop·t, hop·t + win) with hop = 320 (20 ms → 50 rows/s) and win = 400
    (25 ms): the same samples as HuBERT frame t, so both front-ends give (N - 80) // 320 rows for N >= 400;
  * window: periodic Hann w[n] = 0.5 - 0.5·cos(2π n / win), n = 0..win-1, computed in float64, used as float32;
  * the windowed frame is zero-padded at the end to n_fft = 512; power spectrum P[k] = Re² + Im², k = 0..256;
  * mel filterbank: n_mels = 80 triangles on the HTK scale mel(f) = 2595·log10(1 + f/700) with fmin = 20 Hz,
    fmax = 7600 Hz: edges e_j = inverse-mel of mel(fmin) + j·(mel(fmax) - mel(fmin))/(n_mels + 1), j = 0..n_mels+1;
    bin k sits at f_k = k·sample_rate/n_fft; weight of bin k in band m = max(0, min((f_k - e_m)/(e_{m+1} - e_m),
    (e_{m+2} - f_k)/(e_{m+2} - e_{m+1}))); peak 1, no area normalisation; computed in float64, stored float32;
  * feature = ln(max(Σ_k W[m, k]·P[k], 1e-10)) (natural log, floor 1e-10 → -23.03 for digital silence).
"""
from dataclasses import dataclass, asdict

import numpy as np
import torch


@dataclass
class LogMelConfig:
    sample_rate: int = 16000
    n_fft: int = 512
    win_length: int = 400
    hop_length: int = 320
    n_mels: int = 80
    fmin: float = 20.0
    fmax: float = 7600.0
    log_floor: float = 1e-10
    window: str = "hann_periodic"
    mel_scale: str = "htk"
    log: str = "natural"

    def manifest(self):
        d = asdict(self)
        d["rows_per_second"] = self.sample_rate // self.hop_length
        return d

    @staticmethod
    def from_manifest(d):
        keys = LogMelConfig.__dataclass_fields__.keys()
        return LogMelConfig(**{k: d[k] for k in keys if k in d})

    def frames(self, samples):
        return 0 if samples < self.win_length else (samples - self.win_length) // self.hop_length + 1


def hann_window(cfg):
    n = np.arange(cfg.win_length, dtype=np.float64)
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * n / cfg.win_length)).astype(np.float32)


def mel_filterbank(cfg):
    """[n_mels, n_fft/2 + 1] float32."""
    def mel(f):
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def hz(m):
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)

    lo, hi = mel(cfg.fmin), mel(cfg.fmax)
    edges = hz(lo + np.arange(cfg.n_mels + 2, dtype=np.float64) * (hi - lo) / (cfg.n_mels + 1))
    freqs = np.arange(cfg.n_fft // 2 + 1, dtype=np.float64) * cfg.sample_rate / cfg.n_fft
    fb = np.zeros((cfg.n_mels, freqs.size))
    for m in range(cfg.n_mels):
        up = (freqs - edges[m]) / (edges[m + 1] - edges[m])
        down = (edges[m + 2] - freqs) / (edges[m + 2] - edges[m + 1])
        fb[m] = np.maximum(0.0, np.minimum(up, down))
    return fb.astype(np.float32)


def log_mel(wave, cfg=LogMelConfig()):
    """float32 samples [N] → [frames, n_mels] float32 (DFT and sums in float64, one rounding at the end)."""
    x = np.asarray(wave, dtype=np.float32)
    n = cfg.frames(x.size)
    if n == 0:
        return torch.zeros(0, cfg.n_mels)
    idx = np.arange(n)[:, None] * cfg.hop_length + np.arange(cfg.win_length)[None, :]
    frames = x[idx].astype(np.float64) * hann_window(cfg).astype(np.float64)
    spec = np.fft.rfft(frames, n=cfg.n_fft, axis=1)
    power = spec.real ** 2 + spec.imag ** 2
    energy = power @ mel_filterbank(cfg).astype(np.float64).T
    return torch.from_numpy(np.log(np.maximum(energy, cfg.log_floor)).astype(np.float32))
