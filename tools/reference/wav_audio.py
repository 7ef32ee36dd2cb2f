"""WAV files for style clips: any RIFF/WAVE PCM (8/16/24/32-bit integer) or IEEE float (32/64-bit) file, mono or
multichannel, any rate → 16 kHz mono float32, as upstream's front-end sees it.

Upstream converts the clip with `ffmpeg -f wav -ar 16000` (channels kept) and HuBERT reads channel 0 (`soundfile`,
first channel if stereo), so channel 0 is taken, not a mix. Resampling is polyphase (scipy `resample_poly`, Kaiser
window); ffmpeg's default swr resampler differs in the last bits of the filter (not bit-exact, same band).
"""
import math
import struct

import numpy as np

RATE = 16000


class WavError(ValueError):
    """A refused audio file; the message names the file and what was expected."""


def read_wav(path):
    """→ (float64 samples [N, C] in [-1, 1], sample rate)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise WavError(f"{path}: file not found") from None
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise WavError(f"{path}: not a RIFF/WAVE file")
    pos, fmt, body = 12, None, None
    while pos + 8 <= len(data):
        kind, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        chunk = data[pos + 8:pos + 8 + size]
        if kind == b"fmt ":
            fmt = chunk
        elif kind == b"data":
            body = chunk
        pos += 8 + size + (size & 1)
    if fmt is None or body is None or len(fmt) < 16:
        raise WavError(f"{path}: WAVE without a 'fmt ' or 'data' chunk")
    tag, channels, rate, _, align, bits = struct.unpack("<HHIIHH", fmt[:16])
    if tag == 0xFFFE and len(fmt) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the real tag opens the sub-format GUID
        tag = struct.unpack("<H", fmt[24:26])[0]
    if channels == 0 or rate == 0 or align == 0:
        raise WavError(f"{path}: 'fmt ' chunk with {channels} channels at {rate} Hz")
    frames = len(body) // align
    raw = body[:frames * align]
    if tag == 1 and bits in (8, 16, 32):
        dtype = {8: "u1", 16: "<i2", 32: "<i4"}[bits]
        x = np.frombuffer(raw, dtype).astype(np.float64)
        x = (x - 128) / 128 if bits == 8 else x / float(2 ** (bits - 1))
    elif tag == 1 and bits == 24:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        x = np.where(v >= 1 << 23, v - (1 << 24), v).astype(np.float64) / float(1 << 23)
    elif tag == 3 and bits in (32, 64):
        x = np.frombuffer(raw, "<f4" if bits == 32 else "<f8").astype(np.float64)
    else:
        raise WavError(f"{path}: WAVE format tag {tag} with {bits}-bit samples; expected PCM 8/16/24/32-bit or "
                       "IEEE float 32/64-bit")
    if align != channels * bits // 8:
        raise WavError(f"{path}: block align {align} does not match {channels} channels of {bits} bits")
    x = x.reshape(-1, channels)
    if not np.isfinite(x).all():
        raise WavError(f"{path}: holds NaN or Inf samples")
    return x, rate


def load_16k_mono(path):
    """Channel 0 of the file at 16 kHz, float32 [N]."""
    from scipy.signal import resample_poly

    x, rate = read_wav(path)
    mono = x[:, 0]
    if rate != RATE:
        g = math.gcd(rate, RATE)
        mono = resample_poly(mono, RATE // g, rate // g)
    return np.ascontiguousarray(mono, np.float32)
