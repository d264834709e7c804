"""Run many ``python -m gradtui ...`` command lines in one process (the interpreter and NumPy load
once): each job runs ``gradtui/__main__.py`` exactly as ``-m`` does, in its own directory, with file
descriptors 1 and 2 sent to its own files and an alarm as a time limit.

Usage: ``python cli_batch.py JOBS.json`` where the file holds ``[[cwd, out, err, [argv...]], ...]``;
each job's exit status goes to ``<out>.code`` as soon as it ends (``null``: the time limit was hit),
so a job that kills the process (the kernel's OOM killer, a crash) is the first one without it.
The address space is capped (:data:`MEMORY_CAP`) so that a regression that reads ``/dev/zero``
ends in a ``MemoryError`` rather than eating a shared machine's memory.
"""

import json
import os
import resource
import runpy
import signal
import sys
import traceback

TIME_LIMIT = 60
MEMORY_CAP = 4 << 30


def limit_memory() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY or soft > MEMORY_CAP:
        cap = MEMORY_CAP if hard == resource.RLIM_INFINITY else min(MEMORY_CAP, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


class _TimeUp(BaseException):
    pass


def _alarm(signum, frame):
    raise _TimeUp


def run_job(cwd: str, out: str, err: str, argv: list) -> int | None:
    saved = os.dup(1), os.dup(2)
    code: int | None = 1
    with open(out, "wb") as fo, open(err, "wb") as fe:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(fo.fileno(), 1)
        os.dup2(fe.fileno(), 2)
        os.chdir(cwd)
        sys.argv = ["gradtui", *argv]
        signal.alarm(TIME_LIMIT)
        try:
            runpy.run_module("gradtui", run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except _TimeUp:
            code = None
        except BaseException:  # what the interpreter would print
            traceback.print_exc()
        finally:
            signal.alarm(0)
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
    return code


def main() -> None:
    limit_memory()
    signal.signal(signal.SIGALRM, _alarm)
    with open(sys.argv[1], encoding="utf-8") as f:
        jobs = json.load(f)
    for job in jobs:
        code = run_job(*job)
        with open(job[1] + ".code", "w", encoding="ascii") as f:
            f.write(json.dumps(code))


if __name__ == "__main__":
    main()
