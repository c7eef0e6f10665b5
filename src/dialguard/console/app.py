"""The console's web application: pages, forms and the floor's event stream.

Plain HTML forms posted to Starlette, rendered by Jinja2 templates: every control works
with the keyboard and without script. One small script (static/console.js) follows the
floor through server-sent events and marks it stale when the stream breaks; plotly's
own bundle (shipped inside the plotly package) draws the what-if plot. Nothing is
fetched from the internet.

Rules every route keeps:

- no page but the login page without a live session (:class:`~.auth.Sessions`);
- every POST carries the session's CSRF token, or is refused with 403 before anything
  is read from it; a viewer's POST to a control is refused with 403 as well (the page
  shows viewers no controls, and the endpoint does not rely on that);
- a change goes to the engine over the broker exactly as ``dialguard campaign`` sends
  it (the same request builders), with the logged-in user as the actor; the engine's
  answer — accepted, or refused with its rule — is shown on the next page.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import (
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dialguard.cli import report as cli_report
from dialguard.cli._common import BadInput
from dialguard.cli.campaign import control_request, pacing_changes, pacing_request
from dialguard.cli.status import StatusWatch
from dialguard.config import EngineConfig
from dialguard.console import reports, whatif
from dialguard.console.auth import (
    Clock,
    LockOut,
    Session,
    Sessions,
    UserError,
    UserFile,
    csrf_ok,
    password_matches,
)
from dialguard.console.floor import CONSOLE_STALE_AFTER_S, floor_view
from dialguard.logs import get_logger
from dialguard.mqtt.client import BrokerLinkDown, send_request
from dialguard.mqtt.contract import ID_PATTERN, ControlReply

log = get_logger(__name__)

HERE = Path(__file__).parent
SESSION_COOKIE = "dg_session"
LOGIN_COOKIE = "dg_login"
"""Holds the login form's CSRF token before there is a session (double submit)."""
REPLY_TIMEOUT_S = 5.0
STREAM_POLL_S = 0.2
"""How often the event stream looks for a new snapshot: the page is at most this much
behind the broker (the engine publishes every second)."""
ACTIONS = ("start", "pause", "resume", "stop")
_ID = re.compile(ID_PATTERN)


@dataclass
class ConsoleState:
    """What the routes share: the engine's config (broker, store), users, sessions."""

    config: EngineConfig
    users: UserFile
    clock: Clock = time.time
    stale_after_s: float = CONSOLE_STALE_AFTER_S
    watch: StatusWatch = field(init=False)
    sessions: Sessions = field(init=False)
    lockout: LockOut = field(init=False)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.watch = StatusWatch(self.config.broker)
        self.sessions = Sessions(self.clock)
        self.lockout = LockOut(self.clock)


templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.filters["iso"] = lambda ts: "" if ts is None else cli_report._iso(ts, "seconds")
templates.env.globals["gap"] = cli_report._gap


def make_app(state: ConsoleState) -> Starlette:
    import plotly

    plotly_js = Path(plotly.__file__).parent / "package_data"
    routes = [
        Route("/login", _login_page, methods=["GET"]),
        Route("/login", _login, methods=["POST"]),
        Route("/logout", _logout, methods=["POST"]),
        Route("/", _floor_page, methods=["GET"]),
        Route("/floor", _floor_fragment, methods=["GET"]),
        Route("/floor/stream", _floor_stream, methods=["GET"]),
        Route("/campaigns/{campaign}/control", _control, methods=["POST"]),
        Route("/campaigns/{campaign}/pacing", _pacing, methods=["POST"]),
        Route("/reports/compliance", _compliance, methods=["GET"]),
        Route("/reports/compliance.csv", _compliance_csv, methods=["GET"]),
        Route("/reports/attempts", _attempts, methods=["GET"]),
        Route("/reports/attempts.csv", _attempts_csv, methods=["GET"]),
        Route("/reports/audit", _audit, methods=["GET"]),
        Route("/reports/audit.csv", _audit_csv, methods=["GET"]),
        Route("/whatif", _whatif, methods=["GET"]),
        Mount("/static/plotly", StaticFiles(directory=str(plotly_js)), name="plotly"),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(_SecurityHeaders)])
    app.state.console = state
    return app


_SECURITY_HEADERS: Final = [
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


class _SecurityHeaders:
    """No framing (clickjacking of the controls), no MIME sniffing, no referrer leaving
    the console. Plain ASGI, so the floor's event stream passes through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


# --- helpers --------------------------------------------------------------------------


def _state(request: Request) -> ConsoleState:
    s: ConsoleState = request.app.state.console
    return s


def _session(request: Request) -> Session | None:
    return _state(request).sessions.get(request.cookies.get(SESSION_COOKIE))


def _page(request: Request, name: str, session: Session | None, **context: Any) -> Response:
    flash: list[str] = []
    if session is not None:
        flash, session.flash = session.flash, []
    return templates.TemplateResponse(
        request, name, {"session": session, "flash": flash, **context}
    )


def _login_required(
    handler: Callable[[Request, Session], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    async def route(request: Request) -> Response:
        session = _session(request)
        if session is None:
            return RedirectResponse("/login", status_code=303)
        return await handler(request, session)

    route.__name__ = handler.__name__
    return route


async def _checked_post(request: Request, *, change: bool) -> tuple[Session, FormData]:
    """The session and form of a POST that carries its CSRF token; else 403 (or 401)."""
    session = _session(request)
    if session is None:
        raise HTTPException(401, "not logged in (or the session expired): log in again")
    form = await request.form()
    token = form.get("csrf")
    if not csrf_ok(session, token if isinstance(token, str) else None):
        raise HTTPException(403, "refused: the form's CSRF token is missing or wrong")
    if change and not session.user.may_change:
        raise HTTPException(403, f"refused: {session.user.name} is a viewer and may not change")
    return session, form


# --- login ----------------------------------------------------------------------------


async def _login_page(request: Request, error: str = "") -> Response:
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(32)
    response = _page(request, "login.html", None, login_csrf=token, error=error)
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict")
    if error:
        response.status_code = 401
    return response


async def _login(request: Request) -> Response:
    state = _state(request)
    form = await request.form()
    token, cookie = form.get("csrf"), request.cookies.get(LOGIN_COOKIE)
    if not (isinstance(token, str) and cookie and secrets.compare_digest(token, cookie)):
        raise HTTPException(403, "refused: the login form's CSRF token is missing or wrong")
    name = str(form.get("name", "")).strip()
    password = str(form.get("password", ""))
    locked = state.lockout.locked_for(name)
    if locked > 0:
        log.warning("console login refused: locked out", user=name)
        return await _login_page(
            request, f"too many failed logins: {name} is locked for {locked:.0f} s"
        )
    try:
        user = state.users.load().get(name)
    except UserError as e:
        log.error("console user file unreadable", error=str(e))
        return await _login_page(request, str(e))
    if user is None or not password_matches(user, password):
        state.lockout.failed(name)
        log.warning("console login failed", user=name)
        return await _login_page(request, "wrong user name or password")
    state.lockout.succeeded(name)
    session = state.sessions.start(user)
    log.info("console login", user=name, role=user.role)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(SESSION_COOKIE, session.id, httponly=True, samesite="strict")
    response.delete_cookie(LOGIN_COOKIE)
    return response


async def _logout(request: Request) -> Response:
    _session_of_post, _ = await _checked_post(request, change=False)
    _state(request).sessions.end(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


# --- floor ----------------------------------------------------------------------------


def _floor(state: ConsoleState) -> Any:
    return floor_view(
        state.watch.latest, state.clock(), note=state.watch.note, stale_after_s=state.stale_after_s
    )


@_login_required
async def _floor_page(request: Request, session: Session) -> Response:
    state = _state(request)
    campaigns = await reports.campaign_settings(state.config.store)
    return _page(
        request,
        "floor.html",
        session,
        floor=_floor(state),
        campaigns=campaigns,
        actions=ACTIONS,
    )


@_login_required
async def _floor_fragment(request: Request, session: Session) -> Response:
    return templates.TemplateResponse(request, "_floor.html", {"floor": _floor(_state(request))})


async def _floor_stream(request: Request) -> Response:
    """Server-sent events: the floor's HTML each time a snapshot arrives, and at least
    once a second (so the age shown keeps counting and staleness is seen)."""
    state = _state(request)
    session_id = request.cookies.get(SESSION_COOKIE)
    if state.sessions.get(session_id) is None:
        return PlainTextResponse("not logged in", status_code=401)
    template = templates.get_template("_floor.html")

    async def events() -> AsyncIterator[str]:
        last: object = object()
        sent_at = 0.0
        while not state.stopping.is_set():
            if await request.is_disconnected():
                return
            if state.sessions.get(session_id) is None:
                yield "event: expired\ndata: {}\n\n"
                return
            latest, now = state.watch.latest, time.monotonic()
            if latest is not last or now - sent_at >= 1.0:
                last, sent_at = latest, now
                html = template.render(floor=_floor(state))
                yield f"data: {json.dumps({'html': html})}\n\n"
            await asyncio.sleep(STREAM_POLL_S)

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
    )


# --- controls -------------------------------------------------------------------------


def _campaign_id(request: Request) -> str:
    campaign = str(request.path_params["campaign"])
    if not _ID.match(campaign):
        raise HTTPException(400, f"campaign id {campaign!r}: letters, digits, '_', '.', '-' only")
    return campaign


async def _control(request: Request) -> Response:
    session, form = await _checked_post(request, change=True)
    campaign = _campaign_id(request)
    action = str(form.get("action", ""))
    if action not in ACTIONS:
        raise HTTPException(400, f"action {action!r}: must be one of {', '.join(ACTIONS)}")
    request_ = control_request(action, session.user.name)  # type: ignore[arg-type]
    return await _send(request, session, campaign, request_, what=action)


async def _pacing(request: Request) -> Response:
    session, form = await _checked_post(request, change=True)
    campaign = _campaign_id(request)

    def text(key: str) -> str | None:
        value = str(form.get(key, "")).strip()
        return value or None

    def number(key: str) -> float | None:
        value = text(key)
        if value is None:
            return None
        try:
            return float(value)
        except ValueError:
            raise BadInput(f"{key} {value!r}: not a number") from None

    try:
        changes = pacing_changes(
            mode=text("mode"),
            abandon_cap=text("abandon_cap"),
            ring_timeout_s=number("ring_timeout_s"),
            max_dial_ratio=number("max_dial_ratio"),
            abandon_window=text("abandon_window"),
        )
    except BadInput as e:
        session.flash.append(f"campaign {campaign}: pacing change not sent: {e}")
        return RedirectResponse("/#controls", status_code=303)
    request_ = pacing_request(changes, session.user.name)
    return await _send(request, session, campaign, request_, what="pacing change")


async def _send(
    request: Request, session: Session, campaign: str, message: Any, *, what: str
) -> Response:
    broker = _state(request).config.broker
    try:
        reply = await send_request(broker, campaign, message, within_s=REPLY_TIMEOUT_S)
    except BrokerLinkDown as e:
        session.flash.append(f"campaign {campaign}: {what} not sent: broker unreachable ({e})")
    except TimeoutError:
        session.flash.append(
            f"campaign {campaign}: {what}: no answer from the daemon within "
            f"{REPLY_TIMEOUT_S:g} s (is it running?)"
        )
    else:
        session.flash.append(_answer(campaign, what, reply))
    log.info("console change", user=session.user.name, campaign=campaign, what=what)
    return RedirectResponse("/#controls", status_code=303)


def _answer(campaign: str, what: str, reply: ControlReply) -> str:
    """The engine's answer in one sentence, as the page shows it."""
    if not reply.accepted:
        return f"campaign {campaign}: {what} refused by the engine: {reply.reason}"
    new, old = reply.new or {}, reply.old or {}
    changed = "; ".join(f"{k}: {old.get(k, '—')} → {v}" for k, v in new.items())
    text = f"campaign {campaign}: {what} accepted (by {reply.actor})"
    text += f": {changed}" if changed else ", nothing changed (already so)"
    for w in reply.warnings:
        text += f" — warning: {w}"
    return text


# --- reports --------------------------------------------------------------------------


def _query(request: Request) -> reports.Query:
    q = request.query_params
    return reports.Query(
        campaign=q.get("campaign", ""),
        window=q.get("window", "24h"),
        from_=q.get("from") or None,
        to=q.get("to") or None,
        outcome=q.get("outcome") or None,
        agent=q.get("agent") or None,
    )


async def _report_page(
    request: Request, session: Session, name: str, build: Callable[..., Awaitable[Any]]
) -> Response:
    state = _state(request)
    query = _query(request)
    campaigns = await reports.campaign_settings(state.config.store)
    if not query.campaign and campaigns:
        query = query.with_campaign(campaigns[0].id)
    result, error = None, ""
    try:
        result = await build(state.config.store, query)
    except (BadInput, reports.ReportError) as e:
        error = str(e)
    return _page(
        request,
        name,
        session,
        query=query,
        campaigns=campaigns,
        result=result,
        error=error,
        csv_link=query.link(request.url.path + ".csv"),
    )


async def _csv(request: Request, build: Callable[..., Awaitable[str]], stem: str) -> Response:
    query = _query(request)
    try:
        body = await build(_state(request).config.store, query)
    except (BadInput, reports.ReportError) as e:
        return PlainTextResponse(str(e), status_code=400)
    filename = f"{stem}-{query.campaign}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@_login_required
async def _compliance(request: Request, session: Session) -> Response:
    return await _report_page(request, session, "compliance.html", reports.compliance)


@_login_required
async def _compliance_csv(request: Request, session: Session) -> Response:
    return await _csv(request, reports.compliance_csv, "compliance")


@_login_required
async def _attempts(request: Request, session: Session) -> Response:
    return await _report_page(request, session, "attempts.html", reports.attempts)


@_login_required
async def _attempts_csv(request: Request, session: Session) -> Response:
    return await _csv(request, reports.attempts_csv, "attempts")


@_login_required
async def _audit(request: Request, session: Session) -> Response:
    return await _report_page(request, session, "audit.html", reports.audit)


@_login_required
async def _audit_csv(request: Request, session: Session) -> Response:
    return await _csv(request, reports.audit_csv, "audit")


# --- what-if --------------------------------------------------------------------------


@_login_required
async def _whatif(request: Request, session: Session) -> Response:
    state = _state(request)
    campaigns = await reports.campaign_settings(state.config.store)
    q = request.query_params
    chosen = next((c for c in campaigns if c.id == q.get("campaign")), None)
    if chosen is None and campaigns:
        chosen = campaigns[0]
    result, error = None, ""
    form = whatif.Form.from_query(dict(q), chosen)
    if "run" in q and chosen is not None:
        try:
            result = await asyncio.to_thread(whatif.run, form, chosen)
        except whatif.WhatIfError as e:
            error = str(e)
    return _page(
        request,
        "whatif.html",
        session,
        campaigns=campaigns,
        chosen=chosen,
        form=form,
        result=result,
        error=error,
        scenarios=whatif.SCENARIOS,
    )
