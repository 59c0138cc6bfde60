//! `GET /pedido/{id}`: one order as the simulator holds it (amount, status, checkout, charges)
//! with a button per event a developer can make Conekta send for it. Each button posts to
//! `POST /_sandbox/trigger`, shows what happened, and reloads the order.

use super::developer_style::{CSS, LOCAL_TIMES_JS};
use super::html::{escape, html, page};
use super::local_time::time_element;
use crate::server::Simulator;
use crate::world::money::pesos;
use crate::world::transitions::Trigger;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde_json::Value;

/// Posts the button's event, says what came back, and reloads the order once it went out.
const SCRIPT: &str = "<script>\
var result=document.getElementById('result');\
document.getElementById('events').addEventListener('click',function(e){\
var b=e.target.closest('button[data-event]');if(!b)return;\
var buttons=document.querySelectorAll('#events button');buttons.forEach(function(x){x.disabled=true;});\
result.className='result';result.textContent='Enviando '+b.dataset.event+'…';\
fetch('/_sandbox/trigger',{method:'POST',headers:{'content-type':'application/json'},\
body:JSON.stringify({event:b.dataset.event,order_id:b.dataset.order})})\
.then(function(r){return r.json().then(function(a){return {ok:r.ok,a:a};});})\
.then(function(x){if(x.ok){result.className='result ok';\
result.textContent=x.a.type+' enviado a pagos (evento '+x.a.event_id+').';\
setTimeout(function(){location.reload();},1200);}\
else{result.className='result error';result.textContent=x.a.detail||x.a.title;\
buttons.forEach(function(y){y.disabled=false;});}})\
.catch(function(){result.className='result error';result.textContent='El simulador no respondió.';\
buttons.forEach(function(y){y.disabled=false;});});});\
</script>";

pub async fn show(id: web::Path<String>, simulator: web::Data<Simulator>) -> HttpResponse {
    let Some(order) = simulator.world().orders.get(&id).cloned() else {
        let body = format!(
            "<h1>Orden no encontrada</h1><p>El simulador no tiene la orden <code>{}</code> \
(olvida sus órdenes al reiniciarse). <a href=\"/\">Ver las órdenes</a></p>",
            escape(&id)
        );
        return html(StatusCode::NOT_FOUND, page("Orden no encontrada", &body));
    };
    html(StatusCode::OK, page("Orden", &render(&order)))
}

fn render(order: &Value) -> String {
    let text = |value: &Value| escape(value.as_str().unwrap_or("—"));
    let order_id = order["id"].as_str().unwrap_or("");
    let currency = text(&order["currency"]);
    let money = |value: &Value| format!("{} {currency}", pesos(value.as_i64().unwrap_or(0)));
    let charges: String = order["charges"]["data"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|charge| {
            let method = &charge["payment_method"];
            let how = match method["type"].as_str() {
                Some("credit" | "debit") | None if method["last4"].is_string() => {
                    format!("tarjeta •••• {}", text(&method["last4"]))
                }
                Some("cash") => format!("efectivo, referencia {}", text(&method["reference"])),
                Some("spei") => format!("SPEI, CLABE {}", text(&method["clabe"])),
                Some(other) => escape(other),
                None => "—".to_owned(),
            };
            let failure = charge["failure_message"]
                .as_str()
                .map(|m| format!(" · {}", escape(m)))
                .unwrap_or_default();
            format!(
                "<li class=\"charge\"><strong>{}</strong> {} · <span class=\"mono\">{how}</span>{failure}</li>",
                text(&charge["status"]),
                money(&charge["amount"]),
            )
        })
        .collect();
    let charges = if charges.is_empty() {
        "<p>Sin cargos todavía.</p>".to_owned()
    } else {
        format!("<ul>{charges}</ul>")
    };
    let checkout = order["checkout"]["url"]
        .as_str()
        .map(|url| {
            format!(
                "<dt>Checkout</dt><dd><a href=\"{0}\">página de pago</a> ({1})</dd>",
                escape(url),
                text(&order["checkout"]["status"])
            )
        })
        .unwrap_or_default();
    let buttons: String = Trigger::ALL
        .into_iter()
        .map(|t| {
            format!(
                "<button type=\"button\" data-event=\"{name}\" data-order=\"{id}\">{label}<br><small style=\"color:inherit\">{name}</small></button>",
                name = t.name(),
                id = escape(order_id),
                label = t.label()
            )
        })
        .collect();
    format!(
        "{CSS}<h1>Orden <span class=\"mono\">{id}</span></h1>\
<p class=\"total\" id=\"amount\">{amount}</p>\
<dl class=\"facts\"><dt>Estado</dt><dd id=\"payment_status\"><strong>{status}</strong></dd>\
<dt>Reembolsado</dt><dd>{refunded}</dd><dt>Cliente</dt><dd>{customer}</dd>\
<dt>Creada</dt><dd>{created}</dd><dt>Actualizada</dt><dd>{updated}</dd>{checkout}</dl>\
<h2>Cargos</h2>{charges}\
<h2>Enviar un evento de Conekta</h2>\
<p>Cada botón cambia la orden como lo haría Conekta y envía el webhook firmado a pagos. \
Vea lo que pagos notificó en el <a href=\"/inbox\">buzón</a>.</p>\
<div class=\"actions\" id=\"events\">{buttons}</div>\
<p class=\"result\" id=\"result\" role=\"status\"></p>\
<p><a href=\"/\">Todas las órdenes</a></p>\
<script>{LOCAL_TIMES_JS}</script>{SCRIPT}",
        id = escape(order_id),
        amount = money(&order["amount"]),
        status = text(&order["payment_status"]),
        refunded = money(&order["amount_refunded"]),
        customer = text(&order["customer_info"]["email"]),
        created = time_element(order["created_at"].as_i64().unwrap_or(0)),
        updated = time_element(order["updated_at"].as_i64().unwrap_or(0)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shows_money_status_charges_and_one_button_per_event() {
        let order = json!({"id": "ord_1", "amount": 123456, "amount_refunded": 0,
            "currency": "MXN", "payment_status": "declined", "created_at": 1, "updated_at": 2,
            "customer_info": {"email": "a@example.com"},
            "charges": {"data": [{"status": "declined", "amount": 123456,
                "failure_message": "The card was declined.",
                "payment_method": {"type": "credit", "last4": "0002"}}]}});
        let html = render(&order);
        assert!(html.contains("$1,234.56 MXN"));
        assert!(html.contains("<strong>declined</strong>"));
        assert!(html.contains("tarjeta •••• 0002") && html.contains("The card was declined."));
        for trigger in Trigger::ALL {
            assert!(html.contains(&format!("data-event=\"{}\"", trigger.name())));
        }
    }
}
