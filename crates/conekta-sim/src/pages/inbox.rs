//! The built-in inbox: a `notification_url` on the simulator, so the demo needs no storefront,
//! and a webhook inspector. It verifies each notification's Standard Webhooks signature with the
//! signing secret it was given (`Options::signing_secret`), as a storefront would, and records
//! every arrival and its answer. A developer can switch it to answer 500, time out or 410 to
//! watch the sender retry, and ask the bridge to deliver a notification again ("Reenviar").
//!
//! `POST /inbox/notify` receives; `GET /inbox` is the page, which refreshes its list from
//! `GET /inbox/rows` (the same HTML the page starts with) without reloading; `GET /inbox.json`
//! is the list for programs; `POST /inbox/mode` switches the answer; `POST /inbox/replay/{id}`
//! asks the bridge's admin API to deliver `{id}` again.

use super::developer_style::{CSS, LOCAL_TIMES_JS};
use super::html::{escape, html, page};
use super::local_time::time_element;
use crate::server::Simulator;
use crate::trigger::problem;
use crate::world::money::pesos;
use crate::world::state::{now, InboxAnswer, InboxAttempt, InboxEntry, InboxMode};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;

/// Checks the Standard Webhooks headers with the official library, as a storefront would.
fn verify(
    verifier: Option<&standardwebhooks::Webhook>,
    request: &HttpRequest,
    body: &[u8],
) -> Result<(), String> {
    let verifier = verifier.ok_or("the simulator has no signing secret to verify with")?;
    let mut headers = http::HeaderMap::new();
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        if let Some(value) = request.headers().get(name) {
            let value = http::HeaderValue::from_bytes(value.as_bytes())
                .map_err(|_| format!("the {name} header is not valid"))?;
            headers.insert(name, value);
        }
    }
    verifier
        .verify(body, &headers)
        .map_err(|error| format!("the notification does not verify: {error}"))
}

/// What the inbox answers a notification in `mode`.
fn answer_for(mode: InboxMode, verified: bool) -> InboxAnswer {
    match mode {
        InboxMode::Accept if verified => InboxAnswer::Status(204),
        InboxMode::Accept => InboxAnswer::Status(401),
        InboxMode::Fail => InboxAnswer::Status(500),
        InboxMode::Gone => InboxAnswer::Status(410),
        InboxMode::Hold => InboxAnswer::TimedOut,
    }
}

pub async fn receive(
    request: HttpRequest,
    body: web::Bytes,
    simulator: web::Data<Simulator>,
) -> HttpResponse {
    let checked = verify(simulator.inbox_verifier(), &request, &body);
    let verified = checked.is_ok();
    let id = request
        .headers()
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let answer = {
        let mut world = simulator.world();
        let answer = answer_for(world.inbox_mode, verified);
        if !verified {
            world.inbox_refused += 1;
        }
        let attempt = InboxAttempt { at: now(), answer };
        // At-least-once delivery: a repeated webhook-id is the same notification, arriving again.
        // A forgery is kept apart from the genuine notification whose id it borrows.
        match world
            .inbox
            .iter_mut()
            .find(|e| e.webhook_id == id && e.verified == verified)
        {
            Some(entry) => entry.attempts.push(attempt),
            None => world.inbox.push(InboxEntry {
                webhook_id: id,
                received_at: attempt.at,
                body: parsed,
                verified,
                attempts: vec![attempt],
            }),
        }
        answer
    };
    if let Err(reason) = &checked {
        tracing::warn!(%reason, "sandbox inbox: notification refused");
    }
    match answer {
        InboxAnswer::Status(401) => HttpResponse::Unauthorized()
            .json(json!({"received": false, "reason": checked.err().unwrap_or_default()})),
        InboxAnswer::Status(status) if (200..300).contains(&status) => {
            HttpResponse::NoContent().finish()
        }
        InboxAnswer::Status(status) => {
            HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY))
                .json(json!({"received": false, "reason": "the inbox was switched to answer this"}))
        }
        InboxAnswer::TimedOut => {
            // Longer than the sender waits: it sees a timeout, as with a storefront that hangs.
            actix_web::rt::time::sleep(simulator.inbox_hold).await;
            HttpResponse::GatewayTimeout().finish()
        }
    }
}

#[derive(Deserialize)]
pub struct Filter {
    #[serde(default)]
    reference_id: Option<String>,
}

impl Filter {
    fn wanted(&self) -> Option<&str> {
        self.reference_id
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
    }

    fn admits(&self, entry: &InboxEntry) -> bool {
        self.wanted()
            .is_none_or(|wanted| entry.body["reference_id"].as_str() == Some(wanted))
    }
}

fn answer_json(answer: InboxAnswer) -> Value {
    match answer {
        InboxAnswer::Status(status) => json!(status),
        InboxAnswer::TimedOut => json!("timeout"),
    }
}

pub async fn list(filter: web::Query<Filter>, simulator: web::Data<Simulator>) -> HttpResponse {
    let world = simulator.world();
    let entries: Vec<Value> = world
        .inbox
        .iter()
        .rev()
        .filter(|e| filter.admits(e))
        .map(|e| {
            let attempts: Vec<Value> = e
                .attempts
                .iter()
                .map(|a| json!({"at": a.at, "answer": answer_json(a.answer)}))
                .collect();
            json!({
                "webhook_id": e.webhook_id, "received_at": e.received_at, "verified": e.verified,
                "delivered": e.delivered(), "attempts": attempts, "body": e.body
            })
        })
        .collect();
    HttpResponse::Ok().json(json!({
        "notifications": entries,
        "refused": world.inbox_refused,
        "mode": world.inbox_mode.name(),
    }))
}

/// The list as HTML, newest first: what the page shows and refreshes.
fn rows(simulator: &Simulator, filter: &Filter) -> String {
    let can_replay = simulator.bridge_admin().is_some();
    let world = simulator.world();
    let cards: String = world
        .inbox
        .iter()
        .rev()
        .filter(|e| filter.admits(e))
        .map(|e| card(e, can_replay))
        .collect();
    if cards.is_empty() {
        return "<p id=\"empty\">Todavía no llega ninguna notificación.</p>".to_owned();
    }
    cards
}

/// One notification: what it says, whether it verified, each arrival and its answer.
fn card(entry: &InboxEntry, can_replay: bool) -> String {
    let body = &entry.body;
    let text = |field: &str| escape(body[field].as_str().unwrap_or(""));
    let order_id = body["order_id"].as_str().unwrap_or("");
    let order = if order_id.is_empty() {
        "—".to_owned()
    } else {
        format!(
            "<a class=\"mono\" href=\"/pedido/{0}\">{0}</a>",
            escape(order_id)
        )
    };
    let amount = body["amount_cents"]
        .as_i64()
        .map(|cents| format!("{} {}", pesos(cents), text("currency")))
        .unwrap_or_else(|| "—".to_owned());
    let signature = if entry.verified {
        "<span class=\"badge good signature\">✔ firma válida</span>"
    } else {
        "<span class=\"badge bad signature\">✘ firma inválida</span>"
    };
    let state = if entry.delivered() {
        "<span class=\"badge good state\">entregada</span>"
    } else {
        "<span class=\"badge wait state\">sin entregar</span>"
    };
    let attempts: String = entry
        .attempts
        .iter()
        .map(|a| {
            let answer = match a.answer {
                InboxAnswer::Status(status) => format!("respondió {status}"),
                InboxAnswer::TimedOut => "sin respuesta (tiempo agotado)".to_owned(),
            };
            format!(
                "<li class=\"attempt\" data-answer=\"{}\">{} · {answer}</li>",
                answer_json(a.answer).to_string().trim_matches('"'),
                time_element(a.at)
            )
        })
        .collect();
    let replay = if can_replay && entry.verified && entry.webhook_id.starts_with("msg_") {
        format!(
            "<button type=\"button\" class=\"replay\" data-id=\"{}\">Reenviar</button>",
            escape(&entry.webhook_id)
        )
    } else {
        String::new()
    };
    format!(
        "<article class=\"card notification\" data-id=\"{id}\" data-reference=\"{reference}\">\
<h3><strong class=\"type\">{kind}</strong> {signature} {state}</h3>\
<dl class=\"facts\"><dt>Recibida</dt><dd>{received}</dd>\
<dt>reference_id</dt><dd class=\"mono reference\">{reference}</dd>\
<dt>Orden</dt><dd>{order}</dd><dt>Monto</dt><dd class=\"amount\">{amount}</dd>\
<dt>Estado</dt><dd>{status}</dd><dt>webhook-id</dt><dd class=\"mono\">{id}</dd></dl>\
<p>Intentos ({count}):</p><ol class=\"attempts\">{attempts}</ol>{replay}\
<details><summary>Cuerpo</summary><pre>{json}</pre></details></article>",
        id = escape(&entry.webhook_id),
        reference = text("reference_id"),
        kind = text("type"),
        received = time_element(entry.received_at),
        status = text("payment_status"),
        count = entry.attempts.len(),
        json = escape(&serde_json::to_string_pretty(body).unwrap_or_default()),
    )
}

pub async fn rows_fragment(
    filter: web::Query<Filter>,
    simulator: web::Data<Simulator>,
) -> HttpResponse {
    html(StatusCode::OK, rows(&simulator, &filter))
}

/// Refreshes the list every two seconds (only when it changed, keeping open bodies open),
/// filters it by reference_id, and sends "Reenviar" to the simulator.
const SCRIPT: &str = "<script>\
var list=document.getElementById('notifications'),filter=document.getElementById('reference_id'),\
result=document.getElementById('result'),last=list.innerHTML;\
function refresh(){var q=filter.value.trim();\
fetch('/inbox/rows'+(q?'?reference_id='+encodeURIComponent(q):''),{cache:'no-store'})\
.then(function(r){return r.text();}).then(function(html){if(html===last)return;\
var open=Array.prototype.map.call(list.querySelectorAll('details[open]'),function(d){return d.closest('article').dataset.id;});\
last=html;list.innerHTML=html;localTimes(list);\
open.forEach(function(id){var a=list.querySelector('article[data-id=\"'+id+'\"] details');if(a)a.open=true;});})\
.catch(function(){});}\
setInterval(refresh,2000);\
document.getElementById('filter').addEventListener('submit',function(e){e.preventDefault();\
var q=filter.value.trim();history.replaceState(null,'',q?'?reference_id='+encodeURIComponent(q):'/inbox');refresh();});\
list.addEventListener('click',function(e){var b=e.target.closest('button.replay');if(!b)return;\
b.disabled=true;result.textContent='Pidiendo a pagos que la reenvíe…';\
fetch('/inbox/replay/'+encodeURIComponent(b.dataset.id),{method:'POST'})\
.then(function(r){return r.json();}).then(function(a){result.textContent=a.message||a.detail||'';})\
.catch(function(){result.textContent='El simulador no respondió.';})\
.finally(function(){b.disabled=false;refresh();});});\
</script>";

pub async fn show(filter: web::Query<Filter>, simulator: web::Data<Simulator>) -> HttpResponse {
    let (mode, refused) = {
        let world = simulator.world();
        (world.inbox_mode, world.inbox_refused)
    };
    let switches: String = InboxMode::ALL
        .into_iter()
        .map(|m| {
            let label = match m {
                InboxMode::Accept => "Responder 204 (normal)",
                InboxMode::Fail => "Responder 500",
                InboxMode::Hold => "No responder (timeout)",
                InboxMode::Gone => "Responder 410",
            };
            format!(
                "<button name=\"mode\" value=\"{}\" aria-pressed=\"{}\">{label}</button>",
                m.name(),
                m == mode
            )
        })
        .collect();
    let replay_note = if simulator.bridge_admin().is_some() {
        "«Reenviar» pide a pagos que entregue la notificación otra vez (mismo webhook-id)."
    } else {
        "Para reenviar, el simulador debe correr dentro de <code>pagos --sandbox</code>."
    };
    let body = format!(
        "{CSS}<h1>Buzón de notificaciones</h1>\
<p>Lo que llega a <code>{url}/inbox/notify</code>, verificado con el secreto de firma \
(Standard Webhooks). Se actualiza solo. Rechazadas por firma inválida: <span id=\"refused\">{refused}</span>. \
{replay_note} <a href=\"/\">Órdenes</a></p>\
<form class=\"bar switch\" method=\"post\" action=\"/inbox/mode\" id=\"mode\">\
<span>El buzón responde:</span>{switches}</form>\
<form class=\"bar\" id=\"filter\" method=\"get\" action=\"/inbox\">\
<label for=\"reference_id\" style=\"margin:0\">reference_id</label>\
<input id=\"reference_id\" name=\"reference_id\" value=\"{wanted}\" placeholder=\"p. ej. 6588\" inputmode=\"search\">\
<button>Filtrar</button></form>\
<p class=\"result\" id=\"result\" role=\"status\"></p>\
<section id=\"notifications\">{rows}</section>\
<script>{LOCAL_TIMES_JS}</script>{SCRIPT}",
        url = escape(&simulator.url),
        wanted = escape(filter.wanted().unwrap_or("")),
        rows = rows(&simulator, &filter),
    );
    html(StatusCode::OK, page("Buzón", &body))
}

#[derive(Deserialize)]
pub struct ModeForm {
    mode: String,
}

/// `POST /inbox/mode` (`mode=ok|500|timeout|410`, a form or JSON): how the inbox answers from
/// now on. A form goes back to the page; JSON gets `{"mode"}`.
pub async fn set_mode(
    request: HttpRequest,
    body: web::Bytes,
    simulator: web::Data<Simulator>,
) -> HttpResponse {
    let is_json = request
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    let asked: Option<ModeForm> = if is_json {
        serde_json::from_slice(&body).ok()
    } else {
        mode_from_form(&body)
    };
    let names = InboxMode::ALL.map(InboxMode::name).join(", ");
    let Some(mode) = asked.and_then(|form| InboxMode::parse(form.mode.trim())) else {
        return problem(
            422,
            "Invalid request",
            "the request has invalid fields",
            json!([{"field": "mode", "message": format!("must be one of: {names}")}]),
        );
    };
    simulator.world().inbox_mode = mode;
    tracing::info!(mode = mode.name(), "sandbox inbox: answer switched");
    if is_json {
        HttpResponse::Ok().json(json!({"mode": mode.name()}))
    } else {
        HttpResponse::SeeOther()
            .insert_header(("Location", "/inbox"))
            .finish()
    }
}

/// `mode=…` from a form body.
fn mode_from_form(body: &[u8]) -> Option<ModeForm> {
    url::form_urlencoded::parse(body)
        .find(|(key, _)| key == "mode")
        .map(|(_, value)| ModeForm {
            mode: value.into_owned(),
        })
}

/// How long the bridge's admin API may take to answer a replay.
const REPLAY_BUDGET: Duration = Duration::from_secs(5);

/// `POST /inbox/replay/{id}`: asks the bridge (`POST /admin/deliveries/{id}/retry`, with the
/// admin token the bridge handed over) to deliver the notification again; answers what the
/// bridge said, in words for the page.
pub async fn replay(id: web::Path<String>, simulator: web::Data<Simulator>) -> HttpResponse {
    let id = id.into_inner();
    if id.is_empty()
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return problem(
            422,
            "Invalid request",
            "the notification id is not one pagos makes",
            json!([{"field": "id", "message": "must be a webhook-id such as msg_…"}]),
        );
    }
    let Some(admin) = simulator.bridge_admin() else {
        return problem(
            503,
            "Service unavailable",
            "this simulator does not know pagos's admin API: run it with pagos --sandbox",
            Value::Null,
        );
    };
    let client = awc::Client::builder().timeout(REPLAY_BUDGET).finish();
    let sent = client
        .post(format!("{}/admin/deliveries/{id}/retry", admin.url))
        .bearer_auth(&admin.token)
        .send()
        .await;
    let status = match sent {
        Ok(response) => response.status().as_u16(),
        Err(error) => {
            return problem(
                502,
                "Bad gateway",
                &format!("pagos did not answer: {error}"),
                Value::Null,
            )
        }
    };
    let (answer, message) = match status {
        200..=299 => (
            StatusCode::OK,
            "pagos la enviará otra vez en unos segundos.",
        ),
        409 => (
            StatusCode::CONFLICT,
            "pagos ya tiene programado el próximo intento de esta notificación; espere a que llegue.",
        ),
        404 => (StatusCode::NOT_FOUND, "pagos no conoce esta notificación."),
        _ => (
            StatusCode::BAD_GATEWAY,
            "pagos no aceptó reenviarla; vea su registro.",
        ),
    };
    tracing::info!(webhook_id = %id, status, "sandbox inbox: replay asked");
    HttpResponse::build(answer).json(json!({"id": id, "pagos_status": status, "message": message}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_mode_answers_as_it_says() {
        assert_eq!(
            answer_for(InboxMode::Accept, true),
            InboxAnswer::Status(204)
        );
        assert_eq!(
            answer_for(InboxMode::Accept, false),
            InboxAnswer::Status(401)
        );
        assert_eq!(answer_for(InboxMode::Fail, true), InboxAnswer::Status(500));
        assert_eq!(answer_for(InboxMode::Gone, true), InboxAnswer::Status(410));
        assert_eq!(answer_for(InboxMode::Hold, true), InboxAnswer::TimedOut);
        for mode in InboxMode::ALL {
            assert_eq!(InboxMode::parse(mode.name()), Some(mode));
        }
    }

    #[test]
    fn a_card_shows_every_attempt_and_links_the_order() {
        let entry = InboxEntry {
            webhook_id: "msg_1".into(),
            received_at: 0,
            body: json!({"type": "order.expired", "reference_id": "<r>", "order_id": "ord_1",
                         "amount_cents": 100000, "currency": "MXN", "payment_status": "expired"}),
            verified: true,
            attempts: vec![
                InboxAttempt {
                    at: 0,
                    answer: InboxAnswer::Status(500),
                },
                InboxAttempt {
                    at: 2,
                    answer: InboxAnswer::Status(204),
                },
            ],
        };
        let html = card(&entry, true);
        assert!(html.contains("href=\"/pedido/ord_1\""));
        assert!(html.contains("$1,000.00 MXN"));
        assert!(html.contains("&lt;r&gt;") && !html.contains("<r>"));
        assert!(html.contains("respondió 500") && html.contains("respondió 204"));
        assert!(html.contains("entregada") && html.contains("data-id=\"msg_1\""));
        assert!(html.contains("data-unix=\"2\""));
        assert!(!card(&entry, false).contains("class=\"replay\""));
    }
}
