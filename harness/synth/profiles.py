"""Dataset profiles: named shapes of data (sizes, nulls, locale, extremes) kept in fixtures/."""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

from harness.contract import Contract
from harness.synth.errors import SynthError

KEYS = {"description", "default_size", "sizes", "null_share", "locale", "edge", "window_days"}


@dataclass(frozen=True)
class Profile:
    name: str
    description: str = ""
    default_size: int = 100
    sizes: dict[str, int] = field(default_factory=dict)
    null_share: float = 0.1
    locale: str = "en_US"
    edge: float = 0.0
    window_days: int = 365

    def dataset_options(self, contract: Contract, sizes: dict[str, int] | None = None) -> dict[str, Any]:
        """Keyword arguments for Dataset: the profile's sizes for this contract, then overrides."""
        resolved = {name: self.sizes.get(name, self.default_size) for name in contract.collections}
        resolved.update(sizes or {})
        return {
            "sizes": resolved,
            "null_share": self.null_share,
            "locale": self.locale,
            "edge": self.edge,
            "window": timedelta(days=self.window_days),
        }


def profiles_path() -> Path:
    here = Path(__file__).resolve().parent.parent
    for candidate in (here.parent / "fixtures", here / "_bundled"):
        if (candidate / "profiles.toml").is_file():
            return candidate / "profiles.toml"
    raise FileNotFoundError("fixtures/profiles.toml is missing")


@cache
def load_profiles(path: Path | None = None) -> dict[str, Profile]:
    path = path or profiles_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SynthError("", f"{path} is not valid TOML: {exc}", "fix the syntax") from None
    out = {}
    for name, table in data.items():
        unknown = set(table) - KEYS
        if unknown:
            raise SynthError("", f"{path} [{name}] has unknown keys {sorted(unknown)}", f"use {sorted(KEYS)}")
        if not 0 <= float(table.get("null_share", 0)) <= 1 or not 0 <= float(table.get("edge", 0)) <= 1:
            raise SynthError(
                "",
                f"{path} [{name}]: null_share and edge are shares between 0 and 1",
                "use a number from 0 to 1",
            )
        out[name] = Profile(name=name, **table)
    return out


def profile(name: str) -> Profile:
    profiles = load_profiles()
    if name not in profiles:
        close = difflib.get_close_matches(name, list(profiles), n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"use one of {', '.join(profiles)}"
        raise SynthError("", f"no dataset profile named {name!r}", hint)
    return profiles[name]
