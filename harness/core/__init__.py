"""The evidence layer: typed records of what the sandbox saw, at the bottom of every other layer.

The sandbox produces this evidence as JSON, `runtime.handle` parses it into these types, and
checks judge them. Nothing here imports from the rest of the package, so a check's judgement can
be tested from hand-built evidence without a sandbox.
"""

from harness.core.capabilities import Capabilities
from harness.core.changes import ChangeEvent, last_kinds, singular
from harness.core.faults import FAULT_KINDS, Fault
from harness.core.memory import PeakMemory
from harness.core.requests import Auth, LoggedRequest, RequestLog, RequestViolation
from harness.core.signing import TAMPERINGS, new_secret, sign, tamper
from harness.core.waits import CpuWaits

__all__ = [
    "FAULT_KINDS",
    "TAMPERINGS",
    "Auth",
    "Capabilities",
    "ChangeEvent",
    "CpuWaits",
    "Fault",
    "LoggedRequest",
    "PeakMemory",
    "RequestLog",
    "RequestViolation",
    "last_kinds",
    "new_secret",
    "sign",
    "singular",
    "tamper",
]
