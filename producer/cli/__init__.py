"""The command line: one typer app, its commands by concern, errors as one line."""
