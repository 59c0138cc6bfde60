// Type-checked (tsc --strict --noEmit) against schema.d.ts, which tests/contract/run.sh generates
// from openapi.yaml with openapi-typescript's default options. Each body carries only the fields
// the spec requires (plus, for create, a couple of optional ones), so a field that a generator
// turns into a required one (a request-side `default:` does that) breaks the build here.
import type { components, paths } from "./schema";

type Schemas = components["schemas"];
type PagosBody = paths["/pagos"]["post"]["requestBody"]["content"]["application/json"];
type PagosOk = paths["/pagos"]["post"]["responses"][200]["content"]["application/json"];

// The README's create: the required fields, and success_url / failure_url.
export const create: Schemas["ConektaCreateRequest"] = {
  provider: "conekta",
  action: "create",
  reference_id: "6588",
  secret: "key_sandbox",
  amount: 1000,
  first_name: "andres",
  last_name: "jaro",
  email: "andres@example.com",
  return_url: "http://127.0.0.1:8090/resultado",
  success_url: "http://127.0.0.1:8090/resultado",
  failure_url: "http://127.0.0.1:8090/resultado",
  notification_url: "http://127.0.0.1:8090/inbox/notify",
};

// Only what create requires; amount as a numeric string.
export const createMinimal: Schemas["ConektaCreateRequest"] = {
  provider: "conekta",
  action: "create",
  reference_id: "6589",
  secret: "key_sandbox",
  amount: "19.99",
  first_name: "andres",
  last_name: "jaro",
  email: "andres@example.com",
  return_url: "https://shop.example",
  notification_url: "https://shop.example/pagos/notify",
};

// The README's reference, with nothing but its required fields (payment_type, min_amount and
// max_amount have defaults the server applies).
export const reference: Schemas["ConektaReferenceRequest"] = {
  provider: "conekta",
  action: "reference",
  reference_id: "cliente-1042",
  secret: "key_sandbox",
  first_name: "Fulanito",
  last_name: "Pérez",
  email: "fulanito@example.com",
  notification_url: "http://127.0.0.1:8090/inbox/notify",
};

export const saveCard: Schemas["ConektaSaveCardRequest"] = {
  provider: "conekta",
  action: "save_card",
  secret: "key_sandbox",
  token_id: "tok_test_visa_4242",
  first_name: "Felipe",
  last_name: "Gomez",
  email: "felipe@example.com",
};

export const charge: Schemas["ConektaChargeRequest"] = {
  provider: "conekta",
  action: "charge",
  secret: "key_sandbox",
  customer_id: "cus_2xKqW1sE7zJ3yQp9A",
  amount: "200.15",
  reference_id: "sub-77",
  notification_url: "http://127.0.0.1:8090/inbox/notify",
};

export const refund: Schemas["ConektaRefundRequest"] = {
  provider: "conekta",
  action: "refund",
  secret: "key_sandbox",
  order_id: "ord_2xKr5cF8aH2jL4nP6",
};

export const split: Schemas["ConektaSplitRequest"] = {
  provider: "conekta",
  action: "split",
  secret: "key_sandbox",
  amount: "500.00",
  reference_id: "split-1",
  first_name: "Nicolás",
  last_name: "Cedrón",
  email: "nico@example.com",
  notification_url: "http://127.0.0.1:8090/inbox/notify",
  charges: [
    { method: "card", amount: "200.00", token_id: "tok_test_visa_4242" },
    { method: "spei", amount: 300 },
  ],
};

const orderId = "ord_2xKr5cF8aH2jL4nP6";
export const status: Schemas["ConektaStatusRequest"] = {
  provider: "conekta", action: "status", secret: "key_sandbox", order_id: orderId,
};
export const cancel: Schemas["ConektaCancelRequest"] = {
  provider: "conekta", action: "cancel", secret: "key_sandbox", order_id: orderId,
};
export const capture: Schemas["ConektaCaptureRequest"] = {
  provider: "conekta", action: "capture", secret: "key_sandbox", order_id: orderId,
};

// Every body above is also what the operation's request body accepts.
export const bodies: PagosBody[] = [
  create, createMinimal, reference, saveCard, charge, split, status, cancel, capture, refund,
];

// What a storefront reads from the answer: the payment link.
export function checkoutUrl(answer: PagosOk): string | undefined {
  return "checkout" in answer && answer.checkout ? answer.checkout.url : undefined;
}
