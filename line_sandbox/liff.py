"""LIFF and LINE Login as a LIFF page sees them: ID tokens, their verification, a LIFF SDK.

- ``POST /sandbox/channels/{name}/liff-apps`` ``{"endpoint_url", "login_channel_id"?,
  "liff_id"?}`` registers a LIFF app of the channel's provider (a LINE Login channel id and a
  LIFF ID ``<login channel id>-<8 characters>`` are made up when not given). Registering the
  same LIFF ID again replaces it.
- ``POST /sandbox/channels/{name}/id-token`` ``{"user_id", "liff_id"? | "login_channel_id"?,
  "expires_in"?, "nonce"?}`` → ``{"id_token", "claims"}``: an ID token as LINE Login issues it
  for that simulated resident (ES256, ``iss`` ``https://access.line.me``, ``sub`` the user id,
  ``aud`` the LINE Login channel id, ``exp``, ``iat``, ``amr``, ``name``). ``expires_in`` may be
  negative (an already expired token, for tests).
- ``POST /oauth2/v2.1/verify`` (form ``id_token``, ``client_id``, ``nonce``?, ``user_id``?)
  answers like LINE: 200 with the claims, or 400 ``{"error": "invalid_request",
  "error_description": "IdToken expired." | "Invalid IdToken." | "Invalid IdToken Audience." |
  …}``. ``GET /oauth2/v2.1/certs``: the JWKS (P-256 public key) the tokens are signed with.
- ``GET /liff/edge/2/sdk.js``: a minimal LIFF SDK (``liff.init``, ``liff.ready``,
  ``liff.isLoggedIn``, ``liff.getIDToken``, ``liff.getDecodedIDToken``, ``liff.isInClient``,
  ``liff.closeWindow``, ``liff.getLanguage``, ``liff.getOS``). Point the node's
  ``TODOKE_NODE_LIFF_SDK_URL`` at it.
- LIFF URLs, as LINE has them: ``https://liff.line.me/{liffId}[/path][?query]`` opens the LIFF
  app's endpoint URL with ``/path`` and the query appended, in the LIFF browser, logged in as the
  resident whose LINE app opened it. ``GET /liff-url/{liffId}[/path]`` is the sandbox's stand-in
  for ``https://liff.line.me`` (point the node's ``TODOKE_NODE_LIFF_URL_BASE`` at
  ``<sandbox>/liff-url``): it knows the resident from the ``sandbox_line_user`` cookie their
  (simulated) LINE app set, else it opens the endpoint logged out. Unknown LIFF ID → 404.
  Logged in means: a fresh ID token travels in the URL fragment
  (``#sandbox_id_token=…&sandbox_in_client=1``, kept across redirects by the browser, never sent
  to a server) and the sandbox SDK picks it up in ``liff.init``.
- ``GET /sandbox/liff/open/{name}/{user_id}?url=…``: the simulated resident's LINE app opens a
  URI action (the chat page's buttons go through it) and remembers who they are (cookie). A LIFF
  URL opens its app logged in; any other URL opens as it is (302), also one on a LIFF app's own
  host: like LINE, only a LIFF URL starts a LIFF session (a redirect *to* a LIFF URL, e.g. the
  node's click counter, reaches ``/liff-url`` with the cookie).

The signing key is made when the sandbox starts: tokens of an earlier run are "Invalid IdToken.".
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import string
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from line_sandbox.channels import AdminError, get_channel, resolve_users
from line_sandbox.residents import display_name
from line_sandbox.store import Channel, SandboxState

ISSUER = "https://access.line.me"
DEFAULT_TTL_SECONDS = 3600
LIFF_ID_RE = re.compile(r"[0-9]{10}-[A-Za-z0-9]{8}")
LOGIN_CHANNEL_RE = re.compile(r"[0-9]{10}")
FRAGMENT_TOKEN = "sandbox_id_token"  # noqa: S105 (a URL fragment key)
FRAGMENT_IN_CLIENT = "sandbox_in_client"
SDK_PATH = "/liff/edge/2/sdk.js"
#: the sandbox's ``https://liff.line.me``
LIFF_URL_PATH = "/liff-url"
LINE_LIFF_ORIGIN = "https://liff.line.me"
#: who the simulated LINE app belongs to (``channel:userId``), set by ``/sandbox/liff/open``
USER_COOKIE = "sandbox_line_user"
MAX_FORM_BYTES = 16 * 1024


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def login_channel_for(channel_name: str) -> str:
    """A 10-digit LINE Login channel id, stable for a messaging channel name."""
    digest = int(hashlib.sha256(f"login:{channel_name}".encode()).hexdigest()[:12], 16)
    return str(1_000_000_000 + digest % 9_000_000_000)


@dataclass(frozen=True)
class LiffApp:
    liff_id: str
    login_channel_id: str
    endpoint_url: str
    channel: str


@dataclass
class LiffStore:
    """The LINE Login signing key and the LIFF apps (lives on ``app.state.liff``)."""

    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    kid: str = field(default_factory=lambda: secrets.token_hex(16))
    apps: dict[str, LiffApp] = field(default_factory=dict)

    def jwk(self) -> dict[str, str]:
        numbers = self.key.public_key().public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "alg": "ES256",
            "use": "sig",
            "kid": self.kid,
            "x": _b64(numbers.x.to_bytes(32, "big")),
            "y": _b64(numbers.y.to_bytes(32, "big")),
        }

    def sign(self, claims: dict[str, Any]) -> str:
        header = {"typ": "JWT", "alg": "ES256", "kid": self.kid}
        signing_input = (
            _b64(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + _b64(json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode())
        )
        der = self.key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return signing_input + "." + _b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))

    def open(self, token: str) -> dict[str, Any] | None:
        """The claims of a token this sandbox signed, or None (malformed or bad signature)."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            header = json.loads(_unb64(parts[0]))
            raw = _unb64(parts[2])
            if (
                not isinstance(header, dict)
                or header.get("alg") != "ES256"
                or header.get("kid") != self.kid
                or len(raw) != 64
            ):
                return None
            signature = encode_dss_signature(
                int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
            )
            self.key.public_key().verify(
                signature, f"{parts[0]}.{parts[1]}".encode("ascii"), ec.ECDSA(hashes.SHA256())
            )
            claims = json.loads(_unb64(parts[1]))
        except (ValueError, InvalidSignature, UnicodeError):
            return None
        return claims if isinstance(claims, dict) else None


def parse_liff_url(url: str, sandbox_base: str) -> tuple[str, str, str] | None:
    """(LIFF ID, extra path, query) when ``url`` is a LIFF URL — LINE's or this sandbox's
    ``/liff-url`` — else None."""
    parts = urlsplit(url)
    origin = _origin(url)
    if origin == LINE_LIFF_ORIGIN:
        rest = parts.path
    elif (
        origin is not None
        and origin == _origin(sandbox_base)
        and (parts.path.startswith(LIFF_URL_PATH + "/"))
    ):
        rest = parts.path[len(LIFF_URL_PATH) :]
    else:
        return None
    liff_id, _, extra = rest.lstrip("/").partition("/")
    if not LIFF_ID_RE.fullmatch(liff_id):
        return None
    return liff_id, extra, parts.query


def endpoint_for(app: LiffApp, extra: str, query: str) -> str:
    """Where a LIFF URL leads: the endpoint URL, the extra path and the query appended."""
    url = f"{app.endpoint_url.rstrip('/')}/{extra}" if extra else app.endpoint_url
    if query:
        url += ("&" if "?" in url else "?") + query
    return url


def _store(request: Request) -> LiffStore:
    store: LiffStore | None = getattr(request.app.state, "liff", None)
    if store is None:  # an app built without the lifespan line (older create_app)
        store = LiffStore()
        request.app.state.liff = store
    return store


def _state(request: Request) -> SandboxState:
    state: SandboxState = request.app.state.sandbox
    return state


def issue_token(
    state: SandboxState,
    store: LiffStore,
    channel: Channel,
    index: int,
    *,
    login_channel_id: str,
    expires_in: int = DEFAULT_TTL_SECONDS,
    nonce: str | None = None,
) -> tuple[str, dict[str, Any]]:
    now = int(state.clock.now().timestamp())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": channel.roster[index],
        "aud": login_channel_id,
        "exp": now + expires_in,
        "iat": now,
        "amr": ["linesso"],
        "name": display_name(index),
    }
    if nonce is not None:
        claims["nonce"] = nonce
    return store.sign(claims), claims


def _verify_error(description: str) -> JSONResponse:
    return JSONResponse(
        {"error": "invalid_request", "error_description": description}, status_code=400
    )


class LiffAppIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    endpoint_url: str = Field(min_length=1, max_length=2000)
    login_channel_id: str | None = Field(default=None, pattern=r"^[0-9]{10}$")
    liff_id: str | None = Field(default=None, pattern=r"^[0-9]{10}-[A-Za-z0-9]{8}$")


class IdTokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: str
    liff_id: str | None = None
    login_channel_id: str | None = Field(default=None, pattern=r"^[0-9]{10}$")
    expires_in: int = Field(default=DEFAULT_TTL_SECONDS, ge=-86_400, le=86_400)
    nonce: str | None = Field(default=None, max_length=255)


def _login_channel(store: LiffStore, channel: Channel, body: IdTokenIn) -> str:
    if body.liff_id is not None:
        app = store.apps.get(body.liff_id)
        if app is None or app.channel != channel.name:
            raise AdminError(404, "unknown_liff_app", f"no LIFF app {body.liff_id!r} here")
        return app.login_channel_id
    if body.login_channel_id is not None:
        return body.login_channel_id
    apps = [app for app in store.apps.values() if app.channel == channel.name]
    return apps[0].login_channel_id if apps else login_channel_for(channel.name)


SDK_JS = r"""/* LIFF SDK (Todoke LINE sandbox): the subset a LIFF form needs. */
(function () {
  "use strict";
  var KEY = "todoke.sandbox.liff";
  var session = null;
  var config = null;
  var readyResolve;
  function stored() {
    try { return JSON.parse(window.sessionStorage.getItem(KEY) || "null"); } catch (e) { return null; }
  }
  function decode(token) {
    try {
      var part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      var bytes = atob(part + "===".slice((part.length + 3) % 4));
      return JSON.parse(decodeURIComponent(Array.prototype.map.call(bytes, function (c) {
        return "%" + ("00" + c.charCodeAt(0).toString(16)).slice(-2);
      }).join("")));
    } catch (e) { return null; }
  }
  var liff = {
    id: null,
    ready: new Promise(function (resolve) { readyResolve = resolve; }),
    init: function (options) {
      if (!options || !options.liffId) {
        return Promise.reject(new Error("liffId is necessary for liff.init()"));
      }
      config = options;
      liff.id = options.liffId;
      var params = new URLSearchParams(window.location.hash.replace(/^#/, ""));
      var token = params.get("__TOKEN__");
      if (token) {
        session = { idToken: token, inClient: params.get("__IN_CLIENT__") === "1" };
        try { window.sessionStorage.setItem(KEY, JSON.stringify(session)); } catch (e) {}
        params.delete("__TOKEN__");
        params.delete("__IN_CLIENT__");
        var rest = params.toString();
        window.history.replaceState(null, "", window.location.pathname + window.location.search +
          (rest ? "#" + rest : ""));
      } else {
        session = stored();
      }
      readyResolve();
      return Promise.resolve();
    },
    isLoggedIn: function () { return !!(session && session.idToken); },
    isInClient: function () { return !!(session && session.inClient); },
    getIDToken: function () { return session ? session.idToken : null; },
    getDecodedIDToken: function () { return session ? decode(session.idToken) : null; },
    getLanguage: function () { return "ja"; },
    getOS: function () { return "web"; },
    getVersion: function () { return "2.0.0-todoke-sandbox"; },
    login: function () {
      throw new Error("LINE sandbox: open this page from a resident's talk screen " +
        "(/sandbox/liff/open/{channel}/{userId}?url=...)");
    },
    logout: function () {
      session = null;
      try { window.sessionStorage.removeItem(KEY); } catch (e) {}
    },
    closeWindow: function () {
      document.documentElement.setAttribute("data-liff-closed", "true");
      window.close();
    }
  };
  window.liff = liff;
})();
""".replace("__TOKEN__", FRAGMENT_TOKEN).replace("__IN_CLIENT__", FRAGMENT_IN_CLIENT)


#: the chat page's script: every button of the talk opens through ``/sandbox/liff/open/…``
PHONE_JS = """/* Todoke LINE sandbox: the talk screen opens URI actions in the resident's LINE app. */
(function () {
  "use strict";
  var parts = window.location.pathname.split("/");  // /sandbox/chat/{channel}/{userId}
  if (parts.length < 5) { return; }
  var opener = "/sandbox/liff/open/" + parts[3] + "/" + parts[4] + "?url=";
  document.querySelectorAll("a.btn[href]").forEach(function (link) {
    link.href = opener + encodeURIComponent(link.getAttribute("href"));
    link.removeAttribute("target");
  });
})();
"""


def build_router() -> APIRouter:
    router = APIRouter()

    @router.post("/sandbox/channels/{name}/liff-apps", status_code=201)
    async def add_liff_app(name: str, body: LiffAppIn, request: Request) -> dict[str, Any]:
        channel = get_channel(_state(request), name)
        if _origin(body.endpoint_url) is None:
            raise AdminError(400, "bad_endpoint_url", "endpoint_url must be an http(s) URL")
        store = _store(request)
        login = body.login_channel_id or (
            body.liff_id.split("-")[0] if body.liff_id else login_channel_for(channel.name)
        )
        liff_id = body.liff_id or (
            f"{login}-" + "".join(secrets.choice(string.ascii_letters) for _ in range(8))
        )
        if not liff_id.startswith(f"{login}-"):
            raise AdminError(
                400, "liff_id_mismatch", "a LIFF ID starts with its LINE Login channel id"
            )
        app = LiffApp(liff_id, login, body.endpoint_url, channel.name)
        store.apps[liff_id] = app
        return {
            "liff_id": app.liff_id,
            "login_channel_id": app.login_channel_id,
            "endpoint_url": app.endpoint_url,
        }

    @router.post("/sandbox/channels/{name}/id-token")
    async def id_token(name: str, body: IdTokenIn, request: Request) -> dict[str, Any]:
        state = _state(request)
        channel = get_channel(state, name)
        index = resolve_users(channel, [body.user_id], everyone=False)[0]
        store = _store(request)
        token, claims = issue_token(
            state,
            store,
            channel,
            index,
            login_channel_id=_login_channel(store, channel, body),
            expires_in=body.expires_in,
            nonce=body.nonce,
        )
        return {"id_token": token, "claims": claims}

    def logged_in(
        request: Request, channel: Channel, index: int, app: LiffApp, url: str
    ) -> Response:
        """302 to ``url`` with a fresh ID token of the resident in the fragment."""
        store = _store(request)
        token, _ = issue_token(
            _state(request), store, channel, index, login_channel_id=app.login_channel_id
        )
        base, _, fragment = url.partition("#")
        extra = urlencode({FRAGMENT_TOKEN: token, FRAGMENT_IN_CLIENT: "1"})
        return RedirectResponse(
            f"{base}#{fragment + '&' if fragment else ''}{extra}",
            status_code=302,
            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
        )

    def known_app(request: Request, liff_id: str) -> LiffApp:
        app = _store(request).apps.get(liff_id)
        if app is None:
            raise AdminError(404, "unknown_liff_app", f"no LIFF app {liff_id}")
        return app

    @router.get("/sandbox/liff/open/{name}/{user_id}")
    async def open_uri(name: str, user_id: str, url: str, request: Request) -> Response:
        state = _state(request)
        channel = get_channel(state, name)
        index = resolve_users(channel, [user_id], everyone=False)[0]
        if _origin(url) is None:
            raise AdminError(400, "bad_url", "url must be an http(s) URL")
        parsed = parse_liff_url(url, str(request.base_url))
        if parsed is not None:
            app = known_app(request, parsed[0])
            response = (
                logged_in(request, channel, index, app, endpoint_for(app, *parsed[1:]))
                if app.channel == channel.name
                else RedirectResponse(endpoint_for(app, *parsed[1:]), status_code=302)
            )
        else:
            response = RedirectResponse(url, status_code=302)
        response.set_cookie(
            USER_COOKIE, f"{channel.name}:{user_id}", httponly=True, samesite="lax", path="/"
        )
        return response

    async def liff_url(liff_id: str, extra: str, request: Request) -> Response:
        app = known_app(request, liff_id)
        target = endpoint_for(app, extra, request.url.query)
        channel_name, _, user_id = request.cookies.get(USER_COOKIE, "").partition(":")
        if channel_name == app.channel:
            channel = get_channel(_state(request), channel_name)
            try:
                index = resolve_users(channel, [user_id], everyone=False)[0]
            except AdminError:
                pass  # not one of the channel's residents: open logged out
            else:
                return logged_in(request, channel, index, app, target)
        return RedirectResponse(target, status_code=302, headers={"Cache-Control": "no-store"})

    @router.get(LIFF_URL_PATH + "/{liff_id}", include_in_schema=False)
    async def liff_url_root(liff_id: str, request: Request) -> Response:
        return await liff_url(liff_id, "", request)

    @router.get(LIFF_URL_PATH + "/{liff_id}/{extra:path}", include_in_schema=False)
    async def liff_url_path(liff_id: str, extra: str, request: Request) -> Response:
        return await liff_url(liff_id, extra, request)

    @router.post("/oauth2/v2.1/verify", include_in_schema=False)
    async def verify(request: Request) -> JSONResponse:
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("application/x-www-form-urlencoded"):
            return _verify_error("Required parameter is missing: id_token")
        raw = await request.body()
        if len(raw) > MAX_FORM_BYTES:
            return _verify_error("Invalid IdToken.")
        parsed = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
        form = {key: values[0] for key, values in parsed.items() if len(values) == 1}
        token, client_id = form.get("id_token"), form.get("client_id")
        if not isinstance(token, str) or not token:
            return _verify_error("Required parameter is missing: id_token")
        if not isinstance(client_id, str) or not client_id:
            return _verify_error("Required parameter is missing: client_id")
        claims = _store(request).open(token)
        if claims is None:
            return _verify_error("Invalid IdToken.")
        if claims.get("iss") != ISSUER:
            return _verify_error("Invalid IdToken Issuer.")
        now = _state(request).clock.now().timestamp()
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp <= now:
            return _verify_error("IdToken expired.")
        if claims.get("aud") != client_id:
            return _verify_error("Invalid IdToken Audience.")
        nonce = form.get("nonce")
        if isinstance(nonce, str) and nonce and claims.get("nonce") != nonce:
            return _verify_error("Invalid IdToken Nonce.")
        user_id = form.get("user_id")
        if isinstance(user_id, str) and user_id and claims.get("sub") != user_id:
            return _verify_error("Invalid IdToken Subject Identifier.")
        return JSONResponse(claims)

    @router.get("/oauth2/v2.1/certs", include_in_schema=False)
    async def certs(request: Request) -> JSONResponse:
        return JSONResponse({"keys": [_store(request).jwk()]})

    @router.get("/sandbox/liff/phone.js", include_in_schema=False)
    async def phone_script() -> Response:
        return Response(
            PHONE_JS,
            media_type="application/javascript; charset=utf-8",
            headers={"Cache-Control": "no-cache"},
        )

    @router.get(SDK_PATH, include_in_schema=False)
    async def sdk() -> Response:
        return Response(
            SDK_JS,
            media_type="application/javascript; charset=utf-8",
            headers={"Cache-Control": "no-cache", "Access-Control-Allow-Origin": "*"},
        )

    return router


def open_href(channel: str, user_id: str, url: str) -> str:
    """The chat page's link that opens ``url`` in the resident's (simulated) LINE app."""
    return f"/sandbox/liff/open/{quote(channel)}/{quote(user_id)}?url={quote(url, safe='')}"
