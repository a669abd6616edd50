"""Install Debian packages the lab needs (rabbitmq-server; tests: chromium, prometheus) when missing, as root.

Never a downloaded browser or binary: only the distribution's packages. Returns a reason to skip when
they cannot be installed (not root, no apt-get, apt-get failed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

_updated = False


def _apt(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    return subprocess.run(
        ["apt-get", "-o", "DPkg::Lock::Timeout=600", *args], capture_output=True, text=True, env=env, timeout=840
    )


def ensure_packages(files: dict[Path, str]) -> str | None:
    """Make every file in ``files`` (path → Debian package providing it) exist; else say why not."""
    global _updated
    missing = sorted({package for path, package in files.items() if not path.exists()})
    if not missing:
        return None
    hint = f"`apt-get install {' '.join(missing)}`"
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return f"{', '.join(missing)} missing and not root: run {hint}"
    if shutil.which("apt-get") is None:
        return f"{', '.join(missing)} missing and no apt-get to install them"
    steps = [("install", "-y", "-q", "--no-install-recommends", *missing)]
    if not _updated:
        steps.insert(0, ("update", "-q"))
    for step in steps:
        result = _apt(*step)
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
            return f"apt-get {step[0]} failed (status {result.returncode}): {tail[0]}"
        _updated = _updated or step[0] == "update"
    still = [str(path) for path in files if not path.exists()]
    return f"apt-get did not provide {', '.join(still)}" if still else None
