"""A small streaming resampler (windowed sinc, rational ratio) for PCM at rates libopus cannot take.

Output sample ``n`` is the band-limited input evaluated at input time ``n * rate_in / rate_out``: no delay,
so timestamps stay where they were; the first and last ``half_width`` input samples see zeros beyond the
edges. Feeding a signal in chunks of any size gives exactly the output of feeding it at once.
"""

from __future__ import annotations

from math import gcd

import numpy as np


class Resampler:
    """Mono float resampler from ``rate_in`` to ``rate_out`` Hz.

    ``half_width``: zero crossings of the sinc on each side (at the lower of the two rates); 16 gives about
    80 dB of stop-band rejection with the Kaiser window below. ``rolloff``: the pass band ends at this
    fraction of the lower Nyquist frequency.
    """

    def __init__(self, rate_in: int, rate_out: int = 48000, *, half_width: int = 16, rolloff: float = 0.92,
                 beta: float = 8.6):
        if rate_in <= 0 or rate_out <= 0:
            raise ValueError(f"sample rates must be positive (got {rate_in} → {rate_out})")
        g = gcd(rate_in, rate_out)
        self.up, self.down = rate_out // g, rate_in // g
        self.rate_in, self.rate_out = rate_in, rate_out
        # Cut-off in cycles per input sample; downsampling widens the kernel in input samples.
        scale = min(1.0, rate_out / rate_in)
        cutoff = 0.5 * rolloff * scale
        self._reach = int(np.ceil(half_width / scale))            # input samples each side
        taps = np.arange(-self._reach + 1, self._reach + 1)          # offsets from floor(t)
        phases = np.arange(self.up)[:, None] / self.up               # fractional part of t per phase
        x = taps[None, :] - phases                                   # input index − t
        window = np.kaiser(2 * 4096 + 1, beta)
        pos = np.clip(np.abs(x) / self._reach, 0, 1) * 4096
        w = np.interp(pos, np.arange(4097), window[4096:])
        self._table = (2 * cutoff * np.sinc(2 * cutoff * x) * w).astype(np.float64)
        self._taps = taps
        # History: absolute input index of _buf[0] is _base; the stream starts with implicit zeros.
        self._buf = np.zeros(self._reach, dtype=np.float64)
        self._base = -self._reach
        self._received = 0      # input samples fed
        self._produced = 0      # output samples emitted

    @property
    def passthrough(self) -> bool:
        return self.up == self.down

    def _emit(self, available: int) -> np.ndarray:
        """Outputs whose kernel lies within the first `available` absolute input samples."""
        # Output n reads input up to floor(n·down/up) + reach, which must be < available.
        last = ((available - self._reach) * self.up - 1) // self.down
        count = max(0, last - self._produced + 1)
        if count == 0:
            return np.zeros(0, dtype=np.float32)
        n = np.arange(self._produced, self._produced + count)
        t_floor = (n * self.down) // self.up
        phase = (n * self.down) % self.up
        index = t_floor[:, None] + self._taps[None, :] - self._base
        y = np.einsum("ij,ij->i", self._buf[index], self._table[phase])
        self._produced += count
        # Keep only the history later outputs can still reach.
        next_floor = (self._produced * self.down) // self.up
        drop = next_floor - self._reach + 1 - self._base
        if drop > 0:
            self._buf = self._buf[drop:]
            self._base += drop
        return y.astype(np.float32)

    def process(self, samples: np.ndarray) -> np.ndarray:
        """Feeds float samples; returns the output samples that are complete so far."""
        samples = np.asarray(samples, dtype=np.float64).reshape(-1)
        if self.passthrough:
            return samples.astype(np.float32)
        self._buf = np.concatenate([self._buf, samples])
        self._received += len(samples)
        return self._emit(self._received)

    def flush(self) -> np.ndarray:
        """Ends the stream: the remaining outputs (with zeros past the end), ``ceil(n_in·out/in)`` in all."""
        if self.passthrough:
            return np.zeros(0, dtype=np.float32)
        total = -(-self._received * self.up // self.down)
        self._buf = np.concatenate([self._buf, np.zeros(self._reach + 1)])
        out = self._emit(self._received + self._reach + 1)
        out = out[: max(0, len(out) - (self._produced - total))]
        self.reset()
        return out

    def reset(self) -> None:
        """Forgets the stream (a new one starts at time 0)."""
        self._buf = np.zeros(self._reach, dtype=np.float64)
        self._base = -self._reach
        self._received = 0
        self._produced = 0
