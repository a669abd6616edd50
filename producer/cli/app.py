"""The `producer` command line: the typer app, its command groups, and every error as one line and an exit status."""

from __future__ import annotations

import sys
from importlib import metadata
from typing import Annotated

import click
import typer
from amqp.exceptions import AMQPError
from kombu.exceptions import OperationalError
from pydantic import ValidationError
from redis.exceptions import RedisError

from config import catalogue
from config.celery_mode import UntestedCeleryVersions
from config.settings import get_settings
from producer.errors import LabError

HELP = "Concurrency lab: Celery pools measured side by side, on your broker, for each workload in the catalogue."


def _print_version(value: bool) -> None:
    if value:
        versions = {name: _version(name) for name in ("concurrency-lab", "celery", "kombu", "redis")}
        print(" ".join(f"{name} {found}" for name, found in versions.items()))
        raise typer.Exit()


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="print the lab's, Celery's, kombu's and redis-py's versions",
        ),
    ] = False,
) -> None:
    """Concurrency lab: Celery pools measured side by side."""


def build_app() -> typer.Typer:
    """The CLI. Built after the catalogue's extensions are loaded, so their names show in help and choices."""
    from producer.cli.advise_command import register as register_advise_command
    from producer.cli.batch_commands import register as register_batch_commands
    from producer.cli.diff_command import HELP as DIFF_HELP
    from producer.cli.diff_command import diff
    from producer.cli.measure_commands import register as register_measure_commands
    from producer.cli.probe_command import probe
    from producer.cli.report_command import report
    from producer.cli.stack_commands import stack_app

    app = typer.Typer(
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        help=HELP,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_root)
    register_batch_commands(app)  # submit, demo, watch
    register_measure_commands(app)  # compare, sweep
    register_advise_command(app)  # advise
    app.command()(probe)
    app.command()(report)
    app.command(help=DIFF_HELP)(diff)
    app.add_typer(stack_app, name="stack")
    return app


# Typer ≥ 0.29 carries its own copy of click; catch both copies' exceptions.
_EXIT_ERRORS = (click.exceptions.Exit, typer.Exit)
_ABORT_ERRORS = (click.exceptions.Abort, typer.Abort)
_USAGE_ERRORS = (click.ClickException, getattr(typer, "TyperException", click.ClickException))


def main(argv: list[str] | None = None) -> None:
    """Entry point: every error becomes one line on stderr and a non-zero exit status."""
    try:
        catalogue.load_extensions(get_settings().catalogue_extensions)
        status = build_app()(args=argv, standalone_mode=False)  # click returns typer.Exit's code here
        if isinstance(status, int) and status:
            sys.exit(status)
    except _EXIT_ERRORS as done:
        sys.exit(getattr(done, "exit_code", 0))
    except _ABORT_ERRORS:
        sys.exit(130)
    except _USAGE_ERRORS as error:
        print(f"producer: error: {error.format_message()}", file=sys.stderr)
        sys.exit(2)
    except (LabError, catalogue.CatalogueError, UntestedCeleryVersions) as error:
        print(f"producer: error: {error}", file=sys.stderr)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        print("producer: interrupted", file=sys.stderr)
        sys.exit(130)
    except ValidationError as error:
        first = error.errors()[0]
        where = "LAB_" + "_".join(str(p) for p in first["loc"]).upper()
        print(f"producer: error: bad setting {where}: {first['msg']}", file=sys.stderr)
        sys.exit(2)
    except (OperationalError, RedisError, AMQPError) as error:
        print(f"producer: error: broker: {error}", file=sys.stderr)
        sys.exit(1)
