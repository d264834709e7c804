"""Run many ``python -m gradtui ...`` command lines in one process (the interpreter and NumPy load
once): each job runs ``gradtui/__main__.py`` exactly as ``-m`` does, in its own directory, with file
descriptors 1 and 2 sent to its own files and an alarm as a time limit.

Usage: ``python cli_batch.py JOBS.json`` where the file holds ``[[cwd, out, err, [argv...]], ...]``;
prints one JSON line per job: ``{"code": int | null}`` (null: the time limit was hit).
"""

import json
import os
import runpy
import signal
import sys
import traceback

TIME_LIMIT = 60


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
    signal.signal(signal.SIGALRM, _alarm)
    with open(sys.argv[1], encoding="utf-8") as f:
        jobs = json.load(f)
    results = [run_job(*job) for job in jobs]
    print(json.dumps(results))


if __name__ == "__main__":
    main()
