"""Why a dataset cannot be built: the schema asks for something no generator can satisfy."""

from __future__ import annotations

from harness.core.errors import HarnessError


class SynthError(HarnessError, ValueError):
    """Raised when a dataset is built, never halfway through a sync. Names the schema pointer."""

    def __init__(self, pointer: str, message: str, fix: str) -> None:
        self.pointer, self.message, self.fix = pointer, message, fix
        super().__init__(f"{pointer}: {message}\n  fix: {fix}")
