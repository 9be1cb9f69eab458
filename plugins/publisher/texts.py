"""Every agent-facing text of the publisher, in Spanish (es-UY): validation errors,
alerts and category names. A site overrides any of them under
``[plugins.publisher.texts]``."""

from __future__ import annotations

from canales.core.texts import Texts

TEXTS = Texts(
    {
        # Categories (the guideline's kinds of news).
        "category.beneficio": "Beneficio",
        "category.periodo_inscripcion": "Período de inscripción",
        "category.tramite_temporada": "Trámite de temporada",
        "category.campana": "Campaña",
        "category.canal_atencion": "Canal de atención",
        "category.otro": "Otro",
        # States, as agents see them.
        "state.draft": "Borrador",
        "state.pending_approval": "Pendiente de aprobación",
        "state.scheduled": "Programada",
        "state.publishing": "Publicándose",
        "state.retrying": "Reintentando",
        "state.published": "Publicada",
        "state.failed": "Falló",
        "state.unconfirmed": "Sin confirmar",
        "state.cancelled": "Cancelada",
        "state.expired": "Vencida sin aprobar",
        "state.missed": "No publicada a tiempo",
        # Validation of a post.
        "error.summary.empty": "Escribí un resumen.",
        "error.summary.long": "El resumen tiene {length} caracteres; el máximo es {limit}.",
        "error.summary.invalid": "El resumen contiene caracteres no válidos.",
        "error.summary.link": "El resumen incluye un enlace no permitido ({link}): {reason}",
        "error.link.missing": "Falta el enlace: cada publicación lleva a la página que amplía la noticia o inicia el trámite.",
        "error.link.long": "El enlace es demasiado largo (máximo {limit} caracteres).",
        "error.link.scheme": "El enlace debe empezar con https:// (se recibió «{scheme}»).",
        "error.link.script": "Los enlaces javascript: o data: no están permitidos.",
        "error.link.malformed": "El enlace no es una dirección web válida.",
        "error.link.credentials": "El enlace no puede incluir usuario ni contraseña.",
        "error.link.ip": "El enlace debe usar un nombre de dominio, no una dirección IP.",
        "error.link.port": "El enlace no puede indicar un puerto distinto de 443.",
        "error.link.domain": "El dominio {host} no está entre los permitidos para este sitio ({allowed}).",
        "error.link.redirect": "El enlace redirige a otro sitio ({target}), que no está entre los permitidos.",
        "error.category": "Categoría desconocida «{value}»; usá una de: {known}.",
        "error.channels.empty": "Elegí al menos un canal donde publicar.",
        "error.channels.unknown": "El canal «{channel}» no puede publicar en este sitio (disponibles: {known}).",
        "error.length": "El texto tiene {length} caracteres y {label} admite hasta {limit}.",
        "error.time.missing": "Indicá la fecha y la hora de publicación.",
        "error.time.format": "No se entiende la fecha u hora «{value}»; usá AAAA-MM-DD y HH:MM.",
        "error.time.past": "La hora de publicación ({when}) ya pasó o está a menos de {lead} minutos; elegí una hora futura.",
        "error.time.gap": "La hora {when} no existe en {zone} (cambio de hora); elegí otra.",
        "error.time.ambiguous": "La hora {when} ocurre dos veces en {zone} (cambio de hora); elegí otra o indicá el desfase UTC.",
        "error.timezone": "Zona horaria desconocida «{value}»; usá un nombre IANA como America/Montevideo.",
        "error.rule": "Regla de repetición no válida: {reason}",
        # Workflow.
        "error.role.edit": "No tenés permiso para crear o editar publicaciones en este sitio.",
        "error.role.approve": "Solo supervisores o administradores pueden aprobar publicaciones.",
        "error.state": "La publicación está «{state}»; no se puede {action}.",
        "error.conflict": "La publicación cambió mientras la editabas; volvé a abrirla.",
        "error.not_found": "No existe la publicación {id} en este sitio.",
        # CSV plan.
        "csv.row": "fila {row}, columna {column}: {message}",
        "csv.header": "Faltan columnas obligatorias: {missing}. Columnas: date, time, summary, link, category, channels, timezone.",
        "csv.unknown_column": "Columna desconocida «{column}».",
        "csv.empty": "El archivo no tiene filas.",
        "csv.too_many": "El archivo tiene más de {limit} filas; dividilo.",
        "csv.encoding": "El archivo no está en UTF-8.",
        "csv.duplicate": "repite la fila {other}.",
        # Alerts raised in the inbox.
        "alert.failed": "No se pudo publicar «{title}» en {channel}: {reason}",
        "alert.unconfirmed": "No sabemos si «{title}» se publicó en {channel} (sin respuesta del canal); se está verificando, no la publiques de nuevo a mano.",
        "alert.not_found": "«{title}» no aparece en {channel} después de {checks} verificaciones. Revisá la página y, si no está, reintentala.",
        "alert.expired": "«{title}» no fue aprobada antes de su hora ({when}) y no se publicó.",
        "alert.missed": "«{title}» debía publicarse el {when} y no se publicó a tiempo (el sistema estuvo detenido). Reprogramala si sigue vigente.",
        "alert.recurrence": "La publicación repetida «{title}» no se creó para el {day}: {reason}. Corregila o desactivala.",
        # Cadence monitor.
        "cadence.low": "Semana {week}: {count} publicaciones programadas; el objetivo es al menos {min}.",
        "cadence.high": "Semana {week}: {count} publicaciones programadas; el objetivo es como máximo {max}.",
        "cadence.ok": "Semana {week}: {count} publicaciones, dentro del objetivo ({min}–{max}).",
    }
)


def label(overrides: dict[str, str] | None, key: str, **params: object) -> str:
    """Shorthand for :meth:`Texts.render` on this catalogue."""
    return TEXTS.render(overrides, key, **params)
