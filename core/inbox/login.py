"""Logging in and out, changing one's own password, and the inbox's front door."""

from __future__ import annotations

import secrets

from sqlmodel import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from canales.core import events
from canales.core.inbox import sessions, throttle
from canales.core.inbox.access import (
    LoginRequired,
    canales_of,
    prelogin_cookie_name,
    session_cookie_name,
    signed_in,
)
from canales.core.inbox.texts import text
from canales.core.inbox.web import done, render
from canales.core.models import Agent
from canales.core.passwords import WeakPassword, hash_password, needs_rehash, verify_password

# Verifying against this when the e-mail is unknown makes a wrong e-mail cost as
# much time as a wrong password, so timing does not reveal who has an account.
_DUMMY_HASH = hash_password("not-a-real-password-" + secrets.token_hex(8))


def safe_next(value: str | None) -> str:
    """Where to go after login: only a path inside the inbox (never ``//host``,
    ``/\\host``, a scheme or control characters)."""
    if (
        not value
        or not value.startswith("/inbox/")
        or value.startswith("//")
        or "\\" in value
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)
        or value.startswith("/inbox/login")
    ):
        return "/inbox/"
    return value


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


async def login_form(request: Request, *, error: str | None = None, email: str = "", status: int = 200) -> Response:
    """The login page. It sets a pre-login cookie whose HMAC is the form's CSRF
    token, so a login cannot be forged from another site either."""
    secret = request.cookies.get(prelogin_cookie_name(request)) or secrets.token_urlsafe(32)
    response = await render(
        request,
        "inbox/login.html",
        who=None,
        status=status,
        csrf_token=sessions.csrf_for(secret),
        error=error,
        email=email,
        next=safe_next(request.query_params.get("next")),
    )
    _set_cookie(request, response, prelogin_cookie_name(request), secret, 3600)
    return response


async def login_page(request: Request) -> Response:
    try:
        await signed_in(request)
    except LoginRequired:
        return await login_form(request)
    return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)


async def login(request: Request) -> Response:
    """Check the password (rate limited per account and per address), then start
    a new session: any session the browser had is ended, never reused."""
    canales = canales_of(request)
    form = await request.form()
    email = str(form.get("email", "")).strip().lower()[:254]
    password = str(form.get("password", ""))[:1024]
    ip = _client_ip(request)
    now = next(iter(canales.sites.values())).now()
    wait = await throttle.retry_after(canales.db, email, ip, now)
    if wait is not None:
        response = await login_form(
            request, error=text("login.throttled", minutes=max(1, (wait + 59) // 60)), email=email, status=429
        )
        response.headers["retry-after"] = str(wait)
        return response
    async with canales.db.read() as session:
        agent = (await session.exec(select(Agent).where(Agent.email == email))).first()
    good = verify_password(agent.password_hash if agent else _DUMMY_HASH, password)
    if agent is None or not good or not agent.active:
        await throttle.failed(canales.db, email, ip, now)
        return await login_form(request, error=text("login.failed"), email=email, status=401)
    await throttle.succeeded(canales.db, email)
    if needs_rehash(agent.password_hash):
        async with canales.db.write() as session:
            agent.password_hash = hash_password(password)
            session.add(agent)
    old = await sessions.find_session(canales.db, request.cookies.get(session_cookie_name(request)), now)
    if old is not None and old.session.id is not None:
        await sessions.end_session(canales.db, old.session.id, now)
    token = await sessions.open_session(
        canales.db, agent, now, ip=ip, user_agent=request.headers.get("user-agent")
    )
    response = RedirectResponse(safe_next(str(form.get("next", ""))), status_code=303)
    _set_cookie(request, response, session_cookie_name(request), token, None)
    response.delete_cookie(prelogin_cookie_name(request), path="/")
    return response


async def logout(request: Request) -> Response:
    canales = canales_of(request)
    try:
        who = await signed_in(request)
    except LoginRequired:
        who = None
    if who is not None and who.session_id is not None:
        now = next(iter(canales.sites.values())).now()
        await sessions.end_session(canales.db, who.session_id, now)
        await events.access_changed(canales.bus, who.id)
    response = RedirectResponse("/inbox/login?ok=logged_out", status_code=303)
    response.delete_cookie(session_cookie_name(request), path="/")
    return response


async def home(request: Request) -> Response:
    """``/inbox/``: straight to the agent's only site, else a list of their sites."""
    who = await signed_in(request)
    if len(who.roles) == 1:
        return RedirectResponse(f"/inbox/{next(iter(who.roles))}/", status_code=303)
    return await render(request, "inbox/home.html", who=who)


async def password_page(request: Request) -> Response:
    who = await signed_in(request)
    return await render(request, "inbox/password.html", who=who)


async def change_password(request: Request) -> Response:
    """Change one's own password: every other session of the agent ends (and its
    sockets close); this browser gets a fresh session."""
    who = await signed_in(request)
    canales = canales_of(request)
    form = await request.form()
    current, new, again = (str(form.get(k, ""))[:1024] for k in ("current", "new", "again"))
    error = None
    if not verify_password(who.agent.password_hash, current):
        error = text("password.wrong")
    elif new != again:
        error = text("password.mismatch")
    else:
        try:
            new_hash = hash_password(new)
        except WeakPassword:
            error = text("password.weak")
    if error is not None:
        return await render(request, "inbox/password.html", who=who, error=error, status=422)
    now = next(iter(canales.sites.values())).now()
    async with canales.db.write() as session:
        agent = await session.get(Agent, who.id)
        assert agent is not None
        agent.password_hash = new_hash
        agent.session_epoch += 1
        session.add(agent)
    await events.access_changed(canales.bus, who.id)
    token = await sessions.open_session(canales.db, agent, now, ip=_client_ip(request), user_agent=request.headers.get("user-agent"))
    response = done(request, "/inbox/password", "password")
    _set_cookie(request, response, session_cookie_name(request), token, None)
    return response
