//! Paying a hosted checkout by card: the form's fields, the test card's outcome, the checkout's
//! options (networks it refuses, months without interest), and a hold instead of a payment when
//! the order is `pre_authorize`. Card numbers are only read here: never stored whole or logged.

use super::checkout::{finish, missing, order_for, payable};
use super::checkout_page;
use super::html::html;
use crate::server::Simulator;
use crate::world::cards::{self, CardOutcome, Holder};
use crate::world::checkout_options::{brand_name, excluded_brands, installment_options};
use crate::world::state::now;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
pub struct CardForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    number: String,
    #[serde(default)]
    expiry: String,
    #[serde(default)]
    cvc: String,
    /// Months without interest; empty for a single payment.
    #[serde(default)]
    monthly_installments: String,
}

pub async fn pay_card(
    slug: web::Path<String>,
    form: web::Form<CardForm>,
    simulator: web::Data<Simulator>,
) -> HttpResponse {
    let Some(order) = order_for(&simulator, &slug) else {
        return missing();
    };
    if let Err(page) = payable(&order, &simulator.shop_name, "card") {
        return *page;
    }
    let pre_authorize = simulator
        .world()
        .pre_authorize
        .contains(order["id"].as_str().unwrap_or(""));
    let form = form.into_inner();
    let typed = checkout_page::Typed {
        name: &form.name,
        expiry: &form.expiry,
        installments: &form.monthly_installments,
    };
    let reject = |notice: &str| {
        html(
            StatusCode::UNPROCESSABLE_ENTITY,
            checkout_page::render_typed(&order, &simulator.shop_name, Some(notice), typed),
        )
    };
    let Some((exp_month, exp_year)) = expiry(&form.expiry) else {
        return reject("La fecha de vencimiento no es válida (MM/AA).");
    };
    if form.name.trim().len() < 2 {
        return reject("Escriba el nombre del titular.");
    }
    if !(3..=4).contains(&form.cvc.trim().len())
        || !form.cvc.trim().chars().all(|c| c.is_ascii_digit())
    {
        return reject("El código de seguridad (CVC) no es válido.");
    }
    let Ok(months) = installments(&order["checkout"], &form.monthly_installments) else {
        return reject("Elija uno de los plazos de meses sin intereses que ofrece este comercio.");
    };
    let outcome = cards::by_number(&form.number);
    let brand = match &outcome {
        CardOutcome::Invalid(message) => return reject(message),
        CardOutcome::Approved { brand, .. } | CardOutcome::Declined { brand, .. } => *brand,
    };
    if excluded_brands(&order["checkout"]).contains(&brand) {
        // Refused on the page, as Conekta's checkout refuses the network: nothing is charged.
        return reject(&format!(
            "Este comercio no acepta tarjetas {}. Pague con otra tarjeta u otro método.",
            brand_name(brand)
        ));
    }
    let holder = Holder {
        name: form.name.trim(),
        exp_month: &exp_month,
        exp_year: &exp_year,
    };
    let amount = order["amount"].as_i64().unwrap_or(0);
    let (mut charge, kinds) =
        match cards::card_charge(&order, amount, outcome, &holder, pre_authorize, now()) {
            Ok(made) => made,
            Err(message) => return reject(message),
        };
    if let Some(months) = months {
        charge["monthly_installments"] = json!(months);
    }
    finish(&simulator, &slug, charge, &kinds)
}

/// The buyer's choice of months: `None` for a single payment, or one of the checkout's terms.
fn installments(checkout: &Value, chosen: &str) -> Result<Option<i64>, ()> {
    let chosen = chosen.trim();
    if chosen.is_empty() {
        return Ok(None);
    }
    let months: i64 = chosen.parse().map_err(|_| ())?;
    if installment_options(checkout).contains(&months) {
        Ok(Some(months))
    } else {
        Err(())
    }
}

/// `MM/AA` or `MM/AAAA`, not in the past.
fn expiry(text: &str) -> Option<(String, String)> {
    let (month, year) = text.trim().split_once('/')?;
    let month: u32 = month.trim().parse().ok()?;
    let year: u32 = year.trim().parse().ok()?;
    let year = if year < 100 { 2000 + year } else { year };
    if !(1..=12).contains(&month) || year < 2000 {
        return None;
    }
    let current_year = 1970 + now() / 31_556_952;
    if i64::from(year) < current_year {
        return None;
    }
    Some((format!("{month:02}"), year.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_must_be_on_offer() {
        let checkout = json!({"monthly_installments_enabled": true,
                              "monthly_installments_options": [3, 6]});
        assert_eq!(installments(&checkout, ""), Ok(None));
        assert_eq!(installments(&checkout, "6"), Ok(Some(6)));
        assert!(installments(&checkout, "12").is_err());
        assert!(installments(&checkout, "seis").is_err());
        assert!(installments(&json!({}), "3").is_err());
    }

    #[test]
    fn reads_the_expiry() {
        assert_eq!(expiry("12/40"), Some(("12".into(), "2040".into())));
        assert_eq!(expiry("1/2041"), Some(("01".into(), "2041".into())));
        assert!(expiry("13/40").is_none());
        assert!(expiry("12/01").is_none());
    }
}
