"""The package and the release artifact: `pip install .` builds a wheel with every package the project
needs, the runtime's three dependency lists agree, and the artifact is reproducible and self-checking."""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import re
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from runtime.deploy import release

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _pins(lines: list[str]) -> dict[str, str]:
    reqs = [Requirement(ln) for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    return {canonicalize_name(r.name): str(r.specifier).removeprefix("==") for r in reqs}


def _runtime_section() -> dict[str, str]:
    text = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    return _pins(text.split("# Runtime\n", 1)[1].split("\n\n", 1)[0].splitlines())


def _lock() -> dict[str, str]:
    return _pins(release.LOCK.read_text(encoding="utf-8").splitlines())


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `pip install .` installs: the project's wheel, built into a temporary directory."""
    return release.build_wheel(ROOT, tmp_path_factory.mktemp("wheel"))


def test_pip_install_builds_a_wheel_of_every_package(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.startswith("stars_platform-")}
    assert tops == {"budget", "components", "policy", "runtime"}  # tests and benchmarks stay out
    declared = set(PYPROJECT["tool"]["setuptools"]["packages"])
    on_disk = {str(p.parent.relative_to(ROOT)).replace("/", ".") for p in ROOT.glob("*/**/__init__.py")}
    assert declared == {p for p in on_disk if p.split(".")[0] in tops}  # a new package must be declared
    for data in (
        "runtime/static/index.html",
        "runtime/migrations/versions/0001_channels_and_messages.py",
        "runtime/migrations/script.py.mako",
        "runtime/deploy/stars-runtime.service",
        "budget/catalog/prices.yaml",
        "budget/templates/report.html.j2",
    ):
        assert data in names, data
    metadata = zipfile.ZipFile(wheel).read("stars_platform-0.1.0.dist-info/METADATA").decode()
    assert "Provides-Extra: runtime" in metadata and "Requires-Dist: uvloop==0.23.0; extra" in metadata


def test_the_wheel_build_is_reproducible(wheel: Path, tmp_path: Path) -> None:
    again = release.build_wheel(ROOT, tmp_path)
    assert again.read_bytes() == wheel.read_bytes()


def test_runtime_extra_is_the_runtime_section_of_requirements() -> None:
    extra = _pins(PYPROJECT["project"]["optional-dependencies"]["runtime"])
    assert extra == _runtime_section()
    assert PYPROJECT["project"]["dependencies"] == []  # the servers install nothing else


def test_lock_is_the_extras_closure_at_the_tested_versions() -> None:
    """Every pin of the runtime's lock is what the tests run against, and nothing the runtime pulls in on
    the servers' Python (Debian 12's 3.11.2) is missing from it: they resolve from the wheelhouse alone."""
    lock, extra = _lock(), _runtime_section()
    assert {k: lock[k] for k in extra} == extra
    server = {"extra": "", "python_version": "3.11", "python_full_version": release.PYTHON_VERSION}
    closure: set[str] = set()
    todo = list(extra)
    while todo:
        name = todo.pop()
        if name in closure:
            continue
        closure.add(name)
        try:
            requires = md.requires(name) or []
        except md.PackageNotFoundError:  # needed on 3.11.2 only, so not in this interpreter's venv
            requires = []
        for text in requires:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate(server):
                todo.append(canonicalize_name(req.name))
    assert set(lock) - {"pip"} == closure
    assert release.PYTHON_VERSION.startswith(PYPROJECT["project"]["requires-python"].split(",")[0][2:])
    for name, version in lock.items():  # pip is the installer's tool, not a runtime dependency
        installed = name != "pip" and name in {
            canonicalize_name(d.metadata["Name"]) for d in md.distributions()
        }
        assert not installed or md.version(name) == version, name


def test_setuptools_of_the_build_is_the_pinned_one() -> None:
    requires = PYPROJECT["build-system"]["requires"]
    assert requires == [f"setuptools=={md.version('setuptools')}"]
    assert f"setuptools=={md.version('setuptools')}" in (ROOT / "requirements.txt").read_text()


def test_platform_tags_cover_debian_12_on_both_architectures() -> None:
    for arch in ("x86_64", "aarch64"):
        tags = release.platform_args(arch)[1::2]
        assert f"manylinux2014_{arch}" in tags and f"manylinux_2_36_{arch}" in tags
        assert not any("2_37" in t or "musl" in t for t in tags)  # Debian 12's glibc is 2.36


def _artifact(tmp_path: Path, wheels: dict[str, bytes], name: str = "out") -> release.Artifact:
    wheel_dir = tmp_path / f"w-{name}"
    wheel_dir.mkdir()
    for filename, data in wheels.items():
        (wheel_dir / filename).write_bytes(data)
    return release.assemble("0.1.0", wheel_dir, "stars-platform==0.1.0\n", tmp_path / name)


def test_assemble_is_deterministic_and_self_checking(tmp_path: Path) -> None:
    """Sorted entries, fixed dates and owners: the same inputs give the same digest, wherever and
    whenever they are assembled; the manifest lists every file's SHA-256."""
    wheels = {"b-1.0-py3-none-any.whl": b"bbb", "a-1.0-py3-none-any.whl": b"aaa"}
    one = _artifact(tmp_path, wheels, "one")
    two = _artifact(tmp_path, dict(reversed(wheels.items())), "two")
    assert one.sha256 == two.sha256 == hashlib.sha256(one.path.read_bytes()).hexdigest()
    assert one.path.name == "stars-runtime-0.1.0.tar"
    assert one.path.with_name("stars-runtime-0.1.0.tar.sha256").read_text().startswith(one.sha256)
    with tarfile.open(one.path) as tar:
        members = tar.getmembers()
        assert {(m.mtime, m.uid, m.gid, m.uname) for m in members} == {(release.EPOCH, 0, 0, "")}
        files = {m.name: tar.extractfile(m).read() for m in members if m.isfile()}  # type: ignore[union-attr]  # a file has a reader
    base = "stars-runtime-0.1.0"
    manifest = files.pop(f"{base}/SHA256SUMS").decode().splitlines()
    assert manifest == sorted(manifest, key=lambda ln: ln.split("  ")[1])
    assert {ln.split("  ")[1]: ln.split("  ")[0] for ln in manifest} == {
        name.removeprefix(f"{base}/"): hashlib.sha256(data).hexdigest() for name, data in files.items()
    }
    changed = _artifact(tmp_path, {**wheels, "a-1.0-py3-none-any.whl": b"aab"}, "three")
    assert changed.sha256 != one.sha256


def test_a_failed_step_is_one_line_and_exit_1(tmp_path: Path) -> None:
    """A broken lock (a version that does not exist) stops the build with one line, and no artifact."""
    lock = tmp_path / "lock.txt"
    lock.write_text("starlette==0.0.0.0.1\n")
    with pytest.raises(release.ReleaseError) as caught:
        release.download_wheelhouse(lock, tmp_path)
    assert "\n" not in str(caught.value) and "downloading the wheels for x86_64" in str(caught.value)
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    out = str(tmp_path / "dist")
    run = subprocess.run(
        [sys.executable, "-m", "runtime.deploy.release", "--out", out, "--wheel-cache", str(not_a_directory)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert run.returncode == 1 and run.stderr.count("\n") == 1 and run.stderr.startswith("release: ")
    assert not (tmp_path / "dist").exists()


def test_requirements_name_the_project_and_the_lock() -> None:
    text = release._requirements("0.1.0", release.LOCK)
    assert text.splitlines()[0] == "stars-platform==0.1.0"
    assert _pins(text.splitlines()[1:]) == _lock()
    assert re.fullmatch(r"[a-z0-9.\-=\n]+", text.lower())
