"""Local emulator of the Siigo Nube public API (``api.siigo.com``, "Flavor A").

It speaks ``POST /auth`` and ``/v1/customers`` the way ``shared/siigo-api.md`` describes,
serves the deterministic data set of :mod:`core.siigo.dataset`, and can inject faults so
the client and the importer can be tested over real HTTP on 127.0.0.1.

In-process use::

    with SandboxServer(n_customers=120) as server:
        server.base_url            # "http://127.0.0.1:<port>"
        server.add_fault({"kind": "status", "status": 500, "count": 2})

From another process, the same is available over HTTP (no authentication):

- ``POST /_sandbox/faults`` with one fault object or a list (see :meth:`add_fault`);
  ``GET /_sandbox/faults`` lists the pending ones.
- ``POST /_sandbox/options`` with pagination quirks (see :data:`OPTION_NAMES`).
- ``POST /_sandbox/reset`` restores data, faults, options, logs and stats.
- ``GET /_sandbox/stats`` returns request counts per path and status.

Fault kinds (applied, in order, to the next requests whose path starts with ``path``
and whose method equals ``method`` when given; control routes are never affected):

- ``{"kind": "status", "status": 500|503|504|429|401, "count": N}``; for 429 also
  ``"retry_in": N`` (seconds in the "Try again in N seconds" hint, default 1),
  ``"hint": false`` (no hint) and ``"retry_after": N`` (send a Retry-After header).
- ``{"kind": "drop", "count": N}``: close the connection without answering.
- ``{"kind": "hang", "seconds": S, "count": N}``: accept, stay silent S seconds, close.
- ``{"kind": "expire_tokens"}``: revoke every token immediately.
- ``{"kind": "after_page", "page": P, "action": "expire_tokens"|"add_customers",
  "count": K}``: one-shot trigger once list page P has been produced.

Pagination quirks (constructor keywords or ``POST /_sandbox/options``):
``omit_next_on_page`` (page number without ``next``), ``next_points_back`` (the ``next`` of
that page points to the previous page), ``empty_last_page`` (the last page has a ``next``
to an empty page), ``max_page_size`` (clamp below 100), ``duplicate_status`` (status of
``already_exists``, default 400).
"""

from __future__ import annotations

import json
import logging
import math
import re
import secrets
import socket
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, NamedTuple
from urllib.parse import parse_qsl, urlencode, urlsplit

from stdnum.co import nit as co_nit

from core.siigo.dataset import (
    FISCAL_RESPONSIBILITIES,
    ID_TYPES,
    CustomerFactory,
    find_city,
    generate_customers,
)
from core.siigo.timestamps import format_timestamp, parse_timestamp

__all__ = ["SandboxServer", "RequestRecord", "serve", "OPTION_NAMES", "DEFAULT_PARTNER_ID"]

logger = logging.getLogger(__name__)

OPTION_NAMES = (
    "omit_next_on_page",
    "next_points_back",
    "empty_last_page",
    "max_page_size",
    "duplicate_status",
)
DEFAULT_PARTNER_ID = "AliadosSandbox"
KRAKEND_VERSION = "Version 2.13.8"
DOC_URL = "https://developer.siigo.com/docs/siigoapi/errors#"
_GUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
_PARTNER_RE = re.compile(r"^[A-Za-z0-9]{3,100}$")
_IDENT_RE = re.compile(r"^[\d\w]{1}[\d\w\-]+[\d\w]{1}$")
_EMAIL_RE = re.compile(r"^([-+.]*\w)+[-+.]*@([\w-]+\.)+[\w-]{2,}$")
_NAME_RE = re.compile(r"^[\w\s.,&'()ñáéíóúÁÉÍÓÚüÜ-]+$")
_NUMERIC_TYPES = {"13", "31", "11"}
_STATUS_CODES = {
    400: "invalid_value",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    408: "request_timeout",
    409: "already_exists",
    429: "requests_limit",
    500: "unhandled_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "request_timeout",
}
_STATUS_MESSAGES = {
    401: "Invalid token. Check the Authorization header, the token may be invalid or expired",
    500: "An unhandled error occurred, please try again",
    502: "Bad gateway",
    503: "The service is unavailable, please try again later",
    504: "The request timed out",
}


class RequestRecord(NamedTuple):
    """One request seen by the sandbox (control routes excluded).

    ``status`` is ``None`` when the connection was dropped or left hanging.
    """

    method: str
    path: str
    status: int | None
    query: dict[str, str]
    headers: dict[str, str] = {}


@dataclass
class _Entry:
    customer: dict
    created: datetime
    updated: datetime


class _Reply(Exception):
    """Internal: short-circuits request handling with a ready response."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def error_body(status: int, code: str, message: str, params: list[str] | None = None) -> dict:
    """The PascalCase Siigo error envelope."""
    return {
        "Status": status,
        "Errors": [
            {"Code": code, "Message": message, "Params": params or [], "Detail": DOC_URL + code}
        ],
    }


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _entry(customer: dict) -> _Entry:
    meta = customer.get("metadata") or {}
    created_text = meta.get("created")
    created = parse_timestamp(created_text) if created_text else _now()
    updated_text = meta.get("last_updated")
    updated = parse_timestamp(updated_text) if updated_text else created
    return _Entry(customer, created, updated)


class SandboxServer:
    """A threaded local Siigo API emulator. See the module docstring for the behaviour."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        customers: list[dict] | None = None,
        n_customers: int = 300,
        seed: int = 7,
        username: str = "sandbox@example.com",
        access_key: str = "sandbox-key",
        token_lifetime: int = 86400,
        requests_per_minute: int = 0,
        retry_after_header: bool = False,
        *,
        omit_next_on_page: int | None = None,
        next_points_back: int | None = None,
        empty_last_page: bool = False,
        max_page_size: int = 100,
        duplicate_status: int = 400,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.host = host
        self.port = port
        self.seed = seed
        self.username = username
        self.access_key = access_key
        self.token_lifetime = token_lifetime
        self.requests_per_minute = requests_per_minute or 0
        self.retry_after_header = retry_after_header
        self.clock = clock
        self._initial_customers = customers
        self._n_customers = n_customers
        self._initial_options = {
            "omit_next_on_page": omit_next_on_page,
            "next_points_back": next_points_back,
            "empty_last_page": empty_last_page,
            "max_page_size": max_page_size,
            "duplicate_status": duplicate_status,
        }
        self._lock = threading.RLock()
        self._stop_event = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._tokens: dict[str, float] = {}
        self._windows: dict[str, deque[float]] = {}
        self._extra_counter = 0
        self._load_initial_state()

    # -- state ------------------------------------------------------------------------
    def _load_initial_state(self) -> None:
        with self._lock:
            if self._initial_customers is not None:
                source = json.loads(json.dumps(self._initial_customers))
            else:
                source = generate_customers(self._n_customers, self.seed)
            self._entries: list[_Entry] = [_entry(c) for c in source]
            self._sort()
            self.faults: list[dict] = []
            self.triggers: list[dict] = []
            self.options: dict[str, Any] = dict(self._initial_options)
            self.request_log: list[RequestRecord] = []
            self._stats: Counter[tuple[str, str]] = Counter()
            self._windows.clear()
            self._factory = CustomerFactory(self.seed + 1_000_003)

    def _sort(self) -> None:
        self._entries.sort(key=lambda e: e.created, reverse=True)
        self._by_id = {e.customer["id"]: e for e in self._entries}
        self._changed()

    def _changed(self) -> None:
        # Filtered lists are cached per filter until the data changes, so paging
        # through 100,000 terceros does not scan them all on every page.
        self._filter_cache: dict[tuple, list[_Entry]] = {}

    def reset(self) -> None:
        """Restore the initial data set and clear faults, options, logs and stats.

        Tokens stay valid.
        """
        self._load_initial_state()

    @property
    def customers(self) -> list[dict]:
        """A snapshot of the stored customers, newest first."""
        with self._lock:
            return [json.loads(json.dumps(e.customer)) for e in self._entries]

    def credentials(self) -> dict[str, str]:
        """What a client needs to connect (the Partner-Id is any valid value)."""
        return {
            "base_url": self.base_url,
            "username": self.username,
            "access_key": self.access_key,
            "partner_id": DEFAULT_PARTNER_ID,
        }

    def add_customer(self, customer: dict) -> dict:
        """Store a CustomerOut dict as is (``id`` and ``metadata.created`` filled if absent).

        Raises ``ValueError`` if the (identification, branch_office) pair exists.
        """
        record = json.loads(json.dumps(customer))
        record.setdefault("id", str(uuid.uuid4()))
        record.setdefault("branch_office", 0)
        meta = record.setdefault("metadata", {})
        meta.setdefault("created", format_timestamp(_now()))
        with self._lock:
            if self._find_duplicate(record["identification"], record["branch_office"]):
                raise ValueError("duplicate identification and branch_office")
            if record["id"] in self._by_id:
                raise ValueError("duplicate id")
            self._entries.append(_entry(record))
            self._sort()
        return record

    def update_customer(self, customer_id: str, **changes: Any) -> dict:
        """Change top-level fields of a stored customer and bump ``last_updated`` to now."""
        with self._lock:
            entry = self._by_id[customer_id]
            entry.customer.update(json.loads(json.dumps(changes)))
            now = _now()
            entry.customer.setdefault("metadata", {})["last_updated"] = format_timestamp(now)
            entry.updated = now
            self._changed()
            return json.loads(json.dumps(entry.customer))

    def remove_customer(self, customer_id: str) -> None:
        """Delete a stored customer (``KeyError`` if unknown)."""
        with self._lock:
            entry = self._by_id.pop(customer_id)
            self._entries.remove(entry)
            self._changed()

    def add_generated_customers(self, count: int) -> list[dict]:
        """Create ``count`` new random customers, created now (they become the newest)."""
        added = []
        with self._lock:
            for _ in range(count):
                while True:
                    record = self._factory.customer(_now(), now=_now())
                    if not self._find_duplicate(record["identification"], 0):
                        break
                record["metadata"] = {"created": format_timestamp(_now())}
                self._entries.append(_entry(record))
                added.append(record)
            self._sort()
        return json.loads(json.dumps(added))

    def _find_duplicate(
        self, identification: str, branch: int, exclude: str | None = None
    ) -> _Entry | None:
        for entry in self._entries:
            c = entry.customer
            if (
                c.get("identification") == identification
                and int(c.get("branch_office", 0)) == int(branch)
                and c.get("id") != exclude
            ):
                return entry
        return None

    # -- tokens ---------------------------------------------------------------------
    def issue_token(self) -> str:
        token = "sbx." + secrets.token_urlsafe(48)
        with self._lock:
            self._tokens[token] = time.monotonic() + self.token_lifetime
        return token

    def expire_tokens(self) -> None:
        """Revoke every token now (clients must POST /auth again)."""
        with self._lock:
            self._tokens.clear()
            self._windows.clear()

    def _token_valid(self, token: str) -> bool:
        with self._lock:
            expiry = self._tokens.get(token)
            return expiry is not None and time.monotonic() < expiry

    # -- faults and options ---------------------------------------------------------
    def add_fault(self, fault: dict) -> None:
        """Queue a fault (see the module docstring). ``expire_tokens`` acts at once."""
        fault = dict(fault)
        kind = fault.get("kind")
        if kind == "expire_tokens":
            self.expire_tokens()
            return
        if kind == "after_page":
            if fault.get("action") not in ("expire_tokens", "add_customers"):
                raise ValueError(f"unknown after_page action: {fault.get('action')!r}")
            fault["page"] = int(fault["page"])
            fault["count"] = int(fault.get("count", 1))
            with self._lock:
                self.triggers.append(fault)
            return
        if kind not in ("status", "drop", "hang"):
            raise ValueError(f"unknown fault kind: {kind!r}")
        if kind == "status":
            fault["status"] = int(fault["status"])
        fault["count"] = int(fault.get("count", 1))
        with self._lock:
            self.faults.append(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()
            self.triggers.clear()

    def set_options(self, **options: Any) -> None:
        unknown = set(options) - set(OPTION_NAMES)
        if unknown:
            raise ValueError(f"unknown options: {sorted(unknown)}")
        with self._lock:
            self.options.update(options)

    def _take_fault(self, method: str, path: str) -> dict | None:
        with self._lock:
            for fault in self.faults:
                if fault.get("method") and fault["method"].upper() != method:
                    continue
                if fault.get("path") and not path.startswith(fault["path"]):
                    continue
                fault["count"] -= 1
                if fault["count"] <= 0:
                    self.faults.remove(fault)
                return dict(fault)
        return None

    def _run_triggers(self, page: int) -> None:
        with self._lock:
            due = [t for t in self.triggers if t["page"] == page]
            for trigger in due:
                self.triggers.remove(trigger)
        for trigger in due:
            if trigger["action"] == "expire_tokens":
                self.expire_tokens()
            else:
                self.add_generated_customers(trigger["count"])

    # -- stats ----------------------------------------------------------------------
    def _record(self, method: str, path: str, status: int | None, query: dict,
                headers: dict[str, str] | None = None) -> None:
        with self._lock:
            self.request_log.append(RequestRecord(method, path, status, query, headers or {}))
            self._stats[(path, str(status) if status is not None else "none")] += 1

    def stats(self) -> dict:
        """``{"total": n, "paths": {path: {status: count}}}`` (control routes excluded)."""
        with self._lock:
            paths: dict[str, dict[str, int]] = {}
            for (path, status), count in sorted(self._stats.items()):
                paths.setdefault(path, {})[status] = count
            return {"total": sum(self._stats.values()), "paths": paths}

    def count(self, path: str | None = None, status: int | None = None, method: str | None = None
              ) -> int:
        """Number of logged requests matching the path prefix, status and method."""
        with self._lock:
            return sum(
                1
                for r in self.request_log
                if (path is None or r.path.startswith(path))
                and (status is None or r.status == status)
                and (method is None or r.method == method)
            )

    # -- lifecycle ------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("SandboxServer is not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def _bind(self) -> None:
        handler = type("BoundSandboxHandler", (_Handler,), {"sandbox": self})
        httpd = ThreadingHTTPServer((self.host, self.port), handler)
        httpd.daemon_threads = True
        self._httpd = httpd
        self._stop_event.clear()

    def start(self) -> "SandboxServer":
        """Bind and serve in a daemon thread; returns self."""
        if self._httpd is not None:
            return self
        self._bind()
        assert self._httpd is not None
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
            name="siigo-sandbox", daemon=True,
        )
        self._thread.start()
        logger.info("Siigo sandbox listening on %s", self.base_url)
        return self

    def serve_forever(self) -> None:
        """Bind and serve in the calling thread until interrupted."""
        if self._httpd is None:
            self._bind()
        assert self._httpd is not None
        logger.info("Siigo sandbox listening on %s", self.base_url)
        try:
            self._httpd.serve_forever(poll_interval=0.2)
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop serving and release the port (hanging handlers are woken up)."""
        self._stop_event.set()
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        if self._thread is not None:
            httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        httpd.server_close()

    def __enter__(self) -> "SandboxServer":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- request handling (called from handler threads) -------------------------------
    def _check_rate(self, token: str) -> None:
        limit = self.requests_per_minute
        if limit <= 0:
            return
        now = self.clock()
        with self._lock:
            window = self._windows.setdefault(token, deque())
            while window and window[0] <= now - 60.0:
                window.popleft()
            if len(window) >= limit:
                wait = max(1, math.ceil(window[0] + 60.0 - now))
                headers = {"Retry-After": str(wait)} if self.retry_after_header else {}
                raise _Reply(
                    429,
                    error_body(
                        429, "requests_limit",
                        f"The request limit has been exceeded. Try again in {wait} seconds",
                    ),
                    headers,
                )
            window.append(now)

    def _authorize(self, headers: Any) -> None:
        raw = (headers.get("Authorization") or "").strip()
        token = raw[7:].strip() if raw.lower().startswith("bearer ") else raw
        if not token or not self._token_valid(token):
            raise _Reply(401, error_body(401, "unauthorized", _STATUS_MESSAGES[401]))
        partner = headers.get("Partner-Id")
        if partner is None or not partner.strip():
            raise _Reply(
                400,
                {
                    "Status": 400,
                    "Errors": [
                        {
                            "Code": "header_required",
                            "Message": "The header Partner-Id is required",
                            "Params": ["Partner-Id"],
                            "Detail": DOC_URL + "header_required",
                        }
                    ],
                },
            )
        if not _PARTNER_RE.match(partner):
            raise _Reply(
                400,
                error_body(
                    400, "invalid_partner_id",
                    "The Partner-Id header must be 3 to 100 alphanumeric characters",
                    ["Partner-Id"],
                ),
            )
        self._check_rate(token)

    def handle_auth(self, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict):
            body = {}
        if body.get("username") != self.username or body.get("access_key") != self.access_key:
            return 401, error_body(
                401, "unauthorized", "The username or access_key are invalid", []
            )
        return 200, {
            "access_token": self.issue_token(),
            "expires_in": self.token_lifetime,
            "token_type": "Bearer",
            "scope": "SiigoAPI",
        }

    def handle_list(self, base_url: str, query: list[tuple[str, str]]) -> tuple[int, Any]:
        params = dict(query)
        try:
            page = int(params.get("page", "1"))
        except ValueError:
            raise _Reply(400, error_body(400, "invalid_type", "The field page is invalid",
                                         ["page"])) from None
        page = max(page, 1)
        options = self.options
        upper = max(10, min(100, int(options.get("max_page_size") or 100)))
        try:
            page_size = int(params.get("page_size", "25"))
        except ValueError:
            page_size = 25
        page_size = min(max(page_size, 10), upper)

        bounds = {
            key: _parse_filter(params[key], end)
            for key, _attr, end in _DATE_FILTERS
            if key in params
        }
        key = tuple(sorted((k, v) for k, v in params.items() if k not in ("page", "page_size")))
        with self._lock:
            entries = self._filter_cache.get(key)
            if entries is None:
                entries = [e for e in self._entries if _matches(e, params, bounds)]
                self._filter_cache[key] = entries
        total = len(entries)
        start = (page - 1) * page_size
        results = [json.loads(json.dumps(e.customer)) for e in entries[start:start + page_size]]
        last_page = max(1, math.ceil(total / page_size))

        def href(number: int) -> dict:
            pairs = [(k, v) for k, v in query if k not in ("page", "page_size")]
            pairs = [("page", str(number)), ("page_size", str(page_size))] + pairs
            return {"href": f"{base_url}/v1/customers?{urlencode(pairs)}"}

        links: dict[str, dict] = {}
        if page > 1:
            links["previous"] = href(min(page - 1, last_page + 1))
        links["self"] = href(page)
        has_next = page < last_page
        if options.get("empty_last_page") and page == last_page and total > 0:
            has_next = True
        if options.get("omit_next_on_page") == page:
            has_next = False
        if has_next:
            target = page + 1
            if options.get("next_points_back") == page:
                target = max(1, page - 1)
            links["next"] = href(target)
        body = {
            "pagination": {"page": page, "page_size": page_size, "total_results": total},
            "results": results,
            "_links": links,
        }
        self._run_triggers(page)
        return 200, body

    def handle_get(self, customer_id: str) -> tuple[int, Any]:
        entry = self._lookup(customer_id)
        return 200, json.loads(json.dumps(entry.customer))

    def _lookup(self, customer_id: str) -> _Entry:
        if not _GUID_RE.match(customer_id):
            raise _Reply(400, error_body(400, "invalid_type", "The id must be a valid GUID",
                                         ["id"]))
        with self._lock:
            entry = self._by_id.get(customer_id)
        if entry is None:
            raise _Reply(404, error_body(404, "not_found", "The customer was not found", ["id"]))
        return entry

    def handle_create(self, body: Any) -> tuple[int, Any]:
        with self._lock:
            record = self._validate(body, exclude=None)
            record["id"] = str(uuid.uuid4())
            record["metadata"] = {"created": format_timestamp(_now())}
            self._entries.append(_entry(record))
            self._sort()
        return 201, _reorder(record)

    def handle_update(self, customer_id: str, body: Any) -> tuple[int, Any]:
        with self._lock:
            entry = self._lookup(customer_id)
            record = self._validate(body, exclude=customer_id)
            record["id"] = customer_id
            now = _now()
            record["metadata"] = {
                "created": entry.customer.get("metadata", {}).get("created")
                or format_timestamp(entry.created),
                "last_updated": format_timestamp(now),
            }
            entry.customer.clear()
            entry.customer.update(_reorder(record))
            entry.updated = now
            self._changed()
            return 200, json.loads(json.dumps(entry.customer))

    def handle_delete(self, customer_id: str) -> tuple[int, Any]:
        with self._lock:
            entry = self._lookup(customer_id)
            self._entries.remove(entry)
            self._by_id.pop(customer_id, None)
            self._changed()
        return 200, {"id": customer_id, "deleted": True}

    def _validate(self, body: Any, exclude: str | None) -> dict:
        errors = _validate_customer_in(body if isinstance(body, dict) else {})
        if errors:
            raise _Reply(400, {"Status": 400, "Errors": errors})
        record = _customer_out(body)
        if self._find_duplicate(record["identification"], record["branch_office"], exclude):
            status = int(self.options.get("duplicate_status") or 400)
            raise _Reply(
                status,
                error_body(
                    status, "already_exists",
                    "A customer with this identification and branch office already exists",
                    ["identification", "branch_office"],
                ),
            )
        return record


# -- filters and validation -------------------------------------------------------------
def _parse_filter(value: str, end: bool) -> datetime:
    try:
        parsed = parse_timestamp(value)
    except ValueError:
        raise _Reply(400, error_body(400, "invalid_type", f"The date {value} is invalid")) from None
    if end and len(value.strip()) == 10:  # a bare date includes the whole day
        parsed += timedelta(days=1) - timedelta(microseconds=1)
    return parsed


_DATE_FILTERS = (
    ("created_start", "created", False),
    ("created_end", "created", True),
    ("updated_start", "updated", False),
    ("updated_end", "updated", True),
)


def _matches(entry: _Entry, params: dict[str, str], bounds: dict[str, datetime]) -> bool:
    c = entry.customer
    if "identification" in params and c.get("identification") != params["identification"]:
        return False
    if "branch_office" in params and str(c.get("branch_office", 0)) != params["branch_office"]:
        return False
    if "type" in params and str(c.get("type", "")).lower() != params["type"].lower():
        return False
    if "person_type" in params and (
        str(c.get("person_type", "")).lower() != params["person_type"].lower()
    ):
        return False
    if "active" in params and str(bool(c.get("active", True))).lower() != params[
        "active"
    ].lower():
        return False
    for key, attr, end in _DATE_FILTERS:
        if key in bounds:
            bound = bounds[key]
            value = getattr(entry, attr)
            if (end and value > bound) or (not end and value < bound):
                return False
    return True


def _err(code: str, message: str, *params: str) -> dict:
    return {"Code": code, "Message": message, "Params": list(params), "Detail": DOC_URL + code}


def _validate_customer_in(body: dict) -> list[dict]:
    errors: list[dict] = []
    person_type = body.get("person_type")
    name = body.get("name")
    if name is None:
        errors.append(_err("parameter_required", "The field name is required", "name"))
    elif not isinstance(name, list) or not all(isinstance(p, str) and p.strip() for p in name):
        errors.append(_err("invalid_type", "The field name must be an array of text", "name"))
    else:
        expected = 2 if person_type == "Person" else 1
        if person_type in ("Person", "Company") and len(name) != expected:
            errors.append(_err("invalid_array", f"The field name must have {expected} items",
                               "name"))
        for part in name:
            if len(part) > 100:
                errors.append(_err("length_max", "The field name is too long", "name"))
            elif not _NAME_RE.match(part):
                errors.append(_err("invalid_name", "The field name has invalid characters",
                                   "name"))
    if person_type is None:
        errors.append(_err("parameter_required", "The field person_type is required",
                           "person_type"))
    elif person_type not in ("Person", "Company"):
        errors.append(_err("invalid_value", "The field person_type is invalid", "person_type"))
    kind = body.get("type", "Customer")
    if kind not in ("Customer", "Supplier", "Other"):
        errors.append(_err("invalid_value", "The field type is invalid", "type"))
    id_type = body.get("id_type")
    if id_type is None:
        errors.append(_err("parameter_required", "The field id_type is required", "id_type"))
    elif not isinstance(id_type, str) or id_type not in ID_TYPES:
        errors.append(_err("invalid_reference", "The id_type does not exist", "id_type"))
    ident = body.get("identification")
    if ident is None or ident == "":
        errors.append(_err("parameter_required", "The field identification is required",
                           "identification"))
    elif not isinstance(ident, str) or len(ident) > 50 or not _IDENT_RE.match(ident):
        errors.append(_err("invalid_identification", "The identification is invalid",
                           "identification"))
    elif id_type in _NUMERIC_TYPES and not (ident.isdigit() and 3 <= len(ident) <= 13):
        errors.append(_err("invalid_identification",
                           "The identification must have 3 to 13 digits", "identification"))
    check = body.get("check_digit")
    if check is not None and not (isinstance(check, str) and len(check) == 1 and check.isdigit()):
        errors.append(_err("invalid_value", "The check_digit is invalid", "check_digit"))
    branch = body.get("branch_office", 0)
    if not isinstance(branch, int) or isinstance(branch, bool) or not 0 <= branch <= 999:
        errors.append(_err("invalid_value", "The branch_office is invalid", "branch_office"))
    fiscal = body.get("fiscal_responsibilities")
    if fiscal is not None:
        if not isinstance(fiscal, list) or not fiscal:
            errors.append(_err("parameter_empty", "The fiscal responsibilities are empty",
                               "fiscal_responsibilities"))
        else:
            for item in fiscal:
                code = item.get("code") if isinstance(item, dict) else None
                if code not in FISCAL_RESPONSIBILITIES:
                    errors.append(_err("invalid_reference",
                                       "The fiscal responsibility does not exist",
                                       "fiscal_responsibilities"))
    address = body.get("address")
    if not isinstance(address, dict) or not isinstance(address.get("address"), str):
        errors.append(_err("parameter_required", "The field address is required", "address"))
    else:
        if len(address["address"]) > 256:
            errors.append(_err("length_max", "The address is too long", "address"))
        city = address.get("city")
        if not isinstance(city, dict) or not all(
            isinstance(city.get(k), str) and city.get(k)
            for k in ("country_code", "state_code", "city_code")
        ):
            errors.append(_err("parameter_required", "The field city is required", "city"))
        elif find_city(city["country_code"], city["state_code"], city["city_code"]) is None:
            errors.append(_err("invalid_reference", "The city does not exist", "city"))
        postal = address.get("postal_code")
        if postal is not None and (not isinstance(postal, str) or len(postal) > 10
                                   or " " in postal):
            errors.append(_err("invalid_value", "The postal_code is invalid", "postal_code"))
    phones = body.get("phones", [])
    if not isinstance(phones, list):
        errors.append(_err("invalid_type", "The field phones must be an array", "phones"))
    else:
        for phone in phones:
            if not isinstance(phone, dict) or not _phone_ok(phone):
                errors.append(_err("invalid_value", "The phone is invalid", "phones"))
    contacts = body.get("contacts", [])
    if not isinstance(contacts, list):
        errors.append(_err("invalid_type", "The field contacts must be an array", "contacts"))
    else:
        if len(contacts) > 10:
            errors.append(_err("invalid_array", "Up to 10 contacts per customer", "contacts"))
        for contact in contacts:
            if not isinstance(contact, dict) or not contact.get("first_name"):
                errors.append(_err("parameter_required", "The contact first_name is required",
                                   "first_name"))
                continue
            email = contact.get("email")
            if email and (len(email) > 100 or not _EMAIL_RE.match(email)):
                errors.append(_err("invalid_email", "The email is invalid", "email"))
            if isinstance(contact.get("phone"), dict) and not _phone_ok(contact["phone"]):
                errors.append(_err("invalid_value", "The phone is invalid", "phone"))
    comments = body.get("comments")
    if comments is not None and (not isinstance(comments, str) or len(comments) > 4000):
        errors.append(_err("length_max", "The comments are too long", "comments"))
    return errors


def _phone_ok(phone: dict) -> bool:
    for key in ("indicative", "number", "extension"):
        value = phone.get(key)
        if value in (None, ""):
            continue
        if not isinstance(value, str) or not value.isdigit() or len(value) > 10:
            return False
    return True


def _customer_out(body: dict) -> dict:
    ident = body["identification"]
    check = body.get("check_digit")
    if check is None:
        check = co_nit.calc_check_digit(ident) if ident.isdigit() else "0"
    address_in = body["address"]
    city_in = address_in["city"]
    row = find_city(city_in["country_code"], city_in["state_code"], city_in["city_code"]) or {}
    address: dict = {
        "address": address_in["address"],
        "city": {
            "country_code": city_in["country_code"],
            "country_name": row.get("CountryName", ""),
            "state_code": city_in["state_code"],
            "state_name": row.get("StateName", ""),
            "city_code": city_in["city_code"],
            "city_name": row.get("CityName", ""),
        },
    }
    if address_in.get("postal_code"):
        address["postal_code"] = address_in["postal_code"]
    fiscal = body.get("fiscal_responsibilities") or [{"code": "R-99-PN"}]
    out: dict = {
        "type": body.get("type", "Customer"),
        "person_type": body["person_type"],
        "id_type": {"code": body["id_type"], "name": ID_TYPES[body["id_type"]]},
        "identification": ident,
        "branch_office": body.get("branch_office", 0),
        "check_digit": check,
        "name": list(body["name"]),
        "active": body.get("active", True),
        "vat_responsible": body.get("vat_responsible", False),
        "fiscal_responsibilities": [
            {"code": f["code"], "name": FISCAL_RESPONSIBILITIES[f["code"]]} for f in fiscal
        ],
        "address": address,
    }
    if body.get("commercial_name"):
        out["commercial_name"] = body["commercial_name"]
    if body.get("phones"):
        out["phones"] = json.loads(json.dumps(body["phones"]))
    out["contacts"] = json.loads(json.dumps(body.get("contacts") or []))
    for key in ("comments", "related_users", "custom_fields"):
        if body.get(key):
            out[key] = json.loads(json.dumps(body[key]))
    return out


def _reorder(record: dict) -> dict:
    ordered = {"id": record["id"]}
    ordered.update((k, v) for k, v in record.items() if k not in ("id", "metadata"))
    if "metadata" in record:
        ordered["metadata"] = record["metadata"]
    return ordered


# -- HTTP handler -----------------------------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    sandbox: SandboxServer
    protocol_version = "HTTP/1.1"
    server_version = "KrakenD"

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib name)
        logger.debug("sandbox: " + format, *args)

    def do_GET(self) -> None:  # noqa: N802 (stdlib naming)
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    def _read_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        if not raw:
            return None
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-krakend", KRAKEND_VERSION)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _own_base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def _dispatch(self, method: str) -> None:
        sandbox = self.sandbox
        split = urlsplit(self.path)
        path = split.path.rstrip("/") or "/"
        query = parse_qsl(split.query, keep_blank_values=True)
        body = self._read_body() if method in ("POST", "PUT") else None
        if path.startswith("/_sandbox/"):
            self._control(method, path, body)
            return
        qdict = dict(query)
        hdrs = {k: v for k, v in self.headers.items() if k.lower() != "authorization"}
        auth_header = self.headers.get("Authorization")
        if auth_header:
            hdrs["Authorization"] = "Bearer ***" if auth_header.lower().startswith(
                "bearer ") else "***"
        fault = sandbox._take_fault(method, path)
        if fault is not None:
            if fault["kind"] == "drop":
                sandbox._record(method, path, None, qdict, hdrs)
                self._drop()
                return
            if fault["kind"] == "hang":
                sandbox._record(method, path, None, qdict, hdrs)
                sandbox._stop_event.wait(float(fault.get("seconds", 5)))
                self._drop()
                return
            status, reply_body, headers = _fault_reply(fault)
            sandbox._record(method, path, status, qdict, hdrs)
            self._send(status, reply_body, headers)
            return
        try:
            status, reply = self._route(method, path, query, body)
            headers: dict[str, str] = {}
        except _Reply as reply_exc:
            status, reply, headers = reply_exc.status, reply_exc.body, reply_exc.headers
        except Exception:  # pragma: no cover - keeps the emulator answering like Siigo
            logger.exception("sandbox handler failed")
            status, reply, headers = 500, error_body(500, "unhandled_error",
                                                     _STATUS_MESSAGES[500]), {}
        sandbox._record(method, path, status, qdict, hdrs)
        self._send(status, reply, headers)

    def _route(self, method: str, path: str, query: list[tuple[str, str]], body: Any
               ) -> tuple[int, Any]:
        sandbox = self.sandbox
        if path == "/auth":
            if method != "POST":
                raise _Reply(405, error_body(405, "method_not_allowed", "Method not allowed"))
            return sandbox.handle_auth(body)
        if path == "/v1/customers" or path.startswith("/v1/customers/"):
            sandbox._authorize(self.headers)
            rest = path[len("/v1/customers"):].strip("/")
            if not rest:
                if method == "GET":
                    return sandbox.handle_list(self._own_base_url(), query)
                if method == "POST":
                    return sandbox.handle_create(body)
            elif "/" not in rest:
                if method == "GET":
                    return sandbox.handle_get(rest)
                if method == "PUT":
                    return sandbox.handle_update(rest, body)
                if method == "DELETE":
                    return sandbox.handle_delete(rest)
            raise _Reply(405, error_body(405, "method_not_allowed", "Method not allowed"))
        if path.startswith("/v1/"):
            sandbox._authorize(self.headers)
        raise _Reply(404, error_body(404, "not_found", "The resource was not found"))

    def _control(self, method: str, path: str, body: Any) -> None:
        sandbox = self.sandbox
        try:
            if path == "/_sandbox/faults" and method == "POST":
                items = body if isinstance(body, list) else [body]
                for item in items:
                    if not isinstance(item, dict):
                        raise ValueError("fault must be an object")
                    sandbox.add_fault(item)
                self._send(200, {"faults": sandbox.faults, "triggers": sandbox.triggers})
            elif path == "/_sandbox/faults" and method == "GET":
                self._send(200, {"faults": sandbox.faults, "triggers": sandbox.triggers})
            elif path == "/_sandbox/faults" and method == "DELETE":
                sandbox.clear_faults()
                self._send(200, {"faults": [], "triggers": []})
            elif path == "/_sandbox/options" and method == "POST":
                sandbox.set_options(**(body or {}))
                self._send(200, {"options": sandbox.options})
            elif path == "/_sandbox/reset" and method == "POST":
                sandbox.reset()
                self._send(200, {"reset": True})
            elif path == "/_sandbox/stats" and method == "GET":
                self._send(200, sandbox.stats())
            else:
                self._send(404, error_body(404, "not_found", "Unknown sandbox control route"))
        except (ValueError, TypeError, KeyError) as exc:
            self._send(400, error_body(400, "invalid_value", str(exc)))


def _fault_reply(fault: dict) -> tuple[int, dict, dict[str, str]]:
    status = fault["status"]
    headers: dict[str, str] = {}
    if status == 429:
        message = "The request limit has been exceeded"
        if fault.get("hint", True):
            message += f". Try again in {int(fault.get('retry_in', 1))} seconds"
        if fault.get("retry_after") is not None:
            headers["Retry-After"] = str(fault["retry_after"])
        return status, error_body(429, "requests_limit", message), headers
    code = fault.get("code") or _STATUS_CODES.get(status, "unhandled_error")
    message = fault.get("message") or _STATUS_MESSAGES.get(status, "Error")
    return status, error_body(status, code, message), headers


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    n_customers: int = 300,
    requests_per_minute: int = 0,
    *,
    seed: int = 7,
    token_lifetime: int = 86400,
    retry_after_header: bool = False,
    on_ready: Callable[[SandboxServer], None] | None = None,
    **options: Any,
) -> None:
    """Run a sandbox in the foreground until Ctrl+C.

    ``on_ready(server)`` is called once the port is bound; use
    ``server.credentials()`` there to show the base URL, username, access key and a
    valid Partner-Id. Extra keywords are the pagination quirks of :data:`OPTION_NAMES`.
    """
    server = SandboxServer(
        host=host,
        port=port,
        n_customers=n_customers,
        seed=seed,
        token_lifetime=token_lifetime,
        requests_per_minute=requests_per_minute,
        retry_after_header=retry_after_header,
        **options,
    )
    server._bind()
    if on_ready is not None:
        on_ready(server)
    else:
        logger.info("Siigo sandbox credentials: %s", {
            k: v for k, v in server.credentials().items() if k != "access_key"
        })
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        logger.info("Siigo sandbox stopped")
