"""A fork server that makes each mutant's test run cheap (tools/mutation.sh).

``serve SOCKET``
    import torch, numpy, scipy, captum and pytest once, then for each request
    fork a child that runs ``pytest.main(args)`` in the request's folder; the
    child imports ``captum_lam`` afresh from disk, so it sees the mutant.
``run SOCKET ARGS...``
    the test command cosmic-ray runs: send ARGS, print the child's output,
    exit with its status.  A killed client (cosmic-ray's timeout) kills the
    child.

Under load, starting Python with torch costs 5 to 10 s, more than most of the
tests a mutant is run against; forking skips it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time


def _serve(path: str) -> None:
    import captum.attr  # noqa: F401
    import numpy  # noqa: F401
    import pytest  # noqa: F401
    import scipy.special  # noqa: F401
    import skimage.data  # noqa: F401
    import torch  # noqa: F401

    if os.path.exists(path):
        os.unlink(path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    while True:
        conn, _ = server.accept()
        with conn:
            request = json.loads(conn.makefile().readline())
            if request == "stop":
                return
            _one_run(conn, request)


def _one_run(conn: socket.socket, request: dict) -> None:
    out = f"{request['cwd']}/.mutation-run.log"
    pid = os.fork()
    if pid == 0:
        os.setsid()
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.chdir(request["cwd"])
        sys.dont_write_bytecode = True
        sys.path.insert(0, request["cwd"])
        import pytest

        os._exit(int(pytest.main(request["args"])))
    conn.setblocking(False)
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        try:
            if conn.recv(1, socket.MSG_PEEK) == b"":
                raise ConnectionError
        except BlockingIOError:
            pass
        except OSError:
            os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return
        time.sleep(0.05)
    conn.setblocking(True)
    code = os.waitstatus_to_exitcode(status)
    with open(out, errors="replace") as log:
        text = log.read()
    conn.sendall(json.dumps({"code": code, "output": text}).encode() + b"\n")


def _request(path: str, message: object) -> dict | None:
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(path)
    with client:
        client.sendall(json.dumps(message).encode() + b"\n")
        line = client.makefile().readline()
    return json.loads(line) if line else None


if __name__ == "__main__":
    command, path, *args = sys.argv[1:]
    if command == "serve":
        _serve(path)
    elif command == "stop":
        _request(path, "stop")
    elif command == "run":
        reply = _request(path, {"cwd": os.getcwd(), "args": args})
        print(reply["output"])
        sys.exit(reply["code"])
    else:
        raise SystemExit(f"unknown command {command!r}: serve, run or stop")
