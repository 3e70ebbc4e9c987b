#!/usr/bin/env python3
"""Run a command under a child subreaper that reaps every orphan at once.

    reaper.py CMD [ARGS...]

On this machine PID 1 does not reap orphans, so a detached container's init
(whose parent, the runtime's `create`, has exited) would stay a zombie and
`delete --force` would wait for it (runc polls for up to 10 s). A real
container manager (containerd-shim, conmon) is such a subreaper, so the
benchmark runs the runtimes under one. The harness itself (CMD) is not a
subreaper: it reaps only its own direct children.
SIGINT/SIGTERM/SIGHUP are forwarded to CMD. Exits with CMD's status.
"""
import ctypes
import os
import signal
import sys

PR_SET_CHILD_SUBREAPER = 36

libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
    sys.exit("reaper: prctl(PR_SET_CHILD_SUBREAPER): errno %d" % ctypes.get_errno())

child = os.fork()
if child == 0:
    try:
        os.execvp(sys.argv[1], sys.argv[1:])
    finally:
        os._exit(127)


def forward(sig, _frame):
    try:
        os.kill(child, sig)
    except ProcessLookupError:
        pass


for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, forward)

rc = 1
while True:
    try:
        pid, status = os.wait()
    except ChildProcessError:
        break
    if pid == child:
        code = os.waitstatus_to_exitcode(status)
        rc = code if code >= 0 else 128 - code
        # Reap whatever is already dead, then leave; live leftovers (if the
        # harness could not clean up) are re-parented and killed by run.sh.
        while True:
            try:
                p, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if p == 0:
                break
        break
sys.exit(rc)
