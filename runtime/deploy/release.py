"""``python -m runtime.deploy.release``: build the one artifact the servers install, offline, at boot.

The artifact is a tar holding the project's wheel, a wheelhouse of every pinned runtime dependency for
the servers' Python (CPython 3.11, Debian 12) on both CPU architectures, the requirements the installer
resolves, and a SHA-256 manifest. Servers have no route to a package index (``private_egress:
endpoints``), so everything they install comes from here. Entries are sorted, owned by root and dated
``SOURCE_DATE_EPOCH``, so an unchanged tree builds the same bytes and therefore the same digest, which is
what the Pulumi program keys the upload by (a new digest rolls the groups, an unchanged one does not).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCK = Path(__file__).with_name("runtime-requirements.txt")
NAME = "stars-runtime"
#: The servers' interpreter: Debian 12's python3 (3.11.2; markers such as redis's
#: ``python_full_version < "3.11.3"`` depend on the patch level) on x86_64 and arm64 (Graviton) instances.
PYTHON_VERSION = "3.11.2"
ARCHITECTURES = ("x86_64", "aarch64")
#: Debian 12 has glibc 2.36: every manylinux tag from 2.17 (manylinux2014) to 2.36 runs there.
GLIBC_MINORS = range(17, 37)
#: 1980-01-01, the earliest date a zip entry (the wheel) can carry; every entry gets it.
EPOCH = 315532800
MANIFEST = "SHA256SUMS"
REQUIREMENTS = "requirements.txt"


class ReleaseError(RuntimeError):
    """A build step failed; the message says which and why (one line)."""


@dataclass(frozen=True)
class Artifact:
    path: Path
    sha256: str
    version: str


def project_version(root: Path = ROOT) -> str:
    with (root / "pyproject.toml").open("rb") as f:
        return str(tomllib.load(f)["project"]["version"])


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _pip(command: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "pip", command, "-q", "--disable-pip-version-check", *args]


def _run(step: str, cmd: Sequence[str], env: dict[str, str] | None = None) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        lines = [ln for ln in (done.stderr or done.stdout).splitlines() if ln.strip()]
        last = next((ln for ln in reversed(lines) if "ERROR" in ln), lines[-1] if lines else "no output")
        raise ReleaseError(f"{step} failed (exit {done.returncode}): {last.strip()}")


def _copy_sources(root: Path, dest: Path) -> None:
    """The files the wheel is built from, with normalised modes (a umask must not change the digest)."""
    with (root / "pyproject.toml").open("rb") as f:
        packages = tomllib.load(f)["tool"]["setuptools"]["packages"]
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(root / name, dest / name)
    for top in sorted({p.split(".")[0] for p in packages}):
        shutil.copytree(root / top, dest / top, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for path in dest.rglob("*"):
        path.chmod(0o755 if path.is_dir() or os.access(path, os.X_OK) else 0o644)


def build_wheel(root: Path, out: Path) -> Path:
    """The project's wheel, built from a clean copy without network (setuptools pinned in the venv)."""
    with tempfile.TemporaryDirectory(prefix="stars-wheel-") as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        _copy_sources(root, src)
        env = {**os.environ, "SOURCE_DATE_EPOCH": str(EPOCH), "PYTHONHASHSEED": "0"}
        _run(
            "building the wheel",
            _pip("wheel", "--no-deps", "--no-build-isolation", "-w", str(out), str(src)),
            env=env,
        )
    wheels = sorted(out.glob("stars_platform-*.whl"))
    if len(wheels) != 1:
        raise ReleaseError(f"building the wheel: expected one stars_platform wheel, found {len(wheels)}")
    return wheels[0]


def platform_args(arch: str) -> list[str]:
    tags = [f"manylinux2014_{arch}", *(f"manylinux_2_{minor}_{arch}" for minor in GLIBC_MINORS)]
    return [arg for tag in tags for arg in ("--platform", tag)]


def _target_args(arch: str) -> list[str]:
    return [
        "--only-binary=:all:",
        *platform_args(arch),
        "--python-version",
        PYTHON_VERSION,
        "--implementation",
        "cp",
    ]


def download_wheelhouse(lock: Path, dest: Path, cache: Path | None = None) -> None:
    """Every pinned dependency as wheels for both architectures (from ``cache`` when it holds them)."""
    key = hashlib.sha256(lock.read_bytes() + repr((PYTHON_VERSION, ARCHITECTURES)).encode()).hexdigest()
    cached = cache / f"wheelhouse-{key[:16]}" if cache else None
    if cached is not None and (cached / ".complete").exists():
        for wheel in cached.glob("*.whl"):
            shutil.copy2(wheel, dest / wheel.name)
        return
    for arch in ARCHITECTURES:
        _run(
            f"downloading the wheels for {arch}",
            _pip("download", "--no-deps", *_target_args(arch), "-d", str(dest), "-r", str(lock)),
        )
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".wheelhouse-", dir=cached.parent))
        for wheel in dest.glob("*.whl"):
            shutil.copy2(wheel, staging / wheel.name)
        (staging / ".complete").touch()
        staging.rename(cached) if not cached.exists() else shutil.rmtree(staging)


def check_closure(wheels: Path, requirements: Path) -> None:
    """Resolve the requirements from the wheelhouse alone, per architecture: a missing wheel fails here,
    at build time, not on a server at 3 a.m."""
    with tempfile.TemporaryDirectory(prefix="stars-closure-") as target:
        for arch in ARCHITECTURES:
            _run(
                f"resolving the wheelhouse offline for {arch}",
                _pip(
                    "install",
                    "--dry-run",
                    "--ignore-installed",
                    "--no-index",
                    "--find-links",
                    str(wheels),
                    *_target_args(arch),
                    "--target",
                    target,
                    "-r",
                    str(requirements),
                ),
            )


def _requirements(version: str, lock: Path) -> str:
    pins = [ln for ln in lock.read_text(encoding="utf-8").splitlines() if ln and not ln.startswith("#")]
    return "\n".join([f"stars-platform=={version}", *pins]) + "\n"


def _tar_entries(base: str, files: Iterable[tuple[str, bytes]]) -> bytes:
    """A tar of ``files`` under ``base``: sorted, root-owned, 0644, every date EPOCH."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        names = [base, f"{base}/wheels"]
        for name in names:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, EPOCH
            tar.addfile(info)
        for name, data in sorted(files):
            info = tarfile.TarInfo(f"{base}/{name}")
            info.size, info.mode, info.mtime = len(data), 0o644, EPOCH
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def assemble(version: str, wheels: Path, requirements: str, out: Path) -> Artifact:
    """Write ``<out>/stars-runtime-<version>.tar`` (atomically) and its ``.sha256`` beside it."""
    base = f"{NAME}-{version}"
    files = [(f"wheels/{w.name}", w.read_bytes()) for w in sorted(wheels.glob("*.whl"))]
    files.append((REQUIREMENTS, requirements.encode()))
    manifest = "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in sorted(files))
    files.append((MANIFEST, manifest.encode()))
    data = _tar_entries(base, files)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{base}.tar"
    digest = hashlib.sha256(data).hexdigest()
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    path.with_name(f"{path.name}.sha256").write_text(f"{digest}  {path.name}\n")
    return Artifact(path=path, sha256=digest, version=version)


def build(root: Path = ROOT, out: Path | None = None, cache: Path | None = None) -> Artifact:
    """Wheel + wheelhouse + requirements + manifest -> one artifact; returns its path and digest."""
    version = project_version(root)
    with tempfile.TemporaryDirectory(prefix="stars-release-") as tmp:
        wheels = Path(tmp) / "wheels"
        wheels.mkdir()
        build_wheel(root, wheels)
        download_wheelhouse(LOCK, wheels, cache)
        requirements = Path(tmp) / REQUIREMENTS
        requirements.write_text(_requirements(version, LOCK))
        check_closure(wheels, requirements)
        return assemble(version, wheels, requirements.read_text(), out or root / "dist")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m runtime.deploy.release",
        description="Build the servers' release artifact: wheel + wheelhouse (x86_64, arm64) + manifest.",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="output directory (default: dist)")
    parser.add_argument(
        "--wheel-cache", type=Path, default=None, help="keep and reuse the downloaded wheelhouse here"
    )
    args = parser.parse_args(argv)
    try:
        if args.wheel_cache is not None:
            args.wheel_cache.mkdir(parents=True, exist_ok=True)
        artifact = build(out=args.out, cache=args.wheel_cache)
    except (ReleaseError, OSError) as exc:
        print(f"release: {exc}", file=sys.stderr)
        return 1
    print(f"{artifact.path}  sha256:{artifact.sha256}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
