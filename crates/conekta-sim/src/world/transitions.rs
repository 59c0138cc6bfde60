//! The events a developer can make the simulator send for an order (`pagos sandbox trigger`, the
//! order page's buttons), and how each changes the order as Conekta would before its event goes
//! out. An event the order's state rules out (a refund of an unpaid order, a payment of a
//! canceled one) changes nothing and says why.

use crate::world::orders;
use serde_json::{json, Value};

/// One event a developer may trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Paid,
    Expired,
    Canceled,
    Refunded,
    ChargedBack,
    ChargeDeclined,
}

impl Trigger {
    pub const ALL: [Trigger; 6] = [
        Trigger::Paid,
        Trigger::Expired,
        Trigger::Canceled,
        Trigger::Refunded,
        Trigger::ChargedBack,
        Trigger::ChargeDeclined,
    ];

    /// Conekta's event type.
    pub fn name(self) -> &'static str {
        match self {
            Trigger::Paid => "order.paid",
            Trigger::Expired => "order.expired",
            Trigger::Canceled => "order.canceled",
            Trigger::Refunded => "order.refunded",
            Trigger::ChargedBack => "order.charged_back",
            Trigger::ChargeDeclined => "charge.declined",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The supported event types, comma-separated, for messages.
    pub fn names() -> String {
        Self::ALL.map(Trigger::name).join(", ")
    }

    /// What the order page's button says.
    pub fn label(self) -> &'static str {
        match self {
            Trigger::Paid => "Marcar como pagada",
            Trigger::Expired => "Hacer expirar",
            Trigger::Canceled => "Cancelar",
            Trigger::Refunded => "Reembolsar todo",
            Trigger::ChargedBack => "Contracargo",
            Trigger::ChargeDeclined => "Rechazar un cargo",
        }
    }
}

/// Why an event cannot happen to an order in its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Impossible {
    pub status: String,
    pub reason: String,
}

/// Statuses of an order nobody has paid yet (a checkout waiting, or one whose card was declined).
fn unpaid(status: &str) -> bool {
    matches!(status, "" | "pending_payment" | "declined")
}

/// Changes `order` as Conekta would for `trigger` and returns the object its event carries (the
/// order, or the declined charge for `charge.declined`).
pub fn apply(order: &mut Value, trigger: Trigger, now: i64) -> Result<Value, Impossible> {
    let status = order["payment_status"].as_str().unwrap_or("").to_owned();
    let refuse = |reason: &str| {
        Err(Impossible {
            status: if status.is_empty() {
                "null".to_owned()
            } else {
                status.clone()
            },
            reason: reason.to_owned(),
        })
    };
    match trigger {
        Trigger::Paid if unpaid(&status) => Ok(pay(order, now)),
        Trigger::Paid => refuse("only an unpaid order can be paid"),
        Trigger::Expired if unpaid(&status) => Ok(close(order, "expired", "Expired", now)),
        Trigger::Expired => refuse("only an unpaid order can expire"),
        Trigger::Canceled if unpaid(&status) || status == "pre_authorized" => {
            Ok(close(order, "canceled", "Cancelled", now))
        }
        Trigger::Canceled => refuse("only an unpaid or pre-authorized order can be canceled"),
        Trigger::Refunded if matches!(status.as_str(), "paid" | "partially_refunded") => {
            let left = orders::refundable(order);
            orders::refund(order, left, None, now);
            Ok(order.clone())
        }
        Trigger::Refunded => refuse("only a paid order can be refunded"),
        Trigger::ChargedBack if status == "paid" => Ok(charge_back(order, now)),
        Trigger::ChargedBack => refuse("only a paid order can be charged back"),
        Trigger::ChargeDeclined if unpaid(&status) => Ok(decline(order, now)),
        Trigger::ChargeDeclined => refuse("only an unpaid order can have a charge declined"),
    }
}

/// Pays what the order waits for: its pending cash/SPEI charges, or else a test card's charge.
fn pay(order: &mut Value, now: i64) -> Value {
    drop_declined(order);
    let mut paid_pending = false;
    for charge in charges_mut(order).filter(|c| c["status"] == "pending_payment") {
        charge["status"] = json!("paid");
        charge["paid_at"] = json!(now);
        paid_pending = true;
    }
    if !paid_pending {
        let amount = order["amount"].as_i64().unwrap_or(0);
        let method = orders::card_method("visa", "4242", "Cliente de prueba", "12", "30");
        let charge = orders::charge(order, amount, method, "paid", now);
        orders::add_charge(order, charge);
    }
    orders::settle(order, now);
    order.clone()
}

/// Expiry and cancellation: the order, its checkout and whatever it still waited for or held.
fn close(order: &mut Value, status: &str, checkout_status: &str, now: i64) -> Value {
    order["payment_status"] = json!(status);
    order["is_refundable"] = json!(false);
    order["updated_at"] = json!(now);
    if order["checkout"].is_object() {
        order["checkout"]["status"] = json!(checkout_status);
    }
    let charge_status = if status == "expired" {
        "expired"
    } else {
        "canceled"
    };
    for charge in charges_mut(order)
        .filter(|c| c["status"] == "pending_payment" || c["status"] == "pre_authorized")
    {
        charge["status"] = json!(charge_status);
    }
    order.clone()
}

/// The buyer's bank took the money back: every paid charge and the order are `charged_back`.
fn charge_back(order: &mut Value, now: i64) -> Value {
    for charge in charges_mut(order).filter(|c| c["status"] == "paid") {
        charge["status"] = json!("charged_back");
    }
    order["payment_status"] = json!("charged_back");
    order["is_refundable"] = json!(false);
    order["updated_at"] = json!(now);
    order.clone()
}

/// A card attempt the bank declined, as the test card 4000 0000 0000 0002 makes; the order
/// becomes `declined` (a later payment replaces the attempt, as on the checkout page).
fn decline(order: &mut Value, now: i64) -> Value {
    drop_declined(order);
    let amount = order["amount"].as_i64().unwrap_or(0);
    let method = orders::card_method("visa", "0002", "Cliente de prueba", "12", "30");
    let mut charge = orders::charge(order, amount, method, "declined", now);
    charge["failure_code"] = json!("card_declined");
    charge["failure_message"] = json!("The card was declined.");
    orders::add_charge(order, charge.clone());
    orders::settle(order, now);
    charge
}

fn charges_mut(order: &mut Value) -> impl Iterator<Item = &mut Value> {
    order
        .pointer_mut("/charges/data")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
}

fn drop_declined(order: &mut Value) {
    if let Some(list) = order
        .pointer_mut("/charges/data")
        .and_then(Value::as_array_mut)
    {
        list.retain(|c| c["status"] != "declined");
        let total = list.len();
        order["charges"]["total"] = json!(total);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkout_order() -> Value {
        json!({"id": "ord_1", "amount": 100000, "amount_refunded": 0, "currency": "MXN",
               "customer_info": {"customer_id": "cus_1"}, "payment_status": "pending_payment",
               "checkout": {"status": "Issued"}})
    }

    fn apply_all(order: &mut Value, triggers: &[Trigger]) -> Result<Value, Impossible> {
        let mut last = Value::Null;
        for trigger in triggers {
            last = apply(order, *trigger, 7)?;
        }
        Ok(last)
    }

    #[test]
    fn every_event_has_one_name() {
        for trigger in Trigger::ALL {
            assert_eq!(Trigger::parse(trigger.name()), Some(trigger));
        }
        assert_eq!(Trigger::parse("order.updated"), None);
        assert_eq!(
            Trigger::names(),
            "order.paid, order.expired, order.canceled, order.refunded, order.charged_back, charge.declined"
        );
    }

    #[test]
    fn paying_adds_a_paid_charge_for_the_whole_amount() {
        let mut order = checkout_order();
        let object = apply(&mut order, Trigger::Paid, 7).unwrap();
        assert_eq!(object["payment_status"], "paid");
        assert_eq!(order["charges"]["data"][0]["status"], "paid");
        assert_eq!(order["charges"]["data"][0]["amount"], 100000);
        assert_eq!(order["charges"]["data"][0]["paid_at"], 7);
        assert_eq!(order["checkout"]["status"], "Finished");
        assert_eq!(order["is_refundable"], true);
    }

    #[test]
    fn paying_settles_a_pending_cash_charge_instead_of_adding_one() {
        let mut order = checkout_order();
        let method = orders::cash_method("93001234567890", 99, "http://sim");
        let pending = orders::charge(&order, 100000, method, "pending_payment", 1);
        orders::add_charge(&mut order, pending);
        apply(&mut order, Trigger::Paid, 7).unwrap();
        assert_eq!(order["charges"]["total"], 1);
        assert_eq!(order["charges"]["data"][0]["status"], "paid");
        assert_eq!(
            order["charges"]["data"][0]["payment_method"]["type"],
            "cash"
        );
    }

    #[test]
    fn expiring_closes_the_checkout_and_its_pending_charges() {
        let mut order = checkout_order();
        let method = orders::spei_method("646180123456789012", 99);
        let pending = orders::charge(&order, 100000, method, "pending_payment", 1);
        orders::add_charge(&mut order, pending);
        apply(&mut order, Trigger::Expired, 7).unwrap();
        assert_eq!(order["payment_status"], "expired");
        assert_eq!(order["checkout"]["status"], "Expired");
        assert_eq!(order["charges"]["data"][0]["status"], "expired");
    }

    #[test]
    fn canceling_releases_a_hold() {
        let mut order = checkout_order();
        let method = orders::card_method("visa", "4242", "Ana", "12", "30");
        let held = orders::charge(&order, 100000, method, "pre_authorized", 1);
        orders::add_charge(&mut order, held);
        orders::settle(&mut order, 1);
        assert_eq!(order["payment_status"], "pre_authorized");
        apply(&mut order, Trigger::Canceled, 7).unwrap();
        assert_eq!(order["payment_status"], "canceled");
        assert_eq!(order["checkout"]["status"], "Cancelled");
        assert_eq!(order["charges"]["data"][0]["status"], "canceled");
    }

    #[test]
    fn a_refund_returns_what_is_left_and_is_recorded_on_the_charge() {
        let mut order = checkout_order();
        apply(&mut order, Trigger::Paid, 7).unwrap();
        orders::refund(&mut order, 30000, None, 8);
        apply(&mut order, Trigger::Refunded, 9).unwrap();
        assert_eq!(order["payment_status"], "refunded");
        assert_eq!(order["amount_refunded"], 100000);
        let refunds = &order["charges"]["data"][0]["refunds"]["data"];
        assert_eq!(refunds[0]["amount"], -30000);
        assert_eq!(refunds[1]["amount"], -70000);
        assert_eq!(order["charges"]["data"][0]["status"], "refunded");
    }

    #[test]
    fn a_charge_back_takes_a_paid_order() {
        let mut order = checkout_order();
        apply_all(&mut order, &[Trigger::Paid, Trigger::ChargedBack]).unwrap();
        assert_eq!(order["payment_status"], "charged_back");
        assert_eq!(order["charges"]["data"][0]["status"], "charged_back");
        assert_eq!(order["is_refundable"], false);
    }

    #[test]
    fn a_declined_charge_makes_the_order_declined_and_a_payment_replaces_it() {
        let mut order = checkout_order();
        let charge = apply(&mut order, Trigger::ChargeDeclined, 7).unwrap();
        assert_eq!(charge["object"], "charge");
        assert_eq!(charge["status"], "declined");
        assert_eq!(charge["failure_code"], "card_declined");
        assert_eq!(charge["order_id"], "ord_1");
        assert_eq!(order["payment_status"], "declined");
        apply(&mut order, Trigger::Paid, 8).unwrap();
        assert_eq!(order["payment_status"], "paid");
        assert_eq!(order["charges"]["total"], 1);
    }

    #[test]
    fn impossible_events_change_nothing_and_say_why() {
        let cases: &[(&[Trigger], Trigger, &str)] = &[
            (&[], Trigger::Refunded, "pending_payment"),
            (&[], Trigger::ChargedBack, "pending_payment"),
            (&[Trigger::Canceled], Trigger::Paid, "canceled"),
            (&[Trigger::Expired], Trigger::Canceled, "expired"),
            (&[Trigger::Paid], Trigger::Paid, "paid"),
            (&[Trigger::Paid], Trigger::Expired, "paid"),
            (&[Trigger::Paid], Trigger::ChargeDeclined, "paid"),
            (
                &[Trigger::Paid, Trigger::Refunded],
                Trigger::Refunded,
                "refunded",
            ),
            (
                &[Trigger::Paid, Trigger::ChargedBack],
                Trigger::Refunded,
                "charged_back",
            ),
        ];
        for (before, trigger, status) in cases {
            let mut order = checkout_order();
            apply_all(&mut order, before).unwrap();
            let unchanged = order.clone();
            let refused = apply(&mut order, *trigger, 9).unwrap_err();
            assert_eq!(refused.status, *status, "{trigger:?} after {before:?}");
            assert!(!refused.reason.is_empty());
            assert_eq!(order, unchanged, "{trigger:?} after {before:?}");
        }
    }
}
