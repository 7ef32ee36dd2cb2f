"""Other speech engines (flite, festival): phone mapping, one short synthesis each, dataset mix.

The synthesis tests need Debian's libflite1 and festival + festvox-kallpc16k (scripts/setup.sh installs them
for `test`); they are skipped when an engine is missing.
"""
import json
import os
import tempfile
import unittest

import numpy as np

from tools.demo import check_voices, espeak, human_speech, make_dataset, visemes, voices

# CMU / radio phone -> the viseme it must become
EXPECTED = {
    "aa": ["AA"], "ae": ["AE"], "ah": ["AH"], "ao": ["AO"], "aw": ["AA", "UH"], "ax": ["SCHWA"], "axr": ["ER"],
    "ay": ["AA", "IH"], "b": ["PBM"], "ch": ["SH"], "d": ["TDN"], "dh": ["TH"], "dx": ["TDN"], "eh": ["EH"],
    "el": ["L"], "em": ["PBM"], "en": ["TDN"], "er": ["ER"], "ey": ["EH", "IY"], "f": ["FV"], "g": ["KG"],
    "hh": ["H"], "hv": ["H"], "ih": ["IH"], "ix": ["IH"], "iy": ["IY"], "jh": ["SH"], "k": ["KG"], "l": ["L"],
    "m": ["PBM"], "n": ["TDN"], "ng": ["KG"], "nx": ["TDN"], "ow": ["OW", "UH"], "oy": ["AO", "IY"],
    "p": ["PBM"], "r": ["R"], "s": ["SZ"], "sh": ["SH"], "t": ["TDN"], "th": ["TH"], "uh": ["UH"],
    "uw": ["UW"], "ux": ["UW"], "v": ["FV"], "w": ["W"], "y": ["Y"], "z": ["SZ"], "zh": ["SH"],
}


def level_db(x, a, b):
    return 10 * np.log10(np.mean(x[a:b].astype(np.float64) ** 2) + 1e-9)


class PhoneMappingTests(unittest.TestCase):
    def test_every_phone_gives_its_viseme(self):
        self.assertEqual(set(EXPECTED), set(voices.PHONE_TO_ESPEAK))
        for ph, vis in EXPECTED.items():
            self.assertEqual(visemes.classify(voices.to_espeak(ph)), vis, ph)
            self.assertEqual(visemes.classify(voices.to_espeak(ph.upper() + "1")), vis, ph)  # stress digits

    def test_pauses_and_unknown_phones(self):
        for p in ("pau", "h#", "brth", "ssil"):
            self.assertEqual(visemes.classify(voices.to_espeak(p)), ["sil"])
        with self.assertRaises(ValueError):
            voices.to_espeak("qq")

    def test_events_from_ends(self):
        ev = voices.events_from_ends([("pau", 0.1), ("pau", 0.2), ("b", 0.25), ("aa", 0.4), ("pau", 0.5)],
                                     16000, 7000)
        self.assertEqual(ev, [("_:", 0), ("b", 3200), ("A:", 4000), ("_:", 6400)])


class EspeakClosureTests(unittest.TestCase):
    def test_stop_starts_move_back_over_the_closure(self):
        ph = [("_:", 0), ("a", 1000), ("p", 3000), ("_:", 4000), ("b", 5000), ("I", 5100), ("t#", 5300)]
        self.assertEqual(espeak.stop_closures(ph, 10000, 0.06),
                         [("_:", 0), ("a", 1000), ("p", 2400), ("_:", 4000), ("b", 5000), ("I", 5100),
                          ("t#", 5200)])  # 60 ms back, at most half the previous phone; never after a pause

    def test_closures_fall_inside_the_moved_segments(self):
        try:
            tts = espeak.Espeak()
        except OSError:
            self.skipTest("espeak-ng not installed")
        before, after = [], []
        for text in check_voices.SENTENCES:
            a, ph, _ = tts.synth(text, "en-us")
            before += check_voices.bilabial_dips(a, tts.sample_rate, ph)
            after += check_voices.bilabial_dips(a, tts.sample_rate, espeak.stop_closures(ph, tts.sample_rate))
        inside = lambda d: sum(x[0] for x in d) / len(d)  # noqa: E731
        print(f"\nespeak en-us /p b/ closure inside its segment: events {inside(before):.0%}, "
              f"moved {inside(after):.0%} of {len(after)}")
        self.assertLess(inside(before), 0.5)
        self.assertGreaterEqual(inside(after), 0.7)


class EngineCase:
    """One short synthesis: audio, phone timings that line up with the waveform, same bytes twice."""

    TEXT = "Bob bought a map. Please wait."

    def synth(self):
        raise NotImplementedError

    def test_short_synthesis(self):
        a, sr, ph, words = self.synth()
        self.assertEqual(a.dtype, np.int16)
        self.assertGreater(len(a), sr // 2)
        self.assertGreater(np.abs(a).max(), 1000)
        starts = [s for _, s in ph]
        self.assertEqual(starts, sorted(starts))
        self.assertLess(starts[-1], len(a))
        names = [p for p, _ in ph]
        self.assertEqual(names[0], "_:")
        self.assertIn("_:", names[1:])
        vis = [v for p in names for v in visemes.classify(p)]
        self.assertGreaterEqual(vis.count("PBM"), 4)  # b b m p
        self.assertEqual(len(words), 6)
        # timings against the waveform: the leading pause is quiet, the phones after it are not
        first = starts[1]
        self.assertGreater(first, int(0.02 * sr))
        speech = level_db(a, first, starts[-1])
        self.assertLess(level_db(a, 0, first - int(0.01 * sr)), speech - 30)
        # the first vowel is among the loudest parts
        v = next(i for i, p in enumerate(names) if visemes.classify(p)[0] in ("AA", "AO"))
        self.assertGreater(level_db(a, starts[v], starts[v + 1]), speech)
        again = self.synth()
        self.assertTrue(np.array_equal(a, again[0]))
        self.assertEqual(ph, again[2])


@unittest.skipUnless(voices.Flite.available(), "libflite1 not installed")
class FliteTests(EngineCase, unittest.TestCase):
    def synth(self):
        return voices.Flite().synth(self.TEXT, "kal16", 1.1, 110.0)

    def test_unknown_voice(self):
        with self.assertRaisesRegex(ValueError, "no voice 'nope'"):
            voices.Flite().synth("hi", "nope")


@unittest.skipUnless(voices.Festival.available("kal"), "festival / festvox-kallpc16k not installed")
class FestivalTests(EngineCase, unittest.TestCase):
    def synth(self):
        return voices.Festival().synth(self.TEXT, "kal", 1.1, 120.0)

    def test_stretch_lengthens(self):
        fast = voices.Festival().synth("Good morning.", "kal", 0.8)[0]
        slow = voices.Festival().synth("Good morning.", "kal", 1.3)[0]
        self.assertGreater(len(slow), 1.3 * len(fast))


@unittest.skipUnless(voices.Flite.available() and voices.Festival.available("kal")
                     and voices.Festival.available("ked") and voices.Festival.available("slt"),
                     "flite or festival voices not installed")
class MixedDatasetTests(unittest.TestCase):
    def test_engines_voices_holdout_and_reproducible(self):
        args = ["--small", "--engines", "flite,festival", "--holdout", "flite:kal16,festival:kal",
                "--holdout-weight", "1", "--id-prefix", "v"]
        with tempfile.TemporaryDirectory() as d, tempfile.TemporaryDirectory() as d2:
            man = make_dataset.main(args + ["--out", d])
            with open(os.path.join(d, "utterances.jsonl")) as f:
                lines = [json.loads(x) for x in f]
            self.assertEqual(len(lines), 8)
            for u in lines:
                self.assertTrue(u["id"].startswith("v"))
                self.assertIn(u["engine"], ("flite", "festival"))
                self.assertTrue(u["voice"].startswith(u["engine"] + ":"))
                if u["voice"] in ("flite:kal16", "festival:kal"):
                    self.assertEqual(u["split"], "val")
                self.assertGreater(len(u["phonemes"]), 5)
            self.assertEqual(man["holdout"], ["festival:kal", "flite:kal16"])
            make_dataset.main(args + ["--out", d2])
            for name in man["shards"] + ["utterances.jsonl"]:
                with open(os.path.join(d, name), "rb") as f1, open(os.path.join(d2, name), "rb") as f2:
                    self.assertEqual(f1.read(), f2.read(), name)


class HumanSpeechTests(unittest.TestCase):
    def test_recordings(self):
        recs = human_speech.recordings()
        if not recs:
            self.skipTest("no human recordings installed (alsa-utils, pocketsphinx-testdata)")
        for r in recs:
            w = r["wave"]
            self.assertEqual(w.dtype, np.float32)
            self.assertEqual(r["sample_rate"], 16000)
            self.assertGreater(len(w), 16000 // 2, r["name"])
            self.assertLessEqual(float(np.abs(w).max()), 1.05, r["name"])
            # speech, not noise: the loudest 40 ms frames stand well above the quietest
            n = len(w) // 640
            e = np.sort(np.mean(w[:n * 640].reshape(n, 640).astype(np.float64) ** 2, axis=1))
            self.assertGreater(10 * np.log10(e[-1] / max(e[n // 10], 1e-12)), 15, r["name"])
            if r["phones"] is not None:  # a shipped alignment lies within the recording, in order
                starts = [t for _, t in r["phones"]]
                self.assertEqual(starts, sorted(starts))
                self.assertLess(starts[-1], len(w))
                self.assertIn("PBM", [visemes.classify(p)[0] for p, _ in r["phones"]])
        self.assertEqual(len({r["name"] for r in recs}), len(recs))

    def test_syllables_from_transcripts(self):
        if human_speech.count_syllables("hi") is None:
            self.skipTest("espeak-ng not installed")
        for text, n in (("front center", 3), ("side left", 2), ("seven of clubs", 4),
                        ("he was not an ill disposed young man", 9), ("a little bottle", 5)):
            self.assertEqual(human_speech.count_syllables(text), n, text)

    def test_hts_phone_labels(self):
        with tempfile.NamedTemporaryFile("w", suffix=".lab") as f:
            f.write("0 1300000 x^x-sil+hh=iy@x_x/A:0\n1300000 2050000 x^sil-hh+iy=t@1_2/A:0\n"
                    "2050000 2700000 sil^hh-iy+t=er@2_1/A:0\n2700000 3000000 hh^iy-pau+sil=x@x\n"
                    "3000000 3500000 iy^pau-sil+x=x@x\n")
            f.flush()
            self.assertEqual(human_speech.read_hts_phone_labels(f.name),
                             [("_:", 0), ("h", 2080), ("i:", 3280), ("_:", 4320)])

    def test_raw_reader_refuses_odd_lengths(self):
        with tempfile.NamedTemporaryFile(suffix=".raw") as f:
            f.write(b"\0\0\0")
            f.flush()
            with self.assertRaisesRegex(ValueError, "odd byte count"):
                human_speech.read_audio(f.name)


if __name__ == "__main__":
    unittest.main()
