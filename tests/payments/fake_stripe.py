"""A small Stripe API over HTTP, for the tests: the stripe library talks to it as to Stripe.

It speaks the form-encoded endpoints our client calls (Checkout sessions, Connect accounts and
account links, transfers), answers JSON shaped like Stripe's, and keeps Stripe's idempotency
rules: a repeated ``Idempotency-Key`` with the same parameters replays the stored answer
(``Idempotent-Replayed: true``), with other parameters it is a 400 ``idempotency_error``.

Faults can be injected: an error answer before anything happens (``fail_next``), an object
stored and the connection then dropped without an answer (``drop_after_commit_next``), a delay
before every answer, a platform balance too short for a transfer. Each server runs in its own
thread on 127.0.0.1, so a separate worker process can reach it through ``url``.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class _Fault:
    method: str
    path_prefix: str
    status: int
    count: int
    code: str


@dataclass
class _Stored:
    method: str
    path: str
    params: dict[str, Any]
    status: int
    body: dict[str, Any]


class _Drop(Exception):
    """Close the connection without answering."""


def _listify(value: Any) -> Any:
    """Dicts whose keys are all indices become lists (``a[0][b]=x`` → ``{"a": [{"b": "x"}]}``)."""
    if isinstance(value, dict):
        converted = {key: _listify(item) for key, item in value.items()}
        if converted and all(key.isdigit() for key in converted):
            return [converted[key] for key in sorted(converted, key=int)]
        return converted
    return value


def decode_form(text: str) -> dict[str, Any]:
    """Stripe's form encoding (``metadata[key]=v``, ``line_items[0][quantity]=1``) as a tree."""
    tree: dict[str, Any] = {}
    for raw_key, value in parse_qsl(text, keep_blank_values=True):
        parts = raw_key.replace("]", "").split("[")
        node = tree
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        last = parts[-1]
        if last == "":  # ``expand[]=x``
            continue
        node[last] = value
    return _listify(tree)


def _error(status: int, code: str, message: str, kind: str = "") -> tuple[int, dict[str, Any]]:
    if not kind:
        kind = "api_error" if status >= 500 else "invalid_request_error"
    return status, {"error": {"type": kind, "code": code, "message": message}}


def _bool(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


class FakeStripe:
    """Start with ``FakeStripe().start()``; ``url`` is then the API base to point the library
    at. ``transfers``, ``accounts`` and ``checkout_sessions`` hold the committed objects."""

    api_key_prefix = "sk_"

    def __init__(self) -> None:
        self.url = ""
        self.transfers: dict[str, dict[str, Any]] = {}
        self.accounts: dict[str, dict[str, Any]] = {}
        self.checkout_sessions: dict[str, dict[str, Any]] = {}
        self.account_links: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str, str | None]] = []
        self.lock = threading.RLock()
        self._idempotent: dict[str, _Stored] = {}
        self._faults: list[_Fault] = []
        self._drops: list[_Fault] = []
        self._delay = 0.0
        self._platform_balance: int | None = None
        self._sequence = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> FakeStripe:
        fake = self

        class Handler(_Handler):
            server_fake = fake

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    # -- faults and state -----------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        path_prefix: str,
        *,
        status: int = 500,
        count: int = 1,
        code: str = "api_error",
    ) -> None:
        """Answer the next ``count`` matching requests with ``status`` before doing anything."""
        with self.lock:
            self._faults.append(_Fault(method.upper(), path_prefix, status, count, code))

    def drop_after_commit_next(self, path_prefix: str, *, count: int = 1) -> None:
        """Do the next ``count`` matching POSTs, then close the socket without answering."""
        with self.lock:
            self._drops.append(_Fault("POST", path_prefix, 0, count, ""))

    def set_delay(self, seconds: float) -> None:
        with self.lock:
            self._delay = seconds

    def set_account(self, account_id: str, **fields: Any) -> None:
        """Change a connected account (``payouts_enabled=True``, ``details_submitted=True``,
        ``disabled_reason="..."`` goes into ``requirements``)."""
        with self.lock:
            account = self.accounts[account_id]
            if "disabled_reason" in fields:
                account["requirements"]["disabled_reason"] = fields.pop("disabled_reason")
            account.update(fields)
            if account.get("payouts_enabled"):
                account["capabilities"]["transfers"] = "active"

    def set_platform_balance(self, cents: int | None) -> None:
        """The platform's available balance (``None``: unlimited); a transfer above it fails
        400 ``balance_insufficient``."""
        with self.lock:
            self._platform_balance = cents

    def checkout_session_paid(self, session_id: str) -> dict[str, Any]:
        """Mark a session paid, as a customer finishing the page would; return the object
        (for a ``checkout.session.completed`` event)."""
        with self.lock:
            stored = self.checkout_sessions[session_id]
            stored.update(
                status="complete",
                payment_status="paid",
                payment_intent=f"pi_{secrets.token_hex(12)}",
            )
            return json.loads(json.dumps(stored))

    def idempotency_keys(self, path_prefix: str = "") -> list[str | None]:
        with self.lock:
            return [key for _, path, key in self.requests if path.startswith(path_prefix)]

    # -- request handling -----------------------------------------------------------------

    def _take(self, faults: list[_Fault], method: str, path: str) -> _Fault | None:
        for fault in faults:
            if fault.count > 0 and fault.method == method and path.startswith(fault.path_prefix):
                fault.count -= 1
                return fault
        return None

    def _next_id(self, prefix: str) -> str:
        self._sequence += 1
        return f"{prefix}_{secrets.token_hex(8)}{self._sequence:04d}"

    def handle(
        self, method: str, path: str, query: dict[str, Any], body: dict[str, Any], key: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """One request: (status, JSON body, extra headers). Raises _Drop to hang up."""
        with self.lock:
            self.requests.append((method, path, key))
            delay = self._delay
        if delay:
            time.sleep(delay)
        with self.lock:
            fault = self._take(self._faults, method, path)
            if fault is not None:
                status, payload = _error(
                    fault.status, fault.code, f"Injected failure ({fault.status})."
                )
                if fault.status == 429:
                    payload["error"]["type"] = "rate_limit_error"
                return status, payload, {}
            if method == "POST" and key:
                stored = self._idempotent.get(key)
                if stored is not None:
                    if (stored.method, stored.path, stored.params) != (method, path, body):
                        status, payload = _error(
                            400,
                            "",
                            "Keys for idempotent requests can only be used with the same "
                            "parameters they were first used with.",
                            kind="idempotency_error",
                        )
                        return status, payload, {}
                    return stored.status, stored.body, {"Idempotent-Replayed": "true"}
            status, payload = self._route(method, path, query, body)
            if method == "POST" and key and status < 400:
                self._idempotent[key] = _Stored(
                    method, path, body, status, json.loads(json.dumps(payload))
                )
            if method == "POST" and status < 400 and self._take(self._drops, method, path):
                raise _Drop
            return status, payload, {}

    def _route(
        self, method: str, path: str, query: dict[str, Any], body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        parts = [part for part in path.split("/") if part]
        if parts[:1] != ["v1"]:
            return _error(404, "resource_missing", f"Unrecognized request URL ({path}).")
        rest = parts[1:]
        if rest == ["checkout", "sessions"] and method == "POST":
            return self._checkout_create(body)
        if rest[:2] == ["checkout", "sessions"] and len(rest) == 3 and method == "GET":
            return self._get(self.checkout_sessions, rest[2], "checkout session")
        if rest == ["accounts"] and method == "POST":
            return self._account_create(body)
        if rest[:1] == ["accounts"] and len(rest) == 2 and method == "GET":
            return self._get(self.accounts, rest[1], "account")
        if rest == ["account_links"] and method == "POST":
            return self._account_link_create(body)
        if rest == ["transfers"] and method == "POST":
            return self._transfer_create(body)
        if rest == ["transfers"] and method == "GET":
            return self._transfer_list(query)
        if rest[:1] == ["transfers"] and len(rest) == 2 and method == "GET":
            return self._get(self.transfers, rest[1], "transfer")
        return _error(404, "resource_missing", f"Unrecognized request URL ({method} {path}).")

    def _get(
        self, objects: dict[str, dict[str, Any]], object_id: str, label: str
    ) -> tuple[int, dict[str, Any]]:
        found = objects.get(object_id)
        if found is None:
            return _error(404, "resource_missing", f"No such {label}: '{object_id}'")
        return 200, {key: value for key, value in found.items() if not key.startswith("_")}

    def _checkout_create(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        items = body.get("line_items") or []
        if not items or not body.get("success_url"):
            return _error(400, "parameter_missing", "Missing required param: line_items.")
        total = 0
        currency = ""
        for item in items:
            price = item.get("price_data") or {}
            try:
                total += int(price["unit_amount"]) * int(item.get("quantity", 1))
            except (KeyError, ValueError):
                return _error(400, "parameter_invalid_integer", "Invalid unit_amount.")
            currency = str(price.get("currency", "")).lower()
        session_id = self._next_id("cs_test")
        session = {
            "id": session_id,
            "object": "checkout.session",
            "amount_total": total,
            "currency": currency,
            "client_reference_id": body.get("client_reference_id"),
            "created": int(time.time()),
            "livemode": False,
            "metadata": body.get("metadata") or {},
            "mode": body.get("mode", "payment"),
            "payment_intent": None,
            "payment_status": "unpaid",
            "status": "open",
            "success_url": body.get("success_url"),
            "cancel_url": body.get("cancel_url"),
            "url": f"https://checkout.stripe.com/c/pay/{session_id}",
        }
        self.checkout_sessions[session_id] = session
        return 200, session

    def _account_create(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        account_id = self._next_id("acct")
        requested = {
            name: "inactive"
            for name, wanted in (body.get("capabilities") or {}).items()
            if _bool((wanted or {}).get("requested"))
        }
        account = {
            "id": account_id,
            "object": "account",
            "type": body.get("type", "express"),
            "country": body.get("country", "US"),
            "email": body.get("email"),
            "created": int(time.time()),
            "metadata": body.get("metadata") or {},
            "capabilities": requested,
            "charges_enabled": False,
            "payouts_enabled": False,
            "details_submitted": False,
            "requirements": {"disabled_reason": "requirements.past_due", "currently_due": []},
        }
        self.accounts[account_id] = account
        return 200, account

    def _account_link_create(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        account_id = str(body.get("account", ""))
        if account_id not in self.accounts:
            return _error(400, "resource_missing", f"No such account: '{account_id}'")
        now = int(time.time())
        link = {
            "object": "account_link",
            "created": now,
            "expires_at": now + 300,
            "url": f"https://connect.stripe.com/setup/e/{account_id}/{secrets.token_hex(6)}",
            "type": body.get("type"),
            "refresh_url": body.get("refresh_url"),
            "return_url": body.get("return_url"),
        }
        self.account_links.append(link)
        return 200, link

    def _transfer_create(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        destination = str(body.get("destination", ""))
        try:
            amount = int(body["amount"])
        except (KeyError, ValueError):
            return _error(400, "parameter_invalid_integer", "Invalid amount.")
        account = self.accounts.get(destination)
        if account is None:
            return _error(400, "resource_missing", f"No such destination: '{destination}'")
        if not account.get("payouts_enabled"):
            return _error(
                400,
                "insufficient_capabilities_for_transfer",
                "Your destination account needs to have at least one of the following "
                "capabilities enabled: transfers, crypto_transfers, legacy_payments",
            )
        if self._platform_balance is not None:
            if amount > self._platform_balance:
                return _error(
                    400,
                    "balance_insufficient",
                    "You have insufficient available funds in your Stripe account.",
                )
            self._platform_balance -= amount
        transfer_id = self._next_id("tr")
        transfer = {
            "id": transfer_id,
            "object": "transfer",
            "amount": amount,
            "amount_reversed": 0,
            "currency": str(body.get("currency", "")).lower(),
            "destination": destination,
            "created": int(time.time()),
            "livemode": False,
            "metadata": body.get("metadata") or {},
            "reversed": False,
            "transfer_group": body.get("transfer_group"),
            "_sequence": self._sequence,
        }
        self.transfers[transfer_id] = transfer
        return 200, {k: v for k, v in transfer.items() if not k.startswith("_")}

    def _transfer_list(self, query: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        rows = sorted(
            self.transfers.values(),
            key=lambda row: (row["created"], row["_sequence"]),
            reverse=True,  # newest first, as Stripe lists
        )
        destination = query.get("destination")
        if destination:
            rows = [row for row in rows if row["destination"] == destination]
        created = query.get("created")
        if isinstance(created, dict):
            for op, test in (
                ("gte", lambda a, b: a >= b),
                ("gt", lambda a, b: a > b),
                ("lte", lambda a, b: a <= b),
                ("lt", lambda a, b: a < b),
            ):
                if op in created:
                    bound = int(created[op])
                    rows = [row for row in rows if test(row["created"], bound)]
        elif created:
            rows = [row for row in rows if row["created"] == int(created)]
        after = query.get("starting_after")
        if after:
            ids = [row["id"] for row in rows]
            if after not in ids:
                return _error(400, "resource_missing", f"No such transfer: '{after}'")
            rows = rows[ids.index(after) + 1 :]
        limit = max(1, min(100, int(query.get("limit", 10))))
        page = rows[:limit]
        return 200, {
            "object": "list",
            "url": "/v1/transfers",
            "has_more": len(rows) > limit,
            "data": [{k: v for k, v in row.items() if not k.startswith("_")} for row in page],
        }


class _Handler(BaseHTTPRequestHandler):
    server_fake: FakeStripe
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _serve(self, method: str) -> None:
        fake = self.server_fake
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        auth = self.headers.get("Authorization", "")
        if not auth.startswith(f"Bearer {fake.api_key_prefix}"):
            status, payload = _error(
                401, "", "You did not provide an API key.", kind="invalid_request_error"
            )
            self._answer(status, payload, {})
            return
        try:
            status, payload, headers = fake.handle(
                method,
                split.path,
                decode_form(split.query),
                decode_form(raw),
                self.headers.get("Idempotency-Key"),
            )
        except _Drop:
            self.close_connection = True
            return
        self._answer(status, payload, headers)

    def _answer(self, status: int, payload: dict[str, Any], headers: dict[str, str]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", f"req_{secrets.token_hex(6)}")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")
