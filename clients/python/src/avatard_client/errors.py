"""Typed errors: one exception class per protocol v1 close code, so callers can catch what they handle."""

from __future__ import annotations


class AvatardError(Exception):
    """Base class of everything this package raises on purpose."""


class LibopusUnavailable(AvatardError, OSError):
    """The system libopus could not be loaded (Debian: `apt-get install libopus0`)."""


class OpusCodecError(AvatardError):
    """libopus refused a call (its own error string is in the message)."""


class HandshakeError(AvatardError):
    """The WebSocket upgrade was refused with an HTTP status (400: subprotocol, 404: path, ...)."""

    def __init__(self, status: int, body: str = ""):
        self.status = status
        self.body = body
        super().__init__(f"avatard refused the WebSocket upgrade: HTTP {status}" + (f": {body.strip()}" if body.strip() else ""))


class AuthenticationError(HandshakeError):
    """HTTP 401 before the upgrade: the token is missing or wrong."""


class ConnectError(AvatardError, ConnectionError):
    """avatard could not be reached at all (refused, unreachable, timed out)."""


class SessionError(AvatardError):
    """The server ended the session with an error.

    ``code`` is the WebSocket close code (4005, 1008, ...; 1006 when the connection dropped without a close
    frame), ``name`` the protocol's code name (``unknown_avatar``, ...) and ``message`` the server's text.
    """

    code: int = 0
    name: str = ""

    def __init__(self, message: str = "", *, code: int | None = None, name: str | None = None):
        if code is not None:
            self.code = code
        if name is not None:
            self.name = name
        self.message = message
        super().__init__(f"{self.name or 'closed'} ({self.code}): {message}" if message else f"{self.name or 'closed'} ({self.code})")


class GoingAway(SessionError):
    code, name = 1001, "going_away"


class PolicyViolation(SessionError):
    code, name = 1008, "policy"


class MessageTooBig(SessionError):
    code, name = 1009, "too_big"


class InternalServerError(SessionError):
    code, name = 1011, "internal"


class ProtocolViolation(SessionError):
    code, name = 4000, "protocol"


class Unsupported(SessionError):
    code, name = 4001, "unsupported"


class CapacityReached(SessionError):
    code, name = 4002, "capacity"


class IdleTimeout(SessionError):
    code, name = 4003, "idle_timeout"


class OutputFailed(SessionError):
    code, name = 4004, "output_failed"


class UnknownAvatar(SessionError):
    code, name = 4005, "unknown_avatar"


class UnknownOutput(SessionError):
    code, name = 4006, "unknown_output"


class ConnectionLost(SessionError):
    """The connection ended without a protocol close (network failure, daemon killed)."""

    code, name = 1006, "connection_lost"


_BY_NAME = {cls.name: cls for cls in (GoingAway, PolicyViolation, MessageTooBig, InternalServerError,
                                      ProtocolViolation, Unsupported, CapacityReached, IdleTimeout,
                                      OutputFailed, UnknownAvatar, UnknownOutput)}
_BY_CODE = {cls.code: cls for cls in _BY_NAME.values()}


def session_error(code: int | None, name: str | None, message: str = "") -> SessionError:
    """The exception for a close: by the `error` message's code name, else by the close code."""
    cls = _BY_NAME.get(name or "") or _BY_CODE.get(code or 0)
    if cls is not None:
        return cls(message, code=code if code not in (None, 1005, 1006) else cls.code)
    if code in (None, 1005, 1006):
        return ConnectionLost(message or "the connection closed without a close code")
    return SessionError(message, code=code, name=name or "")
