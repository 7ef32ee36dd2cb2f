"""Speech engines besides espeak-ng, each with real phone timings: Flite (libflite, ctypes) and Festival.

Both engines use the CMU / "radio" American English phone set (aa ae ah ... pau). Their phones are
mapped to the espeak-ng mnemonics that visemes.classify understands (PHONE_TO_ESPEAK), pauses to
"_:", so the dataset format and everything downstream stay as they are for espeak-ng.

* Flite (Debian `libflite1`, voices kal, kal16, awb, rms, slt built into the package): the library is
  loaded with ctypes; a voice is registered from its libflite_cmu_us_<voice>.so, flite_synth_text
  returns an utterance whose "Segment" relation holds every phone with its end time (seconds), and
  whose wave is the synthesised audio. Rate: duration_stretch; pitch: int_f0_target_mean (and
  _stddev), both voice features; rms ignores the f0 targets (measured: 101 Hz whatever the target).
* Festival (Debian `festival` with `festvox-kallpc16k`, `festvox-kdlpc16k`, `festvox-us-slt-hts`):
  a Scheme script per call synthesises each sentence, saves the wave (RIFF) and prints the Segment
  relation's names and end times. Rate: Duration_Stretch (diphone voices) or the hts_engine speed
  rate "-r" (HTS); pitch: the target mean / range of the linear-regression intonation model
  (int_lr_params) for the diphone voices; none for HTS (festival's hts_engine wrapper ignores the
  engine's half-tone shift and all-pass options, measured: same f0 and spectrum). For HTS, festival writes the hts_engine's state durations back into the
  Segment relation, so the saved end times are the ones the waveform was generated with.

Every synth() returns (int16 samples, sample_rate, [(espeak mnemonic, start sample)], [word start
samples]) like espeak.Espeak.synth, with phone starts taken from the previous phone's end.
Both engines are deterministic for a given text and parameters (no random draws).
"""
import ctypes
import os
import re
import shutil
import subprocess
import tempfile
import wave

import numpy as np

# CMU / radio phone -> espeak-ng mnemonic (as classify() reads them)
PHONE_TO_ESPEAK = {
    "aa": "A:", "ae": "a", "ah": "V", "ao": "O:", "aw": "aU", "ax": "@", "axr": "3", "ay": "aI",
    "b": "b", "ch": "tS", "d": "d", "dh": "D", "dx": "*", "eh": "E", "el": "@L", "em": "m", "en": "n",
    "er": "3:", "ey": "eI", "f": "f", "g": "g", "hh": "h", "hv": "h", "ih": "I", "ix": "I2", "iy": "i:",
    "jh": "dZ", "k": "k", "l": "l", "m": "m", "n": "n", "ng": "N", "nx": "n", "ow": "oU", "oy": "OI",
    "p": "p", "r": "r", "s": "s", "sh": "S", "t": "t", "th": "T", "uh": "U", "uw": "u:", "ux": "u:",
    "v": "v", "w": "w", "y": "j", "z": "z", "zh": "Z",
}
PAUSES = {"pau", "h#", "#", "sil", "ssil", "brth", "bpau", "SIL", "PAU"}


def to_espeak(phone):
    """CMU / radio phone (stress digits allowed) -> espeak-ng mnemonic; pauses -> '_:'."""
    if phone in PAUSES:
        return "_:"
    p = phone.lower().rstrip("012")
    if p not in PHONE_TO_ESPEAK:
        raise ValueError(f"unknown phone {phone!r}")
    return PHONE_TO_ESPEAK[p]


def events_from_ends(phones_ends, sample_rate, n_samples):
    """[(phone, end seconds)] -> [(espeak mnemonic, start sample)], consecutive pauses merged."""
    out, start = [], 0
    for ph, end in phones_ends:
        e = to_espeak(ph)
        if not (out and e == "_:" and out[-1][0] == "_:"):
            out.append((e, start))
        start = min(int(round(end * sample_rate)), n_samples)
    return out


class _Wave(ctypes.Structure):
    _fields_ = [("type", ctypes.c_char_p), ("sample_rate", ctypes.c_int), ("num_samples", ctypes.c_int),
                ("num_channels", ctypes.c_int), ("samples", ctypes.POINTER(ctypes.c_short))]


class _Voice(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("features", ctypes.c_void_p), ("ffunctions", ctypes.c_void_p)]


# (engine, voice) whose pitch cannot be set (see the module notes)
FIXED_PITCH = {("flite", "rms"), ("festival", "slt")}


class Flite:
    """libflite through ctypes. The library keeps global state (registered voices, feature values), so
    the dataset generator calls it in a fresh forked process per utterance."""

    name = "flite"
    VOICES = ("kal", "kal16", "awb", "rms", "slt")

    def __init__(self):
        self._lib = ctypes.CDLL("libflite.so.1", mode=ctypes.RTLD_GLOBAL)
        lib = self._lib
        lib.flite_synth_text.restype = ctypes.c_void_p
        lib.flite_synth_text.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
        lib.utt_relation.restype = ctypes.c_void_p
        lib.utt_relation.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.relation_head.restype = ctypes.c_void_p
        lib.relation_head.argtypes = [ctypes.c_void_p]
        lib.item_next.restype = ctypes.c_void_p
        lib.item_next.argtypes = [ctypes.c_void_p]
        lib.item_feat_string.restype = ctypes.c_char_p
        lib.item_feat_string.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.item_feat_float.restype = ctypes.c_float
        lib.item_feat_float.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.utt_wave.restype = ctypes.POINTER(_Wave)
        lib.utt_wave.argtypes = [ctypes.c_void_p]
        for fn in (lib.item_as, lib.item_parent):
            fn.restype = ctypes.c_void_p
        lib.item_as.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.item_parent.argtypes = [ctypes.c_void_p]
        lib.delete_utterance.argtypes = [ctypes.c_void_p]
        lib.feat_set_float.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_float]
        lib.flite_init()
        self._voices = {}

    @staticmethod
    def available():
        try:
            ctypes.CDLL("libflite.so.1")
            ctypes.CDLL("libflite_cmu_us_kal.so.1")
            return True
        except OSError:
            return False

    def _voice(self, name):
        if name not in self.VOICES:
            raise ValueError(f"flite has no voice {name!r} (have {', '.join(self.VOICES)})")
        if name not in self._voices:
            vlib = ctypes.CDLL(f"libflite_cmu_us_{name}.so.1", mode=ctypes.RTLD_GLOBAL)
            reg = getattr(vlib, f"register_cmu_us_{name}")
            reg.restype = ctypes.POINTER(_Voice)
            reg.argtypes = [ctypes.c_char_p]
            v = reg(None)
            if not v:
                raise RuntimeError(f"register_cmu_us_{name} failed")
            self._voices[name] = (vlib, v)
        return self._voices[name][1]

    def synth(self, text, voice, stretch=1.0, f0_mean=None, f0_std=None):
        """Return (int16 samples, sample_rate, [(espeak mnemonic, start sample)], [word start samples])."""
        v = self._voice(voice)
        feats = v.contents.features
        self._lib.feat_set_float(feats, b"duration_stretch", float(stretch))
        if f0_mean is not None:
            self._lib.feat_set_float(feats, b"int_f0_target_mean", float(f0_mean))
        if f0_std is not None:
            self._lib.feat_set_float(feats, b"int_f0_target_stddev", float(f0_std))
        utt = self._lib.flite_synth_text(text.encode("utf-8"), ctypes.cast(v, ctypes.c_void_p))
        if not utt:
            raise RuntimeError(f"flite_synth_text failed for {text!r}")
        try:
            w = self._lib.utt_wave(utt).contents
            if w.num_channels != 1:
                raise RuntimeError(f"flite voice {voice}: {w.num_channels} channels")
            audio = np.ctypeslib.as_array(w.samples, shape=(w.num_samples,)).astype(np.int16).copy()
            sr = int(w.sample_rate)
            segs = []
            item = self._lib.relation_head(self._lib.utt_relation(utt, b"Segment"))
            while item:
                segs.append((self._lib.item_feat_string(item, b"name").decode(),
                             float(self._lib.item_feat_float(item, b"end"))))
                item = self._lib.item_next(item)
            words, last_word, t = [], None, 0.0
            item = self._lib.relation_head(self._lib.utt_relation(utt, b"Segment"))
            while item:  # a word starts where the first segment under it (SylStructure) starts
                in_syl = self._lib.item_as(item, b"SylStructure")  # NULL for pauses
                syl = self._lib.item_parent(in_syl) if in_syl else None
                word = self._lib.item_parent(syl) if syl else None
                if word and word != last_word:
                    words.append(int(round(t * sr)))
                last_word = word or last_word
                t = float(self._lib.item_feat_float(item, b"end"))
                item = self._lib.item_next(item)
        finally:
            self._lib.delete_utterance(utt)
        return audio, sr, events_from_ends(segs, sr, len(audio)), words


FESTIVAL_VOICES = {  # name -> (Scheme voice function, int_lr_params target mean/std of the voice)
    "kal": ("kal_diphone", (105.0, 14.0)),
    "ked": ("ked_diphone", (105.0, 15.0)),
    "slt": ("cmu_us_slt_arctic_hts", (165.0, 34.0)),
}

_SCHEME = """
(voice_{voice_fn})
(Parameter.set 'Duration_Stretch {stretch})
{pitch}
(define (dump_segs utt port)
  (mapcar (lambda (s) (format port "SEG %s %f\\n" (item.name s) (item.feat s "end")))
          (utt.relation.items utt 'Segment))
  (mapcar (lambda (w) (format port "WORD %f\\n"
                              (item.feat w "R:SylStructure.daughter1.daughter1.R:Segment.p.end")))
          (utt.relation.items utt 'Word)))
(set! seg_port (fopen "{segs}" "w"))
{sentences}
(fclose seg_port)
"""
_SENT = """(set! utt (utt.synth (Utterance Text "{text}")))
(utt.save.wave utt "{wav}" 'riff)
(format seg_port "UTT\\n")
(dump_segs utt seg_port)
"""


class Festival:
    """Festival through its command line (`festival --script`), one process per call (no shared state)."""

    name = "festival"
    VOICES = tuple(FESTIVAL_VOICES)

    def __init__(self, binary="festival"):
        self.binary = shutil.which(binary) or binary

    @staticmethod
    def available(voice=None):
        if not shutil.which("festival"):
            return False
        dirs = {"kal": "english/kal_diphone", "ked": "english/ked_diphone", "slt": "us/cmu_us_slt_arctic_hts"}
        names = [voice] if voice else list(dirs)
        return all(os.path.isdir(os.path.join("/usr/share/festival/voices", dirs[n])) for n in names)

    def synth_many(self, sentences, voice, stretch=1.0, f0_mean=None, f0_std=None):
        """Synthesise each sentence; return a list of synth() results."""
        if voice not in FESTIVAL_VOICES:
            raise ValueError(f"festival voice {voice!r} not supported (have {', '.join(FESTIVAL_VOICES)})")
        fn, (m0, s0) = FESTIVAL_VOICES[voice]
        pitch = ""
        if voice != "slt" and (f0_mean is not None or f0_std is not None):
            m = m0 if f0_mean is None else float(f0_mean)
            s = s0 if f0_std is None else float(f0_std)
            pitch = (f"(set! int_lr_params '((target_f0_mean {m:.2f}) (target_f0_std {s:.2f}) "
                     f"(model_f0_mean 170) (model_f0_std 34)))")
        with tempfile.TemporaryDirectory(prefix="festival-") as d:
            segs_path = os.path.join(d, "segs.txt")
            body = []
            for k, text in enumerate(sentences):
                clean = re.sub(r'["\\]', " ", text)
                body.append(_SENT.format(text=clean, wav=os.path.join(d, f"s{k}.wav")))
            if voice == "slt":  # HTS ignores Duration_Stretch; its speech speed rate is the inverse
                pitch += f'\n(set! hts_engine_params (append hts_engine_params (list (list "-r" {1 / stretch:.4f}))))'
            script = _SCHEME.format(voice_fn=fn, stretch=float(stretch), pitch=pitch, segs=segs_path,
                                    sentences="".join(body))
            path = os.path.join(d, "run.scm")
            with open(path, "w") as f:
                f.write(script)
            r = subprocess.run([self.binary, "-b", path], capture_output=True, text=True, timeout=300,
                               env={**os.environ, "LC_ALL": "C"})
            if r.returncode != 0 or not os.path.exists(segs_path):
                raise RuntimeError(f"festival failed ({r.returncode}): {r.stderr.strip()[-500:]}")
            with open(segs_path) as f:
                utts = f.read().split("UTT\n")[1:]
            if len(utts) != len(sentences):
                raise RuntimeError(f"festival wrote {len(utts)} utterances for {len(sentences)} sentences")
            out = []
            for k, block in enumerate(utts):
                with wave.open(os.path.join(d, f"s{k}.wav")) as w:
                    sr, ch = w.getframerate(), w.getnchannels()
                    audio = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, ch)[:, 0].copy()
                segs, words = [], []
                for line in block.splitlines():
                    parts = line.split()
                    if parts and parts[0] == "SEG":
                        segs.append((parts[1], float(parts[2])))
                    elif parts and parts[0] == "WORD":
                        words.append(int(round(float(parts[1]) * sr)))
                out.append((audio, sr, events_from_ends(segs, sr, len(audio)), words))
            return out

    def synth(self, text, voice, stretch=1.0, f0_mean=None, f0_std=None):
        return self.synth_many([text], voice, stretch, f0_mean, f0_std)[0]
