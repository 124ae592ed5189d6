"""Users and tokens through the management API: admins manage people, everyone manages their own tokens,
and a secret is shown once."""

from __future__ import annotations

import httpx

from tests.control.conftest import ControlPlane


def test_an_admin_adds_a_user_who_makes_a_token_of_their_own(control: ControlPlane) -> None:
    with control.client("admin") as admin, control.client("viewer") as viewer:
        assert viewer.get("/api/v1/users").status_code == 403
        refused = viewer.post("/api/v1/users", json={"name": "eve", "role": "admin"})
        assert refused.status_code == 403
        made = admin.post("/api/v1/users", json={"name": "dana", "role": "viewr"})
        assert made.status_code == 400 and "did you mean 'viewer'" in made.json()["error"]["message"]
        made = admin.post("/api/v1/users", json={"name": "dana", "role": "viewer"})
        assert made.status_code == 200 and made.json()["role"] == "viewer"
        assert "password" not in made.text.replace("has_password", "")
        for_dana = admin.post("/api/v1/tokens", json={"name": "laptop", "user": "dana", "expires": "30d"})
        assert for_dana.status_code == 200 and for_dana.json()["secret"].startswith("shy_")
        with httpx.Client(base_url=control.url, timeout=30) as dana:
            dana.headers["authorization"] = f"Bearer {for_dana.json()['secret']}"
            assert dana.get("/api/v1/me").json() == {"user": "dana", "role": "viewer", "via": "token"}
            ci = dana.post("/api/v1/tokens", json={"name": "ci"})
            assert ci.status_code == 200 and ci.json()["user"] == "dana"
            theirs = dana.post("/api/v1/tokens", json={"name": "sneaky", "user": "admin-user"})
            assert theirs.status_code == 403
            listed = dana.get("/api/v1/tokens").json()
            assert {token["name"] for token in listed} == {"laptop", "ci"}
            assert all("secret" not in token for token in listed)
            others = [t["id"] for t in admin.get("/api/v1/tokens").json() if t["user"] != "dana"]
            assert dana.delete(f"/api/v1/tokens/{others[0]}").status_code == 403
            assert dana.delete(f"/api/v1/tokens/{ci.json()['id']}").json()["state"] == "revoked"
            promoted = admin.put("/api/v1/users/dana/role", json={"role": "operator"})
            assert promoted.json()["role"] == "operator"
            assert dana.get("/api/v1/me").json()["role"] == "operator"
            assert admin.post("/api/v1/users/dana/disable").json()["disabled"] is True
            assert dana.get("/api/v1/me").status_code == 401
