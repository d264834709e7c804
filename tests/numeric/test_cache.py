"""The numba kernel cache: only a directory this user alone can write to is used (numba unpickles
what it finds there, so a planted cache would run another user's code), and a damaged cache (a
truncated or garbage file) is found, named on one stderr line, removed and rebuilt."""

from __future__ import annotations

import os
import pickle
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from gradtui import numba_cache as NC

ROOT = Path(__file__).resolve().parents[2]
OTHER_UID = 65534  # nobody
as_root = pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="needs root (chown)")


# ------------------------------------------------------------------ choosing the directory
@pytest.fixture
def unusable(tmp_path, monkeypatch):
    """A package dir this process cannot write to, a HOME cache that cannot be created, and a temp
    dir of our own; returns (kernels.py path, temp dir)."""
    pkg = tmp_path / "site" / "gradtui"
    pkg.mkdir(parents=True)
    src = pkg / "kernels.py"
    src.write_text("")
    real_access = os.access

    def access(path, mode, *a, **kw):
        if mode & os.W_OK and str(Path(path).resolve()).startswith(str(pkg)):
            return False
        return real_access(path, mode, *a, **kw)

    (tmp_path / "file").write_text("")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(os, "access", access)
    monkeypatch.setenv(NC.ENV, "")  # so that teardown restores what the session had
    monkeypatch.delenv(NC.ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file" / "cache"))  # below a file: unusable
    monkeypatch.setattr(NC.tempfile, "gettempdir", lambda: str(tmp))
    cleanups = []
    monkeypatch.setattr(NC.atexit, "register", lambda fn, *a, **kw: cleanups.append((fn, a, kw)))
    yield src, tmp
    for fn, a, kw in cleanups:
        fn(*a, **kw)


def chosen(src) -> str:
    NC.choose_cache_dir(str(src))
    return os.environ[NC.ENV]


def assert_private(path: str) -> None:
    st = os.lstat(path)
    assert stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and st.st_mode & 0o077 == 0, oct(st.st_mode)


def test_user_set_cache_dir_is_their_choice(tmp_path, monkeypatch):
    d = tmp_path / "mine"
    d.mkdir(mode=0o777)
    os.chmod(d, 0o777)
    monkeypatch.setenv(NC.ENV, str(d))
    NC.choose_cache_dir(str(ROOT / "gradtui" / "kernels.py"))
    assert os.environ[NC.ENV] == str(d)


def test_writable_package_dir_keeps_numbas_default(tmp_path, monkeypatch):
    monkeypatch.setenv(NC.ENV, "")
    monkeypatch.delenv(NC.ENV)
    (tmp_path / "kernels.py").write_text("")
    NC.choose_cache_dir(str(tmp_path / "kernels.py"))
    assert NC.ENV not in os.environ


def test_fallback_is_created_private(unusable):
    src, tmp = unusable
    got = chosen(src)
    assert got == str(tmp / f"gradtui-numba-{os.getuid()}")
    assert_private(got)


def test_own_private_fallback_is_reused(unusable):
    src, tmp = unusable
    d = tmp / f"gradtui-numba-{os.getuid()}"
    d.mkdir(mode=0o700)
    (d / "kept").write_text("")
    assert chosen(src) == str(d) and (d / "kept").exists()


def test_own_fallback_readable_by_others_is_tightened(unusable):
    src, tmp = unusable
    d = tmp / f"gradtui-numba-{os.getuid()}"
    d.mkdir()
    os.chmod(d, 0o755)  # what the old code created: nobody else could write to it
    assert chosen(src) == str(d)
    assert_private(str(d))


def planted_other_user(d: Path) -> None:
    d.mkdir()
    os.chmod(d, 0o777)
    os.chown(d, OTHER_UID, OTHER_UID)


def planted_symlink(d: Path) -> None:
    target = d.parent / "elsewhere"
    target.mkdir(mode=0o700)
    d.symlink_to(target, target_is_directory=True)


def planted_group_writable(d: Path) -> None:
    d.mkdir()
    os.chmod(d, 0o770)


def planted_file(d: Path) -> None:
    d.write_bytes(b"")


@pytest.mark.parametrize("plant", [
    pytest.param(planted_other_user, marks=as_root, id="other-user-0777"),
    pytest.param(planted_symlink, id="symlink"),
    pytest.param(planted_group_writable, id="group-writable"),
    pytest.param(planted_file, id="not-a-dir"),
])
def test_planted_fallback_is_rejected(unusable, plant):
    src, tmp = unusable
    planted = tmp / f"gradtui-numba-{os.getuid()}"
    plant(planted)
    got = chosen(src)
    assert Path(got) != planted and Path(got).resolve() != planted.resolve()
    assert Path(got).parent == tmp and Path(got).name.startswith("gradtui-numba-")  # a mkdtemp dir
    assert_private(got)


def test_fallback_in_an_unsafe_temp_dir_is_not_used(unusable):
    """In a world-writable temp dir without the sticky bit anyone could swap the directory later."""
    src, tmp = unusable
    os.chmod(tmp, 0o777)
    got = chosen(src)
    assert Path(got).name != f"gradtui-numba-{os.getuid()}"
    assert_private(got)


def test_home_cache_is_used_when_private(unusable, tmp_path, monkeypatch):
    src, _ = unusable
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    got = chosen(src)
    assert got == str(tmp_path / "xdg" / "gradtui" / "numba")
    assert_private(got)
    assert_private(str(tmp_path / "xdg" / "gradtui"))


@pytest.mark.parametrize("plant", [
    pytest.param(planted_other_user, marks=as_root, id="other-user-0777"),
    pytest.param(planted_symlink, id="symlink"),
    pytest.param(planted_group_writable, id="group-writable"),
])
def test_planted_home_cache_is_rejected(unusable, tmp_path, monkeypatch, plant):
    src, tmp = unusable
    xdg = tmp_path / "xdg"
    xdg.mkdir()
    monkeypatch.setenv("XDG_CACHE_HOME", str(xdg))
    plant(xdg / "gradtui")
    got = chosen(src)
    assert not got.startswith(str(xdg)) and got == str(tmp / f"gradtui-numba-{os.getuid()}")


def _runner_as_nobody() -> list[str] | None:
    """``runuser -u nobody -- python`` when root can start a Python nobody may run, else None."""
    if not hasattr(os, "getuid") or os.getuid() != 0 or not shutil.which("runuser"):
        return None
    for py in (sys.executable, shutil.which("python3"), "/usr/bin/python3"):
        if not py:
            continue
        cmd = ["runuser", "-u", "nobody", "--", py]
        try:
            if subprocess.run(cmd + ["-c", "pass"], capture_output=True, timeout=60).returncode == 0:
                return cmd
        except (OSError, subprocess.TimeoutExpired):
            continue
    return None


PROBE = """
import os, sys
sys.path.insert(0, sys.argv[1])
from gradtui import numba_cache
numba_cache.choose_cache_dir(os.path.join(sys.argv[1], "gradtui", "kernels.py"))
d = os.environ["NUMBA_CACHE_DIR"]
st = os.lstat(d)
print(d, st.st_uid, oct(st.st_mode))
"""


def test_planted_fallback_is_rejected_for_a_real_other_user(request):
    """Root plays the attacker: a 0777 ``gradtui-numba-65534`` in a shared sticky temp dir; nobody
    (who cannot write the package dir or its HOME) must not use it."""
    cmd = _runner_as_nobody()
    if cmd is None:
        pytest.skip("needs root, runuser and a Python the user nobody can run")
    tmp = Path(tempfile.mkdtemp(prefix="gradtui-shared-tmp-"))  # pytest's tmp_path is root-only
    request.addfinalizer(lambda: shutil.rmtree(tmp, ignore_errors=True))
    os.chmod(tmp, 0o1777)
    planted = tmp / f"gradtui-numba-{OTHER_UID}"
    planted.mkdir()
    os.chmod(planted, 0o777)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": "/nonexistent", "TMPDIR": str(tmp)}
    # nobody may not be able to read this checkout (a fresh clone in a 0700 temp dir): give it a
    # root-owned, read-only copy of the two modules the probe imports
    src = Path(tempfile.mkdtemp(prefix="gradtui-probe-"))
    request.addfinalizer(lambda: shutil.rmtree(src, ignore_errors=True))
    (src / "gradtui").mkdir()
    for name in ("__init__.py", "numba_cache.py"):
        shutil.copy(ROOT / "gradtui" / name, src / "gradtui" / name)
    for d in (src, src / "gradtui"):
        os.chmod(d, 0o755)
    p = subprocess.run(cmd + ["-c", PROBE, str(src)], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    got, uid, mode = p.stdout.split()
    assert Path(got) != planted and Path(got).parent == tmp  # a private per-process dir instead
    assert int(uid) == OTHER_UID and int(mode, 8) == stat.S_IFDIR | 0o700
    assert not Path(got).exists()  # removed when that process ended
    # with the planted directory gone, nobody creates a private one, and the next run reuses it
    shutil.rmtree(planted)
    for _ in range(2):
        p = subprocess.run(cmd + ["-c", PROBE, str(src)], env=env, capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        assert p.stdout.split() == [str(planted), str(OTHER_UID), oct(stat.S_IFDIR | 0o700)]


IMPORT_PROBE = r"""
import os, sys
pkg = os.path.join(sys.argv[1], "gradtui")
real_access = os.access
def access(path, mode, *a, **kw):  # the package dir is read-only for this process
    if mode & os.W_OK and os.path.abspath(path).startswith(pkg):
        return False
    return real_access(path, mode, *a, **kw)
os.access = access
import gradtui.kernels  # chooses the cache dir before numba is imported; compiles nothing yet
print(os.environ["NUMBA_CACHE_DIR"])
"""


def test_kernels_import_rejects_a_planted_fallback(tmp_path):
    """End to end through ``import gradtui.kernels``: a 0777 fallback dir is not used."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    planted = tmp / f"gradtui-numba-{os.getuid()}"
    planted.mkdir()
    os.chmod(planted, 0o777)
    env = {k: v for k, v in os.environ.items() if k not in (NC.ENV, "XDG_CACHE_HOME")}
    env.update(HOME=str(tmp_path / "file" / "home"), TMPDIR=str(tmp))  # HOME below a file: unusable
    (tmp_path / "file").write_text("")
    p = subprocess.run([sys.executable, "-c", IMPORT_PROBE, str(ROOT)], env=env, capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    got = p.stdout.strip().splitlines()[-1]
    assert Path(got) != planted and Path(got).parent == tmp
    assert not os.path.exists(got)  # a private per-process dir, removed at exit


# ------------------------------------------------------------------ damaged cache files
def write_entry(cache: Path, name: str, index: bytes | None = None, data: bytes | None = None) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    ok_index = pickle.dumps("0.68.1") + pickle.dumps((("stamp", 1), {"key": f"{name}.1.nbc"}))
    (cache / f"{name}.nbi").write_bytes(ok_index if index is None else index)
    (cache / f"{name}.1.nbc").write_bytes(pickle.dumps(("lib", b"\0" * 1000)) if data is None else data)


def test_complete_pickles_never_runs_what_it_parses(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    data = pickle.dumps(Payload())
    assert NC.complete_pickles(data) and NC.complete_pickles(data + pickle.dumps(1))
    assert not marker.exists()
    assert not NC.complete_pickles(b"")
    assert not NC.complete_pickles(data[:-1])  # no STOP
    assert not NC.complete_pickles(data + data[:5])  # a second, cut pickle
    assert not NC.complete_pickles(b"\0" * 64)
    assert not NC.complete_pickles(bytes(range(256)) * 4)


def test_repair_removes_only_damaged_entries(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(NC.ENV, str(tmp_path / "nc"))
    src = str(ROOT / "gradtui" / "kernels.py")
    cache = Path(NC.kernel_cache_dir(src))
    good = pickle.dumps("0.68.1") + pickle.dumps((("stamp", 1), {}))
    write_entry(cache, "kernels.good-10.py311")
    write_entry(cache, "kernels.cut_index-20.py311", index=good[: len(good) - 7])
    write_entry(cache, "kernels.garbage-30.py311", data=os.urandom(4096))
    write_entry(cache, "kernels.empty-40.py311", data=b"")
    (cache / "kernels.empty-40.py311.2.nbc").write_bytes(pickle.dumps(2))  # a second data file of it
    write_entry(cache, "other.garbage-10.py311", data=b"junk")  # not gradtui's kernels module
    (cache / "kernels.cpython-311.pyc").write_bytes(b"junk")
    assert NC.repair(src) == ["kernels.cut_index-20.py311", "kernels.empty-40.py311",
                              "kernels.garbage-30.py311"]
    left = sorted(p.name for p in cache.iterdir())
    assert left == ["kernels.cpython-311.pyc", "kernels.good-10.py311.1.nbc", "kernels.good-10.py311.nbi",
                    "other.garbage-10.py311.1.nbc", "other.garbage-10.py311.nbi"]
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"gradtui: damaged kernel cache in {cache} (")
    assert NC.repair(src) == [] and capsys.readouterr().err == ""


def test_recover_ignores_errors_that_are_not_the_cache_loaders(tmp_path, monkeypatch):
    monkeypatch.setenv(NC.ENV, str(tmp_path / "nc"))
    src = str(ROOT / "gradtui" / "kernels.py")
    write_entry(Path(NC.kernel_cache_dir(src)), "kernels.good-10.py311")
    try:
        raise ValueError("a bug, not the cache")
    except ValueError as e:
        assert not NC.recover(e, src)
    assert len(os.listdir(NC.kernel_cache_dir(src))) == 2


def test_kernel_cache_dir_is_where_numba_caches():
    """The path rule mirrors numba's locators; a numba that changes them fails here, not silently."""
    from gradtui import kernels as K

    cache = K.train_chunk._cache  # numba internals, on purpose
    assert os.path.abspath(cache._cache_path) == os.path.abspath(NC.kernel_cache_dir(K.__file__))
    assert os.path.basename(cache._cache_file._index_path).startswith("kernels.train_chunk-")


def _copy_warm_cache(dest_root: Path, monkeypatch) -> Path:
    """This session's compiled kernels (see conftest) copied into a fresh NUMBA_CACHE_DIR."""
    from gradtui import kernels as K

    src = Path(NC.kernel_cache_dir(K.__file__))
    monkeypatch.setenv(NC.ENV, str(dest_root))
    dest = Path(NC.kernel_cache_dir(K.__file__))
    dest.mkdir(parents=True)
    for f in src.glob("kernels.*.nb[ic]"):
        shutil.copy2(f, dest / f.name)
    assert list(dest.glob("kernels.predict-*.nbi")) and list(dest.glob("kernels.train_chunk-*.nbi"))
    return dest


def _truncate_predict_index(cache: Path) -> None:
    for f in cache.glob("kernels.predict-*.nbi"):
        f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    for f in cache.glob("kernels._act_layer-*.nbc"):  # a callee: garbage, never loaded in this run
        f.write_bytes(os.urandom(2000))


def _wrong_predict_data(cache: Path) -> None:
    for f in cache.glob("kernels.predict-*.nbc"):  # well-formed pickles, but not a compiled kernel
        f.write_bytes(pickle.dumps(("not", "a", "kernel")))


@pytest.mark.parametrize("damage", [_truncate_predict_index, _wrong_predict_data], ids=["truncated", "wrong-data"])
def test_damaged_cache_is_named_removed_and_rebuilt(tmp_path, monkeypatch, damage):
    cache = _copy_warm_cache(tmp_path / "nc", monkeypatch)
    damage(cache)
    cmd = [sys.executable, "-m", "gradtui", "--preset", "relu-he", "--headless", "--steps", "5"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=dict(os.environ))
    assert p.returncode == 0, p.stderr[-3000:]
    assert "Traceback" not in p.stderr and "steps: 5 " in p.stdout
    said = [line for line in p.stderr.splitlines() if "kernel cache" in line]
    assert len(said) == 1 and said[0].startswith(f"gradtui: damaged kernel cache in {cache} ("), p.stderr
    for f in cache.glob("kernels.*.nb[ic]"):  # what is left or rebuilt is whole again
        assert NC.complete_pickles(f.read_bytes()), f.name
    assert list(cache.glob("kernels.predict-*.nbi"))
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=dict(os.environ))
    assert again.returncode == 0 and "kernel cache" not in again.stderr, again.stderr[-3000:]
