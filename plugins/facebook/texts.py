"""Everything the Facebook channel says to citizens and agents, in Spanish (es-UY).
A site overrides any of them in ``[plugins.facebook.texts]``."""

from __future__ import annotations

from canales.core.texts import Texts

TEXTS = Texts(
    {
        # To citizens.
        "ack.open": (
            "¡Hola! Recibimos tu consulta y te responderemos a la brevedad. "
            "Gracias por escribirnos."
        ),
        "ack.closed": (
            "¡Hola! Recibimos tu consulta. En este momento estamos fuera del horario de "
            "atención: te responderemos a la brevedad cuando retomemos, {next_opening}."
        ),
        "private_notice": "Te enviamos la respuesta por mensaje privado. ¡Gracias por tu consulta!",
        # To agents: why a reply cannot go out, and what to do instead.
        "refuse.window_closed": (
            "Pasaron más de 7 días desde el último mensaje de la persona: Facebook no "
            "permite escribirle hasta que vuelva a escribir."
        ),
        "refuse.human_only": (
            "Pasaron más de 24 horas desde el último mensaje de la persona: solo una "
            "respuesta escrita por una persona del equipo puede enviarse (hasta {until})."
        ),
        "refuse.human_tag_disabled": (
            "Pasaron más de 24 horas desde el último mensaje de la persona y el sitio no "
            "tiene habilitada la etiqueta de agente humano."
        ),
        "refuse.personal_data": (
            "No se puede responder en público: {where} contiene datos personales o un "
            "tema sensible ({found})."
        ),
        "refuse.private_used": "Ya se envió la única respuesta privada que Facebook permite para este comentario.",
        "refuse.private_expired": (
            "Facebook solo permite responder en privado a un comentario durante 7 días "
            "desde que se publicó (venció {expired})."
        ),
        "refuse.comment_removed": "El comentario fue eliminado: no se le puede responder.",
        "refuse.no_comment": "No hay un comentario de la persona al que responder.",
        "refuse.reply_kind": "En comentarios la respuesta es pública (\"public\") o privada (\"private\").",
        "suggest.private": "Respondé en privado: la persona recibirá un mensaje y en el comentario se avisará que se le escribió.",
        "suggest.wait": "Esperá a que la persona vuelva a escribir, u ofrecele otro canal.",
        "suggest.other_channel": "Ofrecele otro canal del organismo: {channels}.",
        "suggest.rewrite": "Quitá los datos personales de la respuesta o respondé en privado.",
        # Inbox panels and reply options.
        "option.public": "Responder en el muro (público)",
        "option.private": "Responder por mensaje privado",
        "option.messenger": "Mensaje de Messenger",
        "window.open": "Ventana abierta: respuesta estándar hasta {until}.",
        "window.human": "Solo respuesta de una persona (etiqueta HUMAN_AGENT) hasta {until}.",
        "window.closed": "Ventana cerrada desde {since}: no se puede escribir hasta que la persona vuelva a escribir.",
        "window.none": "La persona todavía no escribió por Messenger.",
        "panel.window": "Ventana de mensajería",
        "panel.comment": "Comentario en la página",
        "panel.page": "Página de Facebook",
        "private.available": "Respuesta privada disponible hasta {until}.",
        "private.sent": "Respuesta privada enviada el {at}.",
        "private.pending": "Respuesta privada en curso.",
        "private.expired": "La respuesta privada venció el {expired}.",
        "page.reconnect": "La página necesita reconectarse: el token de acceso dejó de ser válido.",
        "page.blocked": "Facebook bloqueó temporalmente los envíos de la página hasta {until}.",
        "page.unsubscribed": "Facebook dejó de enviar los mensajes de la página (la suscripción del webhook se perdió).",
    }
)
