"""Build hook: the wheel carries the reference contract and the dataset profiles.

The one source of truth is `contracts/` and `fixtures/profiles.toml` at the project root. An
installed harness (a wheel, the container image) has no project root, so `build_py` copies them
into `harness/_bundled/` inside the build directory, never into the source tree.
`default_contract_path()` and `profiles_path()` look in the project root first, then there.
Everything else about the package is declared in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


def bundled_sources() -> list[Path]:
    files = sorted(p for p in (ROOT / "contracts").iterdir() if p.is_file())
    return [*files, ROOT / "fixtures" / "profiles.toml"]


class BuildPyWithBundled(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):  # an editable install reads the project root itself
            return
        target = Path(self.build_lib) / "harness" / "_bundled"
        target.mkdir(parents=True, exist_ok=True)
        for source in bundled_sources():
            shutil.copy2(source, target / source.name)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = super().get_outputs(include_bytecode)
        if getattr(self, "editable_mode", False):
            return outputs
        target = Path(self.build_lib) / "harness" / "_bundled"
        return [*outputs, *(str(target / s.name) for s in bundled_sources())]


setup(cmdclass={"build_py": BuildPyWithBundled})
