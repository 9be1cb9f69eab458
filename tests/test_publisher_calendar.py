"""The calendar's data (week and month views, the cadence monitor, free slots),
recurring posts, the CSV plan, the iCalendar export and the ``canales posts``
commands, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import icalendar
import pytest

from canales.core.cli import main
from canales.plugins.publisher.cadence import cadence, month_view, week_bounds, week_view
from canales.plugins.publisher.drafts import PostInvalid
from canales.plugins.publisher.ical import export_ics
from canales.plugins.publisher.models import Post, PostTarget
from canales.plugins.publisher.plan import PlanInvalid, import_plan
from canales.plugins.publisher.recurrence import RecurringDraft, create_recurrence, generate
from canales.plugins.publisher.workflow import cancel, create_post, list_posts
from publisher_support import UTC, count, draft, people, plugins, site_text, standin  # noqa: F401

MONDAY = dt.datetime(2026, 4, 27, 12, 0, tzinfo=UTC)  # 09:00 in Montevideo; Friday 1 May is a holiday


@pytest.fixture
def site_path(site_file: Any, standin: Any) -> Any:
    return site_file(site_text(standin.url))


async def plan_weeks(site: Any, who: Any) -> dict[str, Post]:
    async def post(when: str, state: str = "scheduled", n: int = 0) -> Post:
        return await create_post(site, who.admin, draft(when, summary=f"Noticia {when} {n}."), state=state)

    made = {
        "tue": await post("2026-04-28 10:00"),
        "wed": await post("2026-04-29 10:00"),
        "thu": await post("2026-04-30 10:00", "pending_approval"),
        "gone": await post("2026-04-29 15:00"),
    }
    await cancel(site, who.admin, made["gone"].id)
    for i in range(7):  # week 19: too many
        await post(f"2026-05-{4 + i % 5:02d} {10 + i // 5}:00", n=i)
    for i in range(4):  # week 20: within the target
        await post(f"2026-05-{11 + i:02d} 10:00", n=i)
    return made


async def test_cadence_monitor_counts_warns_and_suggests(run_app: Any, site_path: Any, clock: Any) -> None:
    clock.set(MONDAY)
    async with run_app(site_path, plugins=plugins(), background=False) as app:
        site = app.site()
        await plan_weeks(site, await people(site))
        weeks = await cadence(site, 4)
        assert [(w.week, w.count, w.pending, w.status, w.warn) for w in weeks] == [
            (18, 2, 1, "low", True), (19, 7, 0, "high", True), (20, 4, 0, "ok", False), (21, 0, 0, "low", True),
        ]
        assert weeks[0].message == "Semana 2026-W18: 2 publicaciones programadas; el objetivo es al menos 3."
        # Week 18: Tuesday to Thursday are taken and Friday is 1 May: Monday 10:00 is left.
        assert [s.local for s in weeks[0].suggestions] == ["2026-04-27 10:00"]
        assert weeks[0].suggestions[0].at == dt.datetime(2026, 4, 27, 13, 0, tzinfo=UTC)
        assert weeks[1].suggestions == []
        assert [s.local for s in weeks[3].suggestions] == [f"2026-05-{d} 10:00" for d in (18, 19, 20, 21, 22)]
        # Later the same Monday, 10:00 has passed: 13:00 is proposed instead.
        clock.set(MONDAY + dt.timedelta(hours=2))
        assert [s.local for s in (await cadence(site, 1))[0].suggestions] == ["2026-04-27 13:00"]


async def test_week_and_month_views(run_app: Any, site_path: Any, clock: Any) -> None:
    clock.set(MONDAY)
    async with run_app(site_path, plugins=plugins(), background=False) as app:
        site = app.site()
        made = await plan_weeks(site, await people(site))
        week = await week_view(site, dt.date(2026, 4, 29))
        assert [d.date.isoformat() for d in week.days][0] == "2026-04-27" and len(week.days) == 7
        assert [e.id for e in week.days[1].entries] == [made["tue"].id]
        assert week.days[3].entries[0].state_label == "Pendiente de aprobación"
        assert week.days[4].closed == "Día de los Trabajadores"
        assert all(e.id != made["gone"].id for d in week.days for e in d.entries)
        entry = week.days[2].entries[0]
        assert entry.local_time == "2026-04-29 10:00" and entry.channels == ("pubtest",)
        assert entry.category_label == "Período de inscripción"
        month = await month_view(site, 2026, 5)
        assert [w.cadence.week for w in month.weeks] == [18, 19, 20, 21, 22]
        assert not month.weeks[0].days[0].in_month and month.weeks[0].days[4].in_month
        assert sum(len(d.entries) for w in month.weeks for d in w.days if d.in_month) == 11


async def test_weeks_follow_local_midnight_across_dst(run_app: Any, site_file: Any, standin: Any,
                                                      clock: Any) -> None:
    clock.set(dt.datetime(2026, 3, 20, 12, 0, tzinfo=UTC))
    async with run_app(site_file(site_text(standin.url, tz="Europe/Madrid")), plugins=plugins(),
                       background=False) as app:
        site = app.site()
        who = await people(site)
        start, end = week_bounds(site, 2026, 13)  # 23-29 March; summer time starts on the 29th
        assert start == dt.datetime(2026, 3, 22, 23, 0, tzinfo=UTC)
        assert end == dt.datetime(2026, 3, 29, 22, 0, tzinfo=UTC)
        assert end - start == dt.timedelta(hours=167)
        late_sunday = await create_post(site, who.admin, draft("2026-03-29 23:30"), state="scheduled")
        assert late_sunday.publish_at == dt.datetime(2026, 3, 29, 21, 30, tzinfo=UTC)
        [week13, week14] = await cadence(site, 2, today=dt.date(2026, 3, 23))
        assert (week13.week, week13.count, week14.count) == (13, 1, 0)


async def test_recurring_posts_are_generated_once(run_app: Any, site_path: Any, clock: Any) -> None:
    clock.set(dt.datetime(2026, 1, 20, 12, 0, tzinfo=UTC))
    async with run_app(site_path, plugins=plugins(), background=False) as app:
        site = app.site()
        who = await people(site)
        rec = await create_recurrence(site, who.editor, RecurringDraft(
            "Abre la inscripción a becas.", "https://www.gub.uy/becas", "periodo_inscripcion",
            "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=1", "2026-03-01 10:00"))
        results = await asyncio.gather(*(generate(site) for _ in range(4)))
        assert sum(results) == 1
        assert await generate(site) == 0
        [post] = await list_posts(site)
        assert post.state == "pending_approval" and post.recurrence_id == rec.id
        assert post.publish_at == dt.datetime(2026, 3, 1, 13, 0, tzinfo=UTC)
        assert await count(site, PostTarget, PostTarget.post_id == post.id) == 1
        clock.set(dt.datetime(2027, 1, 20, 12, 0, tzinfo=UTC))
        assert await generate(site) == 1
        assert [p.occurrence.isoformat() for p in await list_posts(site)] == ["2026-03-01", "2027-03-01"]


async def test_recurrence_keeps_the_local_hour_across_dst(run_app: Any, site_file: Any, standin: Any,
                                                          clock: Any) -> None:
    clock.set(dt.datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    path = site_file(site_text(standin.url, tz="Europe/Madrid", publisher="recurrence_horizon_days = 60"))
    async with run_app(path, plugins=plugins(), background=False) as app:
        site = app.site()
        who = await people(site)
        await create_recurrence(site, who.editor, RecurringDraft(
            "Recordatorio mensual.", "https://www.gub.uy/r", "otro", "FREQ=MONTHLY;BYMONTHDAY=15", "2026-01-15 10:00"))
        assert await generate(site) == 2
        assert [p.publish_at for p in await list_posts(site)] == [
            dt.datetime(2026, 3, 15, 9, 0, tzinfo=UTC), dt.datetime(2026, 4, 15, 8, 0, tzinfo=UTC)]


@pytest.mark.parametrize("rule, starts, tz, field", [
    ("FREQ=HOURLY", "2026-03-01 10:00", None, "rule"),
    ("FREQ=SOMETIMES", "2026-03-01 10:00", None, "rule"),
    ("FREQ=YEARLY", "el primero de marzo", None, "starts"),
    ("FREQ=YEARLY", "2026-03-01 10:00", "Luna/Base", "timezone"),
])
async def test_bad_recurrences_are_refused(run_app: Any, site_path: Any, clock: Any, rule: str, starts: str,
                                           tz: str | None, field: str) -> None:
    clock.set(dt.datetime(2026, 1, 20, 12, 0, tzinfo=UTC))
    async with run_app(site_path, plugins=plugins(), background=False) as app:
        site = app.site()
        who = await people(site)
        with pytest.raises(PostInvalid) as exc:
            await create_recurrence(site, who.editor, RecurringDraft(
                "Texto.", "https://www.gub.uy/x", "otro", rule, starts, timezone=tz))
        assert exc.value.errors[0].field == field


GOOD_PLAN = (
    "\ufeffdate;time;summary;link;category;channels;timezone\n"
    "2026-05-04;10:00;Abre la inscripción a becas;https://www.gub.uy/becas;Período de inscripción;pubtest;\n"
    "2026-05-05;9:30;\"Campaña de vacunación; vení a tu policlínica\";https://vacunas.gub.uy/;campaña;;\n"
    "2026-05-06;10:00;Renová tu cédula antes del verano;https://www.gub.uy/cedula;tramite_temporada;;Europe/Madrid\n"
)


async def test_a_csv_plan_is_imported_once(run_app: Any, site_path: Any, clock: Any) -> None:
    clock.set(MONDAY)
    async with run_app(site_path, plugins=plugins(), background=False) as app:
        site = app.site()
        who = await people(site)
        report = await import_plan(site, who.editor, GOOD_PLAN.encode())
        assert len(report.created) == 3 and report.skipped_rows == []
        posts = await list_posts(site)
        assert [p.state for p in posts] == ["pending_approval"] * 3
        assert [p.category for p in posts] == ["periodo_inscripcion", "campana", "tramite_temporada"]
        assert posts[1].summary == "Campaña de vacunación; vení a tu policlínica"
        assert posts[1].publish_at == dt.datetime(2026, 5, 5, 12, 30, tzinfo=UTC)
        assert posts[2].publish_at == dt.datetime(2026, 5, 6, 8, 0, tzinfo=UTC) and posts[2].timezone == "Europe/Madrid"
        again = await import_plan(site, who.editor, GOOD_PLAN.encode())
        assert again.created == [] and again.skipped_rows == [2, 3, 4]
        assert await count(site, Post) == 3


BAD_PLAN = (
    "date,time,summary,link,category,colour\n"
    "2026-05-04,10:00,Bien,https://www.gub.uy/a,beneficio,\n"
)
ROWS_PLAN = (
    "date,time,summary,link,category,timezone\n"
    "2026-05-04,10:00,Bien,https://www.gub.uy/a,beneficio,\n"
    "2026-05-04,10:00,Enlace ajeno,https://evil.example/a,beneficio,\n"
    "2026-02-30,10:00,Fecha imposible,https://www.gub.uy/b,beneficio,\n"
    "2026-03-29,02:30,Hora que no existe,https://www.gub.uy/c,beneficio,Europe/Madrid\n"
    "2026-05-04,10:00,Zona rara,https://www.gub.uy/d,beneficio,Mars/Olympus\n"
    "2026-05-04,10:00,Bien,https://www.gub.uy/a,beneficio,\n"
    "2026-04-20,10:00,,http://www.gub.uy/e,deportes,\n"
)


async def test_a_csv_plan_with_bad_rows_imports_nothing(run_app: Any, site_path: Any, clock: Any) -> None:
    clock.set(MONDAY)
    async with run_app(site_path, plugins=plugins(), background=False) as app:
        site = app.site()
        who = await people(site)
        with pytest.raises(PlanInvalid) as header:
            await import_plan(site, who.editor, BAD_PLAN)
        assert [(e.row, e.column) for e in header.value.errors] == [(1, "colour")]
        with pytest.raises(PlanInvalid) as exc:
            await import_plan(site, who.editor, ROWS_PLAN)
        assert [(e.row, e.column) for e in exc.value.errors] == [
            (3, "link"), (4, "date"), (5, "time"), (6, "timezone"), (7, "summary"),
            (8, "summary"), (8, "link"), (8, "category"), (8, "date"),
        ]
        assert exc.value.lines[0].startswith("fila 3, columna link: El dominio evil.example no está")
        assert "repite la fila 2" in exc.value.lines[4]
        for bad in (b"date,time\n", b"\xff\xfe\x00d", "date,time,summary,link,category\n"):
            with pytest.raises(PlanInvalid):
                await import_plan(site, who.editor, bad)
        assert await count(site, Post) == 0 and await count(site, PostTarget) == 0


async def test_icalendar_export(run_app: Any, site_path: Any, clock: Any) -> None:
    clock.set(MONDAY)
    async with run_app(site_path, plugins=plugins(), background=False) as app:
        site = app.site()
        who = await people(site)
        await import_plan(site, who.admin, GOOD_PLAN, state="scheduled")
        gone = await create_post(site, who.admin, draft("2026-05-07 10:00"))
        await cancel(site, who.admin, gone.id)
        parsed = icalendar.Calendar.from_ical(await export_ics(site))
        events = list(parsed.walk("VEVENT"))
        assert len(events) == 3
        assert [tz["TZID"] for tz in parsed.walk("VTIMEZONE")] == ["America/Montevideo"]
        first = events[0]
        assert first.decoded("dtstart") == dt.datetime(2026, 5, 4, 13, 0, tzinfo=UTC)
        assert first["dtstart"].params["TZID"] == "America/Montevideo"
        assert str(first["summary"]).startswith("[Período de inscripción] Abre la inscripción")
        assert str(first["url"]) == "https://www.gub.uy/becas" and str(first["status"]) == "CONFIRMED"
        posts = await list_posts(site, states=["scheduled"])
        assert [str(e["uid"]) for e in events] == [f"{p.key}@pub.canales" for p in posts]


async def test_posts_commands(run_app: Any, site_path: Any, database_url: str, clock: Any, tmp_path: Path,
                              capsys: Any) -> None:
    clock.set(dt.datetime.now(UTC))
    async with run_app(site_path, plugins=plugins(), background=False) as app:
        site = app.site()
        await people(site)
        base = ["--site", str(site_path), "--database-url", database_url, "--plugin", "pubtest=fixture_plugins.publishing"]
        year = dt.date.today().year + 1
        plan = tmp_path / "plan.csv"
        plan.write_text(GOOD_PLAN.replace("2026", str(year)), "utf-8")

        def run(*args: str) -> int:
            return main(list(args))

        assert await asyncio.to_thread(run, "posts", "import", str(plan), "--agent", "agent@pub.gub.uy", *base) == 0
        assert "3 publicación(es) importada(s) como pending_approval" in capsys.readouterr().out
        assert await asyncio.to_thread(run, "posts", "import", str(plan), "--agent", "agent@pub.gub.uy",
                                       "--state", "scheduled", *base) == 1
        assert "Solo supervisores" in capsys.readouterr().err
        bad = tmp_path / "bad.csv"
        bad.write_text(ROWS_PLAN, "utf-8")
        assert await asyncio.to_thread(run, "posts", "import", str(bad), "--agent", "admin@pub.gub.uy", *base) == 1
        err = capsys.readouterr().err
        assert "nada importado" in err and "fila 3, columna link" in err
        assert await asyncio.to_thread(run, "posts", "list", *base, "--state", "pending_approval") == 0
        out = capsys.readouterr().out
        assert "Abre la inscripción a becas" in out and "3 post(s)" in out
        ics = tmp_path / "plan.ics"
        assert await asyncio.to_thread(run, "posts", "export", *base, "-o", str(ics)) == 0
        assert len(list(icalendar.Calendar.from_ical(ics.read_bytes()).walk("VEVENT"))) == 3
        assert await asyncio.to_thread(run, "posts", "cadence", *base, "--weeks", "2") == 0
        assert "objetivo" in capsys.readouterr().out
        assert await count(site, Post) == 3


async def test_a_recurrence_that_became_invalid_raises_an_alert(run_app: Any, site_file: Any, standin: Any,
                                                                 clock: Any) -> None:
    from canales.core.alerts import open_alerts

    clock.set(dt.datetime(2026, 1, 20, 12, 0, tzinfo=UTC))
    async with run_app(site_file(site_text(standin.url)), plugins=plugins(), background=False) as app:
        site = app.site()
        who = await people(site)
        await create_recurrence(site, who.editor, RecurringDraft(
            "Abre la inscripción.", "https://www.gub.uy/becas", "periodo_inscripcion", "FREQ=WEEKLY", "2026-01-26 10:00"))
    # The site drops gub.uy from its allowed domains.
    narrower = site_file(site_text(standin.url, publisher='allowed_link_domains = ["ejemplo.gub.uy"]'), id="pub2")
    narrower.write_text(narrower.read_text("utf-8").replace(
        'allowed_link_domains = ["gub.uy", "ejemplo.gub.uy"]\n', ""), "utf-8")
    async with run_app(narrower, plugins=plugins(), background=False) as app:
        site = app.site()
        assert await generate(site) == 0
        assert await count(site, Post) == 0
        [alert] = await open_alerts(site)
        assert "no se creó" in alert.message and "www.gub.uy" in alert.message
