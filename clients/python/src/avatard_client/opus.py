"""libopus through ctypes: the encoder the client uses, a decoder for checks, and packet durations.

libopus is loaded on first use (never at import), from the system library that Debian's ``libopus0``
package installs; a missing library is a clear :class:`LibopusUnavailable`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading

import numpy as np

from .errors import LibopusUnavailable, OpusCodecError

#: Input rates libopus encodes directly; anything else is resampled to 48 kHz first.
NATIVE_RATES = (8000, 12000, 16000, 24000, 48000)

APPLICATION_VOIP = 2048
APPLICATION_AUDIO = 2049
APPLICATION_RESTRICTED_LOWDELAY = 2051

_SET_BITRATE = 4002
_SET_COMPLEXITY = 4010
#: A packet is at most 1275 bytes (RFC 6716, 3.4).
MAX_PACKET = 1275

_lib = None
_lib_lock = threading.Lock()


def load_libopus() -> ctypes.CDLL:
    """The process-wide libopus handle (loaded on the first call)."""
    global _lib
    with _lib_lock:
        if _lib is not None:
            return _lib
        name = ctypes.util.find_library("opus")
        candidates = [name] if name else []
        candidates.append("libopus.so.0")
        errors = []
        for candidate in candidates:
            try:
                lib = ctypes.CDLL(candidate)
                break
            except OSError as error:
                errors.append(f"{candidate}: {error}")
        else:
            raise LibopusUnavailable(
                "libopus not found (" + "; ".join(errors) + "). Install it: `apt-get install libopus0` on "
                "Debian/Ubuntu, `dnf install opus` on Fedora, `brew install opus` on macOS."
            )
        _declare(lib)
        _lib = lib
        return lib


def _declare(lib: ctypes.CDLL) -> None:
    p, i32 = ctypes.c_void_p, ctypes.c_int32
    lib.opus_get_version_string.restype = ctypes.c_char_p
    lib.opus_strerror.restype = ctypes.c_char_p
    lib.opus_strerror.argtypes = [ctypes.c_int]
    lib.opus_encoder_create.restype = p
    lib.opus_encoder_create.argtypes = [i32, ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    lib.opus_encoder_destroy.argtypes = [p]
    lib.opus_encode.restype = i32
    lib.opus_encode.argtypes = [p, ctypes.POINTER(ctypes.c_int16), ctypes.c_int, ctypes.c_char_p, i32]
    lib.opus_encode_float.restype = i32
    lib.opus_encode_float.argtypes = [p, ctypes.POINTER(ctypes.c_float), ctypes.c_int, ctypes.c_char_p, i32]
    # opus_encoder_ctl is variadic: its argument types stay undeclared so ctypes passes them as C ints.
    lib.opus_encoder_ctl.restype = ctypes.c_int
    lib.opus_decoder_create.restype = p
    lib.opus_decoder_create.argtypes = [i32, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    lib.opus_decoder_destroy.argtypes = [p]
    lib.opus_decode_float.restype = ctypes.c_int
    lib.opus_decode_float.argtypes = [p, ctypes.c_char_p, i32, ctypes.POINTER(ctypes.c_float), ctypes.c_int, ctypes.c_int]
    lib.opus_packet_get_nb_samples.restype = ctypes.c_int
    lib.opus_packet_get_nb_samples.argtypes = [ctypes.c_char_p, i32, i32]


def libopus_version() -> str:
    return load_libopus().opus_get_version_string().decode()


def _check(code: int, what: str) -> int:
    if code < 0:
        raise OpusCodecError(f"{what}: {load_libopus().opus_strerror(code).decode()} ({code})")
    return code


class OpusEncoder:
    """A mono libopus encoder for 20 ms frames at one of :data:`NATIVE_RATES`."""

    def __init__(self, sample_rate: int = 48000, *, application: int = APPLICATION_VOIP,
                 bitrate: int | None = 32000, complexity: int | None = None):
        self._state = None
        if sample_rate not in NATIVE_RATES:
            raise ValueError(f"libopus encodes at {NATIVE_RATES} Hz, not {sample_rate} (resample first)")
        self._lib = load_libopus()
        self.sample_rate = sample_rate
        self.frame_samples = sample_rate // 50
        error = ctypes.c_int(0)
        self._state = self._lib.opus_encoder_create(sample_rate, 1, application, ctypes.byref(error))
        _check(error.value, "opus_encoder_create")
        if not self._state:
            raise OpusCodecError("opus_encoder_create returned no encoder")
        if bitrate is not None:
            _check(self._lib.opus_encoder_ctl(ctypes.c_void_p(self._state), _SET_BITRATE, ctypes.c_int32(bitrate)),
                   f"OPUS_SET_BITRATE({bitrate})")
        if complexity is not None:
            _check(self._lib.opus_encoder_ctl(ctypes.c_void_p(self._state), _SET_COMPLEXITY, ctypes.c_int32(complexity)),
                   f"OPUS_SET_COMPLEXITY({complexity})")
        self._out = ctypes.create_string_buffer(MAX_PACKET)

    def encode(self, frame: np.ndarray) -> bytes:
        """One 20 ms frame (float32 in [-1, 1], or int16) → one Opus packet."""
        if len(frame) != self.frame_samples:
            raise ValueError(f"a 20 ms frame at {self.sample_rate} Hz has {self.frame_samples} samples, got {len(frame)}")
        if frame.dtype == np.int16:
            data = np.ascontiguousarray(frame)
            n = self._lib.opus_encode(self._state, data.ctypes.data_as(ctypes.POINTER(ctypes.c_int16)),
                                      self.frame_samples, self._out, MAX_PACKET)
        else:
            data = np.ascontiguousarray(frame, dtype=np.float32)
            n = self._lib.opus_encode_float(self._state, data.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
                                            self.frame_samples, self._out, MAX_PACKET)
        return self._out.raw[:_check(n, "opus_encode")]

    def close(self) -> None:
        if self._state:
            self._lib.opus_encoder_destroy(self._state)
            self._state = None

    def __del__(self):
        self.close()


class OpusDecoder:
    """A mono libopus decoder (float output), used to check what the encoder produces."""

    def __init__(self, sample_rate: int = 48000):
        self._state = None
        self._lib = load_libopus()
        self.sample_rate = sample_rate
        error = ctypes.c_int(0)
        self._state = self._lib.opus_decoder_create(sample_rate, 1, ctypes.byref(error))
        _check(error.value, "opus_decoder_create")
        self._pcm = (ctypes.c_float * (sample_rate * 120 // 1000))()

    def decode(self, packet: bytes) -> np.ndarray:
        n = self._lib.opus_decode_float(self._state, packet, len(packet), self._pcm, len(self._pcm), 0)
        return np.ctypeslib.as_array(self._pcm)[:_check(n, "opus_decode_float")].copy()

    def close(self) -> None:
        if self._state:
            self._lib.opus_decoder_destroy(self._state)
            self._state = None

    def __del__(self):
        self.close()


# Frame duration in 48 kHz samples for each TOC configuration (RFC 6716, 3.1).
_CONFIG_DURATION = (
    [480, 960, 1920, 2880] * 3        # SILK NB/MB/WB: 10, 20, 40, 60 ms
    + [480, 960] * 2                  # hybrid SWB/FB: 10, 20 ms
    + [120, 240, 480, 960] * 4        # CELT NB/WB/SWB/FB: 2.5, 5, 10, 20 ms
)


def packet_duration_48k(packet: bytes) -> int:
    """Duration of an Opus packet in 48 kHz samples, from its TOC byte (RFC 6716, 3.1–3.2).

    Raises ValueError for a packet that is empty, malformed, or longer than 120 ms.
    """
    if not packet:
        raise ValueError("empty Opus packet")
    toc = packet[0]
    frame = _CONFIG_DURATION[toc >> 3]
    code = toc & 0x3
    if code == 0:
        count = 1
    elif code in (1, 2):
        count = 2
    else:
        if len(packet) < 2:
            raise ValueError("Opus packet with frame-count code 3 has no count byte")
        count = packet[1] & 0x3F
        if count == 0:
            raise ValueError("Opus packet with a frame count of 0")
    duration = frame * count
    if duration > 5760:
        raise ValueError(f"Opus packet of {duration / 48:.1f} ms (at most 120 ms)")
    return duration
