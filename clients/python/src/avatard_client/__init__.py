"""avatard-client: stream speech to an avatard daemon (protocol v1) from asyncio Python.

    import asyncio, avatard_client

    async def main():
        async with await avatard_client.connect("ws://127.0.0.1:8080/v1/session",
                                                avatar="demo", output="file-mp4") as session:
            await session.send_pcm(pcm_int16_bytes, sample_rate=24000)
        print(session.ended)

The Pipecat processor lives in ``avatard_client.pipecat`` (install the ``pipecat`` extra).
Importing this package loads nothing from the network or the system: libopus is loaded on first use.
"""

from .audio import PcmEncoder
from .errors import (AuthenticationError, AvatardError, CapacityReached, ConnectError, ConnectionLost,
                     GoingAway, HandshakeError, IdleTimeout, InternalServerError, LibopusUnavailable,
                     MessageTooBig, OpusCodecError, OutputFailed, PolicyViolation, ProtocolViolation,
                     SessionError, UnknownAvatar, UnknownOutput, Unsupported)
from .opus import OpusDecoder, OpusEncoder, packet_duration_48k
from .protocol import Ended, ErrorEvent, Event, Interrupted, Ready, Stats, UnknownEvent, audio_frame, parse_audio_frame
from .resample import Resampler
from .session import DEFAULT_URL, Session, connect

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_URL", "Session", "connect", "PcmEncoder", "Resampler", "OpusEncoder", "OpusDecoder",
    "packet_duration_48k", "audio_frame", "parse_audio_frame",
    "Event", "Ready", "Stats", "Interrupted", "Ended", "ErrorEvent", "UnknownEvent",
    "AvatardError", "LibopusUnavailable", "OpusCodecError", "HandshakeError", "AuthenticationError",
    "ConnectError", "SessionError", "GoingAway", "PolicyViolation", "MessageTooBig", "InternalServerError",
    "ProtocolViolation", "Unsupported", "CapacityReached", "IdleTimeout", "OutputFailed", "UnknownAvatar",
    "UnknownOutput", "ConnectionLost",
]
