//! Plain HTML for the simulator's pages: one layout with the sandbox banner, escaping, the
//! start page and a barcode picture. No scripts fetched from anywhere.

use crate::server::Simulator;
use crate::world::money::pesos;
use actix_web::{web, HttpResponse};

/// Escapes text for HTML bodies and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;background:#f4f5fb;color:#1d1d3b}\
.sandbox{background:#ffcc00;color:#000;padding:.5em 1em;font-weight:bold;text-align:center}\
main{max-width:720px;margin:1.5em auto;background:#fff;border-radius:8px;padding:1.5em 2em;box-shadow:0 1px 4px #0002}\
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.5em}table{border-collapse:collapse;width:100%}\
td,th{border-bottom:1px solid #ddd;padding:.4em;text-align:left}.total{font-size:1.6em;font-weight:bold}\
fieldset{border:1px solid #ccd;border-radius:6px;margin:1em 0;padding:1em}label{display:block;margin:.4em 0}\
input{padding:.4em;font-size:1em}button{background:#0a1a6b;color:#fff;border:0;border-radius:4px;padding:.6em 1.2em;font-size:1em;cursor:pointer}\
.error{background:#fde2e2;color:#8a1111;padding:.6em;border-radius:4px}.ok{background:#e0f5e4;color:#135c22;padding:.6em;border-radius:4px}\
.ref{font-family:monospace;font-size:1.4em;letter-spacing:.1em}pre{background:#f6f6f6;padding:.6em;overflow:auto;font-size:.8em}\
small{color:#555}";

/// A whole page in Spanish with the sandbox banner on top.
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"es\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{} · Conekta sandbox</title>\
<style>{STYLE}</style></head><body>\
<div class=\"sandbox\" id=\"sandbox-banner\">SANDBOX · modo de prueba (livemode: false) · no se mueve dinero real</div>\
<main>{body}</main></body></html>",
        escape(title)
    )
}

pub fn html(status: actix_web::http::StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(body)
}

/// The start page: what the sandbox offers.
pub async fn index(simulator: web::Data<Simulator>) -> HttpResponse {
    let orders = {
        let world = simulator.world();
        let mut rows: Vec<_> = world
            .orders
            .values()
            .map(|o| {
                (
                    o["created_at"].as_i64().unwrap_or(0),
                    format!(
                        "<tr><td><a href=\"/pedido/{0}\">{0}</a></td><td>{1} {2}</td><td>{3}</td><td>{4}</td></tr>",
                        escape(o["id"].as_str().unwrap_or("")),
                        pesos(o["amount"].as_i64().unwrap_or(0)),
                        escape(o["currency"].as_str().unwrap_or("")),
                        escape(o["payment_status"].as_str().unwrap_or("-")),
                        o["checkout"]["url"]
                            .as_str()
                            .map(|u| format!("<a href=\"{0}\">checkout</a>", escape(u)))
                            .unwrap_or_default()
                    ),
                )
            })
            .collect();
        rows.sort_by_key(|row| std::cmp::Reverse(row.0));
        rows.into_iter().map(|(_, r)| r).collect::<String>()
    };
    let body = format!(
        "<h1>Simulador de Conekta</h1>\
<p>Este servidor imita la API de Conekta en modo de prueba. Nada de lo que pasa aquí mueve dinero.</p>\
<ul><li><a href=\"/inbox\">Buzón de notificaciones</a> (use <code>{url}/inbox/notify</code> como <code>notification_url</code>)</li>\
<li><a href=\"/cajero\">Cajero</a>: simular el pago de una referencia en tienda o una transferencia</li></ul>\
<h2>Órdenes</h2><table><tr><th>Orden</th><th>Monto</th><th>Estado</th><th></th></tr>{orders}</table>",
        url = escape(&simulator.url)
    );
    html(actix_web::http::StatusCode::OK, page("Simulador", &body))
}

/// A barcode-looking SVG for a reference (the sandbox's `barcode_url`).
pub async fn barcode(reference: web::Path<String>) -> HttpResponse {
    let digits: String = reference
        .trim_end_matches(".png")
        .chars()
        .filter(char::is_ascii_digit)
        .take(30)
        .collect();
    let mut x = 10;
    let mut bars = String::new();
    for d in digits.bytes() {
        let width = 1 + (d - b'0') % 4;
        bars.push_str(&format!(
            "<rect x=\"{x}\" y=\"5\" width=\"{width}\" height=\"50\"/>"
        ));
        x += width as u32 + 3;
    }
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"75\">{bars}\
<text x=\"10\" y=\"70\" font-family=\"monospace\" font-size=\"12\">{digits}</text></svg>",
        (x + 10).max(20 + 8 * digits.len() as u32)
    );
    HttpResponse::Ok().content_type("image/svg+xml").body(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_text_and_attributes() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
