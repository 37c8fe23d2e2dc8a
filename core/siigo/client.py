"""HTTP client for the Siigo Nube public API (``/auth`` and ``/v1/customers``).

Behaviour in short (details in ``shared/siigo-api.md``):

- Authentication: ``POST {base}/auth`` with ``username``/``access_key``; any 2xx is
  accepted; ``expires_in`` is read as seconds and the token is reused until
  ``min(60 s, 10 % of the lifetime)`` before it expires. Any 4xx there is
  :class:`SiigoAuthError`.
- Every data call sends ``Authorization: Bearer``, ``Partner-Id`` and an explicit
  ``(connect, read)`` timeout. A 401 triggers exactly one re-authentication and one retry.
- 429: waits the N of "Try again in N seconds", else ``Retry-After``, else exponential
  backoff. 5xx/connection errors/read timeouts: up to ``max_retries`` retries with
  exponential backoff (``backoff_base * 2**k``, no jitter so tests are exact). The waiting
  of one call never exceeds ``max_total_wait``.
- A circuit breaker stops after ``max_consecutive_failures`` failed requests in a row
  (Siigo blocks API users whose requests mostly fail); after ``failure_cooldown`` seconds
  one probe request is allowed again.
- A sliding-window limiter keeps all requests (``/auth`` included) below
  ``requests_per_minute``.
- One INFO log line per HTTP request; the access key and token are never logged.

The client is meant to be used from one thread at a time.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections import deque
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Iterator
from urllib.parse import parse_qsl, quote, urlsplit

import requests

from core.siigo.errors import (
    SiigoAuthError,
    SiigoConfigError,
    SiigoError,
    SiigoProtocolError,
    SiigoUnavailableError,
)
from core.siigo.timestamps import format_filter

__all__ = ["SiigoClient", "CustomerPage", "FetchResult", "ClientStats", "parse_retry_hint"]

logger = logging.getLogger(__name__)

PARTNER_ID_RE = re.compile(r"^[A-Za-z0-9]{3,100}$")
_HINT_RE = re.compile(
    r"try\s+again\s+in\W{0,3}(\d+(?:[.,]\d+)?)\s*"
    r"(ms|milliseconds?|s\b|secs?\b|seconds?|segundos?|m\b|mins?\b|minutes?|minutos?)?",
    re.IGNORECASE,
)
_RETRYABLE_STATUS = {500, 502, 503, 504}
_SUPPORT = "Si el problema continúa, comuníquese con soporte técnico/TI."


@dataclass
class CustomerPage:
    """One page of ``GET /v1/customers`` as the server reported it."""

    page: int
    page_size: int
    total_results: int
    results: list[dict]


@dataclass
class FetchResult:
    """All customers of a run, de-duplicated by ``id`` (first seen wins)."""

    customers: list[dict]
    total_results: int
    pages: int


@dataclass
class ClientStats:
    """Counters of one client. ``requests`` counts every HTTP request sent."""

    requests: int = 0
    retries: int = 0
    auth_requests: int = 0
    waited_seconds: float = 0.0
    failures: int = 0

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_retry_hint(message: str) -> float | None:
    """Seconds from a "Try again in N seconds" text (case-insensitive, a few variants)."""
    match = _HINT_RE.search(message or "")
    if not match:
        return None
    value = float(match.group(1).replace(",", "."))
    unit = (match.group(2) or "s").lower()
    if unit.startswith("ms") or unit.startswith("milli"):
        return value / 1000.0
    if unit.startswith("m") and not unit.startswith("ms"):
        return value * 60.0
    return value


def _ci(mapping: Any, key: str) -> Any:
    """Case-insensitive key lookup in a dict (None if absent or not a dict)."""
    if not isinstance(mapping, dict):
        return None
    if key in mapping:
        return mapping[key]
    lowered = key.lower()
    for name, value in mapping.items():
        if isinstance(name, str) and name.lower() == lowered:
            return value
    return None


def _envelope(response: requests.Response) -> tuple[str | None, str]:
    """First error ``Code`` and all ``Message`` texts of a Siigo error envelope."""
    try:
        body = response.json()
    except ValueError:
        return None, response.text[:500] if response.text else ""
    errors = _ci(body, "errors")
    code = None
    messages: list[str] = []
    if isinstance(errors, list):
        for item in errors:
            if code is None and isinstance(_ci(item, "code"), str):
                code = _ci(item, "code")
            message = _ci(item, "message")
            if isinstance(message, str):
                messages.append(message)
    elif isinstance(_ci(body, "message"), str):
        messages.append(_ci(body, "message"))
    return code, " ".join(messages)


class _Retry(Exception):
    """Internal: a transient failure that may be retried."""

    def __init__(self, reason: str, status: int | None, code: str | None = None,
                 hint: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.code = code
        self.hint = hint


class SiigoClient:
    """Client for Siigo's customers API. See the module docstring."""

    def __init__(
        self,
        *,
        base_url: str,
        username: str,
        access_key: str,
        partner_id: str,
        session: requests.Session | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 120.0,
        max_retries: int = 3,
        backoff_base: float = 1.0,
        max_total_wait: float = 120.0,
        requests_per_minute: int | None = 100,
        max_consecutive_failures: int = 5,
        failure_cooldown: float = 300.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        missing = [
            label
            for label, value in (
                ("la URL de la API", base_url),
                ("el usuario API", username),
                ("la llave de acceso", access_key),
                ("el Partner-Id", partner_id),
            )
            if not (isinstance(value, str) and value.strip())
        ]
        if missing:
            raise SiigoConfigError(
                "Falta " + ", ".join(missing) + " de Siigo. Configure estos datos en la "
                "configuración de la integración con Siigo."
            )
        if not PARTNER_ID_RE.match(partner_id.strip()):
            raise SiigoConfigError(
                "El Partner-Id de Siigo debe tener entre 3 y 100 letras o números, sin "
                "espacios ni caracteres especiales. Configure un Partner-Id válido en la "
                "configuración de la integración con Siigo."
            )
        if not base_url.strip().lower().startswith(("http://", "https://")):
            raise SiigoConfigError(
                "La URL de la API de Siigo debe empezar por https://. Configure la URL "
                "en la configuración de la integración con Siigo."
            )
        self.base_url = base_url.strip().rstrip("/")
        self.username = username.strip()
        self._access_key = access_key
        self.partner_id = partner_id.strip()
        self.session = session or requests.Session()
        self.timeout = (float(connect_timeout), float(read_timeout))
        self.max_retries = max(0, int(max_retries))
        self.backoff_base = float(backoff_base)
        self.max_total_wait = float(max_total_wait)
        self.requests_per_minute = int(requests_per_minute or 0)
        self.max_consecutive_failures = max(1, int(max_consecutive_failures))
        self.failure_cooldown = float(failure_cooldown)
        self._sleep = sleep
        self._clock = clock
        self.stats = ClientStats()
        self._token: str | None = None
        self._token_valid_until = 0.0
        self._sent: deque[float] = deque()
        self._consecutive_failures = 0
        self._tripped_at: float | None = None
        self._server_offset: timedelta | None = None

    def __repr__(self) -> str:
        return f"SiigoClient(base_url={self.base_url!r}, username={self.username!r})"

    # -- low level ----------------------------------------------------------------------
    def _wait(self, seconds: float) -> None:
        if seconds <= 0:
            return
        self.stats.waited_seconds += seconds
        self._sleep(seconds)

    def _pace(self) -> None:
        limit = self.requests_per_minute
        if limit <= 0:
            return
        while True:
            now = self._clock()
            while self._sent and self._sent[0] <= now - 60.0:
                self._sent.popleft()
            if len(self._sent) < limit:
                self._sent.append(now)
                return
            self._wait(self._sent[0] + 60.0 - now + 0.001)

    def _guard_failures(self) -> None:
        if self._consecutive_failures < self.max_consecutive_failures:
            return
        now = self._clock()
        if self._tripped_at is None:
            self._tripped_at = now
        if now - self._tripped_at >= self.failure_cooldown:
            # Allow a single probe; another failure trips the breaker again.
            self._consecutive_failures = self.max_consecutive_failures - 1
            self._tripped_at = None
            return
        raise SiigoUnavailableError(
            "Se detuvo la comunicación con Siigo porque fallaron "
            f"{self._consecutive_failures} solicitudes seguidas (Siigo bloquea a los "
            "usuarios con muchas solicitudes fallidas). Por favor inténtelo más tarde."
        )

    def _note(self, ok: bool) -> None:
        if ok:
            self._consecutive_failures = 0
            self._tripped_at = None
        else:
            self._consecutive_failures += 1
            self.stats.failures += 1

    def _http(self, method: str, url: str, *, headers: dict[str, str],
              params: dict[str, str] | None = None, json: Any = None) -> requests.Response:
        """Send exactly one HTTP request (pacing, breaker, logging, counters)."""
        self._guard_failures()
        self._pace()
        self.stats.requests += 1
        split = urlsplit(url)
        shown = split.path + (f"?{split.query}" if split.query else "")
        if params:
            joined = "&".join(f"{k}={v}" for k, v in params.items())
            shown += ("&" if split.query else "?") + joined
        started = time.perf_counter()
        try:
            response = self.session.request(
                method, url, headers=headers, params=params, json=json, timeout=self.timeout
            )
        except requests.RequestException as exc:
            elapsed = (time.perf_counter() - started) * 1000
            logger.info("Siigo %s %s -> %s (%.0f ms)", method, shown, type(exc).__name__,
                        elapsed)
            self._note(False)
            raise
        elapsed = (time.perf_counter() - started) * 1000
        logger.info("Siigo %s %s -> %s (%.0f ms)", method, shown, response.status_code, elapsed)
        self._note(200 <= response.status_code < 300)
        self._learn_server_time(response)
        return response

    def _learn_server_time(self, response: requests.Response) -> None:
        date = response.headers.get("Date")
        if not date:
            return
        try:
            server_now = parsedate_to_datetime(date)
        except (TypeError, ValueError):
            return
        if server_now.tzinfo is None:
            server_now = server_now.replace(tzinfo=timezone.utc)
        self._server_offset = server_now - datetime.now(timezone.utc)

    def _retry_wait(self, attempt: int, error: _Retry, waited: float) -> float:
        """Seconds to wait before the next attempt, or raise when the cap is exceeded."""
        remaining = self.max_total_wait - waited
        if error.hint is not None:
            if error.hint > remaining + 1e-9:
                raise SiigoUnavailableError(
                    "Siigo limitó la cantidad de solicitudes y pide esperar "
                    f"{error.hint:.0f} segundos, más de lo permitido. Por favor inténtelo "
                    "más tarde.",
                    status=error.status, code=error.code,
                )
            return error.hint
        delay = self.backoff_base * (2 ** attempt)
        if remaining <= 0 and delay > 0:
            raise self._unavailable(error)
        return min(delay, max(0.0, remaining))

    def _unavailable(self, error: _Retry) -> SiigoUnavailableError:
        if error.status == 429:
            text = "Siigo limitó la cantidad de solicitudes y el tiempo de espera se agotó."
        elif error.status is not None:
            text = f"Siigo respondió con un error temporal ({error.status})."
        elif error.reason == "timeout":
            text = "Siigo no respondió a tiempo."
        else:
            text = "No fue posible conectarse con Siigo."
        return SiigoUnavailableError(
            f"{text} Por favor inténtelo más tarde.", status=error.status, code=error.code
        )

    def _classify(self, response: requests.Response) -> _Retry | None:
        status = response.status_code
        if status == 429:
            code, message = _envelope(response)
            hint = parse_retry_hint(message)
            if hint is None:
                hint = self._retry_after(response.headers.get("Retry-After"))
            return _Retry("rate_limited", status, code, hint)
        if status in _RETRYABLE_STATUS:
            code, _ = _envelope(response)
            return _Retry("server_error", status, code)
        return None

    @staticmethod
    def _retry_after(value: str | None) -> float | None:
        if not value:
            return None
        value = value.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())

    def _with_retries(self, send: Callable[[], requests.Response]) -> requests.Response:
        """Run ``send`` with the retry policy; returns a non-retryable response."""
        waited = 0.0
        server_errors = 0
        rate_limits = 0
        while True:
            try:
                response = send()
                error = self._classify(response)
            except requests.Timeout:
                error = _Retry("timeout", None)
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                error = _Retry("connection", None)
            except requests.RequestException as exc:
                raise SiigoProtocolError(
                    "No fue posible enviar la solicitud a Siigo. " + _SUPPORT
                ) from exc
            if error is None:
                return response
            if error.status == 429:
                attempt = rate_limits
                rate_limits += 1
            else:
                if server_errors >= self.max_retries:
                    raise self._unavailable(error)
                attempt = server_errors
                server_errors += 1
            delay = self._retry_wait(attempt, error, waited)
            self.stats.retries += 1
            logger.info("Siigo: retrying after %s (%s), waiting %.2f s", error.reason,
                        error.status, delay)
            waited += delay
            self._wait(delay)

    # -- authentication -----------------------------------------------------------------
    def authenticate(self, force: bool = False) -> None:
        """Get a token now (or reuse the cached one unless ``force``)."""
        if not force and self._token and self._clock() < self._token_valid_until:
            return
        self._token = None
        started = self._clock()

        def send() -> requests.Response:
            self.stats.auth_requests += 1
            return self._http(
                "POST", f"{self.base_url}/auth",
                headers={"Content-Type": "application/json", "Partner-Id": self.partner_id},
                json={"username": self.username, "access_key": self._access_key},
            )

        response = self._with_retries(send)
        if 400 <= response.status_code < 500:
            code, _ = _envelope(response)
            raise SiigoAuthError(
                "Siigo rechazó el inicio de sesión. Por favor revise el usuario y la llave de "
                "acceso del usuario API en la configuración de la integración con Siigo.",
                status=response.status_code, code=code,
            )
        if not 200 <= response.status_code < 300:
            raise SiigoProtocolError(
                f"Siigo respondió al inicio de sesión con un estado inesperado "
                f"({response.status_code}). " + _SUPPORT,
                status=response.status_code,
            )
        body = self._json(response)
        token = _ci(body, "access_token")
        if not isinstance(token, str) or not token:
            raise SiigoProtocolError(
                "Siigo no entregó un token de acceso al iniciar sesión. " + _SUPPORT,
                status=response.status_code,
            )
        try:
            lifetime = float(_ci(body, "expires_in") or 0)
        except (TypeError, ValueError):
            lifetime = 0.0
        if lifetime <= 0:
            lifetime = 3600.0
        margin = min(60.0, lifetime * 0.1)
        self._token = token
        self._token_valid_until = started + lifetime - margin

    # -- data calls -----------------------------------------------------------------
    def _data_request(self, method: str, url: str, params: dict[str, str] | None = None,
                      json: Any = None) -> requests.Response:
        reauthenticated = False
        while True:
            self.authenticate()
            token = self._token

            def send() -> requests.Response:
                headers = {
                    "Authorization": f"Bearer {token}",
                    "Partner-Id": self.partner_id,
                    "Accept": "application/json",
                }
                if json is not None:
                    headers["Content-Type"] = "application/json"
                return self._http(method, url, headers=headers, params=params, json=json)

            response = self._with_retries(send)
            if response.status_code == 401:
                if reauthenticated:
                    code, _ = _envelope(response)
                    raise SiigoAuthError(
                        "Siigo rechazó el acceso aun después de iniciar sesión de nuevo. Por "
                        "favor revise el usuario y la llave de acceso del usuario API.",
                        status=401, code=code,
                    )
                reauthenticated = True
                self.authenticate(force=True)
                continue
            if 200 <= response.status_code < 300:
                return response
            raise self._request_error(response)

    def _request_error(self, response: requests.Response) -> SiigoError:
        code, _ = _envelope(response)
        status = response.status_code
        if code == "header_required":
            text = "Siigo rechazó la solicitud porque falta el encabezado Partner-Id."
        elif code == "invalid_partner_id":
            text = "Siigo rechazó la solicitud porque el Partner-Id no es válido."
        elif status == 404:
            text = "Siigo no encontró el registro solicitado."
        elif status == 403:
            text = "El usuario API de Siigo no tiene permiso para esta operación."
        else:
            text = f"Siigo rechazó la solicitud ({status}{', ' + code if code else ''})."
        return SiigoProtocolError(f"{text} {_SUPPORT}", status=status, code=code)

    @staticmethod
    def _json(response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise SiigoProtocolError(
                "Siigo envió una respuesta que no es JSON. " + _SUPPORT,
                status=response.status_code,
            ) from None

    def _rebase(self, href: str) -> str:
        """Point an absolute ``_links`` href at the configured base URL (keep the query)."""
        split = urlsplit(href)
        path = split.path
        index = path.find("/v1/")
        if index > 0:
            path = path[index:]
        return self.base_url + path + (f"?{split.query}" if split.query else "")

    def _parse_page(self, response: requests.Response) -> tuple[CustomerPage, dict]:
        body = self._json(response)
        results = _ci(body, "results")
        pagination = _ci(body, "pagination")
        if not isinstance(results, list) or not isinstance(pagination, dict):
            raise SiigoProtocolError(
                "Siigo envió una lista de terceros con un formato inesperado. " + _SUPPORT,
                status=response.status_code,
            )
        try:
            page = CustomerPage(
                page=int(_ci(pagination, "page") or 0),
                page_size=int(_ci(pagination, "page_size") or len(results) or 0),
                total_results=int(_ci(pagination, "total_results") or 0),
                results=[r for r in results if isinstance(r, dict)],
            )
        except (TypeError, ValueError):
            raise SiigoProtocolError(
                "Siigo envió datos de paginación inválidos. " + _SUPPORT,
                status=response.status_code,
            ) from None
        links = _ci(body, "_links")
        return page, links if isinstance(links, dict) else {}

    # -- public API -------------------------------------------------------------------
    def test_connection(self) -> int:
        """Authenticate and read page 1 (10 per page); return ``total_results``."""
        response = self._data_request(
            "GET", f"{self.base_url}/v1/customers", params={"page": "1", "page_size": "10"}
        )
        page, _ = self._parse_page(response)
        return page.total_results

    def server_now(self) -> datetime:
        """Best estimate of the server's current UTC time (from ``Date`` headers)."""
        if self._server_offset is None:
            self.authenticate()
        now = datetime.now(timezone.utc)
        return now + self._server_offset if self._server_offset is not None else now

    def iter_customer_pages(
        self,
        *,
        page_size: int = 100,
        updated_start: datetime | None = None,
        created_end: datetime | None = None,
    ) -> Iterator[CustomerPage]:
        """Yield every page of ``GET /v1/customers``, following ``_links.next``.

        Stops when there is no usable ``next`` and the server reported everything, when a
        page is empty, or after a hard maximum of pages derived from ``total_results``.
        If ``next`` is missing or points to a page already read while the totals say more
        results exist, the following page number is requested instead (each page is read
        at most once, so this never loops).
        """
        params = {"page": "1", "page_size": str(int(page_size))}
        if updated_start is not None:
            params["updated_start"] = format_filter(updated_start)
        if created_end is not None:
            params["created_end"] = format_filter(created_end)
        url = f"{self.base_url}/v1/customers"
        seen_pages: set[int] = set()
        max_total = 0
        pages_read = 0
        query: dict[str, str] | None = params
        while True:
            response = self._data_request("GET", url, params=query)
            page, links = self._parse_page(response)
            pages_read += 1
            number = page.page or self._page_of(url, query) or pages_read
            seen_pages.add(number)
            max_total = max(max_total, page.total_results)
            yield page
            if not page.results:
                return
            size = max(1, page.page_size or len(page.results))
            hard_max = math.ceil(max_total / size) + 2
            if pages_read >= hard_max:
                logger.warning("Siigo: stopping after %s pages (hard maximum)", pages_read)
                return
            more_expected = number * size < max_total
            next_url = None
            next_href = _ci(_ci(links, "next"), "href")
            if isinstance(next_href, str) and next_href:
                candidate = self._rebase(next_href)
                target = self._page_of(candidate, None)
                if target is None or target not in seen_pages:
                    next_url = candidate
                else:
                    logger.warning("Siigo: next link of page %s points back to page %s",
                                   number, target)
            if next_url is None:
                if not more_expected or (number + 1) in seen_pages:
                    return
                logger.warning("Siigo: page %s has no usable next link; requesting page %s",
                               number, number + 1)
                self_href = _ci(_ci(links, "self"), "href")
                base = self._rebase(self_href) if isinstance(self_href, str) else None
                next_url = self._with_page(base, number + 1, params, size)
            url, query = next_url, None

    @staticmethod
    def _page_of(url: str, query: dict[str, str] | None) -> int | None:
        values = dict(parse_qsl(urlsplit(url).query))
        if query:
            values.update(query)
        try:
            return int(values["page"])
        except (KeyError, ValueError):
            return None

    def _with_page(self, self_url: str | None, page: int, params: dict[str, str],
                   size: int) -> str:
        if self_url:
            split = urlsplit(self_url)
            pairs = [(k, v) for k, v in parse_qsl(split.query, keep_blank_values=True)
                     if k != "page"]
            base = self_url.split("?", 1)[0]
        else:
            pairs = [(k, v) for k, v in params.items() if k != "page"]
            base = f"{self.base_url}/v1/customers"
        pairs.insert(0, ("page", str(page)))
        return base + "?" + "&".join(f"{quote(k)}={quote(v)}" for k, v in pairs)

    def fetch_all_customers(
        self,
        *,
        page_size: int = 100,
        updated_start: datetime | None = None,
        progress: Callable[[int, int, int], None] | None = None,
        transform: Callable[[dict], Any] | None = None,
    ) -> FetchResult:
        """Read every tercero (optionally only those updated since ``updated_start``).

        The list is newest first, so terceros created while paging would shift later
        pages. The run therefore pins ``created_end`` to its start time, taken from the
        server's clock (the ``Date`` header of the first response, one second added
        because that header has whole seconds) so local clock skew does not matter.
        Terceros created during the run are left for the next run; anything that still
        slips in only causes duplicates, which are dropped by ``id`` (first seen wins).
        ``progress(pages_read, customers_so_far, total_results)`` runs after each page.
        ``transform``, when given, turns each tercero into what is kept (so a large
        import need not hold every raw JSON object at once).
        """
        self.authenticate()
        start = self.server_now().replace(microsecond=0) + timedelta(seconds=1)
        customers: list[dict] = []
        seen: set[str] = set()
        pages = 0
        total = 0
        for page in self.iter_customer_pages(
            page_size=page_size, updated_start=updated_start, created_end=start
        ):
            pages += 1
            total = max(total, page.total_results) if pages > 1 else page.total_results
            for customer in page.results:
                key = customer.get("id")
                if key is not None and key in seen:
                    continue
                if key is not None:
                    seen.add(key)
                customers.append(transform(customer) if transform else customer)
            if progress is not None:
                progress(pages, len(customers), total)
        return FetchResult(customers=customers, total_results=total, pages=pages)

    def get_customer(self, customer_id: str) -> dict:
        """``GET /v1/customers/{id}``; 404 raises :class:`SiigoProtocolError` (``not_found``)."""
        if not isinstance(customer_id, str) or not customer_id.strip():
            raise SiigoProtocolError("El identificador del tercero está vacío. " + _SUPPORT)
        url = f"{self.base_url}/v1/customers/{quote(customer_id.strip(), safe='')}"
        body = self._json(self._data_request("GET", url))
        if not isinstance(body, dict):
            raise SiigoProtocolError(
                "Siigo envió un tercero con un formato inesperado. " + _SUPPORT
            )
        return body

