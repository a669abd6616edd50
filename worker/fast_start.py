"""``python -m worker.fast_start -A worker.app worker …``: ``celery … worker …`` without the rest of Celery's CLI.

``python -m celery`` imports every sub-command (amqp, shell with click-repl and prompt-toolkit, …) and
every installed CLI plugin (Flower's, which imports Tornado and Flower itself) before it starts a
worker: ~0.15 s of CPU on this machine, a quarter of the lab worker's spawn-to-ready. This launcher
runs Celery's own ``worker`` command (the same click command, options and ``app.Worker``) with the app
given by ``-A``, after the same gevent/eventlet monkey-patching as ``python -m celery``, and hands
anything else to the full ``celery`` CLI. The lab mode's workers start here (producer/processes/roles.py);
stock mode's start with ``python -m celery``. The lab app adds no worker options (``app.user_options``),
so Celery's click command is used as it is, never extended.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    """Run ``celery -A APP worker ARGS`` through Celery's worker command alone."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 3 or args[0] not in ("-A", "--app") or args[2] != "worker":
        from celery.__main__ import main as celery_main

        sys.argv = ["celery", *args]
        celery_main()
        return
    from celery import maybe_patch_concurrency

    maybe_patch_concurrency(["celery", *args])  # -P gevent/eventlet: monkey-patch first, as celery's __main__
    from celery.app.utils import find_app
    from celery.bin.base import CLIContext
    from celery.bin.worker import worker

    app = find_app(args[1])
    if app.user_options.get("worker"):  # Celery's CLI adds them to its worker command; this launcher does not
        raise SystemExit(f"worker.fast_start: {args[1]} defines worker user options: start it with `celery`")
    worker.main(
        args=args[3:], prog_name="celery worker", obj=CLIContext(app=app, no_color=False, workdir=None, quiet=False)
    )


if __name__ == "__main__":
    main()
