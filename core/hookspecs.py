"""The contract between core and every plugin.

One empty, documented function per hook, grouped by stage. A plugin implements any of
them with ``@canales.hookimpl``; its argument names must match (it may take fewer).
Every hook here is documented in ``docs/plugin-hooks.md`` and tested; a test fails if
either is missing.

Hooks that do I/O return an awaitable (or ``None``); core awaits it. Registration
hooks are called once per site when the app starts. ``firstresult`` hooks stop at the
first implementation that returns something other than ``None``; core's own defaults
are ``trylast`` so that any plugin can take precedence.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    from pydantic import BaseModel
    from starlette.routing import BaseRoute

    from canales.core.contrib import MenuLink, Panel, ReplyOption
    from canales.core.models import Agent, Contact, Conversation, Message
    from canales.core.publication import Publication, PublicationTarget, PublishResult
    from canales.core.site import Site
    from canales.core.types import (
        DeliveryResult,
        Handoff,
        Inbound,
        OutboundDelivery,
        PeriodicJob,
        ReplyProblem,
        Routing,
    )

PROJECT = "canales"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# ---------------------------------------------------------------------------
# Registration: called once per site at start-up.
# ---------------------------------------------------------------------------


@hookspec
def settings_model() -> "type[BaseModel] | None":
    """Return the pydantic model that validates this plugin's settings.

    The site file's ``[plugins.<name>]`` table is validated with it at start-up; an
    error names the file, the key and what was expected. A field typed
    :class:`canales.core.siteconfig.Secret` must be given as ``{ env = "NAME" }`` (or
    ``{ file = "PATH" }``) and is redacted wherever config is shown. The validated
    instance is available as ``site.settings(<name>)``.
    """


@hookspec
def register_routes(site: "Site") -> "list[BaseRoute] | None":
    """Return Starlette routes to serve under ``/s/{site.id}/``.

    A route ``Route("/chat/widget.js", ...)`` answers at ``/s/demo/chat/widget.js``.
    Routes exist only for the sites that enable the plugin; elsewhere they answer 404.
    """


@hookspec
def template_paths() -> "list[Path] | None":
    """Return folders of Jinja2 templates this plugin adds to the app's loader.

    They are searched after the site's own overrides and before core's templates.
    """


@hookspec
def static_path() -> "Path | None":
    """Return a folder of static files, served at ``/-/static/<plugin-name>/``."""


@hookspec
def migrations_path() -> "Path | None":
    """Return the folder of Alembic revisions that create this plugin's tables.

    Each plugin's revisions form their own branch (``branch_labels=("<name>",)``,
    ``depends_on="core"``); ``canales db upgrade`` upgrades every branch.
    """


@hookspec
def register_commands(subparsers: "argparse._SubParsersAction[Any]") -> None:
    """Add sub-commands to the ``canales`` command line.

    Call ``subparsers.add_parser(...)`` and ``set_defaults(func=...)``; ``func``
    receives the parsed arguments and returns an exit status (it may be a coroutine
    function). Called with every installed plugin, before any site is loaded.
    """


@hookspec
def periodic_jobs(site: "Site") -> "list[PeriodicJob] | None":
    """Return jobs to run every ``interval`` seconds while the app runs.

    Every worker runs them, so a job must claim its rows atomically.
    """


@hookspec
def startup(site: "Site") -> "Awaitable[None] | None":
    """Called when the app starts, after the database and the bus are ready."""


@hookspec
def shutdown(site: "Site") -> "Awaitable[None] | None":
    """Called when the app stops, before the database and the bus close."""


# ---------------------------------------------------------------------------
# Intake: a citizen's message on its way in.
# ---------------------------------------------------------------------------


@hookspec
def prepare_inbound(site: "Site", inbound: "Inbound") -> "Awaitable[None] | None":
    """Inspect a citizen's message before it is stored.

    Implementations may add to ``inbound.metadata`` (a language guess, a spam score,
    personal data found) or raise :class:`canales.Rejected` to refuse it; then nothing
    is stored and the channel tells the sender why.
    """


# ---------------------------------------------------------------------------
# Routing: who handles a conversation.
# ---------------------------------------------------------------------------


@hookspec(firstresult=True)
def route_conversation(
    site: "Site",
    conversation: "Conversation",
    message: "Message",
    handoff: "Handoff | None",
) -> "Routing | None":
    """Decide who handles a conversation: return a :class:`canales.Routing`.

    Called when a conversation starts (``handoff`` is ``None``) and when its handler
    gives it up (the bot hands off to people: ``handoff`` says why and from where).
    Stops at the first non-``None`` result; core's default sends everything to the
    agents' queue. The decision's ``rule`` is recorded on the conversation.
    """


@hookspec
def conversation_routed(
    site: "Site",
    conversation: "Conversation",
    routing: "Routing",
    handoff: "Handoff | None",
) -> "Awaitable[None] | None":
    """Called after a routing decision was stored (new conversation or hand-off).

    The live chat enqueues and assigns; a channel may tell the citizen what happens
    next. ``conversation.after_hours`` says whether it arrived outside business hours.
    """


@hookspec
def handle_message(
    site: "Site", conversation: "Conversation", message: "Message"
) -> "Awaitable[None] | None":
    """Act on a stored citizen message: the handler stage.

    Every implementation is called for every new citizen message; each acts only when
    the conversation is its business (the bot when ``conversation.state == "bot"``, a
    channel that acknowledges receipt…). Replies go through
    :func:`canales.core.replies.send_reply`.
    """


# ---------------------------------------------------------------------------
# Reply and delivery.
# ---------------------------------------------------------------------------


@hookspec
def review_reply(
    site: "Site",
    conversation: "Conversation",
    text: str,
    author_kind: str,
    options: "dict[str, Any]",
) -> "Awaitable[list[ReplyProblem] | None] | list[ReplyProblem] | None":
    """Review a reply before it is stored; return the problems that stop it.

    Called by :func:`canales.core.replies.send_reply` for every reply (an agent's,
    the bot's, an automatic one) before anything is written. The channel of
    ``conversation`` checks what only it knows: a closed messaging window, a
    private reply already used, personal data about to be published. If any
    implementation returns a :class:`canales.ReplyProblem`, ``send_reply`` raises
    :class:`canales.ReplyRefused` carrying them all and stores nothing. Return
    ``None`` (or an empty list) for conversations that are not your channel's.
    """


@hookspec(firstresult=True)
def deliver_message(
    site: "Site", outbound: "OutboundDelivery"
) -> "Awaitable[DeliveryResult] | None":
    """Deliver one reply through the conversation's channel.

    The plugin that owns ``outbound.conversation.channel`` returns an awaitable that
    resolves to a :class:`canales.DeliveryResult`, or raises
    :class:`canales.DeliveryError` (retried with backoff when ``retry`` is true) or
    :class:`canales.DeliveryOutcomeUnknown`. Every other plugin returns ``None``.
    Called from the outbox relay, so possibly in another process than the one that
    stored the reply, and again after a crash.
    """


# ---------------------------------------------------------------------------
# Publication.
# ---------------------------------------------------------------------------


@hookspec
def publication_targets(site: "Site") -> "list[PublicationTarget] | None":
    """Return the channels through which this plugin can publish posts, with their
    limits (maximum text length, whether a link is shown as a card)."""


@hookspec(firstresult=True)
def publish_post(
    site: "Site", channel: str, publication: "Publication"
) -> "Awaitable[PublishResult] | None":
    """Publish a post on ``channel``; return an awaitable resolving to a
    :class:`~canales.core.publication.PublishResult` with the channel's post id.

    Only the plugin that owns ``channel`` answers. Raise
    :class:`canales.DeliveryOutcomeUnknown` when the outcome is unknown: the caller
    reconciles through ``find_published_post`` instead of posting again.
    """


@hookspec(firstresult=True)
def find_published_post(
    site: "Site", channel: str, publication: "Publication"
) -> "Awaitable[PublishResult | None] | None":
    """Look on ``channel`` for a post made for ``publication`` whose outcome was
    unknown; return its result, or ``None`` (from the awaitable) if it is not there."""


# ---------------------------------------------------------------------------
# Personal data: retention, access and erasure (Ley 18.331).
# ---------------------------------------------------------------------------


@hookspec
def forget_conversations(
    site: "Site", conversation_ids: "list[int]", mode: str
) -> "Awaitable[None] | None":
    """Anonymise (``mode == "anonymise"``: remove texts and identities, keep what
    reports count) or delete (``"delete"``) this plugin's rows about these
    conversations of ``site``. Called before core anonymises or deletes the
    conversations themselves (retention period, erasure request); rows that point at
    a conversation or message must be gone after ``"delete"``. Must be idempotent.
    """


@hookspec
def export_contact(
    site: "Site", contact: "Contact", conversation_ids: "list[int]"
) -> "Awaitable[dict[str, Any] | None] | None":
    """Return (JSON-ready) what this plugin stores about ``contact`` and its
    conversations, for a citizen's access request; it appears in the export under
    the plugin's name."""


# ---------------------------------------------------------------------------
# Inbox: what plugins add to the agents' web inbox.
# ---------------------------------------------------------------------------


@hookspec
def inbox_panels(
    site: "Site", conversation: "Conversation", agent: "Agent"
) -> "list[Panel] | None":
    """Return panels shown beside a conversation in the inbox (for example the
    Facebook messaging-window state, or the bot's hand-off context)."""


@hookspec
def reply_options(
    site: "Site", conversation: "Conversation", agent: "Agent"
) -> "list[ReplyOption] | None":
    """Return the ways an agent may answer this conversation (for example Facebook:
    a public reply on the wall or a private message), with whether each is possible
    now and, if not, why."""


@hookspec
def register_inbox_routes(site: "Site") -> "list[BaseRoute] | None":
    """Return Starlette routes for pages the plugin adds to the inbox, served under
    ``/inbox/{site.id}/`` behind the agents' login (for example the chatbot's
    "Preguntas no comprendidas" at ``/inbox/demo/chatbot/no-comprendidas``).

    Core's own inbox pages take precedence: start paths with the plugin's name.
    In a handler, ``inbox_agent(request)`` (from ``canales.core.inbox.plugin_pages``)
    is the signed-in agent and their role on the site, ``site_of(request)`` the site,
    and ``render_page(request, template, **context)`` renders a template that extends
    ``inbox/base.html``. Forms that change something must post the ``csrf_token``
    field the base template provides (the inbox refuses them otherwise).
    """


@hookspec
def inbox_menu(site: "Site", agent: "Agent") -> "list[MenuLink] | None":
    """Return :class:`~canales.core.contrib.MenuLink` items added to the inbox's
    menu on this site for this agent (``roles`` on a link limits who sees it)."""
