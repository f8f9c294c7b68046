"""API clients that sell through POST /api/sales the way a till must: every sale carries a client token, and
any answer that is not an acknowledgement (connection reset, refused, 503, timeout) is retried with the same
token until the server acknowledges it. What was acknowledged is tallied here, independently of the server,
and then compared with the database."""

import json
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

import requests

from tests.reliability.live import REQUEST_TIMEOUT, Live

REPEAT_PROBABILITY = 0.25  # an acknowledged sale is sent again with the same token (double click, lost answer)
GIVE_UP_SECONDS = 120  # one sale retried this long without an acknowledgement fails the test


@dataclass
class Tally:
    """Everything the clients were told, across all runs against one server."""

    acked: dict[str, str] = field(default_factory=dict)  # client token -> sale number
    totals: dict[str, Decimal] = field(default_factory=dict)  # client token -> total the client computed
    sold: Counter = field(default_factory=Counter)  # barcode -> quantity in acknowledged sales
    statuses: Counter = field(default_factory=Counter)  # HTTP status, or the exception's name
    created: Counter = field(default_factory=Counter)  # client token -> number of 201 answers
    repeats: int = 0
    retries: int = 0
    slowest: float = 0.0
    unavailable: list[requests.Response] = field(default_factory=list)  # 503s, kept to check their shape
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def sale_body(rng: random.Random, prices: dict[str, Decimal]) -> tuple[dict, Decimal]:
    codes = rng.sample(sorted(prices), k=rng.randint(1, 3))
    lines = [(code, rng.randint(1, 3)) for code in codes]
    total = sum((prices[code] * qty for code, qty in lines), Decimal(0))
    tendered = total if rng.random() < 0.5 else Decimal(int(total) + 1)  # exact, or a note with change
    body = {
        "client_token": str(uuid.uuid4()),
        "lines": [{"code": code, "quantity": str(qty)} for code, qty in lines],
        "payments": [{"method": "cash", "amount": str(tendered)}],
    }
    return body, total


class SaleClient:
    def __init__(self, live: Live, tally: Tally, seed: int):
        self.live = live
        self.tally = tally
        self.rng = random.Random(seed)
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Token {live.key}", "Content-Type": "application/json"})

    def sell(self, count: int) -> None:
        for _ in range(count):
            body, total = sale_body(self.rng, self.live.prices)
            self.send_until_acked(body, total)
            if self.rng.random() < REPEAT_PROBABILITY:
                with self.tally.lock:
                    self.tally.repeats += 1
                self.send_until_acked(body, total)

    def send_until_acked(self, body: dict, total: Decimal) -> None:
        token = body["client_token"]
        data = json.dumps(body)
        give_up = time.monotonic() + GIVE_UP_SECONDS
        while time.monotonic() < give_up:
            started = time.monotonic()
            try:
                response = self.session.post(f"{self.live.url}/api/sales", data=data, timeout=REQUEST_TIMEOUT)
            except requests.RequestException as exc:
                # A worker killed mid-request resets the connection; a hang shows as a read timeout.
                self._count(type(exc).__name__, started, retry=True)
                if isinstance(exc, requests.Timeout):
                    self._error(f"{token}: no answer within {REQUEST_TIMEOUT[1]} s")
                self.session = self._fresh_session()
                time.sleep(self.rng.uniform(0.05, 0.3))
                continue
            self._count(response.status_code, started, retry=response.status_code == 503)
            if response.status_code == 503:
                with self.tally.lock:
                    self.tally.unavailable.append(response)
                time.sleep(min(float(response.headers.get("Retry-After", "1")), 1.0) * self.rng.uniform(0.3, 1.0))
                continue
            if response.status_code not in (200, 201):
                self._error(f"{token}: {response.status_code} {response.text[:300]}")
                return
            self._acknowledged(token, body, total, response)
            return
        self._error(f"{token}: not acknowledged within {GIVE_UP_SECONDS} s")

    def _acknowledged(self, token: str, body: dict, total: Decimal, response: requests.Response) -> None:
        sale = response.json()
        with self.tally.lock:
            first = self.tally.acked.setdefault(token, sale["number"])
            if response.status_code == 201:
                self.tally.created[token] += 1
            if first != sale["number"]:
                self.tally.errors.append(f"{token}: acknowledged as {first} and as {sale['number']}")
            elif token not in self.tally.totals:
                self.tally.totals[token] = total
                for line in body["lines"]:
                    self.tally.sold[line["code"]] += int(line["quantity"])
            if Decimal(sale["total"]) != total or sale["client_token"] != token:
                self.tally.errors.append(f"{token}: total {sale['total']} for {total} expected")

    def _count(self, status, started: float, *, retry: bool) -> None:
        with self.tally.lock:
            self.tally.statuses[status] += 1
            self.tally.slowest = max(self.tally.slowest, time.monotonic() - started)
            if retry:
                self.tally.retries += 1

    def _error(self, message: str) -> None:
        with self.tally.lock:
            self.tally.errors.append(message)

    def _fresh_session(self) -> requests.Session:
        session = requests.Session()
        session.headers.update(self.session.headers)
        return session


def run_clients(live: Live, tally: Tally, *, clients: int, sales: int, seed: int) -> float:
    """`clients` threads sell `sales` sales between them; returns the elapsed seconds."""
    per_client = [sales // clients + (1 if i < sales % clients else 0) for i in range(clients)]
    threads = [
        threading.Thread(target=SaleClient(live, tally, seed * 1000 + i).sell, args=(n,), name=f"client-{i}")
        for i, n in enumerate(per_client)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.monotonic() - started
