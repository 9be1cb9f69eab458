"""``canales facebook check --site ID``: is the page ready? The page token is valid
and belongs to the configured page, the token has the permissions the channel needs,
and the page is subscribed to our app for every webhook field. Each check prints one
line and, when it fails, what to do."""

from __future__ import annotations

import argparse
from typing import Any

from canales.core.bus import Bus
from canales.core.db import Database
from canales.core.plugins import installed
from canales.core.site import build_site
from canales.core.siteconfig import load_site_file
from canales.plugins.facebook.errors import GraphError
from canales.plugins.facebook.graph import Graph
from canales.plugins.facebook.settings import FacebookSettings

PLUGIN = "facebook"
REQUIRED_FIELDS = ("messages", "messaging_postbacks", "message_echoes", "feed")
# Messenger, comments (read, reply, hide) and the webhook subscription.
REQUIRED_SCOPES = ("pages_messaging", "pages_manage_metadata", "pages_read_engagement", "pages_manage_engagement")
# Only for publishing posts (the publisher plugin).
PUBLISHING_SCOPES = ("pages_manage_posts",)
SETUP = "see docs/facebook-setup.md"


def register(subparsers: Any) -> None:
    facebook = subparsers.add_parser("facebook", help="the Facebook page channel")
    sub = facebook.add_subparsers(dest="facebook_command", required=True, metavar="ACTION")
    check = sub.add_parser("check", help="check the page token, its permissions and the webhook subscription")
    check.add_argument("--site", required=True, help="site file or id")
    check.set_defaults(func=run)


async def run(args: argparse.Namespace) -> int:
    from canales.core.cli import resolve_site

    config = load_site_file(resolve_site(args.site))
    if PLUGIN not in config.enabled_plugins():
        print(f"{config.path}: site {config.id!r} does not enable [plugins.facebook]")
        return 1
    site = build_site(config, installed(), Database("sqlite://"), Bus())
    settings = site.settings(PLUGIN, FacebookSettings)
    graph = Graph(None, settings, None)
    try:
        results = [await check_token(graph, settings), await check_permissions(graph, settings), await check_subscription(graph, settings)]
    finally:
        await graph.close()
        await site.db.close()
    for ok, line in results:
        print(("OK    " if ok else "FAIL  ") + line)
    return 0 if all(ok for ok, _ in results) else 1


async def check_token(graph: Graph, settings: FacebookSettings) -> tuple[bool, str]:
    try:
        me = await graph.read("/me", {"fields": "id,name"}, attempts=1)
    except GraphError as exc:
        return False, f"page token: refused by Meta ({exc}). Generate a long-lived page token for page {settings.page_id} and set {settings.page_token.source}; {SETUP}."
    if str(me.get("id")) != settings.page_id:
        return False, f"page token: it belongs to page {me.get('id')} ({me.get('name')}), not to page_id {settings.page_id}; use that page's token or fix page_id."
    return True, f"page token: valid for page {settings.page_id} ({me.get('name')})."


async def check_permissions(graph: Graph, settings: FacebookSettings) -> tuple[bool, str]:
    if settings.app_id is None:
        return False, "permissions: set app_id in [plugins.facebook] so that the token's permissions can be read."
    app_token = f"{settings.app_id}|{settings.app_secret.reveal()}"
    try:
        answer = await graph.read("/debug_token", {"input_token": settings.page_token.reveal()}, auth={"access_token": app_token}, attempts=1)
    except GraphError as exc:
        return False, f"permissions: cannot read them ({exc}); check app_id and app_secret."
    data = answer.get("data", {}) if isinstance(answer, dict) else {}
    if not data.get("is_valid"):
        return False, f"permissions: Meta says the page token is not valid; {SETUP}."
    scopes = set(data.get("scopes") or [])
    missing = [s for s in REQUIRED_SCOPES if s not in scopes]
    if missing:
        return False, f"permissions: missing {', '.join(missing)}; grant them when generating the page token (some need App Review), {SETUP}."
    extra = [s for s in PUBLISHING_SCOPES if s not in scopes]
    note = f" (without {', '.join(extra)}: posts cannot be published)" if extra else ""
    return True, f"permissions: {', '.join(REQUIRED_SCOPES)} granted{note}."


async def check_subscription(graph: Graph, settings: FacebookSettings) -> tuple[bool, str]:
    try:
        answer = await graph.read(f"/{settings.page_id}/subscribed_apps", attempts=1)
    except GraphError as exc:
        return False, f"webhook subscription: cannot read it ({exc})."
    apps = answer.get("data", []) if isinstance(answer, dict) else []
    ours = [a for a in apps if settings.app_id is None or str(a.get("id")) == settings.app_id]
    fix = (f"subscribe it: POST /{settings.page_id}/subscribed_apps?subscribed_fields={','.join(REQUIRED_FIELDS)} "
           f"with the page token; {SETUP}")
    if not ours:
        return False, f"webhook subscription: the page is not subscribed to the app; {fix}."
    fields = set(ours[0].get("subscribed_fields") or [])
    missing = [f for f in REQUIRED_FIELDS if f not in fields]
    if missing:
        return False, f"webhook subscription: fields {', '.join(missing)} are not subscribed; {fix}."
    return True, f"webhook subscription: {', '.join(REQUIRED_FIELDS)}."
