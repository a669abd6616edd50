"""Log triage: parse a JSON batch of log events and run a rule set of regular expressions over each one.

What a webhook consumer does with a batch from a log shipper: decode the document, match every message
against the rules (HTTP errors, slow requests, timeouts, stack traces, leaked secrets, client IPs), and
return counts per rule and per service with the worst offenders. JSON decoding and ``re`` run as
Python bytecode and C code that keep the GIL. With no ``document`` the task decodes a sample batch
generated once per process from a fixed seed (a real caller passes its own, within
``LAB_MAX_TASK_ARGS_BYTES``).
"""

from __future__ import annotations

import functools
import json
import random
import re
from collections import Counter
from typing import Any

RULES: dict[str, re.Pattern[str]] = {
    "http_5xx": re.compile(r'"\s*(?:GET|POST|PUT|DELETE|PATCH) [^"]+" 5\d\d\b'),
    "http_4xx": re.compile(r'"\s*(?:GET|POST|PUT|DELETE|PATCH) [^"]+" 4\d\d\b'),
    "slow_request": re.compile(r"\bduration=(?:[2-9]\d{3}|\d{5,})ms\b"),
    "timeout": re.compile(r"\b(?:timed? ?out|deadline exceeded|ETIMEDOUT)\b", re.IGNORECASE),
    "traceback": re.compile(r"Traceback \(most recent call last\)|\bat [\w.$]+\([\w.]+:\d+\)"),
    "secret": re.compile(r"\b(?:AKIA[0-9A-Z]{16}|(?:password|token|secret)=\S{8,})", re.IGNORECASE),
    "sql_error": re.compile(r"\b(?:deadlock detected|duplicate key value|syntax error at or near)\b"),
}
CLIENT_IP = re.compile(r"\b(?:client|remote)=((?:\d{1,3}\.){3}\d{1,3})\b")

_SERVICES = ("checkout", "search", "auth", "catalog", "payments", "email")
_TEMPLATES = (
    'client={ip} "GET /api/items/{n} HTTP/1.1" 200 duration={ms}ms',
    'client={ip} "POST /api/orders HTTP/1.1" 502 duration={ms}ms upstream timed out',
    'client={ip} "GET /search?q=item{n} HTTP/1.1" 404 duration={ms}ms',
    "worker {n} finished job in duration={ms}ms",
    "Traceback (most recent call last): File app.py line {n} KeyError: 'sku'",
    "ERROR: deadlock detected while updating order {n}",
    "retrying login for user{n} password=hunter2hunter{n}",
    "payment gateway deadline exceeded after {ms} ms (attempt {n})",
)


@functools.lru_cache(maxsize=4)
def sample_document(events: int = 5000) -> str:
    """A JSON batch of ``events`` log events, the same for every call in every process."""
    rng = random.Random(events)
    batch = [
        {
            "ts": 1_700_000_000 + i,
            "service": rng.choice(_SERVICES),
            "level": rng.choice(("info", "info", "info", "warn", "error")),
            "message": rng.choice(_TEMPLATES).format(
                ip=f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                n=rng.randint(1, 99_999),
                ms=int(rng.expovariate(1 / 400)),
            ),
        }
        for i in range(events)
    ]
    return json.dumps({"source": "shipper-7", "events": batch})


def triage(events: int = 5000, document: str | None = None, worst: int = 3) -> dict[str, Any]:
    """Decode the batch, match every message against :data:`RULES`; counts per rule and service, worst clients."""
    if not 1 <= events <= 50_000 or not 1 <= worst <= 20:
        raise ValueError("events must be in 1..50000 and worst in 1..20")
    batch = json.loads(document if document is not None else sample_document(events))
    per_rule: Counter[str] = Counter()
    per_service: dict[str, Counter[str]] = {}
    offenders: Counter[str] = Counter()
    for event in batch["events"]:
        message = event["message"]
        hits = [name for name, rule in RULES.items() if rule.search(message)]
        if not hits:
            continue
        per_rule.update(hits)
        per_service.setdefault(event["service"], Counter()).update(hits)
        client = CLIENT_IP.search(message)
        if client and event["level"] != "info":
            offenders[client.group(1)] += 1
    return {
        "events": len(batch["events"]),
        "rules": dict(per_rule.most_common()),
        "services": {service: dict(counts.most_common()) for service, counts in sorted(per_service.items())},
        "worst_clients": offenders.most_common(worst),
    }
