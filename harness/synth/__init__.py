"""Deterministic synthetic data: virtual datasets generated from the contract's schemas."""

from harness.synth.cache import RecordCache
from harness.synth.dataset import DEFAULT_CLOCK, Dataset, fit_sizes, id_room
from harness.synth.errors import SynthError
from harness.synth.generator import rfc3339
from harness.synth.overlay import Change, Overlay
from harness.synth.profiles import Profile, load_profiles, profile

__all__ = [
    "DEFAULT_CLOCK",
    "Change",
    "Dataset",
    "Overlay",
    "Profile",
    "RecordCache",
    "SynthError",
    "fit_sizes",
    "id_room",
    "load_profiles",
    "profile",
    "rfc3339",
]
