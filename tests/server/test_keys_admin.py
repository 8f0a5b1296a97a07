"""The admin API over real HTTP: uvicorn on loopback serving ``admin_routes`` on a real SQLite store."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import uvicorn
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.routing import Mount

from keel.keys import KEY_PREFIX, hash_key
from keel.server.admin import admin_routes
from keel.server.auth import AuthFailed, authenticate
from keel.stores import open_key_store

MASTER = "master-" + "k" * 32
ADMIN = {"authorization": f"Bearer {MASTER}"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def serve(database: str, master_key: SecretStr | None) -> Iterator[str]:
    """uvicorn in a thread of its own, serving the admin routes under /admin; yields the base URL."""
    keys = open_key_store(database)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        await keys.close()

    app = Starlette(routes=[Mount("/admin", routes=admin_routes(keys, master_key))], lifespan=lifespan)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("admin") / "keys.db"


@pytest.fixture(scope="module")
def base_url(db_path: Path) -> Iterator[str]:
    with serve(f"sqlite:///{db_path}", SecretStr(MASTER)) as url:
        yield url


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession, method: str, url: str, headers: dict[str, str] | None = None, **kw: Any
) -> tuple[int, Any]:
    async with http.request(method, url, headers=ADMIN if headers is None else headers, **kw) as response:
        return response.status, await response.json(content_type=None)


def assert_error(body: Any, code: str | None = None) -> str:
    """Checks OpenAI's error shape and returns the message."""
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "code", "param"}
    assert body["error"]["type"] == "invalid_request_error"
    if code is not None:
        assert body["error"]["code"] == code
    return str(body["error"]["message"])


async def test_create_shows_the_secret_once(
    http: aiohttp.ClientSession, base_url: str, db_path: Path
) -> None:
    """201 carries the secret and the record; reading the key back never shows the secret again."""
    status, body = await call(
        http,
        "POST",
        f"{base_url}/admin/keys",
        json={"name": "ci", "team": "t-create", "models": ["gpt-4o"], "metadata": {"owner": "ana"}},
    )
    assert status == 201
    secret = body["key"]
    assert secret.startswith(KEY_PREFIX) and body["key_hint"] == f"{secret[:12]}…{secret[-4:]}"
    assert body["name"] == "ci" and body["team"] == "t-create" and body["models"] == ["gpt-4o"]
    assert body["status"] == "active" and body["metadata"] == {"owner": "ana"}
    _, listed = await call(http, "GET", f"{base_url}/admin/keys?team=t-create")
    _, shown = await call(http, "GET", f"{base_url}/admin/keys/{body['id']}")
    assert secret[len(KEY_PREFIX) :] not in str(listed) + str(shown) and "key" not in shown
    assert listed["object"] == "list" and [k["id"] for k in listed["data"]] == [body["id"]]
    with sqlite3.connect(db_path) as db:
        row = db.execute("SELECT * FROM virtual_keys WHERE id = ?", (body["id"],)).fetchone()
    assert hash_key(secret) in row and not any(secret[len(KEY_PREFIX) :] in str(v) for v in row)


async def test_keys_made_here_authenticate_and_revocation_refuses_them(
    http: aiohttp.ClientSession, base_url: str, db_path: Path
) -> None:
    """A key issued by the API authenticates; after DELETE it is refused as revoked."""
    _, created = await call(http, "POST", f"{base_url}/admin/keys", json={"name": "e2e"})
    reader = open_key_store(f"sqlite:///{db_path}", cache_ttl=0)  # the server as another process sees it
    try:
        bearer = {"authorization": f"Bearer {created['key']}"}
        principal = await authenticate(bearer, reader, SecretStr(MASTER))
        assert principal.kind == "virtual" and principal.key_id == created["id"]
        status, revoked = await call(http, "DELETE", f"{base_url}/admin/keys/{created['id']}")
        assert status == 200 and revoked["status"] == "revoked" and revoked["revoked_at"]
        with pytest.raises(AuthFailed, match="revoked"):
            await authenticate(bearer, reader, SecretStr(MASTER))
    finally:
        await reader.close()


async def test_list_filters_by_team_and_hides_revoked_unless_asked(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    """GET /admin/keys?team= lists one team's live keys; include_revoked=true adds the revoked."""
    ids = []
    for name in ("a", "b"):
        _, body = await call(http, "POST", f"{base_url}/admin/keys", json={"name": name, "team": "t-list"})
        ids.append(body["id"])
    await call(http, "DELETE", f"{base_url}/admin/keys/{ids[0]}")
    _, live = await call(http, "GET", f"{base_url}/admin/keys?team=t-list")
    _, every = await call(http, "GET", f"{base_url}/admin/keys?team=t-list&include_revoked=true")
    assert [k["id"] for k in live["data"]] == [ids[1]]
    assert [(k["id"], k["status"]) for k in every["data"]] == [(ids[0], "revoked"), (ids[1], "active")]
    status, body = await call(http, "GET", f"{base_url}/admin/keys?include_revoked=maybe")
    assert status == 400 and "include_revoked" in assert_error(body)


async def test_unknown_ids_are_404(http: aiohttp.ClientSession, base_url: str) -> None:
    """GET and DELETE of an unknown id answer 404 in OpenAI's shape, never echoing a pasted secret."""
    for method in ("GET", "DELETE"):
        status, body = await call(http, method, f"{base_url}/admin/keys/key_nope")
        assert status == 404 and "key_nope" in assert_error(body, "key_not_found")
        pasted = KEY_PREFIX + "p" * 43
        status, body = await call(http, method, f"{base_url}/admin/keys/{pasted}")
        assert status == 404 and pasted not in assert_error(body) and "not a key id" in str(body)


async def test_revoking_twice_keeps_the_first_time(http: aiohttp.ClientSession, base_url: str) -> None:
    """A second DELETE succeeds and reports the original revocation time."""
    _, body = await call(http, "POST", f"{base_url}/admin/keys", json={"name": "twice"})
    _, first = await call(http, "DELETE", f"{base_url}/admin/keys/{body['id']}")
    status, second = await call(http, "DELETE", f"{base_url}/admin/keys/{body['id']}")
    assert status == 200 and second["revoked_at"] == first["revoked_at"]


async def test_expiry_as_a_time_or_a_duration(http: aiohttp.ClientSession, base_url: str) -> None:
    """``expires_at`` takes an ISO date or time; ``expires_in`` seconds or a duration like 30d."""
    cases = [
        ({"expires_at": "2999-12-31"}, datetime(2999, 12, 31, tzinfo=UTC)),
        ({"expires_at": "2999-01-02T03:04:05+02:00"}, datetime(2999, 1, 2, 1, 4, 5, tzinfo=UTC)),
    ]
    for fields, expected in cases:
        _, body = await call(http, "POST", f"{base_url}/admin/keys", json={"name": "x", **fields})
        assert datetime.fromisoformat(body["expires_at"]) == expected
    for expires_in, delta in ((3600, timedelta(hours=1)), ("30d", timedelta(days=30))):
        _, body = await call(
            http, "POST", f"{base_url}/admin/keys", json={"name": "y", "expires_in": expires_in}
        )
        remaining = datetime.fromisoformat(body["expires_at"]) - datetime.now(UTC)
        assert delta - timedelta(minutes=1) < remaining <= delta


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"[1, 2]", 400, "must be a JSON object"),
        (b"", 400, "not valid JSON"),
        (b"{}", 400, "name: Field required"),
        (b'{"name": 5}', 400, "name: Input should be a valid string"),
        (b'{"name": "  "}', 400, "name must be a non-empty string"),
        (b'{"name": "x", "colour": "red"}', 400, "colour: unknown field"),
        (b'{"name": "x", "models": "gpt-4o"}', 400, "models: Input should be a valid list"),
        (b'{"name": "x", "models": []}', 400, "at least one model"),
        (b'{"name": "x", "metadata": {"k": 1}}', 400, "metadata.k: Input should be a valid string"),
        (b'{"name": "x", "expires_at": "2001-01-01"}', 400, "not in the future"),
        (b'{"name": "x", "expires_at": "soon"}', 400, "nor a date"),
        (b'{"name": "x", "expires_at": "30d"}', 400, "nor a date"),
        (b'{"name": "x", "expires_in": -5}', 400, "positive number of seconds"),
        (b'{"name": "x", "expires_in": "30x"}', 400, "not a duration"),
        (b'{"name": "x", "expires_in": 10000000000000000}', 400, "too long a duration"),
        (b'{"name": "x", "expires_in": "99999999999999d"}', 400, "too long a duration"),
        (b'{"name": "x", "expires_in": "9999999d"}', 400, "expires_in is too far in the future"),
        (b'{"name": "x", "expires_at": "9999-12-31T23:59:59-05:00"}', 400, "out of range"),
        (b'{"name": "x", "expires_in": 60, "expires_at": "2999-01-01"}', 400, "not both"),
        (b'{"name": "' + b"x" * 70_000 + b'"}', 413, "over 65536 bytes"),
    ],
)
async def test_bad_input_is_a_clear_4xx(
    http: aiohttp.ClientSession, base_url: str, body: bytes, status: int, fragment: str
) -> None:
    """Malformed or wrong-shaped bodies get a 4xx naming the problem, never a 5xx."""
    got, answer = await call(
        http,
        "POST",
        f"{base_url}/admin/keys",
        headers={**ADMIN, "content-type": "application/json"},
        data=body,
    )
    assert got == status, answer
    assert fragment in assert_error(answer)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Bearer wrong"},
        {"authorization": f"Basic {MASTER}"},
        {"authorization": f"Bearer {MASTER}x"},
    ],
)
async def test_every_route_needs_the_master_key(
    http: aiohttp.ClientSession, base_url: str, headers: dict[str, str]
) -> None:
    """Without the master key each route answers 401 in OpenAI's shape and does nothing."""
    for method, path in (("POST", "/admin/keys"), ("GET", "/admin/keys"), ("GET", "/admin/keys/k"),
                         ("DELETE", "/admin/keys/k")):  # fmt: skip
        status, body = await call(http, method, base_url + path, headers=headers, json={"name": "x"})
        assert status == 401 and "master key" in assert_error(body, "invalid_api_key")


async def test_a_virtual_key_is_not_an_admin_key(http: aiohttp.ClientSession, base_url: str) -> None:
    """A valid virtual key does not open the admin API; the master key in ``x-api-key`` does."""
    _, created = await call(http, "POST", f"{base_url}/admin/keys", json={"name": "not-admin"})
    status, _ = await call(http, "GET", f"{base_url}/admin/keys", headers={"x-api-key": created["key"]})
    assert status == 401
    status, _ = await call(http, "GET", f"{base_url}/admin/keys", headers={"x-api-key": MASTER})
    assert status == 200


async def test_without_a_master_key_the_admin_api_is_off(http: aiohttp.ClientSession, tmp_path: Path) -> None:
    """With no master key configured every admin route answers 403 saying to set KEEL_MASTER_KEY."""
    with serve(f"sqlite:///{tmp_path}/off.db", None) as url:
        for method, path in (("POST", "/admin/keys"), ("GET", "/admin/keys"), ("DELETE", "/admin/keys/k")):
            status, body = await call(http, method, url + path, json={"name": "x"})
            assert status == 403 and "KEEL_MASTER_KEY" in assert_error(body, "admin_disabled")
    assert not (tmp_path / "off.db").exists()


async def test_no_secret_reaches_a_log_line(
    http: aiohttp.ClientSession, base_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Creating, listing, authenticating with and revoking keys logs ids, never a secret."""
    with caplog.at_level(logging.DEBUG):
        _, created = await call(http, "POST", f"{base_url}/admin/keys", json={"name": "quiet"})
        await call(http, "GET", f"{base_url}/admin/keys")
        await call(
            http, "GET", f"{base_url}/admin/keys", headers={"authorization": f"Bearer {created['key']}"}
        )
        await call(http, "DELETE", f"{base_url}/admin/keys/{created['id']}")
        await asyncio.sleep(0.05)  # the server thread's last records
    assert "virtual key created" in caplog.text and created["id"] in caplog.text
    for secret in (created["key"], created["key"][len(KEY_PREFIX) :], MASTER):
        assert secret not in caplog.text


async def test_keel_serve_without_a_master_key_refuses_admin_key_routes_with_403(tmp_path: Path) -> None:
    """``keel serve`` opens no key store when auth is off; its key routes still say how to turn the
    admin API on (403 ``admin_disabled``) instead of a bare 404."""
    import json

    from keel import Gateway
    from keel.server import create_app
    from keel.server.run import open_keys

    gateway = Gateway.from_config({"database": f"sqlite:///{tmp_path}/k.db"})
    assert gateway.config.server.master_key is None and open_keys(gateway.config) is None
    app = create_app(gateway, keys=None)

    async def asgi(method: str, path: str) -> tuple[int, dict[str, Any]]:
        sent: list[dict[str, Any]] = []
        body = json.dumps({"name": "x"}).encode()
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
            "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
            "headers": [(b"content-type", b"application/json"), (b"host", b"keel")],
            "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 4000),
        }  # fmt: skip

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)
        payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return sent[0]["status"], json.loads(payload)

    for method, path in (("POST", "/admin/keys"), ("GET", "/admin/keys"), ("DELETE", "/admin/keys/k")):
        status, answer = await asgi(method, path)
        assert status == 403, (method, path, answer)
        assert "KEEL_MASTER_KEY" in assert_error(answer, "admin_disabled")
    await gateway.aclose()


async def test_admin_answers_match_the_openapi_document(http: aiohttp.ClientSession, base_url: str) -> None:
    """Create, list, show and revoke answer what /openapi.json says, with the statuses it lists."""
    import jsonschema

    from keel.server.openapi import DOCUMENT

    def check(path: str, method: str, status: int, body: Any) -> None:
        operation = DOCUMENT["paths"][path][method]
        assert str(status) in operation["responses"], (path, method, status)
        schema = operation["responses"][str(status)]["content"]["application/json"]["schema"]
        jsonschema.Draft202012Validator({**DOCUMENT, **schema}).validate(body)

    request = {"name": "documented", "team": "docs", "models": ["m"], "metadata": {"budget_usd": "5"}}
    jsonschema.Draft202012Validator({**DOCUMENT, "$ref": "#/components/schemas/NewVirtualKey"}).validate(
        request
    )
    status, created = await call(http, "POST", f"{base_url}/admin/keys", json=request)
    check("/admin/keys", "post", status, created)
    status, listed = await call(http, "GET", f"{base_url}/admin/keys?team=docs")
    check("/admin/keys", "get", status, listed)
    status, shown = await call(http, "GET", f"{base_url}/admin/keys/{created['id']}")
    check("/admin/keys/{key_id}", "get", status, shown)
    status, revoked = await call(http, "DELETE", f"{base_url}/admin/keys/{created['id']}")
    check("/admin/keys/{key_id}", "delete", status, revoked)
    assert revoked["status"] == "revoked"
    status, refused = await call(http, "GET", f"{base_url}/admin/keys", headers={})
    check("/admin/keys", "get", status, refused)
    assert status == 401
