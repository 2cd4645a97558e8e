"""What can go wrong when the harness drives a connector, each kind distinct for the report."""

from __future__ import annotations


class ConnectorLoadError(RuntimeError):
    """The connector could not be built (import error, missing class, bad constructor)."""


class ConnectorFailed(RuntimeError):
    """A connector call raised. Keeps the exception and its traceback text for evidence."""

    def __init__(self, call: str, error: BaseException, traceback_text: str = "") -> None:
        self.call, self.error, self.traceback_text = call, error, traceback_text
        super().__init__(f"{call} raised {type(error).__name__}: {error}")


class ConnectorTimeout(RuntimeError):
    """A connector call ran past its time limit (it may hang, or loop over the same page)."""

    def __init__(self, call: str, seconds: float) -> None:
        self.call, self.seconds = call, seconds
        super().__init__(f"{call} did not finish within {seconds:g} s")
