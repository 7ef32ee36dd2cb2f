"""Phoneme -> viseme targets in the demo head's expression space, with coarticulation.

Phonemes are espeak-ng mnemonics (see espeak.py). Each phoneme maps to one or two visemes
(diphthongs glide from the first to the second). The trajectory is a dominance-function blend
(Cohen & Massaro style): each segment pulls every expression dimension towards its target with a
weight that decays with distance from the segment's centre; critical articulations (lip closure for
/p b m/, lower lip to upper teeth for /f v/, rounding for /w u/) have high dominance on the
dimensions that make them, so neighbours cannot wash them out, and rounding is anticipated earlier
than it is carried over. A final pass guarantees the closure of bilabials and a closed mouth at rest in
pauses.

Sealed lips: the face model's lips touch at neutral (inner-lip gap 0), so a model that lands a little above
neutral shows a slit and the teeth. Bilabials and rest therefore aim slightly *past* contact (REST: jaw_open
−0.03, about −0.9 mm of gap, lips lightly pressed): the lips stay sealed within the model's error.
"""
import math

import numpy as np

from tools.demo.make_head import EXP_NAMES

FPS = 25
K = len(EXP_NAMES)
IDX = {n: i for i, n in enumerate(EXP_NAMES)}

VISEMES = {
    "sil": {"jaw_open": -0.03, "lips_pressed": 0.2},
    "PBM": {"lips_pressed": 0.9, "jaw_open": -0.05},
    "FV": {"lower_lip_tuck": 0.85, "upper_lip_raise": 0.3, "jaw_open": 0.08},
    "TH": {"tongue_up": 0.9, "jaw_open": 0.22, "lip_stretch": 0.1},
    "TDN": {"jaw_open": 0.18, "tongue_up": 0.45, "lip_stretch": 0.15},
    "L": {"jaw_open": 0.28, "tongue_up": 0.75},
    "SZ": {"jaw_open": 0.07, "lip_stretch": 0.35, "upper_lip_raise": 0.15},
    "SH": {"lip_funnel": 0.75, "lip_pucker": 0.35, "jaw_open": 0.12, "upper_lip_raise": 0.1},
    "KG": {"jaw_open": 0.3, "lip_stretch": 0.1},
    "H": {"jaw_open": 0.3},
    "R": {"lip_pucker": 0.45, "lip_funnel": 0.35, "jaw_open": 0.16},
    "W": {"lip_pucker": 0.95, "jaw_open": 0.08},
    "Y": {"lip_stretch": 0.45, "jaw_open": 0.12},
    "AA": {"jaw_open": 0.8, "lip_stretch": 0.1, "lower_lip_depress": 0.2},
    "AE": {"jaw_open": 0.65, "lip_stretch": 0.35, "upper_lip_raise": 0.15},
    "EH": {"jaw_open": 0.48, "lip_stretch": 0.35},
    "ER": {"jaw_open": 0.3, "lip_pucker": 0.3, "lip_funnel": 0.2},
    "AH": {"jaw_open": 0.52, "lip_stretch": 0.05},
    "SCHWA": {"jaw_open": 0.3},
    "IY": {"jaw_open": 0.15, "lip_stretch": 0.65, "upper_lip_raise": 0.1},
    "IH": {"jaw_open": 0.25, "lip_stretch": 0.45},
    "AO": {"jaw_open": 0.6, "lip_pucker": 0.45, "lip_funnel": 0.35},
    "OW": {"jaw_open": 0.4, "lip_pucker": 0.6, "lip_funnel": 0.45},
    "UW": {"jaw_open": 0.18, "lip_pucker": 0.9, "lip_funnel": 0.4},
    "UH": {"jaw_open": 0.25, "lip_pucker": 0.55, "lip_funnel": 0.3},
    "YU": {"jaw_open": 0.2, "lip_pucker": 0.8, "lip_stretch": 0.1},
}
VISEME_IDS = {v: i for i, v in enumerate(VISEMES)}
REST = VISEMES["sil"]
CLOSED_JAW = -0.04  # jaw_open during a bilabial closure: ≈ −1.2 mm of inner-lip gap

# (base dominance, {dimension: extra factor}) per viseme
DOMINANCE = {
    "sil": (1.0, {}), "PBM": (1.0, {"lips_pressed": 5.0, "jaw_open": 2.0, "lower_lip_tuck": 4.0}),
    "AA": (1.3, {"jaw_open": 1.5}), "AE": (1.3, {"jaw_open": 1.5}), "AO": (1.3, {"jaw_open": 1.5}),
    "AH": (1.2, {"jaw_open": 1.3}),
    "FV": (1.0, {"lower_lip_tuck": 5.0, "jaw_open": 2.0, "lips_pressed": 3.0}),
    "W": (1.0, {"lip_pucker": 3.0}), "UW": (1.0, {"lip_pucker": 2.5}), "SH": (1.0, {"lip_funnel": 2.5}),
    "TH": (0.8, {"tongue_up": 3.0}), "H": (0.25, {}), "SCHWA": (0.4, {}), "KG": (0.5, {}), "TDN": (0.6, {}),
    "L": (0.7, {"tongue_up": 2.0}), "R": (0.7, {}), "Y": (0.7, {}),
}
ROUNDING = ("lip_pucker", "lip_funnel")

_DIPH = {
    "aI": ("AA", "IH"), "aU": ("AA", "UH"), "eI": ("EH", "IY"), "oU": ("OW", "UH"), "OI": ("AO", "IY"),
    "e@": ("EH", "SCHWA"), "i@": ("IY", "SCHWA"), "U@": ("UH", "SCHWA"), "aI@": ("AA", "SCHWA"),
    "aU@": ("AA", "SCHWA"), "i@3": ("IY", "SCHWA"), "@U": ("SCHWA", "UH"), "aI3": ("AA", "ER"),
    "ai": ("AA", "IH"), "au": ("AA", "UH"), "ei": ("EH", "IY"), "oi": ("AO", "IY"), "eu": ("EH", "UW"),
}
_EXACT = {
    "a": "AE", "a#": "AH", "A:": "AA", "A": "AA", "aa": "AE", "A@": "AA", "A@r": "AA", "&": "AE",
    "E": "EH", "e": "EH", "e#": "EH", "E2": "EH", "E:": "EH", "3:": "ER", "3": "ER", "3:r": "ER", "V": "AH",
    "@": "SCHWA", "@2": "SCHWA", "@5": "SCHWA", "@L": "L", "@-": "SCHWA", "i:": "IY", "i": "IY",
    "I": "IH", "I2": "IH", "I#": "IH", "0": "AO", "O:": "AO", "O": "AO", "O@": "AO", "o@": "AO", "o": "OW",
    "u:": "UW", "u": "UW", "U": "UH", "y": "YU", "y:": "YU", "Y": "YU", "Y:": "YU", "W": "YU", "@r": "ER",
    "p": "PBM", "b": "PBM", "m": "PBM", "f": "FV", "v": "FV", "T": "TH", "D": "TH", "t": "TDN", "d": "TDN",
    "n": "TDN", "l": "L", "L": "L", "s": "SZ", "z": "SZ", "S": "SH", "Z": "SH", "tS": "SH", "dZ": "SH",
    "k": "KG", "g": "KG", "N": "KG", "x": "KG", "h": "H", "r": "R", "r-": "R", "R": "R", "*": "TDN", "w": "W",
    "j": "Y", "?": "H", "C": "SZ", "J": "Y", "ts": "SZ", "dz": "SZ", "pf": "FV", "B": "FV", "Q": "KG",
}


def classify(ph):
    """espeak phoneme mnemonic -> list of viseme names (1, or 2 for glides). Pauses -> ['sil']."""
    if ph.startswith("_") or ph == "" or ph == "||":
        return ["sil"]
    base = ph.replace("'", "").replace(",", "").replace("%", "").replace("=", "")
    for key in (base, base.rstrip("0123456789#/-"), base[:3], base[:2]):
        if key in _DIPH:
            return list(_DIPH[key])
        if key in _EXACT:
            return [_EXACT[key]]
    c = base[:1]
    fallback = {"a": "AA", "e": "EH", "i": "IY", "o": "OW", "u": "UW", "y": "YU", "E": "EH", "O": "AO",
                "I": "IH", "U": "UH", "@": "SCHWA", "p": "PBM", "b": "PBM", "m": "PBM", "f": "FV", "v": "FV",
                "t": "TDN", "d": "TDN", "n": "TDN", "l": "L", "s": "SZ", "z": "SZ", "S": "SH", "Z": "SH",
                "k": "KG", "g": "KG", "r": "R", "w": "W", "j": "Y", "h": "H", "x": "KG", "c": "KG"}
    return [fallback.get(c, "SCHWA")]


def segments_from_events(phones, n_samples, sample_rate):
    """[(phoneme, start_sample)] -> [(viseme, start_s, end_s)], diphthongs split in two halves."""
    segs = []
    for i, (ph, s0) in enumerate(phones):
        s1 = phones[i + 1][1] if i + 1 < len(phones) else n_samples
        t0, t1 = s0 / sample_rate, max(s1, s0) / sample_rate
        vis = classify(ph)
        if len(vis) == 1:
            segs.append((vis[0], t0, t1))
        else:
            tm = t0 + 0.5 * (t1 - t0)
            segs.append((vis[0], t0, tm))
            segs.append((vis[1], tm, t1))
    merged = []
    for s in segs:
        if s[2] <= s[1]:
            continue
        if merged and merged[-1][0] == "sil" and s[0] == "sil":
            merged[-1] = ("sil", merged[-1][1], s[2])
        else:
            merged.append(s)
    return merged


def _target(v):
    t = np.zeros(K)
    for k, val in VISEMES[v].items():
        t[IDX[k]] = val
    return t


def trajectory(segs, n_frames, gain=1.0, rate=100):
    """Expression coefficients [n_frames, K] at 25 fps (frame k centred at (k + 0.5) / 25 s)."""
    n_fine = n_frames * (rate // FPS)
    t = (np.arange(n_fine) + 0.5) / rate
    num = np.zeros((n_fine, K))
    den = np.full((n_fine, K), 1e-6)
    for v, t0, t1 in segs:
        dur = t1 - t0
        c = t0 + 0.5 * dur
        tau = 0.5 * dur + 0.035
        if v == "sil":
            # long pauses close the mouth firmly; short word gaps barely register
            alpha = np.full(K, 0.05 if dur < 0.08 else 1.5 if dur < 0.25 else 4.0)
            tau = min(0.5 * dur, 0.06) + 0.02  # a pause pulls only near its edges
        else:
            base, extra = DOMINANCE.get(v, (1.0, {}))
            alpha = np.full(K, base)
            for k, f in extra.items():
                alpha[IDX[k]] *= f
        tau_before = np.full(K, tau)
        for k in ROUNDING:  # lip rounding is anticipated earlier than it is carried over
            tau_before[IDX[k]] = tau * 1.7
        dt = t[:, None] - c
        tt = np.where(dt < 0, -dt / tau_before, dt / tau)
        d = alpha * np.exp(-tt ** 1.5)
        num += d * (_target(v) * (gain if v not in ("sil", "PBM") else 1.0))
        den += d
    traj = num / den
    # guaranteed closures: bilabials seal the lips (slightly past contact) with the jaw nearly shut, held
    # over the whole closure and released over ≈25 ms
    j, lp = IDX["jaw_open"], IDX["lips_pressed"]
    for v, t0, t1 in segs:
        if v != "PBM":
            continue
        edge = np.maximum(np.maximum(t0 + 0.01 - t, t - (t1 - 0.01)), 0.0)
        w = np.exp(-(edge / 0.025) ** 2)
        traj[:, j] = traj[:, j] * (1 - w) + np.minimum(traj[:, j], CLOSED_JAW) * w
        traj[:, lp] = np.maximum(traj[:, lp], 0.75 * w)
        for k in ("lower_lip_depress", "lip_funnel", "upper_lip_raise", "tongue_up"):
            traj[:, IDX[k]] *= (1 - w)
    # pauses of ≥ 0.25 s: exactly the rest pose (from the very start / to the very end at the utterance edges)
    t_end = n_frames / FPS
    rest = _target("sil")
    for v, t0, t1 in segs:
        if v == "sil" and t1 - t0 >= 0.25:
            lo = t0 + 0.1 if t0 > 0 else -1.0
            hi = t1 - 0.1 if t1 < t_end - 1e-6 else t_end + 1.0
            traj[(t >= lo) & (t <= hi)] = rest
    return traj.reshape(n_frames, rate // FPS, K).mean(1)


def frame_visemes(segs, n_frames):
    """Viseme id per frame (the segment covering the frame centre; 0 = silence)."""
    out = np.zeros(n_frames, np.int32)
    t = (np.arange(n_frames) + 0.5) / FPS
    for v, t0, t1 in segs:
        out[(t >= t0) & (t < t1)] = VISEME_IDS[v]
    return out


def idle_motion(n_frames, rng, speech_mask=None, word_times=()):
    """Blinks, brow movement, small gaze shifts and a faint smile: [n_frames, K]."""
    T = n_frames
    out = np.zeros((T, K))
    dt = 1.0 / FPS
    # blinks: gamma-distributed intervals, fast close / slower open
    t = rng.uniform(0.3, 2.5)
    while t < T * dt:
        amp = rng.uniform(0.85, 1.0)
        close, hold, open_ = rng.uniform(0.06, 0.1), rng.uniform(0.0, 0.05), rng.uniform(0.12, 0.2)
        ft = np.arange(T) * dt + 0.5 * dt - t
        prof = np.where(ft < 0, 0, np.where(ft < close, ft / close, np.where(
            ft < close + hold, 1.0, np.clip(1 - (ft - close - hold) / open_, 0, 1))))
        prof = prof * prof * (3 - 2 * prof)
        asym = rng.uniform(-0.05, 0.05)
        out[:, IDX["blink_left"]] = np.maximum(out[:, IDX["blink_left"]], amp * prof * (1 + asym))
        out[:, IDX["blink_right"]] = np.maximum(out[:, IDX["blink_right"]], amp * prof * (1 - asym))
        t += rng.gamma(4.0, 0.9) + (0.25 if rng.random() < 0.1 else 0)  # occasional quick double blink
        if rng.random() < 0.08:
            t -= rng.gamma(4.0, 0.9) - 0.35
    # brows: slow drift plus raises on some words
    drift = np.cumsum(rng.normal(0, 0.02, T))
    drift = np.convolve(drift - drift.mean(), np.ones(15) / 15, mode="same")
    out[:, IDX["brow_raise"]] = np.clip(0.08 + 0.5 * drift, -0.1, 0.3)
    for wt in word_times:
        if rng.random() < 0.12:
            ft = np.arange(T) * dt - wt
            out[:, IDX["brow_raise"]] += rng.uniform(0.2, 0.5) * np.exp(-((ft - 0.15) / 0.25) ** 2)
    out[:, IDX["brow_raise"]] = np.clip(out[:, IDX["brow_raise"]], 0, 1)
    # gaze: piecewise-constant fixations with quick saccades
    gx, gy, t = 0.0, 0.0, 0.0
    gaze = np.zeros((T, 2))
    nxt = rng.uniform(0.5, 2.5)
    for i in range(T):
        if i * dt >= nxt:
            gx, gy = rng.normal(0, 0.15), rng.normal(0.0, 0.08)
            nxt += rng.uniform(0.6, 3.0)
        gaze[i] = (gx, gy)
    k = np.array([0.25, 0.5, 0.25])
    for c in range(2):
        gaze[:, c] = np.convolve(np.pad(gaze[:, c], 1, mode="edge"), k, mode="valid")
    out[:, IDX["eyes_left"]] = gaze[:, 0]
    out[:, IDX["eyes_up"]] = gaze[:, 1]
    # a faint, slowly varying smile (speaker style)
    base = rng.uniform(0.0, 0.2)
    sm = base + 0.05 * np.sin(np.arange(T) * dt * rng.uniform(0.2, 0.6) + rng.uniform(0, 6.28))
    out[:, IDX["smile_left"]] = sm
    out[:, IDX["smile_right"]] = sm * rng.uniform(0.85, 1.15)
    _ = math
    return out
