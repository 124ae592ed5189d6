"""Users and tokens over HTTP: an admin manages them, anyone signed in sees who they are and may make and
revoke tokens of their own (for a CI pipeline, say), so nobody needs an admin for a new laptop."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from shipyard.access import AccessService, Principal, Role, require
from shipyard.durations import parse_duration
from shipyard.registry import Registry
from shipyard.server.control.identity import caller, needs, signed_in

router = APIRouter(prefix="/api/v1", tags=["access"])
Admin = Annotated[Registry, Depends(needs(Role.ADMIN, "managing users"))]
Anyone = Annotated[Registry, Depends(needs(Role.VIEWER, "managing your own tokens"))]
Caller = Annotated[Principal, Depends(signed_in)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewUser(_Body):
    name: str = Field(min_length=1, max_length=100)
    role: str = Field(description="viewer, operator or admin")
    password: str | None = Field(None, description="for the dashboard's sign-in; tokens need none")


class RoleChange(_Body):
    role: str


class NewToken(_Body):
    name: str = Field(min_length=1, max_length=100, description="what it is for, e.g. 'ci'")
    user: str | None = Field(None, description="whose (admins only; default: yours)")
    expires: str | None = Field(None, description="lifetime such as '90d'; default: until revoked")


def _access(registry: Registry) -> AccessService:
    return AccessService(registry.db, registry.actor)


@router.get("/me", summary="Who the token or session belongs to, and its role")
def me(principal: Caller) -> dict[str, Any]:
    return {"user": principal.user, "role": principal.role.label, "via": principal.via}


@router.get("/users", summary="Every user and their role")
def list_users(registry: Admin) -> list[dict[str, Any]]:
    return [user.to_dict() for user in _access(registry).list_users()]


@router.post("/users", summary="Create a user")
def create_user(body: NewUser, registry: Admin) -> dict[str, Any]:
    return _access(registry).create_user(body.name, body.role, password=body.password).to_dict()


@router.put("/users/{name}/role", summary="Change a user's role")
def set_role(name: str, body: RoleChange, registry: Admin) -> dict[str, Any]:
    return _access(registry).set_role(name, body.role).to_dict()


@router.post("/users/{name}/disable", summary="Disable a user: their tokens and sessions stop working")
def disable(name: str, registry: Admin) -> dict[str, Any]:
    return _access(registry).disable(name).to_dict()


@router.get("/tokens", summary="Tokens (yours; an admin sees everyone's), never their secrets")
def list_tokens(request: Request, registry: Anyone) -> list[dict[str, Any]]:
    principal = caller(request)
    user = None if principal.can(Role.ADMIN) else principal.user
    return [token.to_dict() for token in _access(registry).list_tokens(user)]


@router.post("/tokens", summary="Create a token; its secret is in this answer and nowhere else")
def create_token(body: NewToken, request: Request, registry: Anyone) -> dict[str, Any]:
    principal = caller(request)
    owner = body.user or principal.user
    if owner != principal.user:
        require(principal, Role.ADMIN, "creating a token for someone else")
    lifetime: timedelta | None = None
    if body.expires is not None:
        lifetime = parse_duration(body.expires, what="expires", minimum=timedelta(minutes=1))
    return _access(registry).issue_token(owner, body.name, expires=lifetime).to_dict()


@router.delete("/tokens/{token_id}", summary="Revoke a token (yours; an admin may revoke any)")
def revoke_token(token_id: str, request: Request, registry: Anyone) -> dict[str, Any]:
    principal = caller(request)
    access = _access(registry)
    if not principal.can(Role.ADMIN):
        mine = {token.id for token in access.list_tokens(principal.user)}
        if token_id not in mine:
            require(principal, Role.ADMIN, "revoking someone else's token")
    return access.revoke_token(token_id).to_dict()
