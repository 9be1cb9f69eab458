"""Posts and their workflow on SQLite and PostgreSQL: validation with clear errors
and nothing half-saved, roles, conditional transitions, previews."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest

from canales.plugins.publisher.drafts import PostInvalid, preview
from canales.plugins.publisher.models import Post, PostEvent, PostTarget
from canales.plugins.publisher.workflow import (
    NotAllowed, PostNotFound, WrongState, approve, cancel, create_post, get_post, history, reject, retry,
    submit, targets_of, update_post,
)
from publisher_support import UTC, count, draft, people, plugins, site_text, standin  # noqa: F401

T0 = dt.datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def site_path(site_file: Any, standin: Any) -> Any:
    return site_file(site_text(standin.url, pubtest="max_length = 120"))


async def test_a_post_is_stored_with_utc_instant_zone_author_and_targets(run_app: Any, site_path: Any,
                                                                         clock: Any) -> None:
    clock.set(T0)
    async with run_app(site_path, plugins=plugins(), background=False) as app:
        site = app.site()
        who = await people(site)
        post = await create_post(site, who.editor, draft("2026-03-03 10:00", category="Período de inscripción"))
        stored = await get_post(site, post.id)
        assert stored.publish_at == dt.datetime(2026, 3, 3, 13, 0, tzinfo=UTC)
        assert stored.publish_at.tzinfo is not None and stored.timezone == "America/Montevideo"
        assert stored.category == "periodo_inscripcion" and stored.author_id == who.editor
        assert stored.state == "draft" and len(stored.key) == 36
        assert [t.channel for t in await targets_of(site, post.id)] == ["pubtest"]


@pytest.mark.parametrize("changes, field, words", [
    ({"link": ""}, "link", "Falta el enlace"),
    ({"link": "https://evil.example/x"}, "link", "no está entre los permitidos"),
    ({"link": "javascript:alert(1)"}, "link", "javascript"),
    ({"link": "https://www.gub.uy/login?next=//evil.example"}, "link", "redirige a otro sitio"),
    ({"summary": "  "}, "summary", "Escribí un resumen"),
    ({"summary": "Mirá http://evil.example/x"}, "summary", "enlace no permitido"),
    ({"summary": "x" * 121}, "summary", "admite hasta 120"),
    ({"category": "deportes"}, "category", "Categoría desconocida"),
    ({"when": "2026-03-02 08:59"}, "publish_at", "ya pasó"),
    ({"when": "2026-03-02 09:04"}, "publish_at", "ya pasó"),
    ({"when": "mañana"}, "publish_at", "No se entiende"),
    ({"timezone": "America/Montevidео"}, "timezone", "Zona horaria desconocida"),
    ({"channels": ["twitter"]}, "channels", "no puede publicar"),
    ({"channels": []}, "channels", "al menos un canal"),
])
async def test_bad_input_is_refused_and_nothing_is_stored(run_app: Any, site_path: Any, clock: Any,
                                                          changes: dict[str, Any], field: str, words: str) -> None:
    clock.set(T0)  # 09:00 in Montevideo; five minutes of lead time by default
    async with run_app(site_path, plugins=plugins(), background=False) as app:
        site = app.site()
        who = await people(site)
        changes = dict(changes)  # the parameter is shared by the SQLite and PostgreSQL runs
        when = changes.pop("when", "2026-03-03 10:00")
        with pytest.raises(PostInvalid) as exc:
            await create_post(site, who.editor, draft(when, **changes))
        assert exc.value.errors[0].field == field
        assert words in exc.value.errors[0].message
        assert await count(site, Post) == 0
        assert await count(site, PostTarget) == 0 and await count(site, PostEvent) == 0


async def test_every_problem_is_reported_at_once(run_app: Any, site_path: Any, clock: Any) -> None:
    clock.set(T0)
    async with run_app(site_path, plugins=plugins(), background=False) as app:
        site = app.site()
        who = await people(site)
        with pytest.raises(PostInvalid) as exc:
            await create_post(site, who.editor, draft("2020-01-01 10:00", summary="", link="http://x", category="?"))
        assert [e.field for e in exc.value.errors] == ["summary", "link", "category", "publish_at"]


async def test_roles(run_app: Any, site_path: Any, clock: Any) -> None:
    clock.set(T0)
    async with run_app(site_path, plugins=plugins(), background=False) as app:
        site = app.site()
        who = await people(site)
        with pytest.raises(NotAllowed, match="No tenés permiso"):
            await create_post(site, who.outsider, draft("2026-03-03 10:00"))
        with pytest.raises(NotAllowed, match="Solo supervisores"):
            await create_post(site, who.editor, draft("2026-03-03 10:00"), state="scheduled")
        post = await create_post(site, who.editor, draft("2026-03-03 10:00"), state="pending_approval")
        with pytest.raises(NotAllowed):
            await approve(site, who.editor, post.id)
        assert (await approve(site, who.admin, post.id)).state == "scheduled"
        assert await count(site, Post) == 1


async def test_workflow_and_history(run_app: Any, site_path: Any, clock: Any) -> None:
    clock.set(T0)
    async with run_app(site_path, plugins=plugins(), background=False) as app:
        site = app.site()
        who = await people(site)
        post = await create_post(site, who.editor, draft("2026-03-03 10:00"))
        await submit(site, who.editor, post.id)
        rejected = await reject(site, who.supervisor, post.id, note="Falta la fecha de cierre.")
        assert rejected.state == "draft"
        edited = await update_post(site, who.editor, post.id, draft("2026-03-03 11:00", summary="Becas: hasta el 10/3."))
        assert edited.state == "draft"
        await submit(site, who.editor, post.id)
        approved = await approve(site, who.supervisor, post.id)
        assert approved.approved_by_id == who.supervisor and approved.approved_at == T0
        # Editing an approved post sends it back for approval.
        again = await update_post(site, who.editor, post.id, draft("2026-03-03 12:00", summary="Becas: hasta el 12/3."))
        assert again.state == "pending_approval" and again.approved_by_id is None
        events = await history(site, post.id)
        assert [(e.previous, e.state) for e in events] == [
            (None, "draft"), ("draft", "pending_approval"), ("pending_approval", "draft"), ("draft", "draft"),
            ("draft", "pending_approval"), ("pending_approval", "scheduled"), ("scheduled", "pending_approval"),
        ]
        assert events[2].note == "Falta la fecha de cierre." and events[2].agent_id == who.supervisor
        cancelled = await cancel(site, who.editor, post.id)
        assert cancelled.state == "cancelled"
        with pytest.raises(WrongState, match="Cancelada"):
            await update_post(site, who.editor, post.id, draft("2026-03-03 12:00"))
        with pytest.raises(WrongState):
            await approve(site, who.supervisor, post.id)
        with pytest.raises(WrongState):
            await retry(site, who.supervisor, post.id)


async def test_a_stale_edit_is_refused(run_app: Any, site_path: Any, clock: Any) -> None:
    clock.set(T0)
    async with run_app(site_path, plugins=plugins(), background=False) as app:
        site = app.site()
        who = await people(site)
        post = await create_post(site, who.editor, draft("2026-03-03 10:00"))
        await update_post(site, who.editor, post.id, draft("2026-03-03 11:00"), version=post.version)
        with pytest.raises(WrongState, match="cambió mientras la editabas"):
            await update_post(site, who.editor, post.id, draft("2026-03-03 12:00"), version=post.version)
        stored = await get_post(site, post.id)
        assert stored.publish_at == dt.datetime(2026, 3, 3, 14, 0, tzinfo=UTC)


async def test_concurrent_actions_one_wins(run_app: Any, site_path: Any, clock: Any) -> None:
    clock.set(T0)
    async with run_app(site_path, plugins=plugins(), background=False) as app:
        site = app.site()
        who = await people(site)
        post = await create_post(site, who.editor, draft("2026-03-03 10:00"), state="pending_approval")
        for action, state in ((lambda: approve(site, who.supervisor, post.id), "scheduled"),
                              (lambda: cancel(site, who.editor, post.id), "cancelled")):
            results = await asyncio.gather(*(action() for _ in range(6)), return_exceptions=True)
            assert [r.state for r in results if isinstance(r, Post)] == [state]
            assert all(isinstance(r, WrongState) for r in results if not isinstance(r, Post))
            assert (await get_post(site, post.id)).state == state
        assert await count(site, PostEvent, PostEvent.post_id == post.id) == 3


async def test_approving_a_post_whose_time_passed_is_refused(run_app: Any, site_path: Any, clock: Any) -> None:
    clock.set(T0)
    async with run_app(site_path, plugins=plugins(), background=False) as app:
        site = app.site()
        who = await people(site)
        post = await create_post(site, who.editor, draft("2026-03-02 10:00"), state="pending_approval")
        clock.set(T0 + dt.timedelta(hours=2))
        with pytest.raises(PostInvalid, match="ya pasó"):
            await approve(site, who.supervisor, post.id)
        assert (await get_post(site, post.id)).state == "pending_approval"


async def test_another_sites_post_is_not_found(run_app: Any, site_file: Any, standin: Any, clock: Any) -> None:
    clock.set(T0)
    one = site_file(site_text(standin.url, id="uno"), id="uno")
    two = site_file(site_text(standin.url, id="dos"), id="dos")
    async with run_app(one, two, plugins=plugins(), background=False) as app:
        uno, dos = app.site("uno"), app.site("dos")
        who = await people(uno)
        await people(dos)
        post = await create_post(uno, who.editor, draft("2026-03-03 10:00"))
        with pytest.raises(PostNotFound):
            await get_post(dos, post.id)
        with pytest.raises((PostNotFound, NotAllowed)):
            await cancel(dos, who.editor, post.id)
        assert (await get_post(uno, post.id)).state == "draft"


async def test_preview_shows_the_text_as_each_channel_will(run_app: Any, site_file: Any, standin: Any,
                                                           clock: Any) -> None:
    clock.set(T0)
    path = site_file(site_text(standin.url, pubtest="link_card = false\nmax_length = 60"))
    async with run_app(path, plugins=plugins(), background=False) as app:
        site = app.site()
        [shown] = preview(site, "Abrió la inscripción.", "https://www.gub.uy/b", ["pubtest", "nada"])
        assert shown.text == "Abrió la inscripción.\n\nhttps://www.gub.uy/b"
        assert shown.length == len(shown.text) and shown.fits and shown.label == "Canal de prueba"
        [long] = preview(site, "x" * 50, "https://www.gub.uy/b", ["pubtest"])
        assert not long.fits
