"""`harness image build`: the sandbox's container image, from the project's Dockerfile.

The image installs the harness from wheels only, so the build needs no network: first
`pip wheel` makes a wheelhouse of the harness and all its dependencies on this machine (which
can reach the package index), in a temporary folder that becomes the build context; then
`docker build --network none` runs the Dockerfile over it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from harness import __version__
from harness.core.errors import HarnessError
from harness.runtime.container import DEFAULT_IMAGE

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENGINE_TIMEOUT = 30


class ImageError(HarnessError, RuntimeError):
    """The image cannot be built; the message says why and what to do."""


def project_root() -> Path:
    """The connector-harness checkout this harness runs from: its Dockerfile and sources."""
    if (PROJECT_ROOT / "Dockerfile").is_file() and (PROJECT_ROOT / "pyproject.toml").is_file():
        return PROJECT_ROOT
    raise ImageError(
        f"no Dockerfile beside this harness ({PROJECT_ROOT}): the image is built from a "
        "connector-harness checkout; install the harness from one (pip install -e .) and run this again"
    )


def check_engine() -> None:
    """Fail with a clear reason unless the docker CLI is installed and its engine answers."""
    if shutil.which("docker") is None:
        raise ImageError("docker is not installed: install Docker and start it, then run this again")
    try:
        probe = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=ENGINE_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        raise ImageError(
            f"the Docker engine did not answer within {ENGINE_TIMEOUT} s: is it running?"
        ) from None
    if probe.returncode != 0:
        lines = [line for line in (probe.stderr or probe.stdout).splitlines() if line.strip()]
        reason = lines[-1].strip() if lines else f"docker info exited {probe.returncode}"
        raise ImageError(f"the Docker engine is not running ({reason}): start Docker, then run this again")


# Dependencies that only the image's Python needs: Debian 12's python3 is 3.11.2, and redis-py
# requires async-timeout below 3.11.3, a marker this machine's newer Python does not meet.
IMAGE_ONLY = ("async-timeout>=4.0.3",)


def build_wheelhouse(root: Path, wheelhouse: Path) -> None:
    """Wheels of the harness, its dependencies and pip itself (for a base without ensurepip)."""
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check"]
    command += ["--wheel-dir", str(wheelhouse), str(root), "pip", *IMAGE_ONLY]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise ImageError(f"pip wheel failed (exit {done.returncode}):\n{tail}")


def build_image(base_image: str | None = None, tag: str | None = None) -> str:
    """Build the image; docker's own progress goes to stderr. Returns the tag."""
    tag = tag or DEFAULT_IMAGE
    root = project_root()
    check_engine()
    with tempfile.TemporaryDirectory(prefix="harness-image-") as tmp:
        context = Path(tmp)
        print(f"harness: building wheels of connector-harness {__version__} in {context}", file=sys.stderr)
        build_wheelhouse(root, context / "wheelhouse")
        command = ["docker", "build", "--network", "none", "--tag", tag, "--file", str(root / "Dockerfile")]
        command += ["--label", f"dev.connector-harness.version={__version__}"]
        if base_image:
            command += ["--build-arg", f"BASE_IMAGE={base_image}"]
        command.append(str(context))
        print(f"harness: {' '.join(command)}", file=sys.stderr, flush=True)
        done = subprocess.run(command, stdout=sys.stderr, stderr=sys.stderr)
    if done.returncode != 0:
        hint = f" (is the base image {base_image} there? docker image ls)" if base_image else ""
        raise ImageError(f"docker build failed (exit {done.returncode}){hint}; its output is above")
    return tag


def build_command(base_image: str | None, tag: str | None) -> int:
    try:
        built = build_image(base_image, tag)
    except ImageError as exc:
        print(f"harness: {exc}", file=sys.stderr)
        return 1
    print(f"built {built}")
    return 0
