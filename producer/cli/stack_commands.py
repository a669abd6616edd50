"""`producer stack up|down|status`: the local stack without Docker."""

from __future__ import annotations

from typing import Annotated

import typer

from config.settings import get_settings
from producer.console import err

stack_app = typer.Typer(no_args_is_help=True, help="The local stack without Docker.")
console = err


@stack_app.command("up")
def stack_up(
    detach: Annotated[bool, typer.Option("--detach", help="leave the stack running and return")] = False,
) -> None:
    """Start Redis (if needed), the CPU and I/O workers, Flower and the latency target."""
    import os
    import signal
    import time

    from producer.processes import children as processes
    from producer.processes import stack
    from worker.app import app as celery_app

    settings = get_settings()
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        console.print("note: running as root; Celery warns about that in the worker logs. "
                      "Containers run the workers as a normal user.")
    state, password, generated = stack.stack_up(celery_app, settings)
    console.print(f"[bold green]stack up[/]: {', '.join(c.role for c in state.children)}")
    console.print(f"  broker  {state.broker_url}\n  target  {state.target_url}")
    console.print(f"  flower  {state.flower_url}  (user {settings.flower_user}; password "
                  f"{'generated: ' + password if generated else 'in LAB_FLOWER_PASSWORD or .lab/flower-password'})")
    console.print(f"  logs    {settings.state_dir / 'logs'}/")
    if detach:
        console.print("stop it with `producer stack down`")
        return
    console.print("Ctrl-C stops everything")
    def _interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _interrupt)
    try:
        while any(processes.is_running(c) for c in state.children):
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    stopped = stack.stack_down(settings)
    console.print(f"stopped: {', '.join(stopped) or 'nothing'}")


@stack_app.command("down")
def stack_down() -> None:
    """Stop every process the stack started, by PID."""
    from producer.processes import stack

    stopped = stack.stack_down(get_settings())
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing to stop")


@stack_app.command("status")
def stack_status() -> None:
    """Show the stack's processes; exit 1 unless all of them run."""
    from producer.processes import children as processes
    from producer.processes import stack

    state = stack.StackState.load(stack.state_path(get_settings()))
    if state is None:
        console.print("no stack recorded")
        raise typer.Exit(1)
    running = [processes.is_running(child) for child in state.children]
    for child, alive in zip(state.children, running, strict=True):
        console.print(f"{child.role:<11} pid {child.pid:<8} {'running' if alive else 'stopped'}")
    if not all(running):
        raise typer.Exit(1)
