"""The release the servers boot from: the artifact ``make release`` built, its digest and its bucket key.

The key carries the digest (content addressing), and the user data carries key and digest: a new
artifact changes the launch template, which rolls each group (instance refresh); an unchanged one changes
nothing. Without the artifact (a fresh clone that never ran ``make release``) the plan keeps its shape
(the upload is planned under a key marked ``unbuilt``, so budgets and policies see the same resources),
the program warns, the servers' user data refuses to boot, and ``pulumi up`` refuses to run.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from runtime.deploy.release import NAME, sha256_file

#: Stack files name the artifact relative to the project directory (where Pulumi.yaml is).
PROJECT_DIR = Path(__file__).resolve().parents[1]
_FILE = re.compile(rf"^{NAME}-(?P<version>[0-9][0-9A-Za-z.+-]*)\.tar$")


@dataclass(frozen=True)
class ReleaseRef:
    """The artifact a stack names: where it is on this machine, its version and its SHA-256 (None: the
    file is not there, it was never built)."""

    path: Path
    version: str
    sha256: str | None

    @property
    def key(self) -> str:
        """The object key in the private bucket; outside the prefix CloudFront serves."""
        return f"releases/{NAME}-{self.version}-{self.sha256 or 'unbuilt'}.tar"


def artifact_version(name: str) -> str:
    """``stars-runtime-0.1.0.tar`` -> ``0.1.0``; anything else is not an artifact of ours."""
    found = _FILE.match(name)
    if found is None:
        raise ValueError(f"{name!r} is not a release artifact ({NAME}-<version>.tar, from make release)")
    return found.group("version")


@functools.lru_cache(maxsize=8)
def _digest(path: Path, size: int, mtime_ns: int) -> str:
    return sha256_file(path)


def find_release(artifact: str, project_dir: Path | None = None) -> ReleaseRef:
    """The artifact named by the stack file, with its digest when it has been built."""
    path = ((project_dir or PROJECT_DIR) / artifact).resolve()
    version = artifact_version(path.name)
    if not path.is_file():
        return ReleaseRef(path=path, version=version, sha256=None)
    stat = path.stat()
    return ReleaseRef(path=path, version=version, sha256=_digest(path, stat.st_size, stat.st_mtime_ns))
