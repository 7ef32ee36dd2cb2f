"""Training targets: sealed lips at rest and at bilabials, a head that follows the prosody smoothly."""
import unittest

import numpy as np

from tools.demo import targets as tg
from tools.demo import visemes as vz

SR = 16000


def utterance(seq, seed=0):
    """[(phoneme, seconds)] -> (meta, wave): a tone burst in every non-pause phoneme, louder and longer on the
    'stressed' vowels (marked with a trailing '!')."""
    rng = np.random.default_rng(seed)
    phonemes, pieces, pos = [], [], 0
    for ph, d in seq:
        n = int(d * SR)
        loud = ph.endswith("!")
        ph = ph.rstrip("!")
        phonemes.append([ph, pos])
        if vz.classify(ph) == ["sil"]:
            pieces.append(np.zeros(n))
        else:
            t = np.arange(n) / SR
            pieces.append((0.5 if loud else 0.12) * np.sin(2 * np.pi * 180 * t) + 0.01 * rng.normal(size=n))
        pos += n
    return {"id": "t", "voice": "test", "text": "x", "phonemes": phonemes, "articulation_gain": 1.0}, np.concatenate(pieces)


def sentence(stressed_every=3, syllables=12):
    seq = [("_:", 0.8)]
    for k in range(syllables):
        stressed = k % stressed_every == 0
        seq += [("m" if k % 2 else "t", 0.07), ("A:!" if stressed else "@", 0.22 if stressed else 0.09)]
    return seq + [("_:", 2.5)]


class TargetTests(unittest.TestCase):
    def test_names_and_shape(self):
        meta, wave = utterance(sentence())
        y, vis, speech = tg.utterance_targets(meta, wave)
        self.assertEqual(y.shape, (len(wave) // 640, len(tg.MOTION_NAMES)))
        self.assertEqual(tg.MOTION_NAMES[-3:], ["head_pitch", "head_yaw", "head_roll"])
        self.assertTrue(np.isfinite(y).all())
        self.assertEqual(len(vis), y.shape[0])
        # blinks and gaze are the daemon's per-session eye motion, not the model's
        for n in ("blink_left", "blink_right", "eyes_left", "eyes_up"):
            np.testing.assert_array_equal(y[:, tg.IDX[n]], 0.0)

    def test_deterministic_per_utterance(self):
        meta, wave = utterance(sentence())
        a, _, _ = tg.utterance_targets(meta, wave)
        b, _, _ = tg.utterance_targets(dict(meta), wave.copy())
        np.testing.assert_array_equal(a, b)
        c, _, _ = tg.utterance_targets(dict(meta, id="other"), wave)
        self.assertGreater(np.abs(a[:, -3:] - c[:, -3:]).max(), 0.01)  # other utterance, other sway

    def test_head_moves_smoothly_more_while_speaking(self):
        speak, still, steps = [], [], []
        for seed in range(8):
            meta, wave = utterance(sentence(), seed)
            meta["id"] = f"s{seed}"
            y, vis, speech = tg.utterance_targets(meta, wave)
            deg = y[:, -3:] * tg.HEAD_UNIT_DEG
            v = np.abs(np.diff(deg, axis=0)).sum(1) * 25
            speak += list(v[speech[1:] > 0])
            still += list(v[speech[1:] == 0])
            steps.append(np.abs(np.diff(deg, axis=0)).max())
        self.assertLess(max(steps), 1.5)                 # degrees per frame: no jumps
        self.assertGreater(np.mean(still), 0.3)           # listening: not frozen (deg/s)
        self.assertGreater(np.mean(speak), 1.5 * np.mean(still))

    def test_nods_follow_prominent_syllables(self):
        meta, wave = utterance(sentence(stressed_every=4, syllables=16))
        segs = vz.segments_from_events([(p, s) for p, s in meta["phonemes"]], len(wave), SR)
        prom = tg.prominent_vowels(segs, tg.frame_energy_db(wave, len(wave) // 640))
        strong = [c for c, p in prom if p > 0.6]
        weak = [c for c, p in prom if p <= 0.0]
        self.assertGreaterEqual(len(strong), 3)
        self.assertGreater(len(weak), 5)
        # the loud, long vowels are the prominent ones
        loud_centres, pos = [], 0.0
        for ph, d in sentence(stressed_every=4, syllables=16):
            if ph.endswith("!"):
                loud_centres.append(pos + 0.5 * d)
            pos += d
        for c in strong:
            self.assertLess(min(abs(c - lc) for lc in loud_centres), 0.01)

    def test_rest_and_bilabials_seal_the_lips(self):
        meta, wave = utterance(sentence())
        y, vis, _ = tg.utterance_targets(meta, wave)
        jaw = y[:, tg.IDX["jaw_open"]]
        pbm = vis == vz.VISEME_IDS["PBM"]
        self.assertTrue(pbm.any())
        self.assertLessEqual(jaw[pbm].max(), 0.01)  # ≤ 0.3 mm of gap even at the release
        tail = slice(len(jaw) - 40, len(jaw))  # well inside the final pause
        np.testing.assert_allclose(jaw[tail], vz.REST["jaw_open"])


if __name__ == "__main__":
    unittest.main()
