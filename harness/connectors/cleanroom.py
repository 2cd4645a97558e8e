"""The clean room every connector process runs in: what it inherits, who it runs as, how it ends.

The connector is code written by someone else, so its process gets only what the connector
protocol gives it: an allow-listed environment (no `HARNESS_*`, `PYTEST_*` or CI tokens), a
private temporary HOME (and TMPDIR), no inherited file descriptors, a session of its own. When
the harness runs as root the process drops every capability and, when the interpreter or
executable is reachable by it, runs as `nobody`: either way `/proc/<harness>/mem`, `environ`
and ptrace are closed to it. Off root, the harness marks itself non-dumpable for the same
effect against a same-uid connector.

The harness is a child subreaper, so a grandchild that calls `setsid` and is orphaned lands
back under the harness instead of init; `Room.kill` ends the connector's whole tree (its
process group, every descendant found through /proc, and every orphan that came back).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

# Names a connector may inherit from the harness: locale, time zone, search path and the CA
# bundle the harness itself was told to trust. Everything else (HARNESS_*, PYTEST_*, CI tokens,
# cloud credentials) stays out.
ALLOWED_ENV = ("PATH", "LANG", "LANGUAGE", "TZ", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE")
ALLOWED_PREFIXES = ("LC_",)
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
UNPRIVILEGED_USER = "nobody"
STDERR_TAIL = 200  # lines of stderr kept for the report
STDERR_LINE = 4096  # characters kept of one stderr line

_PR_SET_CHILD_SUBREAPER = 36
_PR_SET_DUMPABLE = 4
_hardened = False
_hardening = threading.Lock()
_live: set[int] = set()  # pids of connector processes this harness started and still waits for
# Held from a connector process's start until its pid is in `_live`, and while orphans are listed:
# checks run side by side, and a sweep in one thread must not take another thread's process that
# has started but is not yet known for an orphan (it would be SIGKILLed at its first breath).
_spawning = threading.Lock()


def environment(home: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The whole environment of a connector process: the allow-list, its HOME, and `extra`."""
    env = {k: v for k, v in os.environ.items() if k in ALLOWED_ENV or k.startswith(ALLOWED_PREFIXES)}
    env.setdefault("PATH", DEFAULT_PATH)
    env.update(HOME=home, TMPDIR=home, PYTHONDONTWRITEBYTECODE="1")
    env.update(_platform_ca_env())
    env.update(extra or {})
    return env


def _platform_ca_env() -> dict[str, str]:
    """While this process serves the sandbox over TLS, the connector trusts the run's CA the way
    real clients are told to: OpenSSL and httpx read SSL_CERT_FILE, requests REQUESTS_CA_BUNDLE,
    Node NODE_EXTRA_CA_CERTS (see harness/runtime/tls.py)."""
    from harness.runtime.tls import trusted_bundle

    bundle = trusted_bundle()
    if bundle is None:
        return {}
    return {name: str(bundle) for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS")}


def private_home(user: pwd.struct_passwd | None = None) -> str:
    """A fresh private folder for a connector's HOME and TMPDIR, named as any temporary folder
    is (nothing in its path names the harness), owned by the user the connector runs as."""
    home = tempfile.mkdtemp()
    if user is not None:
        os.chown(home, user.pw_uid, user.pw_gid)
    return home


def harden_harness() -> None:
    """Once per harness process: become a child subreaper (orphans of a connector come back to
    us, not to init) and, when not root, non-dumpable (a same-uid connector cannot open our
    /proc/<pid>/mem or environ, nor ptrace us)."""
    global _hardened
    with _hardening:
        if _hardened:
            return
        _hardened = True
        libc = _libc()
        if libc is None:
            return
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        if os.geteuid() != 0:
            libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


def _libc() -> Any:
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl  # noqa: B018 - present on Linux only
        return libc
    return None


class Room:
    """One connector's clean room: a private HOME, the user it runs as, and its processes.

    `popen` starts a process in it; `kill` ends that process with everything it started;
    `close` ends every process still running and removes the private folder.
    """

    def __init__(self, readable: list[Path] | None = None) -> None:
        harden_harness()
        self.user = _unprivileged_user(readable or [])
        self.home = private_home(self.user)
        self.procs: list[subprocess.Popen[Any]] = []

    @property
    def wrapper(self) -> list[str]:
        """What runs in front of the command when the harness is root: setpriv drops every
        capability (and the uid, when the program is reachable by `nobody`)."""
        if os.geteuid() != 0 or shutil.which("setpriv") is None:
            return []
        argv = ["setpriv", "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all"]
        if self.user is not None:
            argv += [f"--reuid={self.user.pw_uid}", f"--regid={self.user.pw_gid}", "--clear-groups"]
        return [*argv, "--"]

    def private_file(self, name: str, text: str) -> Path:
        """A file in the room only the connector's user (and the harness) can read."""
        path = Path(self.home) / name
        path.write_text(text, encoding="utf-8")
        path.chmod(0o600)
        if self.user is not None:
            os.chown(path, self.user.pw_uid, self.user.pw_gid)
        return path

    def popen(
        self, argv: list[str], *, cwd: str | Path, extra_env: dict[str, str] | None = None, **options: Any
    ) -> subprocess.Popen[Any]:
        """Start a connector process in the room: clean environment, no inherited descriptors,
        a session (and process group) of its own, stdout and stderr piped to the harness."""
        options.setdefault("stdout", subprocess.PIPE)
        options.setdefault("stderr", subprocess.PIPE)
        with _spawning:
            proc = subprocess.Popen(
                [*self.wrapper, *argv],
                cwd=cwd,
                env=environment(self.home, extra_env),
                close_fds=True,
                start_new_session=True,
                **options,
            )
            _live.add(proc.pid)
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[Any]) -> None:
        """End the process, its group, every descendant and every orphan it left behind."""
        kill_tree(proc.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        _live.discard(proc.pid)
        sweep_orphans()

    def close(self) -> None:
        for proc in self.procs:
            self.kill(proc)
        self.procs.clear()
        shutil.rmtree(self.home, ignore_errors=True)


def _unprivileged_user(readable: list[Path]) -> pwd.struct_passwd | None:
    """`nobody`, when the harness is root and every path the connector needs is reachable by it."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return None
    try:
        user = pwd.getpwnam(UNPRIVILEGED_USER)
    except KeyError:
        return None
    if all(_reachable(path, user) for path in readable):
        return user
    return None


def _reachable(path: Path, user: pwd.struct_passwd) -> bool:
    """True when `user` (by the other-permission bits, which is what it gets) can reach and
    read the path: every folder on the way is searchable, the path itself readable."""
    path = Path(os.path.realpath(path))
    for folder in [*reversed(path.parents)]:
        with contextlib.suppress(OSError):
            st = folder.stat()
            if not (st.st_mode & 0o001 or (st.st_uid == user.pw_uid and st.st_mode & 0o100)):
                return False
    try:
        st = path.stat()
    except OSError:
        return False
    return bool(st.st_mode & 0o004)


def gone(pid: int) -> bool:
    """The process no longer runs (absent, or a zombie waiting for its parent)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")


def descendants(root: int) -> list[int]:
    """The process and every process it started (by parent pid, as /proc has them)."""
    children: dict[int, list[int]] = {}
    for pid, ppid, _sid in _processes():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def kill_tree(root: int) -> None:
    """SIGKILL the process group of `root` and every descendant, leaf processes included."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(root, signal.SIGKILL)
    pids = descendants(root)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    for pid in pids:
        await_gone(pid)


def await_gone(pid: int, timeout: float = 5.0) -> bool:
    """SIGKILL is delivered asynchronously: wait (bounded) until `pid` has really ended, so a
    closed driver never leaves a connector process running behind its caller's back."""
    deadline = time.monotonic() + timeout
    while not gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def end_leftovers(root: int) -> None:
    """After a call of a process that lives on (the Python worker): end everything it started,
    and every orphan that came back to the harness, but not the process itself."""
    pids = descendants(root)[1:]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    for pid in pids:
        await_gone(pid)
    sweep_orphans()


def sweep_orphans() -> list[int]:
    """Kill and reap the orphans that came back to the harness (we are their subreaper): our
    children in a session other than ours, that we did not start. Returns their pids."""
    me, mine = os.getpid(), os.getsid(0)
    with _spawning:
        found = [pid for pid, ppid, sid in _processes() if ppid == me and sid != mine and pid not in _live]
    for pid in found:
        kill_tree(pid)
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, 0)
    return found


def _processes() -> list[tuple[int, int, int]]:
    """(pid, parent pid, session id) of every process in /proc."""
    out = []
    with contextlib.suppress(OSError):
        for name in os.listdir("/proc"):
            if name.isdigit():
                with contextlib.suppress(OSError, ValueError, IndexError):
                    fd = os.open(f"/proc/{name}/stat", os.O_RDONLY)
                    try:
                        fields = os.read(fd, 1024).rpartition(b")")[2].split()
                    finally:
                        os.close(fd)
                    out.append((int(name), int(fields[1]), int(fields[3])))
    return out


def started(pid: int) -> str:
    """When the process started (clock ticks after boot): with the pid, it names one process."""
    with contextlib.suppress(OSError, IndexError):
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[19]
    return ""


class StderrTail:
    """The last lines a process wrote on stderr, read by a thread; bounded in lines and width,
    so a flood costs the harness nothing but the reading."""

    def __init__(self, stream: Any) -> None:
        self.lines: deque[str] = deque(maxlen=STDERR_TAIL)
        self._fd = stream.fileno()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: Any) -> None:
        pending = b""
        fd = stream.fileno()
        while True:
            try:
                chunk = os.read(fd, 1 << 16)
            except OSError:
                return
            if not chunk:
                if pending:
                    self.lines.append(pending[:STDERR_LINE].decode("utf-8", "replace"))
                return
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                self.lines.append(line[:STDERR_LINE].decode("utf-8", "replace"))
            if len(pending) > STDERR_LINE:
                self.lines.append(pending[:STDERR_LINE].decode("utf-8", "replace") + " [cut]")
                pending = b""

    def settle(self, limit: float = 1.0) -> None:
        """Wait (bounded) until what the process has written so far is read."""
        end = time.monotonic() + limit
        with contextlib.suppress(OSError, ValueError):
            while self._thread.is_alive() and time.monotonic() < end:
                if not select.select([self._fd], [], [], 0)[0]:
                    return
                time.sleep(0.005)

    def join(self, timeout: float = 5) -> None:
        self._thread.join(timeout)

    def text(self) -> str:
        return "\n".join(self.lines)
