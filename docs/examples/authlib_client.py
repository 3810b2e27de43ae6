#!/usr/bin/env python3
"""A city service in Python signing citizens in with Cidadela, through Authlib (Debian's
python3-authlib and python3-requests). Tested as it stands by test/integrators/authlib.test.ts.

A small web server with three pages: /entrar sends the browser to Cidadela (code flow, PKCE S256,
state and nonce), /retorno takes the code, validates the ID token and reads userinfo, /sair
signs out at Cidadela too. Settings from the environment:

  CIDADELA_ISSUER   https://cidadela.cidade.gov.br
  CLIENT_ID, CLIENT_SECRET
  APP_URL           this service's own address (registered redirect: APP_URL/retorno)
  PORT              where to listen (loopback)

A real service keeps the pending logins and the signed-in citizen in its own session store;
this example keeps them in memory, keyed by a cookie, to stay short.
"""

import json
import os
import secrets
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from authlib.oidc.core import CodeIDToken

ISSUER = os.environ["CIDADELA_ISSUER"].rstrip("/")
CLIENT_ID = os.environ["CLIENT_ID"]
CLIENT_SECRET = os.environ["CLIENT_SECRET"]
APP_URL = os.environ["APP_URL"].rstrip("/")
REDIRECT_URI = f"{APP_URL}/retorno"

# Discovery: every endpoint comes from the issuer's document.
METADATA = requests.get(f"{ISSUER}/.well-known/openid-configuration", timeout=10).json()
assert METADATA["issuer"] == ISSUER, "the document must name the issuer we asked"

pending = {}  # cookie -> {state, nonce, code_verifier}
signed_in = {}  # cookie -> {id_token, claims, userinfo, token}


def oauth(**extra):
    # Cidadela requires PKCE S256; Authlib makes the challenge from the verifier.
    return OAuth2Session(
        CLIENT_ID,
        CLIENT_SECRET,
        scope="openid",
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
        **extra,
    )


def validate_id_token(id_token, nonce):
    # The keys are fetched when needed (they rotate; a real service caches them for minutes).
    keys = JsonWebKey.import_key_set(requests.get(METADATA["jwks_uri"], timeout=10).json())
    claims = jwt.decode(
        id_token,
        keys,
        claims_cls=CodeIDToken,
        claims_options={"iss": {"essential": True, "value": ISSUER}},
        claims_params={"nonce": nonce, "client_id": CLIENT_ID},
    )
    claims.validate(leeway=60)
    return dict(claims)


class Pages(BaseHTTPRequestHandler):
    def cookie(self):
        jar = SimpleCookie(self.headers.get("cookie", ""))
        return jar["sessao"].value if "sessao" in jar else None

    def send(self, status, body, headers=None):
        data = body.encode("utf-8")
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path, _, query = self.path.partition("?")
        if path == "/entrar":
            key = secrets.token_urlsafe(24)
            verifier = secrets.token_urlsafe(48)
            nonce = secrets.token_urlsafe(24)
            url, state = oauth().create_authorization_url(
                METADATA["authorization_endpoint"], code_verifier=verifier, nonce=nonce, ui_locales="pt-BR"
            )
            pending[key] = {"state": state, "nonce": nonce, "code_verifier": verifier}
            return self.send(302, "", {"location": url, "set-cookie": f"sessao={key}; HttpOnly; SameSite=Lax; Path=/"})
        if path == "/retorno":
            login = pending.pop(self.cookie() or "", None)
            if login is None:
                return self.send(400, "Sessão perdida: comece de novo em /entrar")
            answer = dict(parse_qsl(query))
            # RFC 9207: Cidadela names itself in every answer; a different issuer is a mix-up attack.
            if answer.get("state") != login["state"]:
                return self.send(400, "Estado não confere: comece de novo em /entrar")
            if answer.get("iss") != ISSUER:
                return self.send(400, "Resposta de outro emissor")
            if "error" in answer:  # access_denied when the citizen declines
                return self.send(403, json.dumps({"error": answer["error"]}), {"content-type": "application/json"})
            session = oauth(state=login["state"])
            # fetch_token checks the state and sends the PKCE verifier.
            token = session.fetch_token(
                METADATA["token_endpoint"],
                authorization_response=f"{APP_URL}{self.path}",
                code_verifier=login["code_verifier"],
            )
            claims = validate_id_token(token["id_token"], login["nonce"])
            userinfo = session.get(METADATA["userinfo_endpoint"]).json()
            signed_in[self.cookie()] = {"id_token": token["id_token"], "claims": claims, "userinfo": userinfo, "token": token}
            return self.send(302, "", {"location": "/painel"})
        if path == "/painel":
            me = signed_in.get(self.cookie() or "")
            if me is None:
                return self.send(302, "", {"location": "/entrar"})
            return self.send(200, json.dumps({"claims": me["claims"], "userinfo": me["userinfo"]}), {"content-type": "application/json"})
        if path == "/renovar":
            # A refresh: Cidadela rotates the refresh token at every use; keep only the newest.
            me = signed_in.get(self.cookie() or "")
            if me is None:
                return self.send(401, "")
            session = oauth(token=me["token"])
            me["token"] = session.refresh_token(METADATA["token_endpoint"], refresh_token=me["token"]["refresh_token"])
            return self.send(200, json.dumps({"rotated": True}), {"content-type": "application/json"})
        if path == "/sair":
            me = signed_in.pop(self.cookie() or "", None)
            if me is None:
                return self.send(302, "", {"location": "/"})
            oauth(token=me["token"]).revoke_token(METADATA["revocation_endpoint"], me["token"]["refresh_token"], token_type_hint="refresh_token")
            # RP-initiated logout with the ID token as hint: Cidadela ends its session without asking.
            end = METADATA["end_session_endpoint"] + "?" + urlencode({"id_token_hint": me["id_token"], "post_logout_redirect_uri": f"{APP_URL}/"})
            return self.send(302, "", {"location": end})
        if path == "/":
            return self.send(200, json.dumps({"signed_in": self.cookie() in signed_in}), {"content-type": "application/json"})
        return self.send(404, "")

    def log_message(self, *args):
        pass  # no URLs (codes, states) in the logs


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("PORT", "8081"))), Pages)
    print(f"listening on {APP_URL}", flush=True)
    server.serve_forever()
