"""The reports page (supervisors and admins) and its CSV export."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from canales.core.inbox import charts, reports
from canales.core.inbox.access import require, signed_in, site_for
from canales.core.inbox.web import render


async def report_page(request: Request) -> Response:
    who = await signed_in(request)
    site, role = site_for(request, who)
    require(role, "admin", "supervisor")
    period = reports.Period.parse(site, request.query_params.get("from"), request.query_params.get("to"))
    report = await reports.build(site, period)
    if request.query_params.get("format") == "csv":
        filename = f"informe-{site.id}-{period.first_day}-{period.last_day}.csv"
        return Response(
            reports.to_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{filename}"', "cache-control": "no-store"},
        )
    hours = [(f"{h:02d}", n) for h, n in enumerate(report.by_hour)]
    return await render(
        request,
        "inbox/reports.html",
        who=who,
        site=site,
        role=role,
        report=report,
        period=period,
        duration=reports.human_duration,
        channel_chart=charts.bars("chart-channels", "Conversaciones por canal", list(report.by_channel.items())),
        hour_chart=charts.columns("chart-hours", "Conversaciones por hora del día", hours, label_every=3),
        score_chart=charts.columns(
            "chart-scores", "Respuestas de satisfacción por puntaje", [(str(s), n) for s, n in report.scores.items()], height=160
        ),
        hours=hours,
    )
