"""The inbox as one ASGI app, mounted at ``/inbox`` by :func:`canales.core.app.create_app`."""

from __future__ import annotations

from jinja2 import Environment
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.types import ASGIApp

from canales.core.inbox import admin, api, forms, login, pages
from canales.core.inbox.guard import CsrfGuard
from canales.core.inbox.live import inbox_socket
from canales.core.inbox.plugin_pages import PluginPages
from canales.core.inbox.report_page import report_page
from canales.core.inbox.search_page import search_page
from canales.core.inbox.web import EXCEPTION_HANDLERS
from canales.core.runtime import Canales

POST = ["POST"]
SITE = "/{site_id}"
CONVERSATION = SITE + "/conversations/{conversation_id:int}"
ADMIN = SITE + "/admin"


def inbox_routes(canales: Canales) -> list[BaseRoute]:
    """Every inbox route; plugin pages last, so that core's own win a clash."""
    return [
        Route("/", login.home),
        Route("/login", login.login_page, methods=["GET"]),
        Route("/login", login.login, methods=POST),
        Route("/logout", login.logout, methods=POST),
        Route("/password", login.password_page, methods=["GET"]),
        Route("/password", login.change_password, methods=POST),
        Route("/search", search_page),
        WebSocketRoute("/ws", inbox_socket),
        Mount("/api/v1", routes=api.routes()),
        Route(SITE + "/", pages.conversation_list),
        Route(SITE + "/backlog", pages.backlog),
        Route(SITE + "/availability", pages.availability, methods=POST),
        Route(SITE + "/alerts/{alert_id:int}/resolve", pages.resolve_alert, methods=POST),
        Route(SITE + "/reports", report_page),
        Route(SITE + "/deliveries/{delivery_id:int}/retry", forms.retry, methods=POST),
        Route(CONVERSATION, pages.conversation_page),
        Route(CONVERSATION + "/messages", pages.messages_fragment),
        Route(CONVERSATION + "/messages/{message_id:int}", pages.message_fragment),
        Route(CONVERSATION + "/status", pages.status_fragment),
        Route(CONVERSATION + "/read", pages.mark_read_action, methods=POST),
        Route(CONVERSATION + "/reply", forms.reply, methods=POST),
        Route(CONVERSATION + "/note", forms.note, methods=POST),
        Route(CONVERSATION + "/take", forms.take, methods=POST),
        Route(CONVERSATION + "/transfer", forms.transfer, methods=POST),
        Route(CONVERSATION + "/release", forms.release, methods=POST),
        Route(CONVERSATION + "/close", forms.close, methods=POST),
        Route(CONVERSATION + "/reopen", forms.reopen, methods=POST),
        Route(CONVERSATION + "/labels", forms.labels, methods=POST),
        Route(ADMIN + "/agents", admin.agents_page, methods=["GET"]),
        Route(ADMIN + "/agents", admin.create_agent, methods=POST),
        Route(ADMIN + "/agents/{agent_id:int}", admin.agent_action, methods=POST),
        Route(ADMIN + "/teams", admin.teams_page, methods=["GET"]),
        Route(ADMIN + "/teams", admin.save_team, methods=POST),
        Route(ADMIN + "/teams/{team}", admin.team_action, methods=POST),
        Route(ADMIN + "/canned", admin.canned_page, methods=["GET"]),
        Route(ADMIN + "/canned", admin.save_canned, methods=POST),
        Route(ADMIN + "/canned/{answer_id:int}", admin.save_canned, methods=POST),
        Route(ADMIN + "/tokens", admin.tokens_page, methods=["GET"]),
        Route(ADMIN + "/tokens", admin.issue_token, methods=POST),
        Route(ADMIN + "/tokens/{token_id:int}/revoke", admin.revoke_token, methods=POST),
        Route(ADMIN + "/settings", admin.settings_page),
        Mount(SITE, app=PluginPages(canales)),
    ]


def inbox_app(canales: Canales, templates: Environment) -> ASGIApp:
    """The inbox app, wrapped in its CSRF guard."""
    app = Starlette(routes=inbox_routes(canales), exception_handlers=EXCEPTION_HANDLERS)  # type: ignore[arg-type]
    app.state.canales = canales
    app.state.templates = templates
    return CsrfGuard(app)
