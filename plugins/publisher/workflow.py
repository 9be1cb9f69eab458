"""The life of a post before it goes out, and what people may do to it.

``draft`` -> ``pending_approval`` -> ``scheduled`` -> (the scheduler) ``publishing``
-> ``published`` | ``retrying`` | ``failed`` | ``unconfirmed``; ``cancelled`` before
it goes out; ``expired`` when nobody approved it in time, ``missed`` when the
scheduler could not reach it in time (both flagged, never published).

Editors (role ``agent``) and supervisors/admins create and edit; supervisors and
admins approve. Every change is one conditional ``UPDATE … WHERE state = <what was
read> [AND version = <what the editor saw>]``: two people (or a person and the
scheduler) acting at once cannot both win, and the loser is told.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import delete, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from canales.core.models import Membership
from canales.core.site import Site
from canales.plugins.publisher.drafts import Checked, Draft, FieldError, PostInvalid, check, settings_of
from canales.plugins.publisher.models import CANCELLABLE, EDITABLE, Post, PostEvent, PostTarget
from canales.plugins.publisher.texts import label
from canales.plugins.publisher.timing import local_text, zone

EDITOR_ROLES = ("agent", "supervisor", "admin")
APPROVER_ROLES = ("supervisor", "admin")


class PostError(Exception):
    """An action on a post that cannot be done; the message (Spanish) says why."""


class NotAllowed(PostError):
    """The agent's role on the site does not allow the action."""


class WrongState(PostError):
    """The post is not (or no longer) in a state that allows the action."""


class PostNotFound(PostError):
    """No such post on this site (another site's post is not found either)."""


async def role_of(site: Site, agent_id: int) -> str | None:
    """The agent's role on ``site``, or ``None`` if they have none."""
    async with site.db.read() as session:
        membership = await session.get(Membership, (agent_id, site.id))
    return membership.role if membership else None


async def _require(site: Site, agent_id: int, roles: Sequence[str], key: str) -> None:
    if await role_of(site, agent_id) not in roles:
        raise NotAllowed(label(settings_of(site).texts, key))


def record(session: AsyncSession, post: Post, previous: str | None, *, agent_id: int | None = None,
           channel: str | None = None, note: str | None = None, at: dt.datetime) -> None:
    """Add a history row for ``post``'s current state (in the caller's transaction)."""
    session.add(PostEvent(post_id=post.id or 0, site_id=post.site_id, at=at, previous=previous,
                          state=post.state, agent_id=agent_id, channel=channel, note=note))


def _targets(post: Post, channels: Iterable[str]) -> list[PostTarget]:
    return [PostTarget(post_id=post.id or 0, site_id=post.site_id, channel=c) for c in channels]


def new_post(site: Site, checked: Checked, agent_id: int, state: str, now: dt.datetime, **extra: Any) -> Post:
    """A :class:`Post` row for a checked draft (not yet added to a session)."""
    return Post(site_id=site.id, summary=checked.summary, link=checked.link, category=checked.category,
                publish_at=checked.publish_at, timezone=checked.timezone, state=state, author_id=agent_id,
                created_at=now, updated_at=now, **extra)


async def store_new(session: AsyncSession, site: Site, checked: Checked, agent_id: int, state: str,
                    now: dt.datetime, **extra: Any) -> Post:
    """Insert a post, its targets and its first history row in ``session``."""
    post = new_post(site, checked, agent_id, state, now, **extra)
    if state == "scheduled":
        post.approved_by_id, post.approved_at = agent_id, now
    session.add(post)
    await session.flush()
    session.add_all(_targets(post, checked.channels))
    record(session, post, None, agent_id=agent_id, at=now)
    return post


async def create_post(site: Site, agent_id: int, draft: Draft, *, state: str = "draft") -> Post:
    """Create a post as ``draft``, ``pending_approval`` (submitted) or, for a
    supervisor or admin, directly ``scheduled`` (approved). Raises
    :class:`PostInvalid` (nothing stored) or :class:`NotAllowed`."""
    if state not in ("draft", "pending_approval", "scheduled"):
        raise ValueError(f"a new post is draft, pending_approval or scheduled, not {state!r}")
    await _require(site, agent_id, APPROVER_ROLES if state == "scheduled" else EDITOR_ROLES,
                   "error.role.approve" if state == "scheduled" else "error.role.edit")
    checked = check(site, draft)
    now = site.now()
    async with site.db.write() as session:
        post = await store_new(session, site, checked, agent_id, state, now)
    return post


async def get_post(site: Site, post_id: int) -> Post:
    """The post ``post_id`` of ``site``; :class:`PostNotFound` otherwise."""
    async with site.db.read() as session:
        post = (await session.exec(select(Post).where(Post.id == post_id, Post.site_id == site.id))).first()
    if post is None:
        raise PostNotFound(label(settings_of(site).texts, "error.not_found", id=post_id))
    return post


async def targets_of(site: Site, post_id: int) -> list[PostTarget]:
    """The per-channel state of a post."""
    async with site.db.read() as session:
        rows = await session.exec(select(PostTarget).where(PostTarget.post_id == post_id, PostTarget.site_id == site.id)
                                  .order_by(col(PostTarget.channel)))
        return list(rows.all())


async def history(site: Site, post_id: int) -> list[PostEvent]:
    """Every state the post went through, oldest first."""
    async with site.db.read() as session:
        rows = await session.exec(select(PostEvent).where(PostEvent.post_id == post_id, PostEvent.site_id == site.id)
                                  .order_by(col(PostEvent.id)))
        return list(rows.all())


async def list_posts(site: Site, *, states: Sequence[str] | None = None, start: dt.datetime | None = None,
                     end: dt.datetime | None = None) -> list[Post]:
    """The site's posts, by publication time, optionally within ``[start, end)``."""
    query = select(Post).where(Post.site_id == site.id)
    if states:
        query = query.where(col(Post.state).in_(list(states)))
    if start is not None:
        query = query.where(col(Post.publish_at) >= start)
    if end is not None:
        query = query.where(col(Post.publish_at) < end)
    async with site.db.read() as session:
        return list((await session.exec(query.order_by(col(Post.publish_at), col(Post.id)))).all())


async def _transition(site: Site, post_id: int, allowed: Sequence[str], to: str, action: str, *,
                      agent_id: int | None, values: dict[str, Any] | None = None, version: int | None = None,
                      note: str | None = None,
                      also: Callable[[AsyncSession, Post], Awaitable[None]] | None = None) -> Post:
    """Move a post from one of ``allowed`` to ``to`` in one compare-and-set update."""
    texts = settings_of(site).texts
    now = site.now()
    async with site.db.write() as session:
        current = (await session.exec(select(Post).where(Post.id == post_id, Post.site_id == site.id))).first()
        if current is None:
            raise PostNotFound(label(texts, "error.not_found", id=post_id))
        previous = current.state
        if previous not in allowed:
            raise WrongState(label(texts, "error.state", state=label(texts, f"state.{previous}"), action=action))
        if version is not None and version != current.version:
            raise WrongState(label(texts, "error.conflict"))
        where = [col(Post.id) == post_id, Post.site_id == site.id, Post.state == previous,
                 Post.version == (version if version is not None else current.version)]
        result = await session.exec(
            update(Post).where(*where)
            .values(state=to, updated_at=now, version=Post.version + 1, **(values or {}))
            .returning(Post)
        )
        post = result.scalars().first()
        if post is None:
            raise WrongState(label(texts, "error.conflict"))
        if also is not None:
            await also(session, post)
        record(session, post, previous, agent_id=agent_id, note=note, at=now)
    return post


ACTIONS = {"edit": "editar", "submit": "enviar a aprobación", "approve": "aprobar", "reject": "devolver",
           "cancel": "cancelar", "retry": "reintentar"}


async def update_post(site: Site, agent_id: int, post_id: int, draft: Draft, *, version: int | None = None) -> Post:
    """Change a post that has not gone out. A change to an approved (or expired,
    missed) post sends it back for approval; a draft stays a draft."""
    await _require(site, agent_id, EDITOR_ROLES, "error.role.edit")
    checked = check(site, draft)
    current = await get_post(site, post_id)
    to = "draft" if current.state == "draft" else "pending_approval"
    values = dict(summary=checked.summary, link=checked.link, category=checked.category,
                  publish_at=checked.publish_at, timezone=checked.timezone, approved_by_id=None, approved_at=None,
                  reason=None)

    async def replace_targets(session: AsyncSession, post: Post) -> None:
        # Editable states have sent nothing yet: every target is still pending.
        await session.exec(delete(PostTarget).where(col(PostTarget.post_id) == post_id))
        session.add_all(_targets(post, checked.channels))

    return await _transition(site, post_id, EDITABLE, to, ACTIONS["edit"], agent_id=agent_id, values=values,
                             version=version if version is not None else current.version, also=replace_targets)


async def submit(site: Site, agent_id: int, post_id: int) -> Post:
    """Send a draft for approval."""
    await _require(site, agent_id, EDITOR_ROLES, "error.role.edit")
    return await _transition(site, post_id, ("draft",), "pending_approval", ACTIONS["submit"], agent_id=agent_id)


async def approve(site: Site, agent_id: int, post_id: int, *, version: int | None = None) -> Post:
    """Approve a post (supervisors and admins): it will be published at its time.
    A post whose time has passed cannot be approved; reschedule it first."""
    await _require(site, agent_id, APPROVER_ROLES, "error.role.approve")
    post = await get_post(site, post_id)
    now = site.now()
    if post.publish_at <= now:
        texts = settings_of(site).texts
        raise PostInvalid([FieldError("publish_at", label(texts, "error.time.past",
                          when=local_text(post.publish_at, zone(post.timezone)), lead=0))])
    return await _transition(site, post_id, ("pending_approval", "draft"), "scheduled", ACTIONS["approve"],
                             agent_id=agent_id, version=version, values={"approved_by_id": agent_id, "approved_at": now})


async def reject(site: Site, agent_id: int, post_id: int, note: str | None = None) -> Post:
    """Send a post back to its author as a draft, with a note saying why."""
    await _require(site, agent_id, APPROVER_ROLES, "error.role.approve")
    return await _transition(site, post_id, ("pending_approval", "scheduled"), "draft", ACTIONS["reject"],
                             agent_id=agent_id, note=note, values={"approved_by_id": None, "approved_at": None})


async def cancel(site: Site, agent_id: int, post_id: int, note: str | None = None) -> Post:
    """Cancel a post that has not gone out (the scheduler's claim and a cancel
    cannot both succeed: whichever updates first wins)."""
    await _require(site, agent_id, EDITOR_ROLES, "error.role.edit")
    return await _transition(site, post_id, CANCELLABLE, "cancelled", ACTIONS["cancel"], agent_id=agent_id,
                             note=note)


async def retry(site: Site, agent_id: int, post_id: int) -> Post:
    """Try a failed post again now (supervisors and admins), on the channels where it
    failed only. A person decides this after checking the page: after an
    unconfirmed outcome, posting again could duplicate."""
    await _require(site, agent_id, APPROVER_ROLES, "error.role.approve")
    now = site.now()

    async def reset_failed(session: AsyncSession, post: Post) -> None:
        await session.exec(update(PostTarget).where(col(PostTarget.post_id) == post_id, PostTarget.state == "failed")
                           .values(state="pending", attempts=0, checks=0, next_attempt_at=now, last_error=None))

    return await _transition(site, post_id, ("failed",), "retrying", ACTIONS["retry"], agent_id=agent_id,
                             values={"next_attempt_at": now, "reason": None}, also=reset_failed)


__all__ = ["Draft", "PostInvalid", "FieldError", "PostError", "NotAllowed", "WrongState", "PostNotFound",
           "create_post", "update_post", "submit", "approve", "reject", "cancel", "retry", "get_post",
           "targets_of", "history", "list_posts", "role_of"]
