"""`producer stack up|down|status`: the local stack without Docker, supervised (producer/processes/supervisor.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit

import typer

from config.settings import LabSettings, get_settings
from producer.console import err
from producer.errors import LabError

if TYPE_CHECKING:
    from producer.processes.stack import StackState

stack_app = typer.Typer(no_args_is_help=True, help="The local stack without Docker.")
console = err


def _private_broker(settings: LabSettings) -> tuple[LabSettings, str]:
    """For an AMQP URL that does not answer: the private node's settings and the line saying how to reach it.

    When the node's URL differs from ``LAB_BROKER_URL`` (the URL named no password: one was generated),
    it becomes this process's ``LAB_BROKER_URL``, which the stack's processes inherit.
    """
    import os

    from config.settings import get_settings
    from producer.processes.broker_server import private_rabbitmq

    node = private_rabbitmq(settings) if settings.broker_is_amqp else None
    if node is None:
        return settings, ""
    line = f"  rabbitmq  private node {node.name} ({node.dir}; AMQP 127.0.0.1:{node.amqp_port})"
    if node.url != settings.broker_url and not urlsplit(settings.broker_url).password:
        os.environ["LAB_BROKER_URL"] = node.url
        get_settings.cache_clear()
        line += f"\n  other shells: export LAB_BROKER_URL='{node.url}'  (generated user and password, in node.json)"
    return get_settings(), line


def _print_up(settings: LabSettings, state: StackState, password: str, generated: bool, note: str = "") -> None:
    console.print(f"[bold green]stack up[/]: {', '.join(c.role for c in state.children)}")
    console.print(f"  broker  {state.broker_url}\n  target  {state.target_url}", markup=False)
    if note:
        console.print(note, markup=False)
    console.print(
        f"  flower  {state.flower_url}  (user {settings.flower_user}; password "
        f"{'generated: ' + password if generated else 'in LAB_FLOWER_PASSWORD or .lab/flower-password'})"
    )
    console.print(f"  logs    {settings.state_dir / 'logs'}/")


@stack_app.command("up")
def stack_up(
    detach: Annotated[bool, typer.Option("--detach", help="leave the stack running (supervised) and return")] = False,
) -> None:
    """Start Redis (if needed), the CPU and I/O workers, Flower and the latency target; restart what dies."""
    import os

    from producer.processes import stack, supervisor
    from producer.processes.flower import flower_password

    settings = get_settings()
    if stack.running_state(settings):
        raise LabError("the stack is already up (see `producer stack status`; stop it with `producer stack down`)")
    settings, note = _private_broker(settings)
    if settings.broker_is_amqp and settings.celery_mode == "lab":
        from config.celery_mode import REDIS_ONLY_NOTE

        note = "\n".join(filter(None, [note, f"  note: {REDIS_ONLY_NOTE}"]))
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        console.print(
            "note: running as root; Celery warns about that in the worker logs. "
            "Containers run the workers as a normal user."
        )
    password, generated = flower_password(settings)
    if detach:
        state = stack.start_detached(settings)
        _print_up(settings, state, password, generated, note)
        console.print(
            f"supervised by pid {state.supervisor.pid if state.supervisor else '?'} "
            f"(log {settings.state_dir / 'logs' / 'supervisor.log'}); stop it with `producer stack down`"
        )
        return
    from worker.app import app as celery_app

    def on_up(state: StackState) -> None:
        _print_up(settings, state, password, generated, note)
        console.print("Ctrl-C (or `producer stack down`) stops everything; what dies is restarted")

    stopped = supervisor.run_stack(celery_app, settings, password, on_up, lambda line: console.print(line))
    console.print(f"stopped: {', '.join(stopped) or 'nothing'}")


@stack_app.command("down")
def stack_down() -> None:
    """Stop every process the stack started (through its supervisor, else by PID)."""
    from producer.processes import stack

    stopped = stack.stack_down(get_settings())
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing to stop")


@stack_app.command("status")
def stack_status() -> None:
    """Show the stack's processes and restarts; exit 1 unless all of them run."""
    from producer.processes import children as processes
    from producer.processes import stack

    state = stack.StackState.load(stack.state_path(get_settings()))
    if state is None:
        console.print("no stack recorded")
        raise typer.Exit(1)
    running = [processes.is_running(child) for child in state.everyone()]
    for child, alive in zip(state.everyone(), running, strict=True):
        line = f"{child.role:<11} pid {child.pid:<8} {'running' if alive else 'stopped'}"
        record = state.restarts.get(child.role)
        if record and (record.count or record.gave_up):
            notes = [f"restarted {record.count}×"] if record.count else []
            notes += ["gave up"] if record.gave_up else []
            line += f" ({', '.join(notes)}, last: {record.last_exit})"
        console.print(line)
    if state.status != "up":
        console.print(f"status: {state.status}")
    from producer.processes.broker_server import broker_answers

    settings = get_settings()
    answers = broker_answers(settings)
    console.print(f"{'broker':<11} {state.broker_url} {'answers' if answers else 'does not answer'}", markup=False)
    if not all(running) or not answers:
        raise typer.Exit(1)
