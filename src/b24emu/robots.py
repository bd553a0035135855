"""The portal running a robot or an activity: the queue server's POST to its handler (§11.2).

Tests drive it through :class:`BizprocControl` (mixed into ``Portal``)::

    token = portal.run_robot("kopilka_accrue", "DEAL_5", {"amount": "500"}, user_id=2)
    portal.wait_robot(token)            # -> {"RETURN_VALUES": {...}, "LOG_MESSAGE": "..."}
    portal.redeliver_robot(token)       # the queue server posting the same call again

The POST is form-encoded with PHP brackets, sent from a thread of its own (the caller may be
the event loop the handler runs on), with the auth of the registration's ``AUTH_USER_ID`` (else
the acting user) including ``refresh_token`` and ``application_token``. The ``event_token`` is
``"{workflow_id}|{activity_name}|{random32}.{signature}"``: opaque, answered once.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import httpx

from b24emu.params import flatten_form

if TYPE_CHECKING:
    from b24emu.portal import Portal

log = logging.getLogger("b24emu.robots")
DEFAULT_LOG = "Received response from the application."
_SECRET = secrets.token_bytes(32)
_ALNUM = string.ascii_letters + string.digits
#: document kind -> (entity, its bizproc document class); robots live in CRM automation,
#: which contacts and companies have not (their business processes take activities)
DOCUMENTS = {
    "DEAL": "CCrmDocumentDeal",
    "LEAD": "CCrmDocumentLead",
    "CONTACT": "CCrmDocumentContact",
    "COMPANY": "CCrmDocumentCompany",
}
ROBOT_DOCUMENTS = frozenset({"DEAL", "LEAD"})


@dataclass
class RobotCall:
    token: str
    kind: str  # "robot" | "activity"
    key: str  # the registration's <client_id>:<CODE>
    handler: str
    form: list[tuple[str, str]]
    subscribed: bool
    state: str = "waiting"  # -> "done" once bizproc.event.send came
    return_values: dict[str, Any] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    deliveries: list[int | str] = field(default_factory=list)  # HTTP status or error class

    def finish(self, values: dict[str, Any], message: str) -> None:
        self.state = "done"
        self.return_values = values
        self.log.append(message)


def new_event_token() -> str:
    workflow = f"{secrets.token_hex(7)}.{secrets.randbelow(10**8):08d}"
    activity = "A" + "_".join(f"{secrets.randbelow(10**5):05d}" for _ in range(4))
    tail = "".join(secrets.choice(_ALNUM) for _ in range(32))
    body = f"{workflow}|{activity}|{tail}"
    return body + "." + hmac.new(_SECRET, body.encode(), hashlib.sha256).hexdigest()


def find_call(portal: Portal, token: str) -> RobotCall | None:
    """The call a token names, when it is one this portal signed and issued."""
    body, _, signature = token.rpartition(".")
    expected = hmac.new(_SECRET, body.encode(), hashlib.sha256).hexdigest()
    if not body or not hmac.compare_digest(signature.encode(), expected.encode()):
        return None
    return portal.robot_calls.get(token)


def _document(document_id: str) -> tuple[str, int]:
    kind, _, number = document_id.rpartition("_")
    if kind not in DOCUMENTS or not number.isdigit():
        raise ValueError(f"document_id must look like DEAL_5 or CONTACT_7, not {document_id!r}")
    return kind, int(number)


def _allowed(registration: dict[str, Any], kind: str) -> bool:
    """The registration's FILTER (document types in full or partial form; ``b24``/``box``)."""
    rules = registration.get("FILTER") or {}
    doc = ["crm", DOCUMENTS[kind], kind]

    def hits(rule: Any) -> bool:
        if isinstance(rule, str):
            return rule == "b24"
        return list(rule) == doc[: len(rule)]

    include, exclude = rules.get("INCLUDE"), rules.get("EXCLUDE") or []
    return (include is None or any(hits(r) for r in include)) and not any(hits(r) for r in exclude)


def _external(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Y" if value else "N"
    return str(value)


def start_call(
    portal: Portal,
    kind: str,
    code: str,
    document_id: str,
    properties: dict[str, Any] | None,
    user_id: int,
    client_id: str | None,
) -> str:
    doc_kind, number = _document(document_id)
    table = portal.robots if kind == "robot" else portal.bp_activities
    with portal.lock:
        keys = [k for k in table if k.endswith(f":{code}")]
        keys = [k for k in keys if client_id is None or k == f"{client_id}:{code}"]
        if len(keys) != 1:
            raise ValueError(f"{len(keys)} {kind}s registered with code {code!r}")
        registration = table[keys[0]]
        if kind == "robot" and doc_kind not in ROBOT_DOCUMENTS:
            raise ValueError(f"robots do not run on {doc_kind} documents (automation has none)")
        if not _allowed(registration, doc_kind):
            raise ValueError(f"{code!r} is not offered for {doc_kind} documents (its FILTER)")
        store = {"DEAL": portal.deals, "LEAD": {}, "CONTACT": portal.contacts}
        if number not in store.get(doc_kind, portal.companies):
            raise ValueError(f"{document_id} is not in the portal")
        declared = registration.get("PROPERTIES") or {}
        given = dict(properties or {})
        if unknown := set(given) - set(declared):
            raise ValueError(f"{code!r} declares no properties {sorted(unknown)}")
        app = portal.auth.apps[registration["APP"]]
        actor = int(registration.get("AUTH_USER_ID") or 0) or user_id
        access, refresh = portal.auth.issue(app, actor, portal.access_token_ttl)
        token = new_event_token()
        subscribed = str(registration.get("USE_SUBSCRIPTION") or "Y").upper() != "N"
        workflow_id = token.split("|", 1)[0]
        payload: dict[str, Any] = {
            "workflow_id": workflow_id,
            "code": registration["CODE"],
            "document_id": ["crm", DOCUMENTS[doc_kind], document_id],
            "document_type": ["crm", DOCUMENTS[doc_kind], doc_kind],
            "event_token": token,
            "properties": {
                name: _external(given.get(name, (prop or {}).get("Default")))
                for name, prop in declared.items()
            },
            "use_subscription": "Y" if subscribed else "N",
            "timeout_duration": "0",
            "ts": str(int(time.time())),
            "auth": {
                "access_token": access.token,
                "expires": str(int(access.expires_at)),
                "expires_in": str(int(portal.access_token_ttl)),
                "scope": app.scope_text,
                "domain": portal.domain,
                "server_endpoint": portal.server_endpoint,
                "status": app.status,
                "client_endpoint": portal.client_endpoint,
                "member_id": portal.member_id,
                "user_id": str(actor),
                "refresh_token": refresh.token,
                "application_token": app.application_token,
            },
        }
        if not payload["properties"]:
            del payload["properties"]
        call = RobotCall(
            token, kind, keys[0], registration["HANDLER"], flatten_form(payload), subscribed
        )
        portal.robot_calls[token] = call
    _post(portal, call)
    return token


def _post(portal: Portal, call: RobotCall) -> None:
    def send() -> None:
        try:
            with httpx.Client(timeout=10.0, trust_env=False) as client:
                answer = client.post(call.handler, data=dict(call.form))
            outcome: int | str = answer.status_code
        except httpx.HTTPError as exc:
            log.info("robot call to %s lost: %s", call.handler, exc)
            outcome = type(exc).__name__
        with portal.lock:
            call.deliveries.append(outcome)

    threading.Thread(target=send, name="b24emu-robot", daemon=True).start()


class BizprocControl:
    """The test-control side of automation, mixed into ``Portal``."""

    def run_robot(
        self,
        code: str,
        document_id: str = "DEAL_1",
        properties: dict[str, Any] | None = None,
        user_id: int = 1,
        *,
        client_id: str | None = None,
    ) -> str:
        """Run a registered robot on a document as ``user_id``; returns the ``event_token``."""
        portal = cast("Portal", self)
        return start_call(portal, "robot", code, document_id, properties, user_id, client_id)

    def run_activity(
        self,
        code: str,
        document_id: str = "DEAL_1",
        properties: dict[str, Any] | None = None,
        user_id: int = 1,
        *,
        client_id: str | None = None,
    ) -> str:
        """The same for a business-process activity (contacts and companies too)."""
        portal = cast("Portal", self)
        return start_call(portal, "activity", code, document_id, properties, user_id, client_id)

    def redeliver_robot(self, event_token: str) -> None:
        """The queue server posting the same call again (same form, same token)."""
        portal = cast("Portal", self)
        _post(portal, portal.robot_calls[event_token])

    def wait_robot(self, event_token: str, timeout: float = 10.0) -> dict[str, Any] | None:
        """Block until the handler answered with ``bizproc.event.send`` (None on timeout)."""
        portal = cast("Portal", self)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with portal.lock:
                if event_token in portal.robot_results:
                    return portal.robot_results[event_token]
            time.sleep(0.02)
        return None

    def wait_robot_delivered(self, event_token: str, count: int = 1, timeout: float = 10.0) -> bool:
        """Block until the call was posted ``count`` times (answered or not)."""
        portal = cast("Portal", self)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with portal.lock:
                if len(portal.robot_calls[event_token].deliveries) >= count:
                    return True
            time.sleep(0.02)
        return False
