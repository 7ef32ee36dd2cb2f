"""Phone timings against the waveform, per engine and voice (clean synthesis, no augmentation).

Two measurements on a fixed set of sentences:
* pause edges: every boundary between a pause and speech ("_:" -> phone, phone -> "_:"; not where the
  speech side is a stop, whose closure is silent) is compared
  with the nearest energy edge of the waveform (5 ms RMS frames crossing 30 dB below the utterance's
  loudest frame, searched within ±150 ms); reported as median / 90th percentile |error| in ms.
* stop closures: the RMS level inside the first half of voiceless stops (p t k, the closure) relative
  to the neighbouring vowels' level; a closure that lines up with the labels is 15+ dB quieter.
* bilabial dips: for /p b/ inside speech, whether the quietest 5 ms within 40 ms of the label lies
  inside the label, and where (espeak-ng's phoneme event for a stop comes at its release: the closure
  lies before the event, in the previous phoneme's time).

Usage: python3 -m tools.demo.check_voices [--engines espeak,flite,festival] [--stretch 1.0] [--espeak-closure-ms 60]
"""
import argparse

import numpy as np

from tools.demo import voices
from tools.demo.espeak import Espeak, stop_closures

SENTENCES = [
    "Bob bought a big blue bike, but Pam preferred the purple one.",
    "Please keep the green cheese in the freezer.",
    "Cheerful children chase each other around the church.",
    "Quick, the judge is already waiting outside.",
    "Our father often ordered oysters on Fridays. Good morning, and welcome to the demonstration.",
    "Hello there. How are you doing this evening?",
]
VOWELS = set("aeiouAEIOUV@03")


def rms_db(x, sr, hop_s=0.005):
    hop = max(1, int(sr * hop_s))
    n = len(x) // hop
    r = np.sqrt(np.mean(x[:n * hop].reshape(n, hop).astype(np.float64) ** 2, axis=1) + 1e-12)
    return 20 * np.log10(r / r.max()), hop


STOPS = {"p", "b", "t", "d", "k", "g", "tS", "dZ"}
STOPS_CHECKED = ("p", "b")


def pause_edge_errors(x, sr, phones, thresh_db=-30.0, search_s=0.15):
    """Signed error (ms; + = the energy edge comes after the label) at pause / speech boundaries whose
    speech side is not a stop (a stop's closure is silent, so its label edge has no energy edge)."""
    db, hop = rms_db(x, sr)
    loud = db > thresh_db
    errs = []
    for k in range(1, len(phones)):
        a, b = phones[k - 1][0].startswith("_"), phones[k][0].startswith("_")
        if a == b:
            continue
        if phones[k][1] >= len(x) - hop:
            continue  # a closing pause of zero length
        if phones[k if a else k - 1][0] in STOPS:
            continue
        f = phones[k][1] // hop
        lo, hi = max(1, f - int(search_s / 0.005)), min(len(db) - 1, f + int(search_s / 0.005))
        # onset (pause -> speech): quiet -> loud; offset: loud -> quiet
        edges = [j for j in range(lo, hi) if (loud[j] and not loud[j - 1]) == a and loud[j] != loud[j - 1]]
        if edges:
            j = min(edges, key=lambda j: abs(j - f))
            errs.append((j - f) * hop / sr * 1000)
        else:
            errs.append(search_s * 1000)
    return errs


def closure_depths(x, sr, phones):
    """dB of the first half of each voiceless stop relative to the louder of its neighbouring vowels."""
    out = []
    ends = [p[1] for p in phones[1:]] + [len(x)]
    lvl = lambda a, b: 10 * np.log10(np.mean(x[a:b].astype(np.float64) ** 2) + 1e-9)  # noqa: E731
    for k in range(1, len(phones) - 1):
        ph, s0 = phones[k]
        if ph not in ("p", "t", "k"):
            continue
        s1 = ends[k]
        if s1 - s0 < int(0.02 * sr):
            continue
        nb = [j for j in (k - 1, k + 1) if phones[j][0][:1] in VOWELS and ends[j] > phones[j][1]]
        if not nb:
            continue
        v = max(lvl(phones[j][1], ends[j]) for j in nb)
        out.append(lvl(s0, s0 + (s1 - s0) // 2) - v)
    return out


def bilabial_dips(x, sr, phones, margin_s=0.04):
    """For /p b/ between two speech phones: (is the quietest 5 ms of [start - 40 ms, end + 40 ms] inside the
    label, i.e. the lip closure where the label puts it; its time after the label's start in ms; the
    label's length in ms)."""
    db, hop = rms_db(x, sr)
    ends = [p[1] for p in phones[1:]] + [len(x)]
    out = []
    for k in range(1, len(phones) - 1):
        if phones[k][0] not in STOPS_CHECKED or phones[k - 1][0].startswith("_") or phones[k + 1][0].startswith("_"):
            continue
        s0, s1 = phones[k][1], ends[k]
        lo, hi = max(0, (s0 - int(margin_s * sr)) // hop), min(len(db), (s1 + int(margin_s * sr)) // hop + 1)
        if hi - lo < 3:
            continue
        j = lo + int(np.argmin(db[lo:hi]))
        out.append((s0 // hop <= j <= s1 // hop, (j * hop - s0) / sr * 1000, (s1 - s0) / sr * 1000))
    return out


def voices_of(engine):
    if engine == "espeak":
        return ["en-us", "en-gb-x-rp", "en-us+f3"]
    return list(voices.Flite.VOICES if engine == "flite" else voices.Festival.VOICES)


def synth(engine, voice, text, stretch=1.0, espeak_closure_ms=0.0):
    if engine == "espeak":
        tts = Espeak()
        a, ph, _ = tts.synth(text, voice, rate=int(round(175 / stretch)))
        if espeak_closure_ms > 0:
            ph = stop_closures(ph, tts.sample_rate, espeak_closure_ms / 1000)
        return a, tts.sample_rate, ph
    tts = voices.Flite() if engine == "flite" else voices.Festival()
    a, sr, ph, _ = tts.synth(text, voice, stretch)
    return a, sr, ph


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--engines", default="espeak,flite,festival")
    ap.add_argument("--stretch", type=float, default=1.0, help="duration stretch (espeak: rate 175 / stretch)")
    ap.add_argument("--espeak-closure-ms", type=float, default=0.0, help="as make_dataset's option")
    args = ap.parse_args(argv)
    import multiprocessing
    # a fresh process per synthesis, as in make_dataset (libespeak-ng keeps prosody state between calls)
    pool = multiprocessing.get_context("fork").Pool(1, maxtasksperchild=1)
    rows = []
    for engine in args.engines.split(","):
        for voice in voices_of(engine):
            errs, depths, dips = [], [], []
            for text in SENTENCES:
                a, sr, ph = pool.apply(synth, (engine, voice, text, args.stretch, args.espeak_closure_ms))
                errs += pause_edge_errors(a, sr, ph)
                depths += closure_depths(a, sr, ph)
                dips += bilabial_dips(a, sr, ph)
            e = np.array(errs)
            ae = np.abs(e)
            rows.append((engine, voice, len(e), np.median(ae), np.percentile(ae, 90), np.mean(e), len(depths),
                         np.median(depths) if depths else float("nan")))
            print(f"{engine:9s} {voice:12s} pause edges {len(e):3d}: |err| median {np.median(ae):5.1f} ms, "
                  f"p90 {np.percentile(ae, 90):5.1f} ms, mean signed {np.mean(e):+6.1f} ms; "
                  f"voiceless stop closures {len(depths):3d}: "
                  f"median {rows[-1][-1]:6.1f} dB re vowel; /p b/ dip inside label "
                  f"{sum(d[0] for d in dips)}/{len(dips)}, dip at {np.median([d[1] for d in dips]):+4.0f} ms "
                  f"from a {np.median([d[2] for d in dips]):3.0f} ms label's start (medians)", flush=True)
    pool.close()
    pool.join()
    return rows


if __name__ == "__main__":
    main()
