"""A head start for ``shipyard serve --workers N``: its fork server, started before the command line loads.

The fork server's imports (1.6 s) are the longest part of a multi-worker server's start, and nothing in
them waits for the supervisor (``server/fork_server.py``); importing Typer and every command, then
parsing, takes 0.2 s before ``serve`` runs. So the console script first reads just enough of its
arguments to know whether they are ``serve`` with several local workers, and if so starts the fork
server at once. This is only a head start: Typer still parses every argument, ``serve`` starts the fork
server itself when it was not started here (doing it twice does nothing), and arguments this cannot read
start nothing early.
"""

from __future__ import annotations

from collections.abc import Sequence

#: The command line's global options that take a value, and those that do not (``cli/app.py``).
_GLOBAL_VALUED = ("--home",)
_GLOBAL_FLAGS = ("--debug",)


def start_fork_server_early(argv: Sequence[str]) -> None:
    """Start the fork server when ``argv`` (the arguments after ``shipyard``) serves with several local
    workers; for anything else, or a help request, do nothing."""
    arguments = _serve_arguments(argv)
    if arguments is None or "--help" in arguments:
        return
    workers = _last_value(arguments, "--workers", "1")
    engine = _last_value(arguments, "--engine", "local")
    if workers is None or engine is None or not workers.isdigit():
        return
    from shipyard.server.fork_server import start_fork_server

    start_fork_server(engine, int(workers))


def _serve_arguments(argv: Sequence[str]) -> list[str] | None:
    """The arguments after ``serve`` when it is the command, past the global options; else None."""
    index = 0
    while index < len(argv):
        argument = argv[index]
        if argument == "serve":
            return list(argv[index + 1 :])
        if argument in _GLOBAL_FLAGS or argument.startswith(tuple(f"{name}=" for name in _GLOBAL_VALUED)):
            index += 1
        elif argument in _GLOBAL_VALUED:
            index += 2
        else:
            return None
    return None


def _last_value(arguments: Sequence[str], option: str, default: str) -> str | None:
    """The value of the last ``option VALUE`` or ``option=VALUE`` (the one Typer keeps), ``default``
    without one, None when it is given without a value."""
    found: str | None = default
    for index, argument in enumerate(arguments):
        if argument == option:
            found = arguments[index + 1] if index + 1 < len(arguments) else None
        elif argument.startswith(f"{option}="):
            found = argument.split("=", 1)[1]
    return found
