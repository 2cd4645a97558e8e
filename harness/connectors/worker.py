"""The worker process a Python connector runs in: `python -m harness.connectors.worker`.

The harness never imports a connector's code. It starts this module in the connector's clean
room (harness/connectors/cleanroom.py) as a zygote: stdin is the harness's end of a
SOCK_SEQPACKET socketpair, one datagram a message.

    harness -> zygote   {"op": "load", "python": "pkg.mod:Cls", "path": [...], "more_path": [...]}
                        {"op": "fork", "home": DIR}  + three descriptors (requests, replies, stderr)
    zygote -> harness   {"type": "LOADED"} | {"type": "ERROR", ...} | {"type": "FORKED", "pid": N}

Each fork is one driver's worker, in a session of its own with HOME and TMPDIR set to DIR; it
speaks JSON lines over the two pipes, and its stdout and stderr both go to the stderr pipe, so
the connector's prints never mix with the protocol.

    harness -> worker   {"op": "init", "config": {...}}
                        {"op": "call", "name": "sync", "args": [state]}
                        (also check, push, handle_webhook with a base64 body, and close)
    worker -> harness   {"type": "READY", "push": bool, "webhooks": bool}
                        RECORD / DELETE / STATE / LOG lines, as a command connector prints them
                        (the connector's `logging` records are LOG lines too, extras as fields)
                        {"type": "EGRESS", "host": ..., "port": ..., "event": ...}
                        {"type": "RESULT", "value": ..., "peak_kib": N}
                        {"type": "ERROR", "error": "ValueError", "message": ..., "traceback": ...}
                        {"type": "EXIT", "status": N, "traceback": ...}   (os._exit in the connector)
                        {"type": "SPAWNED", "event": ...}   (once: it started a process, or used ctypes)
                        {"type": "BLIND", "event": ...}   (once each: what hides connections from the hook)

Only the standard library is imported here, so a worker's memory is the connector's.
Connections to hosts other than the platform (the hosts of the config's `base_url` and
`token_url`, and loopback) are refused by an audit hook and reported as EGRESS, whatever Python
client makes them: TCP connects, UDP datagrams (sendto, sendmsg) and name lookups. What the hook
cannot see is reported as BLIND instead of guessed at: a process the connector starts, ctypes
reaching socket functions or a non-system library, and native network clients that open their
own sockets (pycurl, uvloop, grpc, ...).
"""

from __future__ import annotations

import base64
import contextlib
import importlib
import ipaddress
import json
import logging
import os
import re
import signal
import socket
import sys
import threading
import traceback
from typing import Any
from urllib.parse import urlsplit

_send_lock = threading.Lock()
_out: Any = None
_allowed_hosts: set[str] = {"localhost"}
# the config keys the harness fills with the platform's URLs; a URL the manifest adds (a
# telemetry endpoint in [connector.config], say) is not the platform
PLATFORM_URL_KEYS = ("base_url", "token_url")
# importable clients whose C code opens sockets without Python's socket module (no audit event)
NATIVE_NETWORK = (
    "pycurl",
    "uvloop",
    "grpc",
    "zmq",
    "curl_cffi",
    "pyuv",
    "gevent.libuv",
    "tornado.curl_httpclient",
)
_blind_reported: set[str] = set()
# libraries of the C runtime a connector's dependencies load through ctypes for other reasons
SYSTEM_LIBRARY = re.compile(r"lib(c|pthread|m|dl|rt|gcc_s|uuid|util)(-[0-9.]+)?\.so(\.[0-9]+)*")
SOCKET_FUNCTIONS = {"connect", "sendto", "sendmsg", "sendmmsg", "getaddrinfo", "gethostbyname", "socket"}
_real_exit = os._exit


def send(message: dict[str, Any]) -> None:
    if message.get("type") in ("RESULT", "ERROR"):
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError, AttributeError):
                stream.flush()
    line = json.dumps(message, default=str, ensure_ascii=False)
    with _send_lock:
        _out.write(line + "\n")
        _out.flush()


class Sink:
    """What the connector writes into: every call becomes a message to the harness's replica."""

    def upsert(self, stream: str, record: dict[str, Any]) -> None:
        send({"type": "RECORD", "stream": stream, "record": record})

    def delete(self, stream: str, record_id: Any) -> None:
        send({"type": "DELETE", "stream": stream, "id": record_id})

    def checkpoint(self, state: Any) -> None:
        send({"type": "STATE", "value": state})

    def log(self, level: str, message: str, **fields: Any) -> None:
        send({**fields, "type": "LOG", "level": level, "message": message})


_own_paths: tuple[str, ...] = ()  # the connector's folders (manifest and python_path), real paths
_own_files: dict[str, bool] = {}
_RECORD_ATTRS = {*logging.LogRecord("", 0, "", 0, "", (), None).__dict__, "message", "asctime", "taskName"}


class _ForwardLogging(logging.Handler):
    """Python `logging` records as LOG messages, with their extras (`extra={...}`): structured
    by construction. The connector's own records from INFO on (or the level it sets); other
    libraries' (httpx, urllib3) from WARNING on, as Python's last-resort handler would print them."""

    def emit(self, record: logging.LogRecord) -> None:
        own = _own_files.get(record.pathname)
        if own is None:
            real = os.path.realpath(record.pathname)
            own = _own_files[record.pathname] = any(real.startswith(p + os.sep) for p in _own_paths)
        if not own and record.levelno < logging.WARNING:
            return
        try:
            fields = {k: v for k, v in record.__dict__.items() if k not in _RECORD_ATTRS}
            if record.exc_info:
                fields["exception"] = logging.Formatter().formatException(record.exc_info)
            message = record.getMessage()
        except Exception:  # a bad format string: what Handler.handleError would report
            fields, message = {}, str(record.msg)
        send(
            {
                **fields,
                "type": "LOG",
                "level": record.levelname.lower(),
                "message": message,
                "logger": record.name,
            }
        )


def _forward_logging() -> None:
    root = logging.getLogger()
    if root.level == logging.WARNING and not root.handlers:  # logging left unconfigured: the
        root.setLevel(logging.INFO)  # harness, as the host, takes records from INFO on
    root.addHandler(_ForwardLogging())
    logging.captureWarnings(True)


def _is_platform(host: Any) -> bool:
    if not isinstance(host, str):
        return True  # AF_UNIX paths and the like are not egress
    if host in _allowed_hosts:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


SPAWNS = ("os.fork", "os.forkpty", "os.posix_spawn", "os.spawn", "os.exec", "os.system", "subprocess.Popen")
_spawned = False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    global _spawned
    if not _spawned and (event in SPAWNS or event.startswith("ctypes.")) and not isinstance(_out, _Control):
        _spawned = True  # from now on the harness ends this worker's leftovers after every call
        send({"type": "SPAWNED", "event": event})
    if isinstance(_out, _Control):
        pass  # the zygote: importing the connector, before any call
    elif any(event.startswith(s) for s in SPAWNS) and event not in _blind_reported and not _finding_library():
        _blind_reported.add(event)  # a process of its own: its connections are its own
        send({"type": "BLIND", "event": event})
    elif event in ("ctypes.dlopen", "ctypes.dlsym", "ctypes.dlsym/handle"):
        _native_call(event, args)
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        address = args[1]  # sendto/sendmsg on a connected socket pass None: its connect was seen
        pair = isinstance(address, tuple) and len(address) >= 2
        host, port = (address[0], address[1]) if pair else (None, None)
    elif event == "socket.getaddrinfo":
        host, port = args[0], args[1]
    elif event in ("socket.gethostbyname", "socket.gethostbyname_ex", "socket.gethostbyaddr"):
        host, port = args[0], None
    elif event == "socket.getnameinfo":
        address = args[0]
        pair = isinstance(address, tuple) and len(address) >= 2
        host, port = (address[0], address[1]) if pair else (None, None)
    else:
        return
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if host is None or _is_platform(host):
        return
    send({"type": "EGRESS", "host": host, "port": port, "event": event})
    raise ConnectionRefusedError(f"egress to {host} is blocked under certification")


_CTYPES_UTIL = os.path.join(os.path.dirname(os.__file__), "ctypes", "util.py")


def _finding_library() -> bool:
    """Is the process being started by the standard library's `ctypes.util.find_library` (ldconfig,
    gcc or ld with fixed arguments, as trio's import does)? Those make no connections."""
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename == _CTYPES_UTIL:
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


def _native_call(event: str, args: tuple[Any, ...]) -> None:
    """ctypes can reach the C library's connect() or a native HTTP client, unseen by this hook:
    loading a library that is not part of the C runtime, or looking up a socket function, is
    reported (once each) as BLIND. Naming a thread through libpthread, as trio does, is not."""
    if event == "ctypes.dlopen":
        name = os.path.basename(str(args[0])) if args and args[0] is not None else ""
        risky = bool(name) and not SYSTEM_LIBRARY.match(name)
        what = f"ctypes loading {name}"
    else:
        name = args[1] if len(args) > 1 else ""
        name = name.decode("ascii", "replace") if isinstance(name, bytes) else str(name)
        risky = name in SOCKET_FUNCTIONS
        what = f"ctypes calling {name}()"
    if risky and what not in _blind_reported:
        _blind_reported.add(what)
        send({"type": "BLIND", "event": what})


def _report_blind() -> None:
    """Say once which native network clients the connector has imported: their sockets are
    opened by C code that raises no audit event, so their connections go unseen."""
    for name in NATIVE_NETWORK:
        if name in sys.modules and name not in _blind_reported:
            _blind_reported.add(name)
            send({"type": "BLIND", "event": f"import {name}"})


def _exit(status: int = 0) -> None:
    """os._exit as the connector sees it: say where it was called from, then exit."""
    try:
        send({"type": "EXIT", "status": status, "traceback": "".join(traceback.format_stack()[:-1])})
    finally:
        _real_exit(status)


def _error(exc: BaseException) -> dict[str, Any]:
    return {
        "type": "ERROR",
        "error": type(exc).__name__,
        "message": str(exc),
        "traceback": "".join(traceback.format_exception(exc)),
    }


def _peak_kib() -> int:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _load(spec: dict[str, Any]) -> Any:
    global _own_paths
    _own_paths = tuple(os.path.realpath(p) for p in spec.get("path", []))
    for folder in reversed(spec.get("path", [])):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    sys.path.extend(p for p in spec.get("more_path", []) if p not in sys.path)
    module_name, _, attr = spec["python"].partition(":")
    target: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        if not hasattr(target, part):
            raise AttributeError(f"module {module_name!r} has no {attr!r}")
        target = getattr(target, part)
    if not callable(target):
        raise TypeError(f"{spec['python']} is not a class")
    return target


def _call(instance: Any, name: str, args: list[Any]) -> Any:
    if name == "handle_webhook":
        headers, body = args
        return int(instance.handle_webhook(headers, base64.b64decode(body)))
    method = getattr(instance, name, None)
    if name == "close" and not callable(method):
        return None
    if not callable(method):
        raise AttributeError(f"the connector has no {name}()")
    return method(*args)


def serve(inp: Any, cls: Any) -> None:
    """A worker's life: build the connector from its config, then answer calls until close."""
    instance = None
    for line in inp:
        request = json.loads(line)
        op = request["op"]
        try:
            if op == "init":
                config = request["config"]
                for key in PLATFORM_URL_KEYS:
                    value = config.get(key)
                    if isinstance(value, str) and "://" in value:
                        _allowed_hosts.add(urlsplit(value).hostname or "")
                _forward_logging()
                instance = cls(config, Sink())
                send(
                    {
                        "type": "READY",
                        "push": callable(getattr(instance, "push", None)),
                        "webhooks": callable(getattr(instance, "handle_webhook", None)),
                    }
                )
            else:
                try:
                    value = _call(instance, request["name"], request.get("args", []))
                finally:
                    _report_blind()
                send({"type": "RESULT", "value": value, "peak_kib": _peak_kib()})
                if request["name"] == "close":
                    break
        except BaseException as exc:  # the connector's failure is evidence for the harness
            send({**_error(exc), "phase": op})
    _real_exit(0)  # threads the connector left running end with the worker


class _Control:
    """The zygote's channel to the harness: one datagram a message (SOCK_SEQPACKET)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def write(self, line: str) -> None:
        self.sock.send(line.encode())

    def flush(self) -> None:
        pass


def zygote(control: socket.socket) -> None:
    """Import the connector once, then fork a worker per driver: a fork costs milliseconds
    where a fresh interpreter importing the connector costs a large part of a second.

    A fork request carries three descriptors (the worker's requests, its replies, its stderr)
    and the path of its private HOME; the worker gets a session of its own."""
    global _out, _spawned
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # forked workers are reaped by the kernel
    _out = _Control(control)
    cls = None
    while True:
        data, fds, _flags, _addr = socket.recv_fds(control, 1 << 20, 3)
        if not data:
            _real_exit(0)  # the harness is gone
        request = json.loads(data)
        if request["op"] == "load":
            try:
                cls = _load(request)
            except BaseException as exc:
                send({**_error(exc), "phase": "load"})
                _real_exit(0)
            send({"type": "LOADED"})
            continue
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            control.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            os.setsid()
            requests, replies, stderr = fds
            os.dup2(stderr, 1)
            os.dup2(stderr, 2)
            os.close(stderr)
            os.environ["HOME"] = os.environ["TMPDIR"] = request["home"]
            os.chdir(request["home"])
            _spawned = False  # the zygote's own fork is not the connector's
            _out = os.fdopen(replies, "w", encoding="utf-8")
            serve(os.fdopen(requests, "r", encoding="utf-8"), cls)
        for fd in fds:
            os.close(fd)
        send({"type": "FORKED", "pid": pid})


def main() -> None:
    control = socket.socket(fileno=os.dup(0))  # stdin is the harness's end of a socketpair
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)  # the connector's prints land on stderr, the protocol channels stay clean
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    os.chdir(os.environ.get("HOME", "/"))
    os._exit = _exit  # type: ignore[assignment]
    sys.addaudithook(_audit)
    zygote(control)


if __name__ == "__main__":
    main()
