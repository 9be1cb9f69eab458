"""The agents' web inbox: server-rendered pages under ``/inbox/``, a live socket,
a JSON API, admin pages and reports. It knows no channel by name: channel plugins
add panels, reply options, pages and menu links through hooks."""
