"""Where numba keeps gradtui's compiled kernels, chosen and checked before numba is imported.

Numba unpickles its cache files (``*.nbi`` index, ``*.nbc`` data), so the cache directory is code
this process will run:

* A ``NUMBA_CACHE_DIR`` the user set is their choice and is used as it is.
* Otherwise numba's default, ``__pycache__`` next to ``kernels.py``, when it is writable.
* Otherwise a directory only this user can write to: ``$XDG_CACHE_HOME/gradtui/numba`` (or
  ``~/.cache/...``), else ``<tmp>/gradtui-numba-<uid>``, each accepted only when it is a real
  directory (not a symlink) owned by this user with no group/other write permission (created 0700),
  in a parent others cannot swap it in; else a fresh private directory for this process alone.

A damaged cache (a truncated or garbage file after a full disk or a partial copy) made every start
fail with a numba traceback. :func:`prepare` parses every kernel cache file as a pickle stream
(``pickletools``: nothing is executed) and deletes the entries that are not complete pickles;
:func:`recover` handles what that cannot see (a well-formed file numba still fails to load) when a
kernel call fails inside numba's cache loader. Both say which directory on one stderr line.

No numba import here (it must run before numba reads ``NUMBA_CACHE_DIR``).
"""

from __future__ import annotations

import atexit
import glob
import hashlib
import io
import os
import pickletools
import shutil
import stat
import sys
import tempfile

ENV = "NUMBA_CACHE_DIR"
_NUMBA_CACHING = os.path.join("numba", "core", "caching.py")


# ------------------------------------------------------------------------------ choosing the dir
def _uid() -> int | None:
    return os.getuid() if hasattr(os, "getuid") else None


def is_private_dir(path: str) -> bool:
    """``path`` is a real directory (not a symlink), owned by this user, that nobody else can write
    to. Read/search bits for others are taken away (chmod 0700) when they are the only ones set."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode):  # lstat: a symlink is not a directory here
        return False
    uid = _uid()
    if uid is None:  # pragma: no cover - Windows: per-user temp and profile dirs
        return True
    if st.st_uid != uid or st.st_mode & 0o022:
        return False
    if st.st_mode & 0o077:
        try:
            os.chmod(path, 0o700)
        except OSError:
            return False
    return True


def _safe_parent(path: str) -> bool:
    """Nobody else can rename or replace entries of ``path``: a directory owned by this user or root
    that is not group/other-writable, or is sticky (``/tmp``). It may be a symlink (user's choice)."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    uid = _uid()
    if uid is None:  # pragma: no cover - Windows
        return stat.S_ISDIR(st.st_mode)
    return (stat.S_ISDIR(st.st_mode) and st.st_uid in (uid, 0)
            and (not st.st_mode & 0o022 or bool(st.st_mode & stat.S_ISVTX)))


def _private_subdir(parent: str, *names: str) -> str | None:
    """``parent/names...``, each level created 0700 if missing and accepted only if private."""
    if not _safe_parent(parent):
        return None
    path = parent
    for name in names:
        path = os.path.join(path, name)
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        except OSError:
            return None
        if not is_private_dir(path) or not os.access(path, os.W_OK | os.X_OK):
            return None
    return path


def _user_cache_root() -> str | None:
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if not os.path.isabs(root):
        return None
    try:
        os.makedirs(root, exist_ok=True)
    except OSError:
        return None
    return root


def fallback_dir() -> str:
    """A cache directory only this user can write to (see the module docstring)."""
    root = _user_cache_root()
    found = _private_subdir(root, "gradtui", "numba") if root else None
    uid = _uid()
    if found is None:
        found = _private_subdir(tempfile.gettempdir(), f"gradtui-numba-{0 if uid is None else uid}")
    if found is None:  # private to this process (mkdtemp creates it 0700), removed at exit
        found = tempfile.mkdtemp(prefix="gradtui-numba-")
        atexit.register(shutil.rmtree, found, ignore_errors=True)
    return found


def choose_cache_dir(source_file: str) -> None:
    """Set ``NUMBA_CACHE_DIR`` when numba's defaults are unusable (call before importing numba):
    a read-only package dir *and* HOME otherwise make ``cache=True`` fail at import time."""
    if os.environ.get(ENV):
        return
    here = os.path.dirname(os.path.abspath(source_file))
    pyc = os.path.join(here, "__pycache__")
    if os.access(pyc if os.path.isdir(pyc) else here, os.W_OK):
        return
    os.environ[ENV] = fallback_dir()


# ------------------------------------------------------------------------------ damaged files
def kernel_cache_dir(source_file: str) -> str:
    """The directory numba caches ``source_file``'s functions in (its locators' rules)."""
    here = os.path.dirname(os.path.abspath(source_file))
    user = os.environ.get(ENV)
    if user:
        return os.path.join(user, os.path.basename(here) + "_" + hashlib.sha1(here.encode()).hexdigest())
    return os.path.join(here, "__pycache__")


def complete_pickles(data: bytes) -> bool:
    """``data`` is one or more complete pickles back to back (parsed, never executed)."""
    if not data:
        return False
    f = io.BytesIO(data)
    try:
        while f.tell() < len(data):
            for _ in pickletools.genops(f):
                pass
    except Exception:  # noqa: BLE001 - any parse failure of untrusted bytes means damaged
        return False
    return True


def _entries(cache_dir: str, module: str) -> dict[str, list[str]]:
    """Cache entries of one module's functions: ``module.func-line.pyXY`` -> its index and data files."""
    out: dict[str, list[str]] = {}
    for path in glob.glob(os.path.join(glob.escape(cache_dir), glob.escape(module) + ".*.nb[ic]")):
        name = os.path.basename(path)
        entry = name[:-4] if name.endswith(".nbi") else name[:-4].rsplit(".", 1)[0]
        out.setdefault(entry, []).append(path)
    return out


def _is_damaged(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return not complete_pickles(f.read())
    except FileNotFoundError:  # removed meanwhile (another process rebuilding it)
        return False
    except OSError:
        return True


def _remove(paths: list[str]) -> None:
    for p in paths:
        try:
            os.remove(p)
        except FileNotFoundError:
            pass


def _say(cache_dir: str, what: str) -> None:
    try:
        print(f"gradtui: damaged kernel cache in {cache_dir} ({what}): removed, the kernels are "
              "recompiled", file=sys.stderr, flush=True)
    except (OSError, ValueError):  # stderr closed or full: the repair does not depend on it
        pass


def repair(source_file: str) -> list[str]:
    """Delete the cache entries of ``source_file``'s kernels that hold a file that is not a complete
    pickle stream; returns the entries removed (and says so on stderr)."""
    cache_dir = kernel_cache_dir(source_file)
    module = os.path.splitext(os.path.basename(source_file))[0]
    bad = sorted(e for e, files in _entries(cache_dir, module).items() if any(map(_is_damaged, files)))
    if bad:
        entries = _entries(cache_dir, module)
        _remove([p for e in bad for p in entries.get(e, ())])
        _say(cache_dir, bad[0] if len(bad) == 1 else f"{len(bad)} entries, e.g. {bad[0]}")
    return bad


def _loader_frames(exc: BaseException | None):
    """Frames of numba's cache module that ``exc`` (or an exception it came from) passed through."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        tb = exc.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename.endswith(_NUMBA_CACHING):
                yield tb.tb_frame
            tb = tb.tb_next
        exc = exc.__cause__ or exc.__context__


def _failed_entry(exc: BaseException) -> str | None:
    """The cache entry numba was loading when ``exc`` was raised, if its frames tell."""
    for frame in _loader_frames(exc):
        obj = frame.f_locals.get("self")
        index = getattr(obj, "_index_path", None) or getattr(getattr(obj, "_cache_file", None), "_index_path", None)
        if isinstance(index, str) and index.endswith(".nbi"):
            return os.path.basename(index)[:-4]
    return None


def recover(exc: BaseException, source_file: str) -> bool:
    """After a kernel call failed with ``exc``: if numba's cache loader raised it, delete the cache
    entry it was loading (every entry of ``source_file``'s kernels when that is not known) and
    return True, so that the caller retries once; else return False."""
    if next(_loader_frames(exc), None) is None:
        return False
    cache_dir = kernel_cache_dir(source_file)
    module = os.path.splitext(os.path.basename(source_file))[0]
    entries = _entries(cache_dir, module)
    entry = _failed_entry(exc)
    _remove(entries.get(entry, []) if entry in entries else [p for f in entries.values() for p in f])
    _say(cache_dir, f"{entry or 'all entries'}: {type(exc).__name__}: {' '.join(str(exc).split())[:80]}")
    return True


def prepare(source_file: str) -> None:
    """Everything ``kernels.py`` needs before ``import numba``: a safe cache dir, no damaged files."""
    choose_cache_dir(source_file)
    try:
        repair(source_file)
    except OSError:  # an unreadable cache dir: numba will report what it cannot use
        pass
