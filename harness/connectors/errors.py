"""What can go wrong when the harness drives a connector, each kind distinct for the report."""

from __future__ import annotations

from harness.core.errors import HarnessError


class ConnectorLoadError(HarnessError, RuntimeError):
    """The connector could not be built (import error, missing class, bad constructor)."""


class ConnectorFailed(HarnessError, RuntimeError):
    """A connector call raised. Keeps the exception and its traceback text for evidence."""

    def __init__(self, call: str, error: BaseException, traceback_text: str = "") -> None:
        self.call, self.error, self.traceback_text = call, error, traceback_text
        where = _where(traceback_text)
        super().__init__(f"{call} raised {type(error).__name__}: {error}" + (f"\n  {where}" if where else ""))


def _where(text: str) -> str:
    """The line a report needs from a traceback or stderr tail: the innermost frame (file and
    line) of a Python traceback, else the last lines the process wrote on stderr."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    frames = [line for line in lines if line.startswith('File "')]
    if frames:
        return f"at {frames[-1]}"
    if lines:
        return f"stderr: {' | '.join(lines[-3:])[:400]}"
    return ""


class ConnectorTimeout(HarnessError, RuntimeError):
    """A connector call ran past its time limit (it may hang, or loop over the same page)."""

    traceback_text = ""  # a hang has no traceback: the call was ended from outside

    def __init__(self, call: str, seconds: float) -> None:
        self.call, self.seconds = call, seconds
        super().__init__(f"{call} did not finish within {seconds:g} s")


class RemoteError(HarnessError):
    """An exception raised in a connector's own process, known by its type name and message."""


_remote_types: dict[str, type[RemoteError]] = {}


def remote_error(reply: dict[str, object]) -> RemoteError:
    """The worker's ERROR reply as an exception whose type is named like the connector's own
    (a `ValueError` raised by the connector reads `ValueError: ...` in the report)."""
    name = str(reply.get("error") or "Error")
    if not name.isidentifier():
        name = "Error"
    cls = _remote_types.setdefault(name, type(name, (RemoteError,), {"__module__": "connector"}))
    return cls(str(reply.get("message", "")))
