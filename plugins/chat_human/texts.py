"""Everything the live chat says to citizens, in Spanish (es-UY), in one catalogue.

A site words any of them its own way under ``[plugins.chat_human.texts]``. The
widget receives the ``ui.*`` texts with the site's name already filled in and fills
the other placeholders (``{name}``, ``{seconds}``…) itself; the server renders the
rest (status, errors, the transcript).
"""

from __future__ import annotations

from collections.abc import Mapping

from canales.core.texts import Texts

TEXTS = Texts(
    {
        # The widget's own interface.
        "ui.launcher": "Chateá con nosotros",
        "ui.launcher_unread": "{count} mensajes nuevos",
        "ui.title": "{site}",
        "ui.close": "Cerrar el chat",
        "ui.transcript": "Descargar la conversación",
        "ui.new_conversation": "Nueva conversación",
        "ui.prechat_intro": "Antes de empezar, contanos un poco sobre vos.",
        "ui.name": "Nombre",
        "ui.email": "Correo electrónico",
        "ui.topic": "Tema de tu consulta",
        "ui.topic_choose": "Elegí un tema",
        "ui.optional": "(opcional)",
        "ui.privacy_title": "Tus datos personales",
        "ui.privacy_link": "Leé la política de privacidad completa",
        "ui.privacy_accept": "Leí el aviso y acepto que usen mis datos para responder mi consulta.",
        "ui.start": "Comenzar",
        "ui.composer": "Escribí tu mensaje",
        "ui.composer_hint": "Enter envía; Mayúsculas y Enter agregan una línea.",
        "ui.send": "Enviar",
        "ui.empty": "Escribí un mensaje antes de enviarlo.",
        "ui.you": "Vos",
        "ui.bot": "Asistente virtual",
        "ui.agent": "Persona del equipo",
        "ui.sending": "Enviando…",
        "ui.failed": "No se pudo enviar.",
        "ui.retry": "Reintentar",
        "ui.read": "Leído",
        "ui.typing": "{name} está escribiendo…",
        "ui.typing_anyone": "Te están escribiendo…",
        "ui.connecting": "Conectando…",
        "ui.reconnecting": "Se cortó la conexión. Reintentando…",
        "ui.alternatives": "También podés comunicarte por:",
        "ui.messages": "Mensajes de la conversación",
        # The conversation's state, shown in the panel.
        "state.queued": "Tu consulta está en espera: enseguida te atiende una persona.",
        "state.assigned": "{name} te está atendiendo.",
        "state.bot": "Te atiende el asistente virtual.",
        "state.closed": "La conversación terminó. ¡Gracias por escribirnos!",
        # Business hours.
        "status.open": "Estamos en línea.",
        "status.closed_hours": (
            "En este momento no estamos atendiendo. Volvemos {when}. Dejanos tu mensaje: "
            "lo leemos y te respondemos apenas abramos."
        ),
        "status.closed_no_opening": (
            "En este momento no estamos atendiendo. Dejanos tu mensaje y te respondemos "
            "lo antes posible."
        ),
        "status.no_agent": (
            "En este momento no hay personas disponibles para atenderte. Dejanos tu mensaje "
            "y te respondemos lo antes posible."
        ),
        "alt.phone": "Teléfono",
        "alt.email": "Correo electrónico",
        "alt.web": "Sitio web",
        "alt.address": "Atención presencial",
        "alt.chatbot": "Asistente virtual",
        "alt.chatbot_detail": "Responde a toda hora las consultas más frecuentes, en este mismo chat.",
        # The privacy notice (Ley N.º 18.331), shown before the first message.
        "privacy.notice": (
            "{site} trata los datos que escribas en este chat para responder tu consulta, "
            "según la Ley N.º 18.331 de Protección de Datos Personales, y podés ejercer ante "
            "{site} tus derechos de acceso, rectificación y supresión. No escribas "
            "contraseñas ni datos de tarjetas."
        ),
        # Errors (frames of type "error" carry one of these as "message").
        "error.invalid_json": "No entendimos el mensaje recibido (no es JSON válido).",
        "error.invalid_frame": "El mensaje recibido no tiene la forma esperada.",
        "error.unknown_type": "No conocemos ese tipo de mensaje.",
        "error.invalid": "Revisá el campo «{field_name}».",
        "error.required": "Completá este campo.",
        "error.email": "Escribí un correo electrónico válido, por ejemplo nombre@ejemplo.com.uy.",
        "error.topic": "Elegí un tema de la lista.",
        "error.too_long": "Es demasiado largo: el máximo es {max} caracteres.",
        "error.empty": "Escribí un mensaje.",
        "error.privacy": "Para comenzar, aceptá el aviso sobre tus datos personales.",
        "error.not_found": "No encontramos esa conversación. Podés iniciar una nueva.",
        "error.not_started": "Primero iniciá la conversación.",
        "error.already_started": "Esta conexión ya tiene una conversación.",
        "error.closed": "Esta conversación terminó. Podés iniciar una nueva.",
        "error.rate_limited": "Estás enviando mensajes muy seguido. Esperá {seconds} segundos y volvé a intentar.",
        "error.too_many_connections": (
            "Hay demasiadas conexiones abiertas desde tu red. Probá de nuevo en unos minutos."
        ),
        "error.flood": "Recibimos demasiados mensajes en poco tiempo; cerramos la conexión.",
        "error.rejected": "No pudimos aceptar ese mensaje.",
        "error.unavailable": "Tuvimos un problema. Probá de nuevo en unos segundos.",
        # The note that tells the agents what the pre-chat form said.
        "note.prechat": "Formulario inicial del chat. {answers}",
        "note.name": "Nombre: {value}",
        "note.email": "Correo: {value}",
        "note.topic": "Tema: {value}",
        # The transcript the citizen downloads.
        "transcript.title": "Conversación con {site}",
        "transcript.started": "Iniciada el {date}.",
        "transcript.file": "conversacion-{site_id}-{date}.txt",
    }
)


class _Keep(dict[str, str]):
    """Leaves unknown placeholders as they are, for the widget to fill in."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def template(overrides: Mapping[str, str] | None, key: str, **known: str) -> str:
    """The site's text for ``key`` with only the ``known`` placeholders filled in."""
    raw = (overrides or {}).get(key) or TEXTS.defaults[key]
    return raw.format_map(_Keep(known))


def widget_texts(overrides: Mapping[str, str] | None, site_name: str) -> dict[str, str]:
    """The ``ui.*`` and ``state.*`` texts the widget shows, keyed without prefix
    for ``ui.`` (``launcher``, ``send``…) and with it for states."""
    out: dict[str, str] = {}
    for key in TEXTS.keys():
        if key.startswith("ui."):
            out[key[3:]] = template(overrides, key, site=site_name)
        elif key.startswith("state."):
            out[key] = template(overrides, key, site=site_name)
    return out
