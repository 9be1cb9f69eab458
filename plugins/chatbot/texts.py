"""Everything the bot says on its own (not from the site's knowledge), in Spanish
(es-UY). A site rewords any of it under ``[plugins.chatbot.texts]``."""

from __future__ import annotations

from canales.core.texts import Texts

TEXTS = Texts(
    {
        "out_of_scope": "Perdón, con eso no te puedo ayudar: solo conozco algunos trámites y consultas frecuentes.",
        "not_understood": "No estoy seguro de haber entendido tu consulta.",
        "clarify": "No estoy seguro de haber entendido. ¿Quisiste decir…?",
        "clarify.none": "Ninguna de estas",
        "handoff.doing": "Te paso con una persona del equipo, que va a ver esta conversación y te responde por acá.",
        "handoff.closed": "En este momento no hay personas atendiendo por este canal.",
        "handoff.not_enabled": "Por este canal no puedo pasarte con una persona.",
        "contact.intro": "Podés comunicarte por:",
        "contact.phone": "• Teléfono: {phone}{hours}",
        "contact.email": "• Correo electrónico: {email}",
        "contact.web": "• Web: {web}",
        "contact.address": "• En persona: {address}",
        "contact.none": "Escribinos de nuevo en el horario de atención.",
        "button.handoff": "Hablar con una persona",
        "button.menu": "Ver opciones",
        "feedback.up": "👍 Me sirvió",
        "feedback.down": "👎 No me sirvió",
        "feedback.thanks": "¡Gracias por contarnos!",
        "feedback.sorry": "Gracias por avisarnos: lo vamos a usar para mejorar.",
        "feedback.nothing": "Gracias. ¿En qué más te puedo ayudar?",
        "no_words": "No llegué a entender tu mensaje. ¿Me escribís tu consulta con palabras?",
        "too_long": "Tu mensaje es muy largo para mí. ¿Me contás tu consulta en pocas palabras?",
        "foreign_language": "Por ahora solo entiendo español. (Sorry, for now I only understand Spanish.)",
        "flow.cancelled": "Listo, dejamos eso. ¿En qué más te puedo ayudar?",
        "flow.gave_up": "No logramos completar este paso por acá.",
        "action.error": "No pude completar la consulta en este momento. Probá de nuevo más tarde.",
        "error": "Tuve un problema para responderte. Probá de nuevo en un momento.",
        "invalid.cedula_format": "Un número de cédula tiene 7 u 8 cifras contando el dígito verificador (por ejemplo 1.234.567-2).",
        "invalid.cedula_check": "El dígito verificador de esa cédula no coincide con el número. ¿Lo revisás?",
        "invalid.date": "No entendí la fecha. Escribila, por ejemplo, como 15/04 o «15 de abril».",
        "invalid.date_past": "Esa fecha ya pasó. Elegí una de hoy en adelante.",
        "invalid.date_future": "Esa fecha todavía no llegó. ¿La revisás?",
        "invalid.expediente": "No reconozco ese número de expediente; tiene la forma 2024-11-0001-01234.",
        "invalid.number": "Escribí solo el número, por favor.",
        "invalid.email": "Esa dirección de correo no parece válida.",
        "invalid.value": "No pude usar esa respuesta.",
    }
)
