"""`producer stack up/down`: everything starts, answers, and stops without leaving a process behind."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psutil
import requests

from producer.processes.redis_server import free_port
from tests.helpers import ROOT, child_env


def test_stack_up_then_down_leaves_no_processes(tmp_path: Path) -> None:
    port = free_port()
    env = child_env(LAB_BROKER_URL=f"redis://127.0.0.1:{port}/0", LAB_RESULT_BACKEND=f"redis://127.0.0.1:{port}/1",
                    LAB_STATE_DIR=str(tmp_path / "state"), LAB_TARGET_PORT=str(free_port()),
                    LAB_FLOWER_PORT=str(free_port()), LAB_CPU_CONCURRENCY="2", LAB_IO_CONCURRENCY="4")
    up = subprocess.run([sys.executable, "-m", "producer", "stack", "up", "--detach"], env=env, cwd=ROOT,
                        capture_output=True, text=True, timeout=120)
    state_file = tmp_path / "state" / "stack.json"
    state = json.loads(state_file.read_text()) if state_file.exists() else {"children": []}
    pids = [c["pid"] for c in state["children"]]
    family = {pid for pid in pids if psutil.pid_exists(pid)}
    for pid in list(family):
        family |= {p.pid for p in psutil.Process(pid).children(recursive=True)}
    try:
        assert up.returncode == 0, up.stderr
        assert [c["role"] for c in state["children"]] == ["redis", "target", "worker-cpu", "worker-io", "flower"]
        password = (tmp_path / "state" / "flower-password").read_text().strip()
        assert f"password generated: {password}" in up.stderr.replace("\n", "")
        flower = state["flower_url"]
        assert requests.get(f"{flower}api/workers", timeout=5).status_code == 401
        workers = requests.get(f"{flower}api/workers", auth=("admin", password), timeout=5)
        assert workers.status_code == 200
        assert len(family) >= 7  # 5 roles + 2 prefork children
    finally:
        down = subprocess.run([sys.executable, "-m", "producer", "stack", "down"], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
    assert down.returncode == 0, down.stderr
    assert "redis" in down.stderr
    survivors = [pid for pid in family if psutil.pid_exists(pid)
                 and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    assert survivors == []
    assert not state_file.exists()
