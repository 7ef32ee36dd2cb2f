"""espeak-ng through its C library (ctypes): audio plus sample-accurate phoneme timings.

espeak-ng is initialised with espeakINITIALIZE_PHONEME_EVENTS in synchronous mode. The synth
callback receives each block of samples together with the events for it; phoneme events
(espeakEVENT_PHONEME) carry the phoneme mnemonic (espeak's ASCII phoneme names, e.g. "m", "aI",
"_:" for a pause) and `sample`, the index in the output stream where that phoneme starts.
The library's command line `--pho` output only exists for MBROLA voices (which Debian 12 does
not ship in main), so events are the reliable source for the built-in formant voices.
"""
import ctypes
import threading

import numpy as np

_EVENT_LIST_TERMINATED, _EVENT_WORD, _EVENT_SENTENCE, _EVENT_END, _EVENT_PHONEME = 0, 1, 2, 5, 7
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS = 0x0001
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM = {"rate": 1, "volume": 2, "pitch": 3, "range": 4, "wordgap": 7}


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
                ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", _EventId)]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


class Espeak:
    """One process-wide engine (the library has global state); calls are serialised."""

    _lock = threading.Lock()
    _instance = None

    def __new__(cls):
        if cls._instance is None:
            inst = super().__new__(cls)
            inst._lib = ctypes.CDLL("libespeak-ng.so.1")
            inst.sample_rate = inst._lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None, _INIT_PHONEME_EVENTS)
            if inst.sample_rate <= 0:
                raise RuntimeError("espeak_Initialize failed")
            inst._cb = _CALLBACK(inst._on_synth)
            inst._lib.espeak_SetSynthCallback(inst._cb)
            cls._instance = inst
        return cls._instance

    def _on_synth(self, wav, n, events):
        if n > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            e = events[i]
            if e.type == _EVENT_PHONEME:
                self._phones.append((e.id.string.decode("ascii", "replace"), int(e.sample)))
            elif e.type == _EVENT_WORD:
                self._words.append((int(e.text_position), int(e.length), int(e.sample)))
            i += 1
        return 0

    def synth(self, text, voice="en-us", rate=160, pitch=50, pitch_range=50, wordgap=0):
        """Return (int16 samples at self.sample_rate, [(phoneme, start_sample)], [(char_pos, len, sample)])."""
        with self._lock:
            if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise ValueError(f"espeak-ng has no voice {voice!r}")
            for k, v in (("rate", rate), ("pitch", pitch), ("range", pitch_range), ("wordgap", wordgap)):
                self._lib.espeak_SetParameter(_PARAM[k], int(v), 0)
            self._chunks, self._phones, self._words = [], [], []
            data = text.encode("utf-8") + b"\0"
            err = self._lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            self._lib.espeak_Synchronize()
            if err != 0:
                raise RuntimeError(f"espeak_Synth failed ({err})")
            audio = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
            return audio, list(self._phones), list(self._words)


STOPS = ("p", "b", "t", "d", "k", "g", "tS", "dZ")


def stop_closures(phones, sample_rate, closure_s=0.06, max_fraction=0.5):
    """Move the start of every stop that follows a speech phone back over its closure.

    espeak-ng's phoneme event for a stop comes at the release; the silent closure before it is
    synthesised in the previous phoneme's time (measured by check_voices: for /p b/ the quietest 5 ms
    lies a median 30 ms before the event, and inside the event's segment for 27 % of cases). The new
    start is closure_s earlier, but takes at most max_fraction of the previous phoneme; with 60 ms,
    95 % of /p b/ dips fall inside the segment (labels ≈ 90 ms, as with flite and festival)."""
    out = list(phones)
    for k in range(1, len(out)):
        ph, s = out[k]
        prev_ph, prev_s = out[k - 1]
        if ph.rstrip("0123456789#") in STOPS and not prev_ph.startswith("_") and s > prev_s:
            out[k] = (ph, max(prev_s + int((s - prev_s) * (1 - max_fraction)), s - int(closure_s * sample_rate)))
    return out
