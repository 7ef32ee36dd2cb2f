"""PCM in any common form → 20 ms Opus packets, each with its duration in 48 kHz samples."""

from __future__ import annotations

import array
from typing import Union

import numpy as np

from .opus import APPLICATION_VOIP, NATIVE_RATES, OpusEncoder
from .resample import Resampler

#: What `send_pcm` accepts: little-endian int16 bytes, or an int16 / float array (1-D, or frames × channels).
PcmLike = Union[bytes, bytearray, memoryview, np.ndarray, array.array, list]

PACKET_48K = 960  # 20 ms


def to_float_mono(pcm: PcmLike, channels: int = 1) -> np.ndarray:
    """Samples as float32 mono in [-1, 1]: int16 is scaled by 1/32768, floats are taken as they are,
    interleaved (or frames × channels) input is averaged over its channels."""
    if isinstance(pcm, (bytes, bytearray, memoryview)):
        raw = bytes(pcm)
        if len(raw) % (2 * channels):
            raise ValueError(f"16-bit PCM with {channels} channel(s) needs a multiple of {2 * channels} bytes, got {len(raw)}")
        data = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    else:
        arr = np.asarray(pcm)
        if arr.dtype == np.int16:
            data = arr.astype(np.float32) / 32768.0
        elif arr.dtype.kind == "f":
            data = arr.astype(np.float32)
        elif arr.dtype.kind in "iu" and arr.size == 0:
            data = arr.astype(np.float32)
        else:
            raise TypeError(f"PCM must be int16 or float samples (or int16 bytes), not {arr.dtype}")
        if data.ndim == 2:
            if data.shape[1] != channels:
                raise ValueError(f"PCM of shape {data.shape} does not have {channels} channel(s) per frame")
            return data.mean(axis=1, dtype=np.float32) if channels > 1 else data[:, 0].copy()
        if data.ndim != 1:
            raise ValueError(f"PCM must be 1-D or frames × channels, got shape {data.shape}")
    if channels > 1:
        if len(data) % channels:
            raise ValueError(f"interleaved PCM with {channels} channels has {len(data)} samples")
        data = data.reshape(-1, channels).mean(axis=1, dtype=np.float32)
    return data


class PcmEncoder:
    """Cuts a PCM stream at ``sample_rate`` into 20 ms Opus packets.

    Rates libopus takes (8, 12, 16, 24, 48 kHz) are encoded directly; any other rate (11.025, 22.05, 32,
    44.1, 96 kHz, ...) goes through :class:`Resampler` to 48 kHz first. Every packet covers 960 samples of
    the 48 kHz timeline whatever the input rate.
    """

    def __init__(self, sample_rate: int, *, channels: int = 1, bitrate: int | None = 32000,
                 application: int = APPLICATION_VOIP):
        if channels < 1:
            raise ValueError(f"channels must be ≥ 1, got {channels}")
        self.sample_rate = sample_rate
        self.channels = channels
        self.encode_rate = sample_rate if sample_rate in NATIVE_RATES else 48000
        self._resampler = None if sample_rate in NATIVE_RATES else Resampler(sample_rate, 48000)
        self._encoder = OpusEncoder(self.encode_rate, application=application, bitrate=bitrate)
        self._frame = self.encode_rate // 50
        self._pending = np.zeros(0, dtype=np.float32)

    @property
    def buffered_samples(self) -> int:
        """Samples (at the encoder's rate) waiting for a full 20 ms frame."""
        return len(self._pending)

    def encode(self, pcm: PcmLike) -> list[bytes]:
        """Feeds PCM; returns the packets completed by it (each 20 ms)."""
        data = to_float_mono(pcm, self.channels)
        if self._resampler is not None:
            data = self._resampler.process(data)
        return self._cut(data)

    def flush(self) -> list[bytes]:
        """Ends an utterance: the resampler's tail and the last partial frame (padded with silence)."""
        tail = self._resampler.flush() if self._resampler is not None else np.zeros(0, dtype=np.float32)
        packets = self._cut(tail)
        if len(self._pending):
            frame = np.zeros(self._frame, dtype=np.float32)
            frame[: len(self._pending)] = self._pending
            self._pending = np.zeros(0, dtype=np.float32)
            packets.append(self._encoder.encode(frame))
        return packets

    def reset(self) -> None:
        """Drops buffered audio (after an interrupt: it belonged to the interrupted speech)."""
        self._pending = np.zeros(0, dtype=np.float32)
        if self._resampler is not None:
            self._resampler.reset()

    def _cut(self, data: np.ndarray) -> list[bytes]:
        if len(self._pending):
            data = np.concatenate([self._pending, data])
        n = len(data) // self._frame
        packets = [self._encoder.encode(data[i * self._frame:(i + 1) * self._frame]) for i in range(n)]
        self._pending = data[n * self._frame:].copy()
        return packets

    def close(self) -> None:
        self._encoder.close()
