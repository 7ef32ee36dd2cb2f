#!/usr/bin/python3
"""Training data for the demo audio-to-motion model: synthetic speech + frame-level expression targets.

Sources (all generated here, nothing downloaded or copied):
* Text: sentences assembled by a seeded grammar from word lists written for this tool, plus a few
  hand-written phonetically varied sentences in English and short ones in other languages.
* Speech: espeak-ng (Debian 12 `espeak-ng`, formant synthesis) through libespeak-ng, with English
  accents, other languages, voice variants, and random rate / pitch / pitch range / word gap.
  MBROLA voices are not used: Debian ships them outside main.
  With --engines also (or only) Flite and Festival (voices.py: flite kal, kal16, awb, rms, slt; festival
  kal, ked, slt), English sentences with random duration stretch and f0 target; --holdout names voices
  that only go to the val split.
* Timings: espeak-ng phoneme events (sample-accurate start of every phoneme; see espeak.py; a stop's
  event marks its release, --espeak-closure-ms moves it back over the closure); flite / festival phone
  end times from the engine's Segment relation, mapped to espeak mnemonics.
* Targets: targets.py (18 expression dimensions and the head pose, MOTION_NAMES): visemes.py's phoneme ->
  viseme trajectory (lips sealed at bilabials and at rest), brows and a faint smile, and a head pose that
  follows the prosody. The trainer and the evaluation recompute them from the stored phonemes and audio.
* Augmentation: level, random EQ, synthetic reverb, additive noise (white/pink/brown, hum,
  synthetic babble from other utterances) so the model also copes with real microphones.

Output (under --out, default /work/demo-data/a2m):
  manifest.json          names of the expression dimensions, fps, sample rate, shards, totals
  utterances.jsonl       one line per utterance: id, split, shard, text, engine, voice, synthesis and
                         augmentation parameters, phoneme timings (phoneme, start sample at 16 kHz)
  shard-NNNN.safetensors audio I16 [S] (16 kHz mono), audio_offsets I64 [U+1],
                         targets F32 [T, K] (25 fps), target_offsets I64 [U+1],
                         viseme I32 [T] (viseme id per frame, 0 = silence), speech F32 [T] (1 in speech)
Frame k of an utterance is centred at (k + 0.5)/25 s; it has floor(samples / 640) frames.

Usage: make_dataset.py [--out DIR] [--count N] [--seed S] [--small] [--engines espeak,flite,festival]
                       [--mix W,W,W] [--holdout ENGINE:VOICE,...] [--id-prefix P] [--espeak-closure-ms MS]
"""
import argparse
import json
import math
import os
import time

import numpy as np

from tools.reference import safetensors_io
from tools.demo import visemes, voices
from tools.demo.espeak import Espeak, stop_closures
from tools.demo.targets import MOTION_NAMES, utterance_targets

SR = 16000
SAMPLES_PER_FRAME = SR // visemes.FPS

ACCENTS = ["en-us", "en", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029", "en-us-nyc"]
VARIANTS = ["", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5", "Alex", "Alicia", "Andrea",
            "Andy", "Annie", "adam", "anika", "aunty", "belinda", "benjamin", "boris", "caleb", "david", "ed",
            "edward", "grandma", "grandpa", "iven", "john", "linda", "max", "michel", "norbert", "paul", "quincy",
            "rob", "robert", "shelby", "steph", "travis", "victor", "zac", "klatt", "klatt2", "klatt3", "whisperf",
            "croak"]

SUBJECTS = ["the old man", "my sister", "a tired pilot", "our neighbour", "the little boy", "everybody",
            "the baker", "a quiet woman", "the team", "my friend Paul", "the teacher", "nobody", "the cat",
            "two musicians", "the mayor", "a young farmer", "the doctor", "Maria", "the driver", "we", "they",
            "you", "I", "the children", "a stranger from Boston"]
VERBS = ["bought", "painted", "found", "wanted", "moved", "opened", "forgot", "carried", "followed", "watched",
         "fixed", "borrowed", "measured", "cleaned", "ordered", "pushed", "described", "loved", "threw", "shared",
         "will visit", "should check", "might buy", "can see", "would choose", "is reading", "was cooking"]
OBJECTS = ["a blue umbrella", "the morning paper", "five heavy boxes", "the broken window", "a bowl of soup",
           "the whole valley", "three ripe apples", "a map of the city", "the wooden boat", "my favourite shoes",
           "a cup of warm milk", "the phone bill", "the big yellow bus", "a pair of gloves", "the zoo keeper's van",
           "fresh bread", "the last chapter", "a thousand photos", "the garden fence", "a very small fish"]
PLACES = ["in the kitchen", "near the river", "at the station", "before lunch", "after the movie", "on Monday",
          "by the window", "under the bridge", "at midnight", "during the storm", "in a hurry", "with a smile",
          "without a word", "behind the museum", "for no reason", "every Thursday", "at the top of the hill"]
QUESTIONS = ["did you remember to call your mother", "where would you like to go tomorrow",
             "why is the sky so bright today", "how much does the ticket cost", "who left the door open",
             "what time does the shop close", "can we meet at half past nine", "is it raining outside",
             "would you pass me the pepper", "have you ever seen a whale"]
FILLERS = ["well", "okay", "you know", "so", "actually", "by the way", "honestly", "oh", "hmm", "right"]
HAND_WRITTEN = [
    "Bob bought a big blue bike, but Pam preferred the purple one.",
    "Five very fine violins were found in the vault.",
    "The thin thief thought through three things.",
    "She sells shiny shells by the shore, sure of her choice.",
    "Would you wait while we walk with the wet dog?",
    "Yesterday the yellow yacht sailed away across the bay.",
    "Moving mountains may be much more than most men manage.",
    "Cheerful children chase each other around the church.",
    "Look, the moon is full and the room is cool.",
    "I really need a long holiday, maybe on an island.",
    "Please keep the green cheese in the freezer.",
    "Our father often ordered oysters on Fridays.",
    "Quick, the judge is already waiting outside.",
    "Good morning, and welcome to the demonstration.",
    "Numbers like seven, eleven and ninety nine are easy to say.",
    "Happy birthday! I hope you like the present.",
    "No, no, no. That is not what I meant at all.",
    "Hello there. How are you doing this evening?",
]
OTHER_LANGS = {
    "de": ["Guten Morgen, wie geht es dir heute?", "Das Wetter ist schön und wir gehen spazieren.",
           "Ich möchte bitte eine Tasse Kaffee mit Milch."],
    "fr": ["Bonjour, je voudrais un croissant, s'il vous plaît.", "Le petit chat dort sur le canapé.",
           "Nous partons en vacances au bord de la mer."],
    "es": ["Buenos días, ¿cómo estás?", "Mi hermana vive en una casa muy bonita.",
           "Vamos a comer paella el domingo."],
    "it": ["Buongiorno, vorrei un caffè per favore.", "Il treno parte alle otto e mezza.",
           "Mangiamo la pizza insieme stasera."],
    "pt": ["Bom dia, tudo bem com você?", "O livro está em cima da mesa."],
    "nl": ["Goedemorgen, hoe gaat het met je?", "De fiets staat naast het huis."],
}
NUMBERS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "twelve", "twenty",
           "forty two", "a hundred", "fifteen", "sixty"]


def make_sentence(rng):
    r = rng.random()
    if r < 0.12:
        return HAND_WRITTEN[rng.integers(len(HAND_WRITTEN))]
    if r < 0.25:
        q = QUESTIONS[rng.integers(len(QUESTIONS))]
        return q[0].upper() + q[1:] + "?"
    pick = lambda xs: xs[rng.integers(len(xs))]  # noqa: E731
    s = f"{pick(SUBJECTS)} {pick(VERBS)} {pick(OBJECTS)}"
    if rng.random() < 0.6:
        s += " " + pick(PLACES)
    if rng.random() < 0.2:
        s = pick(FILLERS) + ", " + s
    if rng.random() < 0.15:
        s += f", and then {pick(SUBJECTS)} counted to {pick(NUMBERS)}"
    end = "." if rng.random() < 0.85 else "!"
    return s[0].upper() + s[1:] + end


def resample(x, sr_in, sr_out):
    """Band-limited resampling by FFT (whole signal; fine for utterances of a few seconds)."""
    n = len(x)
    m = int(round(n * sr_out / sr_in))
    X = np.fft.rfft(x)
    Y = np.zeros(m // 2 + 1, complex)
    k = min(len(X), len(Y))
    Y[:k] = X[:k]
    if k == len(Y) and m % 2 == 0:
        Y[-1] = Y[-1].real
    return np.fft.irfft(Y, m) * (m / n)


def colored_noise(n, rng, kind):
    if kind == "hum":
        f0 = 50.0 if rng.random() < 0.5 else 60.0
        t = np.arange(n) / SR
        return sum(np.sin(2 * math.pi * f0 * h * t + rng.uniform(0, 6.3)) / h for h in range(1, 6))
    w = rng.normal(0, 1, n)
    if kind == "white":
        return w
    X = np.fft.rfft(w)
    f = np.maximum(np.fft.rfftfreq(n, 1 / SR), 20.0)
    X = X / (np.sqrt(f) if kind == "pink" else f)
    return np.fft.irfft(X, n)


def augment(x, rng, babble_pool):
    """Return (augmented signal, params). x is float in [-1,1] at 16 kHz."""
    p = {}
    n = len(x)
    if rng.random() < 0.6:  # random EQ: tilt + two bell bands, applied in the frequency domain
        f = np.fft.rfftfreq(n, 1 / SR)
        tilt = rng.uniform(-6, 6)
        g = tilt * np.log2(np.maximum(f, 50) / 1000) / 4
        bands = []
        for _ in range(2):
            fc, gain, q = math.exp(rng.uniform(math.log(150), math.log(6000))), rng.uniform(-9, 9), rng.uniform(0.5, 2)
            g += gain * np.exp(-(np.log2(np.maximum(f, 1) / fc) * q) ** 2)
            bands.append([round(fc), round(gain, 1), round(q, 2)])
        if rng.random() < 0.3:  # telephone-ish band limit
            lo, hi = rng.uniform(150, 400), rng.uniform(3000, 5000)
            g += np.where((f < lo) | (f > hi), -30, 0)
            p["band"] = [round(lo), round(hi)]
        x = np.fft.irfft(np.fft.rfft(x) * 10 ** (g / 20), n)
        p["eq"] = {"tilt_db": round(tilt, 1), "bands": bands}
    if rng.random() < 0.5:  # synthetic room: exponentially decaying noise tail
        rt60 = rng.uniform(0.15, 0.9)
        L = int(rt60 * SR)
        t = np.arange(L) / SR
        rir = rng.normal(0, 1, L) * np.exp(-6.9 * t / rt60)
        rir[:int(0.002 * SR)] = 0
        rir[0] = 1.0
        wet = rng.uniform(0.1, 0.6)
        rir[1:] *= wet / max(np.sqrt((rir[1:] ** 2).sum()), 1e-9)
        m = n + L - 1
        nf = 1 << (m - 1).bit_length()
        y = np.fft.irfft(np.fft.rfft(x, nf) * np.fft.rfft(rir, nf), nf)[:n]
        x = y
        p["reverb"] = {"rt60": round(rt60, 2), "wet": round(wet, 2)}
    if rng.random() < 0.6:  # additive noise at a random SNR
        kind = rng.choice(["white", "pink", "brown", "hum", "babble"])
        if kind == "babble" and babble_pool:
            nz = np.zeros(n)
            for _ in range(3):
                b = babble_pool[rng.integers(len(babble_pool))]
                off = rng.integers(0, max(1, n))
                seg = np.resize(b, n)
                nz += np.roll(seg, off)
        else:
            kind = "pink" if kind == "babble" else kind
            nz = colored_noise(n, rng, kind)
        snr = rng.uniform(5, 35)
        ps = np.mean(x ** 2) + 1e-12
        pn = np.mean(nz ** 2) + 1e-12
        x = x + nz * math.sqrt(ps / pn / 10 ** (snr / 10))
        p["noise"] = {"kind": str(kind), "snr_db": round(snr, 1)}
    peak_db = rng.uniform(-24, -1)
    x = x / max(np.abs(x).max(), 1e-9) * 10 ** (peak_db / 20)
    p["peak_dbfs"] = round(peak_db, 1)
    return x, p


def _synth_sentences(sents, voice, rate, pitch, prange, wordgap, seed):
    """Runs in a fresh forked process: libespeak-ng keeps prosody state between calls, so every
    utterance gets a newly initialised engine; srand() fixes the noise of breathy variants."""
    import ctypes
    ctypes.CDLL("libc.so.6").srand(int(seed) & 0x7FFFFFFF)
    tts = Espeak()
    return tts.sample_rate, [tts.synth(s, voice, rate, pitch, prange, wordgap) for s in sents]


# voices of the other engines, with their usual f0 mean / range (Hz) around which pitch is varied
FLITE_F0 = {"kal": (95.0, 11.0), "kal16": (95.0, 11.0), "awb": (125.0, 20.0), "rms": (110.0, 15.0),
            "slt": (160.0, 25.0)}
FESTIVAL_F0 = {"kal": (105.0, 14.0), "ked": (105.0, 15.0), "slt": (165.0, 34.0)}
ENGINE_VOICES = {"flite": list(FLITE_F0), "festival": list(FESTIVAL_F0)}


def _synth_other(engine, sents, voice, stretch, f0_mean, f0_std):
    """Runs in a fresh forked process (libflite keeps registered voices and their features globally);
    both engines are deterministic, so nothing needs seeding."""
    if engine == "flite":
        tts = voices.Flite()
        return [tts.synth(s, voice, stretch, f0_mean, f0_std) for s in sents]
    return voices.Festival().synth_many(sents, voice, stretch, f0_mean, f0_std)


def pick_engine(rng, engines, weights):
    """Engine for one utterance; no draw when there is only one (keeps espeak-only data as it was)."""
    if len(engines) == 1:
        return engines[0]
    w = np.asarray(weights, float)
    return engines[int(rng.choice(len(engines), p=w / w.sum()))]


def pick_voice(rng, engine, holdout, holdout_weight):
    """Voice of another engine; held-out voices are drawn less often (they only feed the val split)."""
    names = ENGINE_VOICES[engine]
    w = np.array([holdout_weight if f"{engine}:{v}" in holdout else 1.0 for v in names])
    return names[int(rng.choice(len(names), p=w / w.sum()))]


def make_other_utterance(rng, pool, engine, holdout, holdout_weight, small):
    """Sentences, voice, rate and pitch for flite / festival; returns (sentences, synth results, meta,
    articulation gain)."""
    voice = pick_voice(rng, engine, holdout, holdout_weight)
    sents = [make_sentence(rng) for _ in range(1 if small else rng.integers(1, 4))]
    stretch = float(rng.uniform(0.8, 1.35))
    m0, s0 = (FLITE_F0 if engine == "flite" else FESTIVAL_F0)[voice]
    f0_mean = round(m0 * 2 ** (rng.uniform(-4, 4) / 12), 1)  # within a major third of the voice's own
    f0_std = round(s0 * rng.uniform(0.6, 1.7), 1)
    if (engine, voice) in voices.FIXED_PITCH:  # drawn anyway so every voice uses the random stream alike
        f0_mean = f0_std = None
    synths = pool.apply(_synth_other, (engine, sents, voice, stretch, f0_mean, f0_std))
    meta = {"engine": engine, "voice": f"{engine}:{voice}", "duration_stretch": round(stretch, 3),
            "f0_mean_hz": f0_mean, "f0_std_hz": f0_std}
    # espeak's rate ~ 175 wpm at stretch 1: same articulation gain rule as for espeak's rate
    gain = float(np.clip(1.15 - (175 / stretch - 125) / 400, 0.85, 1.15))
    return sents, synths, meta, gain


def make_utterance(i, rng, pool, babble_pool, small, engine="espeak", holdout=(), holdout_weight=0.25,
                   espeak_closure_ms=0.0):
    """Synthesize one utterance of 1-3 sentences with pauses: (int16 samples at 16 kHz, record, clean audio)."""
    if engine != "espeak":
        sents, synths, head, gain = make_other_utterance(rng, pool, engine, holdout, holdout_weight, small)
        srs = {r[1] for r in synths}
        if len(srs) != 1:
            raise RuntimeError(f"{head['voice']}: sentences at different sample rates {sorted(srs)}")
        sr_tts = srs.pop()
        synths = [(a, ph, [(0, 0, w) for w in wd]) for a, _, ph, wd in synths]
        return assemble(rng, sents, synths, sr_tts, babble_pool, gain, head)
    other = (not small) and rng.random() < 0.12
    if other:
        lang = list(OTHER_LANGS)[rng.integers(len(OTHER_LANGS))]
        voice = lang
        sents = [OTHER_LANGS[lang][rng.integers(len(OTHER_LANGS[lang]))]]
    else:
        voice = ACCENTS[rng.integers(len(ACCENTS))]
        sents = [make_sentence(rng) for _ in range(1 if small else rng.integers(1, 4))]
    var = VARIANTS[rng.integers(len(VARIANTS))]
    if var:
        voice = f"{voice}+{var}"
    rate = int(rng.uniform(125, 215))
    pitch = int(rng.uniform(20, 80))
    prange = int(rng.uniform(15, 90))
    wordgap = int(rng.choice([0, 0, 0, 1, 2]))
    sr_tts, synths = pool.apply(_synth_sentences, (sents, voice, rate, pitch, prange, wordgap, rng.integers(1 << 31)))
    gain = float(np.clip(1.15 - (rate - 125) / 400, 0.85, 1.15))
    head = {"engine": "espeak", "voice": voice, "rate": rate, "pitch": pitch, "range": prange, "wordgap": wordgap}
    if espeak_closure_ms > 0:  # stop events mark the release: take the closure into the stop's segment
        synths = [(a, stop_closures(ph, sr_tts, espeak_closure_ms / 1000), wd) for a, ph, wd in synths]
        head["stop_closure_ms"] = espeak_closure_ms
    return assemble(rng, sents, synths, sr_tts, babble_pool, gain, head)


def assemble(rng, sents, synths, sr_tts, babble_pool, gain, head):
    """Sentences with pauses between them, resampled to 16 kHz, augmented; targets from the phone timings."""
    pieces, phones = [], []
    pos = 0
    lead = int(rng.uniform(0.15, 0.8) * sr_tts)
    pieces.append(np.zeros(lead))
    pos += lead
    for k, s in enumerate(sents):
        a, ph, wd = synths[k]
        phones += [(p_, s_ + pos) for p_, s_ in ph]
        pieces.append(a.astype(np.float64) / 32768.0)
        pos += len(a)
        gap = int(rng.uniform(0.2, 1.2) * sr_tts) if k + 1 < len(sents) else int(rng.uniform(0.2, 0.9) * sr_tts)
        phones.append(("_:", pos))
        pieces.append(np.zeros(gap))
        pos += gap
    x = np.concatenate(pieces)
    x16 = resample(x, sr_tts, SR)
    phones16 = [(p_, int(round(s_ * SR / sr_tts))) for p_, s_ in phones]
    if phones16 and phones16[0][1] > 0:
        phones16.insert(0, ("_:", 0))
    clean = x16.copy()
    aug = {}
    if rng.random() < 0.75:
        x16, aug = augment(x16, rng, babble_pool)
    else:
        peak = rng.uniform(-12, -1)
        x16 = x16 / max(np.abs(x16).max(), 1e-9) * 10 ** (peak / 20)
        aug = {"peak_dbfs": round(peak, 1)}
    pcm = np.clip(np.round(x16 * 32767), -32768, 32767).astype(np.int16)
    meta = {"text": " ".join(sents), **head, "articulation_gain": round(gain, 3), "augmentation": aug,
            "samples": int(len(pcm)), "frames": int(len(pcm) // SAMPLES_PER_FRAME), "phonemes": phones16}
    return pcm, meta, clean


def main(argv=None):
    ap = argparse.ArgumentParser(description="synthetic speech + expression targets for the demo A2M model")
    ap.add_argument("--out", default="/work/demo-data/a2m")
    ap.add_argument("--count", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=20250601)
    ap.add_argument("--shard-size", type=int, default=250)
    ap.add_argument("--val-fraction", type=float, default=0.05)
    ap.add_argument("--small", action="store_true", help="tiny set (8 short utterances) for smoke tests")
    ap.add_argument("--engines", default="espeak",
                    help="comma-separated speech engines: espeak, flite, festival (see voices.py)")
    ap.add_argument("--mix", default="", help="comma-separated relative weights of --engines (default: equal)")
    ap.add_argument("--holdout", default="",
                    help="comma-separated engine:voice (e.g. flite:rms,festival:ked) used only in the val split")
    ap.add_argument("--holdout-weight", type=float, default=0.25,
                    help="how often a held-out voice is drawn relative to a training voice of its engine")
    ap.add_argument("--id-prefix", default="u", help="utterance id prefix (distinct ids when data sets are mixed)")
    ap.add_argument("--espeak-closure-ms", type=float, default=0.0,
                    help="move espeak stops' starts back over their closure by up to this much (0: as the "
                         "events say; 60 puts 95 %% of /p b/ closures inside their segment, see check_voices)")
    args = ap.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    for e in engines:
        if e not in ("espeak", "flite", "festival"):
            ap.error(f"unknown engine {e!r}")
    weights = [float(w) for w in args.mix.split(",")] if args.mix else [1.0] * len(engines)
    if len(weights) != len(engines):
        ap.error(f"--mix has {len(weights)} weights for {len(engines)} engines")
    holdout = {h.strip() for h in args.holdout.split(",") if h.strip()}
    for h in holdout:
        e, _, v = h.partition(":")
        if e not in ENGINE_VOICES or v not in ENGINE_VOICES[e]:
            ap.error(f"--holdout {h!r}: not an engine:voice of flite {FLITE_F0.keys()} / festival "
                     f"{FESTIVAL_F0.keys()}")
    if args.small:
        args.count = 8
        args.shard_size = 4
    os.makedirs(args.out, exist_ok=True)
    import multiprocessing
    pool = multiprocessing.get_context("fork").Pool(1, maxtasksperchild=1)
    babble_pool = []
    shard, shard_idx, names = [], 0, []
    jl = open(os.path.join(args.out, "utterances.jsonl"), "w")
    totals = {"utterances": 0, "samples": 0, "frames": 0}
    t_start = time.time()

    def flush():
        nonlocal shard, shard_idx
        if not shard:
            return
        audio = np.concatenate([s[0] for s in shard])
        aoff = np.cumsum([0] + [len(s[0]) for s in shard]).astype(np.int64)
        targ = np.concatenate([s[1] for s in shard])
        toff = np.cumsum([0] + [len(s[1]) for s in shard]).astype(np.int64)
        name = f"shard-{shard_idx:04d}.safetensors"
        safetensors_io.save_arrays(os.path.join(args.out, name), {
            "audio": audio, "audio_offsets": aoff, "targets": targ, "target_offsets": toff,
            "viseme": np.concatenate([s[2] for s in shard]), "speech": np.concatenate([s[3] for s in shard]),
        }, {"exp_names": ",".join(MOTION_NAMES), "sample_rate": str(SR), "fps": str(visemes.FPS)})
        names.append(name)
        shard, shard_idx = [], shard_idx + 1

    for i in range(args.count):
        rng = np.random.default_rng([args.seed, i])  # per-utterance stream: any subset is reproducible
        engine = pick_engine(rng, engines, weights)
        pcm, meta, clean = make_utterance(i, rng, pool, babble_pool, args.small, engine, holdout,
                                          args.holdout_weight, args.espeak_closure_ms)
        if len(babble_pool) < 32:
            babble_pool.append(clean * 0.5)
        split = "val" if (i % max(1, int(round(1 / max(args.val_fraction, 1e-9))))) == 7 else "train"
        if meta["voice"] in holdout:
            split = "val"
        meta = {"id": f"{args.id_prefix}{i:06d}", "split": split, "shard": f"shard-{shard_idx:04d}.safetensors",
                "index_in_shard": len(shard), **meta}
        jl.write(json.dumps(meta) + "\n")
        # from the stored samples and record, as train_a2m.py and eval_a2m.py recompute them
        targ, vis, sp = utterance_targets(meta, pcm.astype(np.float32) / 32768.0)
        shard.append((pcm, targ, vis, sp))
        totals["utterances"] += 1
        totals["samples"] += len(pcm)
        totals["frames"] += len(targ)
        if len(shard) >= args.shard_size:
            flush()
        if (i + 1) % 100 == 0:
            print(f"{i + 1}/{args.count} utterances, {totals['samples'] / SR / 3600:.2f} h, "
                  f"{time.time() - t_start:.0f} s", flush=True)
    flush()
    pool.close()
    pool.join()
    jl.close()
    manifest = {"format": "avatard-demo-a2m-data", "version": 1, "exp_names": MOTION_NAMES, "fps": visemes.FPS,
                "sample_rate": SR, "samples_per_frame": SAMPLES_PER_FRAME, "seed": args.seed,
                "viseme_names": list(visemes.VISEMES), "shards": names, **totals,
                "engines": dict(zip(engines, weights)), "holdout": sorted(holdout),
                "hours": round(totals["samples"] / SR / 3600, 3)}
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(f"{args.out}: {totals['utterances']} utterances, {manifest['hours']} h, {len(names)} shards")
    return manifest


if __name__ == "__main__":
    main()
