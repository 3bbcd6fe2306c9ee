"""A local stand-in for Stripe's API servers, for tests: point settings.STRIPE_API_BASE at it.

    with stripe_fake() as (base_url, requests):
        settings.STRIPE_API_BASE = base_url
        ...  # code calling Stripe through billing.stripe_provider
        assert requests[0].form["line_items[0][price]"] == "price_starter_month"

It answers, like Stripe:
- `POST /v1/checkout/sessions`: a Checkout Session whose `url` is the fake's own `GET /pay/<id>`, which redirects
  (303) to the session's `success_url` as if the customer had paid (a browser test can follow it);
- `POST /v1/billing_portal/sessions`: a portal session whose `url` (`GET /portal/<id>`) redirects to its
  `return_url`;
- a checkout whose price id starts with `price_gone` or a portal for customer `cus_gone`: 400 with Stripe's error
  body ("No such price" / "No such customer");
- anything else: 404 with Stripe's error body.
Every request is recorded (method, path, headers, the decoded form body) in arrival order.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl


@dataclass
class StripeRequest:
    """One request the fake received: `form` maps Stripe's bracketed keys (`metadata[tenant]`,
    `line_items[0][price]`) to their values."""

    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, str] = field(default_factory=dict)


class _Handler(BaseHTTPRequestHandler):
    server: _FakeServer

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output quiet

    def _send(self, status: int, body: dict[str, object], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", f"req_fake_{next(self.server.ids)}")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, param: str | None = None) -> None:
        error = {"type": "invalid_request_error", "message": message, "param": param}
        self._send(status, {"error": error})

    def _record(self) -> StripeRequest:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        request = StripeRequest(self.command, self.path, dict(self.headers.items()), dict(parse_qsl(body)))
        with self.server.lock:
            self.server.requests.append(request)
        return request

    def do_POST(self) -> None:
        request = self._record()
        form, number = request.form, next(self.server.ids)
        if request.path == "/v1/checkout/sessions":
            if form.get("line_items[0][price]", "").startswith("price_gone"):
                price = form["line_items[0][price]"]
                self._error(400, f"No such price: '{price}'", "line_items[0][price]")
                return
            session_id = f"cs_test_{number}"
            self.server.sessions[session_id] = form.get("success_url", "")
            url = f"{self.server.base_url}/pay/{session_id}"
            self._send(200, {"id": session_id, "object": "checkout.session", "mode": form.get("mode"), "url": url})
        elif request.path == "/v1/billing_portal/sessions":
            if form.get("customer") == "cus_gone":
                self._error(400, "No such customer: 'cus_gone'", "customer")
                return
            session_id = f"bps_test_{number}"
            self.server.sessions[session_id] = form.get("return_url", "")
            url = f"{self.server.base_url}/portal/{session_id}"
            self._send(200, {"id": session_id, "object": "billing_portal.session", "url": url})
        else:
            self._error(404, f"Unrecognized request URL (POST: {request.path})")

    def do_GET(self) -> None:
        request = self._record()
        session_id = request.path.rstrip("/").rsplit("/", 1)[-1]
        target = self.server.sessions.get(session_id)
        if request.path.startswith(("/pay/", "/portal/")) and target:
            target = target.replace("{CHECKOUT_SESSION_ID}", session_id)
            self._send(303, {"redirect": target}, headers={"Location": target})
        else:
            self._error(404, f"Unrecognized request URL (GET: {request.path})")


class _FakeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.base_url = f"http://127.0.0.1:{self.server_address[1]}"
        self.requests: list[StripeRequest] = []
        self.sessions: dict[str, str] = {}
        self.lock = threading.Lock()
        self.ids = itertools.count(1)


@contextlib.contextmanager
def stripe_fake() -> Iterator[tuple[str, list[StripeRequest]]]:
    """Run the fake on a free port of 127.0.0.1 in a thread; yield (its base URL, the list its requests are
    appended to). Stopped when the block ends."""
    server = _FakeServer()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="stripe-fake", daemon=True)
    thread.start()
    try:
        yield server.base_url, server.requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
