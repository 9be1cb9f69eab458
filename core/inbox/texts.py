"""Every agent-facing text the inbox and core's conversation operations produce in
Python (flash messages, errors, the activity notes written into a thread). The
pages' own wording lives in the templates under ``core/templates/inbox/``."""

from __future__ import annotations

from canales.core.texts import Texts

TEXTS = Texts(
    {
        # Activity notes written into the thread (internal, agents only).
        "note.assigned": "Asignada a {agent}.",
        "note.assigned_by": "{by} asignó la conversación a {agent}.",
        "note.taken": "{agent} tomó la conversación.",
        "note.transferred_agent": "{by} transfirió la conversación a {agent}.",
        "note.transferred_team": "{by} transfirió la conversación al equipo {team}.",
        "note.released": "{by} devolvió la conversación a la cola.",
        "note.reason": "Motivo: {reason}",
        "note.closed": "{by} cerró la conversación.",
        "note.reopened": "{by} reabrió la conversación.",
        "note.system": "El sistema",
        # Errors of conversation operations.
        "error.closed": "La conversación está cerrada; reabrila para responder.",
        "error.already_closed": "La conversación ya estaba cerrada.",
        "error.not_closed": "La conversación no está cerrada.",
        "error.taken": "Otra persona ya tomó esta conversación.",
        "error.no_agent": "Ese agente no existe o no está activo en este sitio.",
        "error.no_team": "No existe el equipo {team} en este sitio.",
        "error.transfer_target": "Elegí un agente o un equipo al que transferir.",
        "error.reopen_conflict": "No se puede reabrir: el contacto ya tiene otra conversación abierta en este canal (n.º {other}).",
        "error.label": "La etiqueta «{label}» no es válida: usá hasta 40 letras, números, espacios o guiones.",
        "error.too_many_labels": "Una conversación puede tener hasta {max} etiquetas.",
        "error.reason_too_long": "El motivo puede tener hasta {max} caracteres.",
        "error.empty_text": "Escribí un texto antes de enviar.",
        "error.text_too_long": "El texto es demasiado largo (máximo {max} caracteres).",
        "error.invalid_text": "El texto no es válido: {reason}.",
        "error.option_unavailable": "La opción «{label}» no está disponible: {reason}",
        "error.option_unknown": "La opción de respuesta elegida no existe para esta conversación.",
        "error.reply_refused": "No se envió la respuesta: {reason}",
        "error.forbidden_action": "Tu rol en este sitio no permite hacer eso.",
        "error.retry_failed": "Esa entrega ya no está fallida; no hay nada que reintentar.",
        # Refusals and error pages.
        "refused.title": "Solicitud rechazada",
        "refused.token_not_allowed": "Los tokens de API solo sirven en /inbox/api/.",
        "refused.cross_origin": "La solicitud viene de otro sitio web.",
        "refused.csrf": "Falta el token de seguridad o venció; recargá la página.",
        "refused.too_large": "El formulario es demasiado grande.",
        "refused.too_many_fields": "El formulario tiene demasiados campos.",
        "refused.back": "Volver a la bandeja",
        "page.login_required": "Iniciá sesión (o enviá un token de API válido).",
        "page.not_found_title": "No encontrado",
        "page.not_found": "Lo que buscás no existe o no tenés acceso.",
        "page.forbidden_title": "Sin permiso",
        "page.failed_title": "No se pudo",
        # Menu.
        "menu.conversations": "Conversaciones",
        "menu.backlog": "Pendientes de la noche",
        "menu.search": "Buscar",
        "menu.reports": "Informes",
        "menu.admin": "Administración",
        # Login and accounts.
        "login.failed": "Correo o contraseña incorrectos.",
        "login.throttled": "Demasiados intentos fallidos. Probá de nuevo en {minutes} minutos.",
        "login.expired_form": "El formulario venció; cargá la página e intentá de nuevo.",
        "password.wrong": "La contraseña actual no es correcta.",
        "password.mismatch": "Las contraseñas nuevas no coinciden.",
        "password.weak": "La contraseña nueva no es segura: necesita al menos 12 caracteres variados.",
        "admin.last_admin": "No podés quitarte el rol de administrador: sos el último de este sitio.",
        "admin.self": "No podés desactivarte a vos mismo.",
        "admin.other_sites": "Este agente trabaja también en otros sitios: su contraseña solo la puede restablecer él mismo o un administrador de todos sus sitios.",
        "admin.bad_email": "«{email}» no es una dirección de correo.",
        "admin.bad_name": "Escribí el nombre del agente (hasta 200 caracteres).",
        "admin.bad_role": "Rol desconocido.",
        "admin.bad_shortcut": "El atajo usa de 1 a 40 letras minúsculas, números, guiones o guiones bajos.",
        "admin.shortcut_taken": "Ya hay una respuesta con el atajo «{shortcut}».",
        "admin.bad_placeholder": "La respuesta usa {found}, que no existe (disponibles: {available}).",
        "admin.bad_title": "Escribí un título (hasta 120 caracteres).",
        "admin.bad_token_name": "Poné un nombre al token (hasta 100 caracteres), por ejemplo el sistema que lo usará.",
        "admin.bad_team": "La clave del equipo usa de 1 a 64 letras minúsculas, números, guiones o guiones bajos, y el nombre hasta 200 caracteres.",
        # Flash messages after an action (codes in the redirect's query string).
        "ok.reply": "Respuesta enviada.",
        "ok.note": "Nota guardada.",
        "ok.assigned": "Conversación asignada.",
        "ok.transferred": "Conversación transferida.",
        "ok.released": "Conversación devuelta a la cola.",
        "ok.closed": "Conversación cerrada.",
        "ok.reopened": "Conversación reabierta.",
        "ok.labels": "Etiquetas guardadas.",
        "ok.retry": "Se volverá a intentar la entrega.",
        "ok.password": "Contraseña cambiada. Se cerraron tus otras sesiones.",
        "ok.saved": "Cambios guardados.",
        "ok.deleted": "Eliminado.",
        "ok.revoked": "Token revocado.",
        "ok.availability": "Disponibilidad actualizada.",
        "ok.alert": "Alerta marcada como resuelta.",
        "ok.logged_out": "Cerraste la sesión.",
    }
)


def text(key: str, **params: object) -> str:
    """The inbox's text ``key`` with its placeholders filled in."""
    return TEXTS.render(None, key, **params)
