"""Training targets of the demo motion model, per utterance: the face's 18 expression dimensions and the head pose.

One function, `utterance_targets`, computes them from what the corpus stores (phoneme events at 16 kHz and the
waveform), so the training set, the evaluation and any engine of `make_dataset.py` share one definition:

* **Mouth** (`visemes.trajectory`): visemes with coarticulation; bilabials and rest seal the lips.
* **Face** (`face_motion`): brow drift and raises on prominent syllables, a faint per-utterance smile. Blinks and
  gaze are left at 0: the daemon draws them per session (docs/demo-avatar.md, eye motion), because a blink's
  timing cannot be predicted from audio and a model that averages over it never blinks.
* **Head** (`head_pose`, `HEAD_NAMES`, units of 10°): nods on prominent syllables (vowel duration and loudness), a
  set-point shift of yaw/roll/pitch at each phrase onset with declination through the phrase, a slow sway that is
  larger while speaking than while listening, and small slow nods in long silences. Everything is smooth at
  25 fps (no step above a fraction of a degree).
"""
import zlib

import numpy as np

from tools.demo import visemes
from tools.demo.make_head import EXP_NAMES

FPS = visemes.FPS
SPF = 640  # samples per frame at 16 kHz
HEAD_NAMES = ["head_pitch", "head_yaw", "head_roll"]
HEAD_UNIT_DEG = 10.0
MOTION_NAMES = EXP_NAMES + HEAD_NAMES
VOWELS = {"AA", "AE", "EH", "ER", "AH", "SCHWA", "IY", "IH", "AO", "OW", "UW", "UH", "YU"}
IDX = {n: i for i, n in enumerate(MOTION_NAMES)}


def utterance_seed(meta):
    """Stable per-utterance seed (independent of the corpus directory and of Python's hash salt)."""
    key = f"{meta.get('id', '')}|{meta.get('voice', '')}|{meta.get('text', '')}"
    return zlib.crc32(key.encode("utf-8"))


def _smooth(x, seconds):
    """Zero-phase smoothing with a Hann window of the given length (edges extended)."""
    n = max(3, int(round(seconds * FPS)) | 1)
    k = np.hanning(n + 2)[1:-1]
    k /= k.sum()
    return np.convolve(np.pad(x, n // 2, mode="edge"), k, mode="valid")


def _sway(n_frames, rng):
    """Unit-variance slow random motion: three sinusoids of 2.5–9 s periods with random phases."""
    t = np.arange(n_frames) / FPS
    x = np.zeros(n_frames)
    for _ in range(3):
        x += rng.uniform(0.5, 1.0) * np.sin(2 * np.pi * t / rng.uniform(2.5, 9.0) + rng.uniform(0, 2 * np.pi))
    return x / np.sqrt(np.mean(x ** 2) + 1e-9) if n_frames > 1 else x


def _pulse(t, rise, fall):
    """0 → 1 → 0 around t = 0: a raised-cosine rise over `rise` s before 0, a fall over `fall` s after it."""
    up = np.where((t > -rise) & (t <= 0), 0.5 - 0.5 * np.cos(np.pi * (t + rise) / rise), 0.0)
    down = np.where((t > 0) & (t < fall), 0.5 + 0.5 * np.cos(np.pi * t / fall), 0.0)
    return up + down


def frame_energy_db(wave, n_frames):
    x = np.asarray(wave[:n_frames * SPF], dtype=np.float64)
    if len(x) < n_frames * SPF:
        x = np.pad(x, (0, n_frames * SPF - len(x)))
    rms = np.sqrt(np.mean(x.reshape(n_frames, SPF) ** 2, axis=1) + 1e-12)
    return 20 * np.log10(rms / max(rms.max(), 1e-9))


def prominent_vowels(segs, energy_db):
    """[(centre_s, prominence)] of vowels: z-scores of duration plus loudness (stressed syllables are longer and
    louder in every engine's output, so no stress marks are needed)."""
    vow = [(t0, t1) for v, t0, t1 in segs if v in VOWELS and t1 - t0 >= 0.04]
    if len(vow) < 2:
        return [(0.5 * (t0 + t1), 0.0) for t0, t1 in vow]
    dur = np.array([t1 - t0 for t0, t1 in vow])
    loud = np.array([energy_db[min(len(energy_db) - 1, int(t0 * FPS)):max(int(t0 * FPS) + 1, int(np.ceil(t1 * FPS)))].max()
                     for t0, t1 in vow])
    z = (dur - dur.mean()) / (dur.std() + 1e-6) + (loud - loud.mean()) / (loud.std() + 1e-6)
    return [(0.5 * (t0 + t1), float(p)) for (t0, t1), p in zip(vow, z)]


def phrases(segs, min_pause=0.25):
    """(start_s, end_s) of stretches of speech separated by pauses of ≥ min_pause."""
    out = []
    for v, t0, t1 in segs:
        if v == "sil":
            continue
        if out and t0 - out[-1][1] < min_pause:
            out[-1] = (out[-1][0], t1)
        else:
            out.append((t0, t1))
    return out


def head_pose(segs, n_frames, energy_db, rng):
    """[n_frames, 3] pitch, yaw, roll in units of 10° (positive pitch = nose down)."""
    t = (np.arange(n_frames) + 0.5) / FPS
    speaking = np.zeros(n_frames)
    for a, b in phrases(segs):
        speaking[(t >= a) & (t < b)] = 1.0
    act = np.clip(_smooth(speaking, 0.6), 0, 1)
    deg = np.zeros((n_frames, 3))
    # slow sway: listening amplitude in silence, speaking amplitude while talking (degrees, RMS)
    listen, talk = np.array([0.5, 0.8, 0.4]), np.array([0.9, 1.5, 0.8])
    for k in range(3):
        deg[:, k] += _sway(n_frames, rng) * (listen[k] + (talk[k] - listen[k]) * act)
    # phrase set-points: each phrase turns/tilts the head to a new rest, reached over ≈0.5 s from its onset;
    # the head lifts a little at the onset and sinks through the phrase (declination)
    setpoint = np.zeros((n_frames, 3))
    for a, b in phrases(segs):
        target = np.array([rng.normal(0, 0.6), rng.normal(0, 2.0), rng.normal(0, 1.0)])
        ramp = _smoothstep((t - (a - 0.15)) / 0.5)
        setpoint = setpoint * (1 - ramp[:, None]) + target[None, :] * ramp[:, None]
        lift = rng.uniform(0.6, 1.4)
        window = _smoothstep((t - (a - 0.25)) / 0.4) * (1 - _smoothstep((t - b) / 0.6))
        prog = np.clip((t - a) / max(b - a, 0.3), 0, 1)
        deg[:, 0] += lift * (-1 + 2 * prog) * window
    deg += _smooth_columns(setpoint, 0.3)
    # nods on prominent syllables, at least 0.45 s apart
    last = -1.0
    for c, p in prominent_vowels(segs, energy_db):
        if p < 0.6 or c - last < 0.45:
            continue
        last = c
        amp = rng.uniform(1.0, 2.0) + 0.8 * min(p - 0.6, 1.5)
        shape = _pulse(t - (c + 0.03), 0.2, 0.4)
        deg[:, 0] += amp * shape
        deg[:, 2] += rng.normal(0, 0.25) * amp * shape
    # listening: small slow nods every 2.5–6 s in pauses longer than 1.5 s
    for v, t0, t1 in segs:
        if v != "sil" or t1 - t0 < 1.5:
            continue
        s = t0 + rng.uniform(0.6, 1.5)
        while s < t1 - 0.8:
            deg[:, 0] += rng.uniform(0.5, 1.0) * _pulse(t - s, 0.35, 0.6)
            s += rng.uniform(2.5, 6.0)
    return deg / HEAD_UNIT_DEG


def _smoothstep(x):
    x = np.clip(x, 0, 1)
    return x * x * (3 - 2 * x)


def _smooth_columns(x, seconds):
    return np.stack([_smooth(x[:, k], seconds) for k in range(x.shape[1])], axis=1)


def face_motion(segs, n_frames, energy_db, rng):
    """Brows and smile [n_frames, 18]: slow brow drift, raises on some prominent syllables, a faint smile."""
    out = np.zeros((n_frames, len(EXP_NAMES)))
    t = (np.arange(n_frames) + 0.5) / FPS
    drift = np.cumsum(rng.normal(0, 0.02, n_frames))
    drift = np.convolve(drift - drift.mean(), np.ones(15) / 15, mode="same")
    brow = np.clip(0.08 + 0.5 * drift, -0.1, 0.3)
    for c, p in prominent_vowels(segs, energy_db):
        if p > 0.8 and rng.random() < 0.35:
            brow += rng.uniform(0.2, 0.45) * _pulse(t - c, 0.15, 0.45)
    out[:, IDX["brow_raise"]] = np.clip(brow, 0, 1)
    base = rng.uniform(0.0, 0.2)
    sm = base + 0.05 * np.sin(t * rng.uniform(0.2, 0.6) + rng.uniform(0, 6.28))
    out[:, IDX["smile_left"]] = sm
    out[:, IDX["smile_right"]] = sm * rng.uniform(0.85, 1.15)
    return out


ESPEAK_RELEASE_LEAD_S = 0.035


def closure_aligned(phones, meta):
    """espeak-ng's event for /p b/ marks the release, not the closure: the lips meet 14–33 ms before it
    (measured on clean synthesis: the quietest 5 ms lie before the event in 7 of 10 cases) and the label is
    ≈37 ms long. Start those phonemes 35 ms earlier (taken from the previous phoneme) so the sealed-lip target
    covers the closure. flite and festival label the closure itself."""
    if meta.get("engine", "espeak") != "espeak" or meta.get("stop_closure_ms"):
        return phones  # other engines label the closure; make_dataset --espeak-closure-ms already moved it
    out = list(phones)
    lead = int(ESPEAK_RELEASE_LEAD_S * 16000)
    for i in range(1, len(out)):
        ph, s = out[i]
        if visemes.classify(ph) == ["PBM"] and ph.strip("'%,=")[:1] in ("p", "b"):
            out[i] = (ph, min(s, max(out[i - 1][1] + 160, s - lead)))
    return out


def utterance_targets(meta, wave, n_frames=None):
    """Targets [F, 21] (MOTION_NAMES order), viseme id per frame [F], speech flags [F] of one corpus utterance.

    meta: its utterances.jsonl record (`phonemes` at 16 kHz, `articulation_gain`, `id`, `voice`, `text`);
    wave: its 16 kHz samples (float, any scale: only relative loudness is used)."""
    n_samples = len(wave)
    F_ = n_samples // SPF if n_frames is None else n_frames
    phones = closure_aligned([(p, int(s)) for p, s in meta["phonemes"]], meta)
    segs = visemes.segments_from_events(phones, n_samples, 16000)
    rng = np.random.default_rng(utterance_seed(meta))
    energy = frame_energy_db(wave, F_)
    mouth = visemes.trajectory(segs, F_, gain=float(meta.get("articulation_gain", 1.0)))
    face = face_motion(segs, F_, energy, rng)
    head = head_pose(segs, F_, energy, rng)
    y = np.concatenate([mouth + face, head], axis=1).astype(np.float32)
    vis = visemes.frame_visemes(segs, F_)
    return y, vis, (vis != 0).astype(np.float32)
