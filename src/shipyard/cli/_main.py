"""Running the command line: parse, call the command, and turn its errors into one line and an exit code.

Errors are one line on stderr and a non-zero exit code chosen by the error's class; ``--debug`` shows
the traceback.
"""

from __future__ import annotations

import typer

from shipyard.cli.app import app
from shipyard.cli.common import state
from shipyard.cli.render import error_console, plain
from shipyard.errors import ShipyardError
from shipyard.flavors._process import own_process

#: Exit code for failures shipyard did not anticipate (a bug, or an environment problem).
UNEXPECTED_EXIT = 70


def main(argv: list[str] | None = None) -> int:
    """The command line on ``argv`` (default: this process's arguments); returns the exit code."""
    own_process()
    try:
        # Without standalone mode, a command's typer.Exit(code) comes back as the return value.
        outcome = app(args=argv, prog_name="shipyard", standalone_mode=False)
    except ShipyardError as exc:
        if state.debug:
            raise
        error_console().print(f"[bold red]error:[/] {plain(_one_line(str(exc)))}")
        return exc.exit_code
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.Abort:
        error_console().print("aborted")
        return 130
    except typer.TyperException as exc:  # usage errors: wrong option, missing argument
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            error_console().print(f"error: {plain(_one_line(exc.format_message()))}")
        return exc.exit_code
    except KeyboardInterrupt:
        error_console().print("interrupted")
        return 130
    except Exception as exc:
        if state.debug:
            raise
        error_console().print(
            f"[bold red]error:[/] unexpected {type(exc).__name__}: {plain(_one_line(str(exc)))} "
            "(run with --debug for the traceback)"
        )
        return UNEXPECTED_EXIT
    return outcome if isinstance(outcome, int) else 0


def _one_line(text: str) -> str:
    return " ".join(text.split())
