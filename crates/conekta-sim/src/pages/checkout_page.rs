//! The hosted checkout page, in Spanish like Conekta's: the shop's name, the amount and items,
//! when the link expires, and a tab per allowed payment method (card, cash, SPEI), each a plain
//! HTML form. Card numbers are posted to the simulator only.

use super::checkout_style::{brand_mark, shop_header, CARD_MARK, CSS, SPEI_MARK, STORE_MARK};
use super::html::{escape, page};
use super::spanish_date::central_mexico;
use crate::world::cards::TEST_CARDS;
use crate::world::checkout_options::{brand_name, excluded_brands, installment_options};
use crate::world::money::pesos;
use crate::world::orders::{cash_reference, clabe};
use crate::world::state::now;
use serde_json::Value;

/// The methods with a tab, in the order Conekta's checkout shows them.
const TABS: [(&str, &str); 3] = [
    ("card", "Tarjeta"),
    ("cash", "Efectivo"),
    ("bank_transfer", "Transferencia"),
];

/// What every part of the page needs to know about the order.
struct Sale<'a> {
    slug: &'a str,
    shop: &'a str,
    amount: i64,
    currency: &'a str,
    checkout: &'a Value,
    typed: Typed<'a>,
}

/// What the buyer typed in the card form, shown again after a refusal so that only the wrong
/// field needs fixing. The card number and CVC are never echoed back.
#[derive(Default, Clone, Copy)]
pub struct Typed<'a> {
    pub name: &'a str,
    pub expiry: &'a str,
    pub installments: &'a str,
}

impl Sale<'_> {
    /// `$1,000.00 MXN`
    fn total(&self) -> String {
        format!("{} {}", pesos(self.amount), escape(self.currency))
    }
}

/// The page for an order's checkout in `shop`'s name; `notice` is shown above the forms (e.g.
/// a bad card).
pub fn render(order: &Value, shop: &str, notice: Option<&str>) -> String {
    render_typed(order, shop, notice, Typed::default())
}

/// As [`render`], with the card form filled with what the buyer typed.
pub fn render_typed(order: &Value, shop: &str, notice: Option<&str>, typed: Typed) -> String {
    let checkout = &order["checkout"];
    let sale = Sale {
        slug: checkout["slug"].as_str().unwrap_or(""),
        shop,
        amount: order["amount"].as_i64().unwrap_or(0),
        currency: order["currency"].as_str().unwrap_or("MXN"),
        checkout,
        typed,
    };
    let status = order["payment_status"]
        .as_str()
        .unwrap_or("pending_payment");
    let mut payment = String::new();
    if let Some(notice) = notice {
        payment.push_str(&format!(
            "<p class=\"error\" id=\"notice\" role=\"alert\">{}</p>",
            escape(notice)
        ));
    }
    match closed(status, checkout) {
        Some(message) => payment.push_str(&format!("<p class=\"ok\" id=\"status\">{message}</p>")),
        None => {
            if status == "declined" {
                payment.push_str(
                    "<p class=\"error\" id=\"status\">El último intento de pago fue declinado. Puede intentar de nuevo.</p>",
                );
            }
            payment.push_str(&methods(&sale));
        }
    }
    let body = format!(
        "{CSS}{header}<div class=\"checkout\">{summary}<section class=\"payment\">{payment}</section></div>",
        header = shop_header(shop, "Pago seguro con Conekta · modo de prueba"),
        summary = summary(order, &sale),
    );
    page(shop, &body)
}

/// Why the order can no longer be paid, if it cannot.
fn closed(status: &str, checkout: &Value) -> Option<&'static str> {
    match status {
        "paid" | "partially_refunded" | "refunded" => Some("Esta orden ya fue pagada."),
        "pre_authorized" => {
            Some("El pago con tarjeta quedó autorizado; el comercio lo cobrará al confirmar.")
        }
        "canceled" => Some("Esta orden fue cancelada."),
        "expired" => Some("Este enlace de pago expiró."),
        _ if checkout["expires_at"].as_i64().unwrap_or(i64::MAX) < now() => {
            Some("Este enlace de pago expiró.")
        }
        _ => None,
    }
}

/// The amount, the items, the order and when the link expires.
fn summary(order: &Value, sale: &Sale) -> String {
    let items: String = order["line_items"]["data"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|item| {
            let unit = item["unit_price"].as_i64().unwrap_or(0);
            let quantity = item["quantity"].as_i64().unwrap_or(0);
            format!(
                "<li><span>{} × {quantity}</span><span>{}</span></li>",
                escape(item["name"].as_str().unwrap_or("")),
                pesos(unit.saturating_mul(quantity))
            )
        })
        .collect();
    let expiry = sale.checkout["expires_at"]
        .as_i64()
        .map(|at| {
            format!(
                "<p class=\"expiry\" id=\"expiry\">Paga antes del {} (hora del centro de México).</p>",
                central_mexico(at)
            )
        })
        .unwrap_or_default();
    format!(
        "<section class=\"summary\">\
<p class=\"total\" id=\"total\">Total a pagar: {total}</p>\
<ul class=\"items\">{items}</ul>{expiry}\
<p><small>Orden <span class=\"mono\" id=\"order-id\">{order_id}</span></small></p></section>",
        total = sale.total(),
        order_id = escape(order["id"].as_str().unwrap_or("")),
    )
}

/// A tab per method the checkout offers (a radio button and its label each), then the panels.
fn methods(sale: &Sale) -> String {
    let offered: Vec<&str> = sale.checkout["allowed_payment_methods"]
        .as_array()
        .map(|m| m.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let tabs: Vec<(&str, &str)> = TABS
        .into_iter()
        .filter(|(method, _)| offered.contains(method))
        .collect();
    let others: Vec<String> = offered
        .iter()
        .filter(|method| !TABS.iter().any(|(tab, _)| tab == *method))
        .map(|method| escape(method))
        .collect();
    let mut html = String::from("<h2>Elige cómo pagar</h2><div class=\"methods\">");
    for (i, (method, _)) in tabs.iter().enumerate() {
        html.push_str(&format!(
            "<input type=\"radio\" class=\"tab-input\" name=\"metodo\" id=\"tab-{method}\"{}>",
            if i == 0 { " checked" } else { "" }
        ));
    }
    html.push_str("<div class=\"tablist\">");
    for (method, label) in &tabs {
        let mark = match *method {
            "card" => CARD_MARK,
            "cash" => STORE_MARK,
            _ => SPEI_MARK,
        };
        html.push_str(&format!(
            "<label for=\"tab-{method}\" class=\"tab\">{mark}<span>{label}</span></label>"
        ));
    }
    html.push_str("</div>");
    for (method, _) in &tabs {
        html.push_str(&match *method {
            "card" => card_panel(sale),
            "cash" => cash_panel(sale),
            _ => transfer_panel(sale),
        });
    }
    html.push_str("</div>");
    if tabs.is_empty() {
        html.push_str("<p>Esta orden no ofrece métodos de pago que el sandbox simule.</p>");
    }
    if !others.is_empty() {
        html.push_str(&format!(
            "<p class=\"others\">También ofrecido por Conekta, no simulado en el sandbox: {}.</p>",
            others.join(", ")
        ));
    }
    html
}

/// The card form: the networks the checkout takes, its months without interest, and the test
/// cards that fit.
fn card_panel(sale: &Sale) -> String {
    let refused = excluded_brands(sale.checkout);
    let accepted: Vec<&str> = ["visa", "mastercard", "american_express"]
        .into_iter()
        .filter(|brand| !refused.contains(brand))
        .collect();
    if accepted.is_empty() {
        return "<section class=\"panel\" id=\"card\"><p>Este comercio no acepta tarjetas.</p></section>"
            .to_owned();
    }
    let cards: String = TEST_CARDS
        .iter()
        .filter(|(_, brand, _)| accepted.contains(brand))
        .map(|(number, brand, outcome)| {
            format!(
                "<li><code>{number}</code> ({}): {outcome}</li>",
                brand_name(brand)
            )
        })
        .collect();
    let names = accepted
        .iter()
        .map(|brand| brand_name(brand))
        .collect::<Vec<_>>()
        .join(", ");
    let marks: String = accepted.iter().map(|brand| brand_mark(brand)).collect();
    format!(
        "<section class=\"panel\" id=\"card\"><h3>Tarjeta de crédito o débito</h3>\
<div class=\"marks\" id=\"card-marks\">{marks}</div>\
<p id=\"card-networks\" class=\"others\">Se aceptan: {names}.</p>\
<form method=\"post\" action=\"/checkout/{slug}/card\" autocomplete=\"off\">\
<label>Nombre del titular <input name=\"name\" id=\"card-name\" required maxlength=\"100\" autocomplete=\"cc-name\" value=\"{name}\"></label>\
<label>Número de tarjeta <input name=\"number\" id=\"card-number\" required inputmode=\"numeric\" maxlength=\"23\" placeholder=\"4242 4242 4242 4242\"></label>\
<div class=\"row\"><label>Vencimiento <input name=\"expiry\" id=\"card-expiry\" required maxlength=\"7\" placeholder=\"MM/AA\" value=\"{expiry}\"></label>\
<label>CVC <input name=\"cvc\" id=\"card-cvc\" required inputmode=\"numeric\" maxlength=\"4\" placeholder=\"123\"></label></div>\
{installments}<button type=\"submit\" class=\"pay\" id=\"pay-card\">Pagar {total}</button></form>\
<details><summary><small>Tarjetas de prueba</small></summary><ul><small>{cards}</small></ul></details></section>",
        slug = escape(sale.slug),
        installments = installments_choice(sale),
        name = escape(sale.typed.name),
        expiry = escape(sale.typed.expiry),
        total = sale.total(),
    )
}

/// A choice of months without interest, when the checkout offers them, with each month's part.
fn installments_choice(sale: &Sale) -> String {
    let options = installment_options(sale.checkout);
    if options.is_empty() {
        return String::new();
    }
    let choices: String = options
        .iter()
        .filter(|months| **months > 0)
        .map(|months| {
            // Rounded to the nearest centavo, in integers.
            let monthly = (sale.amount * 2 + months) / (2 * months);
            let chosen = if sale.typed.installments.trim() == months.to_string() {
                " selected"
            } else {
                ""
            };
            format!(
                "<option value=\"{months}\"{chosen}>{months} meses sin intereses de {}</option>",
                pesos(monthly)
            )
        })
        .collect();
    format!(
        "<label>Meses sin intereses <select name=\"monthly_installments\" id=\"card-installments\">\
<option value=\"\">Una sola exhibición de {}</option>{choices}</select></label>",
        pesos(sale.amount)
    )
}

/// The cash reference to pay at a store, and the button that simulates paying it.
fn cash_panel(sale: &Sale) -> String {
    let reference = cash_reference(sale.slug);
    format!(
        "<section class=\"panel\" id=\"cash\"><h3>Efectivo en tiendas de conveniencia</h3>\
<ol class=\"steps\"><li>Acude a una tienda participante y di que quieres hacer un pago de Conekta.</li>\
<li>Dicta esta referencia y paga <strong>{total}</strong> en efectivo.</li>\
<li>Conserva tu comprobante: {shop} recibe el aviso en cuanto pagas.</li></ol>\
<p class=\"ref\" id=\"cash-reference\">{reference}</p>\
<img class=\"barcode\" alt=\"código de barras de la referencia\" src=\"/barcode/{reference}\">\
<form method=\"post\" action=\"/checkout/{slug}/cash\"><button type=\"submit\" class=\"pay\" id=\"pay-cash\">simular pago en tienda</button></form>\
</section>",
        total = sale.total(),
        shop = escape(sale.shop),
        slug = escape(sale.slug),
    )
}

/// The CLABE to transfer to by SPEI, and the button that simulates the transfer.
fn transfer_panel(sale: &Sale) -> String {
    format!(
        "<section class=\"panel\" id=\"bank_transfer\"><h3>Transferencia SPEI</h3>\
<p>Desde la app o el portal de tu banco, transfiere <strong>{total}</strong> a:</p>\
<dl class=\"facts\"><dt>CLABE</dt><dd class=\"ref\" id=\"clabe\">{clabe}</dd>\
<dt>Banco</dt><dd>STP</dd><dt>Beneficiario</dt><dd>{shop}</dd><dt>Monto</dt><dd>{total}</dd></dl>\
<form method=\"post\" action=\"/checkout/{slug}/transfer\"><button type=\"submit\" class=\"pay\" id=\"pay-transfer\">simular transferencia</button></form>\
</section>",
        total = sale.total(),
        clabe = clabe(sale.slug),
        shop = escape(sale.shop),
        slug = escape(sale.slug),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn order(methods: Value, installments: Value) -> Value {
        json!({
            "id": "ord_2tUigJ8DgBhbp6w5D", "amount": 100000, "currency": "MXN",
            "payment_status": "pending_payment",
            "customer_info": {"name": "Andrés Comprador"},
            "line_items": {"data": [{"name": "Orden 6588", "unit_price": 100000, "quantity": 1}]},
            "checkout": {"slug": "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6", "expires_at": now() + 3_600,
                         "allowed_payment_methods": methods,
                         "monthly_installments_enabled": installments.is_array(),
                         "monthly_installments_options": installments}
        })
    }

    #[test]
    fn names_the_shop_not_the_order_nor_the_buyer() {
        let page = render(&order(json!(["card"]), Value::Null), "Café <Sur>", None);
        assert!(
            page.contains("<title>Café &lt;Sur&gt; · Conekta sandbox</title>"),
            "{page}"
        );
        assert!(page.contains("<h1 id=\"shop-name\">Café &lt;Sur&gt;</h1>"));
        assert!(
            !page.contains("Andrés Comprador"),
            "the buyer is not the shop"
        );
        assert!(!page.contains("<title>ord_"));
    }

    #[test]
    fn the_pay_button_says_the_amount() {
        let page = render(&order(json!(["card"]), Value::Null), "Tienda", None);
        assert!(page.contains(">Pagar $1,000.00 MXN</button>"), "{page}");
        assert!(page.contains("Total a pagar: $1,000.00 MXN"));
        assert!(page.contains("id=\"expiry\">Paga antes del "));
    }

    #[test]
    fn a_tab_for_each_allowed_method_only() {
        let page = render(
            &order(json!(["cash", "bank_transfer"]), Value::Null),
            "T",
            None,
        );
        assert!(page.contains("for=\"tab-cash\"") && page.contains("for=\"tab-bank_transfer\""));
        assert!(!page.contains("for=\"tab-card\"") && !page.contains("id=\"card\""));
        // The first offered method's tab is the one open.
        assert!(page.contains("id=\"tab-cash\" checked"));
        let all = render(
            &order(
                json!(["card", "cash", "bank_transfer", "bnpl"]),
                Value::Null,
            ),
            "T",
            None,
        );
        for tab in ["card", "cash", "bank_transfer"] {
            assert!(all.contains(&format!("for=\"tab-{tab}\"")), "{tab}");
        }
        assert!(all.contains("no simulado en el sandbox: bnpl"));
    }

    #[test]
    fn installments_only_when_offered() {
        let plain = render(&order(json!(["card"]), Value::Null), "T", None);
        assert!(!plain.contains("card-installments"));
        let msi = render(&order(json!(["card"]), json!([3, 6])), "T", None);
        assert!(
            msi.contains("<option value=\"3\">3 meses sin intereses de $333.33</option>"),
            "{msi}"
        );
        assert!(msi.contains("<option value=\"6\">6 meses sin intereses de $166.67</option>"));
    }

    #[test]
    fn a_refused_card_keeps_the_name_expiry_and_months_but_not_the_number() {
        let typed = Typed {
            name: "Ana \"Prueba\"",
            expiry: "12/40",
            installments: "6",
        };
        let page = render_typed(
            &order(json!(["card"]), json!([3, 6])),
            "T",
            Some("No."),
            typed,
        );
        assert!(page.contains("value=\"Ana &quot;Prueba&quot;\""), "{page}");
        assert!(page.contains("value=\"12/40\""));
        assert!(page.contains("<option value=\"6\" selected>"));
        assert!(page.contains("id=\"notice\" role=\"alert\">No.</p>"));
    }

    #[test]
    fn a_paid_order_offers_no_form() {
        let mut paid = order(json!(["card"]), Value::Null);
        paid["payment_status"] = json!("paid");
        let page = render(&paid, "T", None);
        assert!(page.contains("Esta orden ya fue pagada."));
        assert!(!page.contains("<form"));
    }
}
