"""``shipyard users`` and ``shipyard tokens``: who may use the management API and the dashboard.

A thin layer over ``shipyard.access``. These commands open the workspace's database directly, so whoever
can run them there is trusted as an admin: this is how the first admin and the CI tokens are made.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated

import typer

from shipyard.cli import render
from shipyard.cli.common import JsonFlag, open_registry
from shipyard.errors import InvalidInput

if TYPE_CHECKING:
    from shipyard.access import AccessService, TokenInfo, User

users_app = typer.Typer(
    help="Users of the management API and dashboard, and their roles.", no_args_is_help=True
)
tokens_app = typer.Typer(help="API tokens: credentials for scripts and CI.", no_args_is_help=True)

RoleArgument = Annotated[str, typer.Argument(help="viewer, operator or admin.")]
PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help="Read the password from standard input (for the dashboard; at least 8 chars).",
    ),
]


@contextlib.contextmanager
def _access(*, changes: bool = True) -> Iterator[AccessService]:
    """The access service of the workspace's database, as the workspace's actor."""
    from shipyard.access import AccessService

    with open_registry(changes=changes) as registry:
        yield AccessService(registry.db, registry.actor)


def _read_password() -> str:
    """The password piped in, without its line ending (``echo "$PW" | shipyard users add …``)."""
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise InvalidInput(
            '--password-stdin read an empty line; pipe the password in, e.g. printf %s "$PW" |'
        )
    return password


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="The user's name (a person, or a robot such as ci).")],
    role: Annotated[str, typer.Option("--role", help="viewer, operator or admin.")],
    password_stdin: PasswordStdin = False,
) -> None:
    """Add a user; with --password-stdin it can sign in to the dashboard, without it only use API tokens."""
    password = _read_password() if password_stdin else None
    with _access() as access:
        user = access.create_user(name, role, password)
    how = "a password and API tokens" if user.has_password else "API tokens (no password)"
    render.message("added {} as {}; signs in with {}", user.name, user.role.label, how)


@users_app.command("list")
def users_list(as_json: JsonFlag = False) -> None:
    """Every user with its role, whether it has a password, and whether it is disabled."""
    with _access(changes=False) as access:
        users = access.list_users()
    if as_json:
        render.emit_json([user.to_dict() for user in users])
        return
    render.table(None, ["name", "role", "password", "state", "created", "by"], [_user_row(u) for u in users])


@users_app.command("role")
def users_role(name: Annotated[str, typer.Argument(help="The user.")], role: RoleArgument) -> None:
    """Give a user another role, effective from its next request."""
    with _access() as access:
        user = access.set_role(name, role)
    render.message("{} is now {}", user.name, user.role.label)


@users_app.command("disable")
def users_disable(name: Annotated[str, typer.Argument(help="The user.")]) -> None:
    """Stop a user: its API tokens fail and its dashboard sessions end (users enable undoes it)."""
    with _access() as access:
        user = access.disable(name)
    render.message("{} is disabled: its tokens fail and its sessions are closed", user.name)


@users_app.command("enable")
def users_enable(name: Annotated[str, typer.Argument(help="The user.")]) -> None:
    """Let a disabled user sign in again; its unexpired, unrevoked tokens work again."""
    with _access() as access:
        user = access.enable(name)
    render.message("{} is enabled again", user.name)


@users_app.command("password")
def users_password(
    name: Annotated[str, typer.Argument(help="The user.")],
    password_stdin: PasswordStdin = False,
    remove: Annotated[bool, typer.Option("--remove", help="Remove the password: API tokens only.")] = False,
) -> None:
    """Set a user's dashboard password (read from standard input), or remove it; open sessions end."""
    if password_stdin == remove:
        raise InvalidInput("give one of --password-stdin (a new password) or --remove (no password)")
    with _access() as access:
        user = access.set_password(name, None if remove else _read_password())
    render.message(
        "{} {}; its open sessions are closed",
        user.name,
        "has a new password" if user.has_password else "has no password",
    )


@tokens_app.command("create")
def tokens_create(
    user: Annotated[str, typer.Option("--user", help="The user the token acts as (with its role).")],
    name: Annotated[str, typer.Option("--name", help="What the token is for, e.g. ci.")] = "default",
    expires: Annotated[
        str | None, typer.Option("--expires", help="Lifetime such as 90d or 12h (default: until revoked).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Issue an API token and print its secret, once: it cannot be shown again."""
    from datetime import timedelta

    from shipyard.durations import parse_duration

    lifetime = (
        None if expires is None else parse_duration(expires, what="--expires", minimum=timedelta(minutes=1))
    )
    with _access() as access:
        token = access.issue_token(user, name, lifetime)
    notice = "this is the only time the secret is shown; store it now (a CI secret, a password manager)\n"
    if as_json:
        render.emit_json(token.to_dict())
        sys.stderr.write(notice)
        return
    until = f"expires {token.expires_at:%Y-%m-%d %H:%M} UTC" if token.expires_at else "does not expire"
    render.message("token {} ({}) for {}: {}", token.id, token.name, token.user, until)
    sys.stdout.write(f"{token.secret}\n")  # plain: no wrapping or markup may touch the secret
    sys.stdout.write(notice)


@tokens_app.command("list")
def tokens_list(
    user: Annotated[str | None, typer.Option("--user", help="Only this user's tokens.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Every API token (never its secret): user, name, state, expiry, last use."""
    with _access(changes=False) as access:
        tokens = access.list_tokens(user)
    if as_json:
        render.emit_json([token.to_dict() for token in tokens])
        return
    render.table(
        None,
        ["id", "user", "name", "state", "created", "by", "expires", "last used"],
        [_token_row(token) for token in tokens],
    )


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id (shipyard tokens list).")],
) -> None:
    """Make a token fail from now on."""
    with _access() as access:
        token = access.revoke_token(token_id)
    render.message("token {} ({}) of {} is revoked", token.id, token.name, token.user)


def _user_row(user: User) -> tuple[object, ...]:
    state = "disabled" if user.disabled else "enabled"
    return (
        user.name,
        user.role.label,
        "yes" if user.has_password else "no",
        state,
        user.created_at,
        user.created_by,
    )


def _token_row(token: TokenInfo) -> tuple[object, ...]:
    return (
        token.id,
        token.user,
        token.name,
        token.state(),
        token.created_at,
        token.created_by,
        token.expires_at,
        token.last_used_at,
    )
