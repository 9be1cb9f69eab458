"""The Graph API stand-in: a Starlette app with Meta's contract for the endpoints the
Facebook plugin calls. Serve it with ``tests.helpers.serve`` (a real port) and point
the plugin's ``graph_url`` at it."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import itertools
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

DAY = dt.timedelta(days=1)
ALL_FIELDS = ["messages", "messaging_postbacks", "message_echoes", "feed"]
ALL_SCOPES = [
    "pages_messaging", "pages_manage_metadata", "pages_read_engagement",
    "pages_manage_engagement", "pages_manage_posts", "pages_read_user_engagement",
    "pages_show_list",
]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class Failure:
    """A scripted answer for the next call(s) of operation ``op`` (``"*"``: any).

    ``code``/``subcode`` give Meta's error JSON with HTTP ``status``; ``status >= 500``
    without a code is a bare server error. ``delay`` seconds pass before answering;
    with ``effect=True`` the operation happens first (a send that went through but
    whose answer never arrived in time)."""

    op: str = "*"
    status: int = 400
    code: int | None = None
    subcode: int | None = None
    message: str = "scripted failure"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    effect: bool = False
    times: int = 1


class GraphError(Exception):
    def __init__(self, code: int, message: str, subcode: int | None = None, status: int = 400, type: str = "OAuthException") -> None:
        super().__init__(message)
        self.code, self.subcode, self.status, self.type = code, subcode, status, type


@dataclass
class Comment:
    id: str
    post_id: str
    parent_id: str
    from_id: str
    message: str
    created: dt.datetime
    hidden: bool = False
    private_replied: bool = False


class GraphStandIn:
    """State and endpoints of one page's Graph API, with a clock for the windows."""

    def __init__(
        self,
        *,
        page_id: str = "100000000000001",
        page_token: str = "page-token",
        app_id: str = "4242",
        app_secret: str = "app-secret",
        clock: Callable[[], dt.datetime] = _now,
        require_proof: bool = True,
    ) -> None:
        self.page_id, self.page_token, self.app_id, self.app_secret = page_id, page_token, app_id, app_secret
        self.clock = clock
        self.require_proof = require_proof
        self.token_valid = True
        self.scopes = list(ALL_SCOPES)
        self.human_agent = True  # the app passed App Review for Human Agent
        self.subscribed_fields: list[str] = list(ALL_FIELDS)
        self.unavailable: set[str] = set()  # users who "aren't available right now" (551)
        self.last_user_message: dict[str, dt.datetime] = {}
        self.psid_of_user: dict[str, str] = {}
        self.comments: dict[str, Comment] = {}
        self.posts: list[dict[str, Any]] = []
        self.bad_links: set[str] = set()
        self.sent: list[dict[str, Any]] = []  # Send API calls that succeeded
        self.calls: list[tuple[str, str]] = []  # (op, path) of every call
        self.failures: list[Failure] = []
        self.usage = {"call_count": 1, "total_time": 1, "total_cputime": 1}
        self.buc_regain_minutes = 0
        self.echo: str | None = "after"  # deliver echoes "before"/"after" answering, or None
        self.webhooks: Any = None  # a payloads.Webhooks to deliver echoes with
        self._ids = itertools.count(1)
        self.app = Starlette(routes=[Route("/{version}/{rest:path}", self._dispatch, methods=["GET", "POST", "DELETE"])])

    # -- what tests set up ---------------------------------------------------------

    def fail(self, op: str = "*", **kwargs: Any) -> Failure:
        failure = Failure(op=op, **kwargs)
        self.failures.append(failure)
        return failure

    def count(self, op: str) -> int:
        return sum(1 for o, _ in self.calls if o == op)

    def observe(self, body: bytes) -> None:
        """Learn from a webhook body what users wrote (message times, comments)."""
        payload = json.loads(body)
        for entry in payload.get("entry", []):
            for event in entry.get("messaging", []):
                message = event.get("message") or event.get("postback")
                if message is None or (event.get("message") or {}).get("is_echo"):
                    continue
                at = dt.datetime.fromtimestamp(event["timestamp"] / 1000, dt.timezone.utc)
                psid = event["sender"]["id"]
                self.last_user_message[psid] = max(at, self.last_user_message.get(psid, at))
            for change in entry.get("changes", []):
                value = change.get("value", {})
                if value.get("item") == "comment" and value.get("verb") == "add":
                    author = value.get("from", {}).get("id", "")
                    self.comments.setdefault(
                        value["comment_id"],
                        Comment(
                            value["comment_id"], value["post_id"], value.get("parent_id", value["post_id"]), author,
                            value.get("message", ""), dt.datetime.fromtimestamp(value["created_time"], dt.timezone.utc),
                        ),
                    )
                    self.psid_of_user.setdefault(author, f"psid-of-{author}")

    # -- HTTP ------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        buc = {self.page_id: [{"type": "pages", **self.usage, "estimated_time_to_regain_access": self.buc_regain_minutes}]}
        return {"x-app-usage": json.dumps(self.usage), "x-business-use-case-usage": json.dumps(buc)}

    def _error(self, exc: GraphError, headers: dict[str, str] | None = None) -> Response:
        error: dict[str, Any] = {"message": str(exc), "type": exc.type, "code": exc.code, "fbtrace_id": secrets.token_urlsafe(8)}
        if exc.subcode is not None:
            error["error_subcode"] = exc.subcode
        return JSONResponse({"error": error}, status_code=exc.status, headers={**self._headers(), **(headers or {})})

    async def _params(self, request: Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query_params)
        if request.method == "POST":
            body = await request.body()
            if body:
                if request.headers.get("content-type", "").startswith("application/json"):
                    params.update(json.loads(body))
                else:
                    params.update(dict(parse_qsl(body.decode())))
        return params

    def _authenticate(self, params: dict[str, Any], path: str) -> None:
        token = params.get("access_token")
        if path == "debug_token":
            if token != f"{self.app_id}|{self.app_secret}":
                raise GraphError(190, "Invalid OAuth access token - Cannot parse access token")
            return
        if not token:
            raise GraphError(104, "An access token is required to request this resource.")
        if token != self.page_token:
            raise GraphError(190, "Invalid OAuth access token - Cannot parse access token")
        if not self.token_valid:
            raise GraphError(190, "Error validating access token: The session has been invalidated because the user changed their password.", subcode=460)
        if self.require_proof:
            proof = params.get("appsecret_proof")
            if not proof:
                raise GraphError(100, "API calls from the server require an appsecret_proof argument", type="GraphMethodException")
            wanted = hmac.new(self.app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
            if not hmac.compare_digest(proof, wanted):
                raise GraphError(100, "Invalid appsecret_proof provided in the API argument", type="GraphMethodException")

    def _route(self, method: str, parts: list[str], params: dict[str, Any]) -> tuple[str, Callable[[], Any]]:
        if parts == ["me"] and method == "GET":
            return "me", lambda: {"id": self.page_id, "name": "Organismo de Ejemplo"}
        if parts == ["debug_token"]:
            return "debug_token", lambda: self._debug_token(params)
        if len(parts) == 2 and parts[1] == "messages" and parts[0] in (self.page_id, "me") and method == "POST":
            return "messages", lambda: self._send(params)
        if len(parts) == 2 and parts[0] == self.page_id and parts[1] == "feed":
            return ("feed_post", lambda: self._publish(params)) if method == "POST" else ("feed_get", lambda: self._feed(params))
        if len(parts) == 2 and parts[0] == self.page_id and parts[1] == "subscribed_apps":
            if method == "POST":
                return "subscribe", lambda: self._subscribe(params)
            return "subscribed_apps", lambda: {"data": [{"id": self.app_id, "name": "canales", "subscribed_fields": self.subscribed_fields}] if self.subscribed_fields else []}
        if len(parts) == 2 and parts[1] == "comments":
            return ("comment_reply", lambda: self._reply(parts[0], params)) if method == "POST" else ("comment_list", lambda: self._replies(parts[0]))
        if len(parts) == 1 and parts[0] in self.comments:
            return ("comment_update", lambda: self._update_comment(parts[0], params)) if method == "POST" else ("comment_get", lambda: self._comment(parts[0]))
        return "unknown", lambda: (_ for _ in ()).throw(GraphError(100, f"Unsupported {method} request. Object with ID '{'/'.join(parts)}' does not exist", subcode=33, type="GraphMethodException"))

    async def _dispatch(self, request: Request) -> Response:
        parts = [p for p in request.path_params["rest"].split("/") if p]
        params = await self._params(request)
        op, action = self._route(request.method, parts, params)
        self.calls.append((op, request.url.path))
        failure = next((f for f in self.failures if f.op in (op, "*")), None)
        if failure is not None:
            failure.times -= 1
            if failure.times <= 0:
                self.failures.remove(failure)
        try:
            self._authenticate(params, parts[0] if parts else "")
            if failure is not None:
                if failure.effect:
                    action()
                if failure.delay:
                    await asyncio.sleep(failure.delay)
                if failure.code is None and failure.status >= 500:
                    return Response("Service Unavailable", status_code=failure.status, headers=self._headers())
                if failure.code is not None:
                    return self._error(GraphError(failure.code, failure.message, failure.subcode, failure.status), failure.headers)
                if not failure.effect:
                    result = action()
            else:
                result = action()
            if failure is not None and failure.effect:
                result = self._last_result
        except GraphError as exc:
            return self._error(exc)
        if isinstance(result, tuple):  # (body, echo to deliver)
            result, echo = result
            if echo is not None and self.echo == "before":
                await self.webhooks.send(echo)
            elif echo is not None and self.echo == "after":
                asyncio.get_running_loop().call_later(0.01, lambda: asyncio.ensure_future(self.webhooks.send(echo)))
        return JSONResponse(result, headers=self._headers())

    # -- operations ------------------------------------------------------------------

    _last_result: Any = None

    def _remember(self, result: Any) -> Any:
        self._last_result = result
        return result

    def _debug_token(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("input_token") != self.page_token or not self.token_valid:
            return {"data": {"is_valid": False, "error": {"code": 190, "message": "Error validating access token"}, "scopes": []}}
        return {"data": {"app_id": self.app_id, "type": "PAGE", "application": "canales", "is_valid": True,
                         "expires_at": 0, "scopes": self.scopes, "profile_id": self.page_id}}

    def _send(self, params: dict[str, Any]) -> Any:
        recipient = params.get("recipient") or {}
        if isinstance(recipient, str):
            recipient = json.loads(recipient)
        message = params.get("message") or {}
        if isinstance(message, str):
            message = json.loads(message)
        if "pages_messaging" not in self.scopes:
            raise GraphError(230, "(#230) Requires pages_messaging permission to manage the object")
        text = message.get("text", "")
        if not text:
            raise GraphError(100, "(#100) The parameter message[text] is required")
        if len(text) > 2000:
            raise GraphError(100, "(#100) Length of param message[text] must be less than or equal to 2000")
        if len(message.get("metadata", "")) > 1000:
            raise GraphError(100, "(#100) Length of param message[metadata] must be less than or equal to 1000")
        now = self.clock()
        if "comment_id" in recipient:
            comment = self.comments.get(recipient["comment_id"])
            if comment is None:
                raise GraphError(100, "(#100) Invalid comment_id", subcode=2018001)
            if comment.from_id == self.page_id:
                raise GraphError(10903, "(#10903) This user can't reply to this activity")
            if comment.private_replied:
                raise GraphError(10900, "(#10900) Activity already replied to")
            if now - comment.created > 7 * DAY:
                raise GraphError(10903, "(#10903) This user can't reply to this activity")
            comment.private_replied = True
            psid = self.psid_of_user.get(comment.from_id, f"psid-of-{comment.from_id}")
            kind = "private_reply"
        elif "id" in recipient:
            psid = recipient["id"]
            if psid not in self.last_user_message:
                raise GraphError(100, "(#100) No matching user found", subcode=2018001)
            if psid in self.unavailable:
                raise GraphError(551, "This person isn't available right now.", subcode=1545041)
            messaging_type = params.get("messaging_type")
            age = now - self.last_user_message[psid]
            if messaging_type in ("RESPONSE", "UPDATE"):
                if age > DAY:
                    raise GraphError(10, "(#10) This message is sent outside of allowed window. Learn more about the new policy here: https://developers.facebook.com/docs/messenger-platform/policy-overview", subcode=2018278)
            elif messaging_type == "MESSAGE_TAG":
                if params.get("tag") != "HUMAN_AGENT":
                    raise GraphError(100, "(#100) Param tag must be one of {ACCOUNT_UPDATE, CONFIRMED_EVENT_UPDATE, HUMAN_AGENT, POST_PURCHASE_UPDATE}")
                if not self.human_agent:
                    raise GraphError(200, "(#200) The Human Agent tag requires the human_agent permission")
                if age > 7 * DAY:
                    raise GraphError(10, "(#10) This message is sent outside of allowed window.", subcode=2018278)
            else:
                raise GraphError(100, "(#100) param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG}")
            kind = "message"
        else:
            raise GraphError(100, "(#100) param recipient must be non-empty.")
        mid = f"m_out_{next(self._ids)}"
        self.sent.append({"kind": kind, "psid": psid, "recipient": recipient, "text": text,
                          "messaging_type": params.get("messaging_type"), "tag": params.get("tag"),
                          "metadata": message.get("metadata"), "mid": mid, "at": now})
        echo = None
        if self.webhooks is not None and self.echo:
            echo = self.webhooks.echo(psid, text, now, mid=mid, metadata=message.get("metadata"), app_id=self.app_id)
        return self._remember(({"recipient_id": psid, "message_id": mid}, echo))

    def _reply(self, object_id: str, params: dict[str, Any]) -> Any:
        if "pages_manage_engagement" not in self.scopes:
            raise GraphError(200, "(#200) Permissions error")
        parent = self.comments.get(object_id)
        if parent is None and not any(p["id"] == object_id for p in self.posts) and "_" not in object_id:
            raise GraphError(100, f"(#100) Object with ID '{object_id}' does not exist", subcode=33)
        text = params.get("message", "")
        if not text:
            raise GraphError(100, "(#100) The parameter message is required")
        post_id = parent.post_id if parent else object_id
        new_id = f"{post_id.split('_')[-1]}_{900000 + next(self._ids)}"
        self.comments[new_id] = Comment(new_id, post_id, object_id, self.page_id, text, self.clock())
        return self._remember({"id": new_id})

    def _replies(self, object_id: str) -> dict[str, Any]:
        data = [
            {"id": c.id, "message": c.message, "from": {"id": c.from_id}, "created_time": c.created.strftime("%Y-%m-%dT%H:%M:%S+0000")}
            for c in self.comments.values() if c.parent_id == object_id
        ]
        return {"data": list(reversed(data))}

    def _comment(self, comment_id: str) -> dict[str, Any]:
        comment = self.comments[comment_id]
        return {"id": comment.id, "message": comment.message, "is_hidden": comment.hidden,
                "can_reply_privately": not comment.private_replied and self.clock() - comment.created <= 7 * DAY}

    def _update_comment(self, comment_id: str, params: dict[str, Any]) -> dict[str, Any]:
        if "is_hidden" in params:
            self.comments[comment_id].hidden = str(params["is_hidden"]).lower() == "true"
        return self._remember({"success": True})

    def _publish(self, params: dict[str, Any]) -> dict[str, Any]:
        if "pages_manage_posts" not in self.scopes:
            raise GraphError(200, "(#200) The user hasn't authorized the application to perform this action")
        message, link = params.get("message", ""), params.get("link")
        if link in self.bad_links:
            raise GraphError(100, "Error Posting Link", subcode=1609005)
        if self.posts and self.posts[-1]["message"] == message and self.posts[-1].get("link") == link:
            raise GraphError(506, "(#506) Duplicate status message")
        post = {"id": f"{self.page_id}_{700000 + next(self._ids)}", "message": message, "link": link,
                "created_time": self.clock().strftime("%Y-%m-%dT%H:%M:%S+0000")}
        self.posts.append(post)
        return self._remember({"id": post["id"]})

    def _feed(self, params: dict[str, Any]) -> dict[str, Any]:
        limit = int(params.get("limit", 25))
        return {"data": list(reversed(self.posts))[:limit]}

    def _subscribe(self, params: dict[str, Any]) -> dict[str, Any]:
        self.subscribed_fields = [f for f in str(params.get("subscribed_fields", "")).split(",") if f]
        return {"success": True}
