"""Deterministic synthetic data: virtual datasets generated from the contract's schemas."""

from harness.synth.dataset import DEFAULT_CLOCK, Dataset
from harness.synth.errors import SynthError
from harness.synth.generator import rfc3339

__all__ = ["DEFAULT_CLOCK", "Dataset", "SynthError", "rfc3339"]
