"""A client generated from openapi.yaml (openapi-python-client) creates a checkout in the sandbox.

Run by tests/contract/run.sh with PAGOS_URL (pagos --sandbox) and PAGOS_SANDBOX_URL (its
simulator) set, and the generated package `pagos_client` installed.
"""

import os
import sys
import time
import uuid

from pagos_client import Client
from pagos_client.api.operations import get_readyz
from pagos_client.api.payments import post_pagos
from pagos_client.models import (
    ConektaCheckout,
    ConektaCreateRequest,
    ConektaCreateRequestAction,
    ConektaCreateRequestProvider,
    ConektaOrder,
    Problem,
    Ready,
)

base_url = os.environ["PAGOS_URL"]
sandbox_url = os.environ["PAGOS_SANDBOX_URL"]
client = Client(base_url=base_url, raise_on_unexpected_status=True, timeout=30.0)


def check(condition: bool, message: str) -> None:
    if not condition:
        print(f"client_test: FAILED: {message}", file=sys.stderr)
        sys.exit(1)


ready = get_readyz.sync_detailed(client=client)
check(ready.status_code == 200 and isinstance(ready.parsed, Ready), f"readyz: {ready}")

reference_id = f"contract-{uuid.uuid4().hex[:12]}"
request = ConektaCreateRequest(
    provider=ConektaCreateRequestProvider.CONEKTA,
    action=ConektaCreateRequestAction.CREATE,
    amount="250.75",
    reference_id=reference_id,
    return_url="https://shop.example",
    notification_url=f"{sandbox_url}/inbox/notify",
    secret="key_contract",
    first_name="Fulanito",
    last_name="Pérez",
    email="fulanito@example.com",
    expires_at=int(time.time()) + 2 * 3600,
)
response = post_pagos.sync_detailed(client=client, body=request)
if isinstance(response.parsed, Problem):
    check(False, f"create answered {response.status_code}: {response.parsed.to_dict()}")
check(response.status_code == 200, f"create answered {response.status_code}: {response.content!r}")

order = response.parsed
check(isinstance(order, ConektaOrder), f"parsed is {type(order).__name__}, not ConektaOrder")
assert isinstance(order, ConektaOrder)  # for type checkers
check(isinstance(order.checkout, ConektaCheckout), f"checkout is {order.checkout!r}")
assert isinstance(order.checkout, ConektaCheckout)
url: str = order.checkout.url
check(url.startswith(sandbox_url + "/"), f"checkout.url {url} is not at the simulator {sandbox_url}")
check(order.amount == 25075, f"amount {order.amount} is not 25075 centavos")
check(order.livemode is False, "a sandbox order must say livemode false")

# The same create again is answered with the stored order (idempotency), still typed.
again = post_pagos.sync_detailed(client=client, body=request)
check(isinstance(again.parsed, ConektaOrder), f"repeat parsed as {type(again.parsed).__name__}")
assert isinstance(again.parsed, ConektaOrder)
check(again.parsed.id == order.id, "a repeated create must answer the same order")

# A bad request is a typed Problem with every bad field named.
bad = ConektaCreateRequest.from_dict({**request.to_dict(), "currency": "mxn", "email": "nope"})
refused = post_pagos.sync_detailed(client=Client(base_url=base_url), body=bad)
check(refused.status_code == 422, f"a bad create answered {refused.status_code}")
check(isinstance(refused.parsed, Problem), f"422 parsed as {type(refused.parsed).__name__}")
assert isinstance(refused.parsed, Problem)
named = sorted(e.field for e in (refused.parsed.errors or []))
check(named == ["currency", "email"], f"422 names {named}")

print(f"client_test: ok, order {order.id}, checkout.url {url}")
