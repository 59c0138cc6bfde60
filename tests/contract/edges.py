"""Spec and service agree on the edge cases random generation rarely reaches.

For each request below, openapi.yaml's PagosRequest schema (JSON Schema 2020-12, formats checked)
and the running service must give the same verdict: valid by the spec <=> not refused by pagos as
invalid (a 400 or 422 `invalid-fields`). Accepted requests go on to the sandbox's simulator.
Run by tests/contract/run.sh with PAGOS_URL and PAGOS_SANDBOX_URL set.
"""

import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid

import jsonschema_rs
import yaml

here = os.path.dirname(os.path.abspath(__file__))
with open(os.environ.get("PAGOS_OPENAPI", os.path.join(here, "..", "..", "openapi.yaml")), encoding="utf-8") as f:
    document = yaml.safe_load(f)
validator = jsonschema_rs.Draft202012Validator(
    {"$ref": "#/components/schemas/PagosRequest", "components": document["components"]},
    validate_formats=True,
)
base_url = os.environ["PAGOS_URL"]
sandbox_url = os.environ["PAGOS_SANDBOX_URL"]


def create(**changes):
    request = {
        "provider": "conekta",
        "action": "create",
        "amount": "19.99",
        "reference_id": f"edge-{uuid.uuid4().hex[:12]}",
        "return_url": "https://shop.example",
        "notification_url": f"{sandbox_url}/inbox/notify",
        "secret": "key_contract",
        "first_name": "Fulanito",
        "last_name": "Pérez",
        "email": "fulanito@example.com",
        "expires_at": int(time.time()) + 2 * 3600,
    }
    for key, value in changes.items():
        if value is DROP:
            request.pop(key, None)
        else:
            request[key] = value
    return request


DROP = object()
CASES = [
    ("currency MXN", create(currency="MXN")),
    ("currency USD", create(currency="USD")),
    ("currency lower case", create(currency="mxn")),
    ("currency mixed case", create(currency="Mxn")),
    ("currency with a space", create(currency=" MXN")),
    ("currency of four letters", create(currency="MXNN")),
    ("phone digits", create(phone="+5215512345678")),
    ("phone with separators", create(phone="+52 (55) 5555-5555")),
    ("phone with dots", create(phone="55.1234.5678")),
    ("phone surrounded by spaces", create(phone=" 5512345678 ")),
    ("phone too short", create(phone="12")),
    ("phone of 16 digits", create(phone="1234567890123456")),
    ("phone with letters", create(phone="+52abc5555555")),
    ("secret of 256 characters", create(secret="key_" + "a" * 252)),
    ("secret of 257 characters", create(secret="key_" + "a" * 253)),
    ("secret with a space", create(secret="key_with space")),
    ("secret empty", create(secret="")),
    ("amount 0", create(amount=0)),
    ("amount three decimals", create(amount="1.001")),
    ("amount at the maximum", create(amount=21474836.47)),
    ("amount over the maximum", create(amount=21474836.48)),
    ("amount numeric string", create(amount="250.75")),
    ("amount negative string", create(amount="-1")),
    ("reference_id blank", create(reference_id="   ")),
    ("reference_id with a control character", create(reference_id="a\u0007b")),
    ("first_name blank", create(first_name=" ")),
    ("first_name of 101 characters", create(first_name="x" * 101)),
    ("description of 2 characters", create(description="ab")),
    ("description of 249 characters", create(description="d" * 249)),
    ("notification_url ftp", create(notification_url="ftp://shop.example/n")),
    ("return_url without scheme", create(return_url="shop.example")),
    ("email without domain", create(email="fulanito@")),
    ("allowed_payment_methods empty", create(allowed_payment_methods=[])),
    ("allowed_payment_methods unknown", create(allowed_payment_methods=["bitcoin"])),
    ("expires_at a string", create(expires_at="1900000000")),
    ("no email", create(email=DROP)),
    ("unknown action", create(action="pay")),
    ("unknown provider", create(provider="stripe")),
    ("status with an order id", {"provider": "conekta", "action": "status", "secret": "key_contract", "order_id": "ord_nope"}),
    ("status with a bad order id", {"provider": "conekta", "action": "status", "secret": "key_contract", "order_id": "ord/../x"}),
    ("refund with a blank reason", {"provider": "conekta", "action": "refund", "secret": "key_contract", "order_id": "ord_nope", "reason": " "}),
    ("status with a padded order id", {"provider": "conekta", "action": "status", "secret": "key_contract", "order_id": " ord_nope "}),
    ("notification_url with a leading space", create(notification_url=f" {sandbox_url}/inbox/notify")),
    ("reason padded to 250", {"provider": "conekta", "action": "refund", "secret": "key_contract", "order_id": "ord_nope", "reason": " " + "r" * 249}),
    ("email surrounded by spaces", create(email=" fulanito@example.com ")),
    ("first_name padded past 100", create(first_name="  " + "x" * 100)),
    ("description padded to 4", create(description=" ab ")),
    ("save_card without customer or names", {"provider": "conekta", "action": "save_card", "secret": "key_contract", "token_id": "tok_test_visa_4242"}),
    ("save_card on a customer", {"provider": "conekta", "action": "save_card", "secret": "key_contract", "token_id": "tok_test_visa_4242", "customer_id": "cus_nope"}),
]


def post(body):
    request = urllib.request.Request(
        f"{base_url}/pagos",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


failures = []
for name, body in CASES:
    spec_valid = validator.is_valid(body)
    status, answer = post(body)
    if status >= 500:
        failures.append(f"{name}: answered {status}: {answer}")
        continue
    refused = status == 400 or (
        status == 422 and isinstance(answer, dict) and answer.get("type") == "urn:pagos:problem:invalid-fields"
    )
    if spec_valid == refused:
        verdict = "valid by the spec but refused" if spec_valid else "invalid by the spec but accepted"
        failures.append(f"{name}: {verdict} ({status}: {json.dumps(answer)[:200]})")

if failures:
    print("edges: spec and service disagree:", *failures, sep="\n  ", file=sys.stderr)
    sys.exit(1)
print(f"edges: ok, spec and service agree on {len(CASES)} edge cases")
