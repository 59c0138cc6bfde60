//! `status`, `cancel` and `capture`: an existing order, looked up, cancelled, or its held card
//! payment taken.

use super::claim_flow::provider_error;
use super::client::ConektaAnswer;
use super::request_key::KeyedAttempt;
use super::requests::{CaptureRequest, OrderRequest};
use super::wire::orders::{CaptureRequest as WireCapture, PaymentView};
use super::ConektaProvider;
use crate::providers::{ActionError, ActionReply};
use serde_json::{Map, Value};

pub fn reply(answer: ConektaAnswer) -> ActionReply {
    ActionReply { body: answer.text }
}

/// What pagos reads of an order before acting on its money.
pub fn payment_view(answer: &ConektaAnswer) -> Result<PaymentView, ActionError> {
    serde_json::from_str::<PaymentView>(&answer.text).map_err(|e| {
        ActionError::ProviderUnavailable(format!(
            "Conekta answered an order pagos cannot read: {e}"
        ))
    })
}

pub async fn status(
    provider: &ConektaProvider,
    fields: Map<String, Value>,
) -> Result<ActionReply, ActionError> {
    let request = OrderRequest::parse(&fields).map_err(ActionError::InvalidFields)?;
    provider
        .client()
        .get(&request.path(), &request.secret)
        .await
        .map(reply)
        .map_err(provider_error)
}

/// After an unknown outcome under an `Idempotency-Key`, the order as it stands if it already
/// shows `done_status`: cancelling or capturing again is then not needed.
async fn already(
    provider: &ConektaProvider,
    request: &OrderRequest,
    keyed: Option<&mut KeyedAttempt<'_>>,
    done_status: &str,
) -> Result<Option<ActionReply>, ActionError> {
    if keyed.is_none_or(|keyed| keyed.earlier.is_none()) {
        return Ok(None);
    }
    let order = provider
        .client()
        .get(&request.path(), &request.secret)
        .await
        .map_err(provider_error)?;
    let status = payment_view(&order)?.payment_status;
    Ok((status.as_deref() == Some(done_status)).then(|| reply(order)))
}

/// Cancelling moves no money and a cancelled order stays cancelled.
pub async fn cancel(
    provider: &ConektaProvider,
    fields: Map<String, Value>,
    keyed: Option<&mut KeyedAttempt<'_>>,
) -> Result<ActionReply, ActionError> {
    let request = OrderRequest::parse(&fields).map_err(ActionError::InvalidFields)?;
    if let Some(done) = already(provider, &request, keyed, "canceled").await? {
        return Ok(done);
    }
    provider
        .client()
        .post_empty(&format!("{}/cancel", request.path()), &request.secret)
        .await
        .map(reply)
        .map_err(provider_error)
}

/// Takes a pre-authorized order's held card payment: `amount`, or all of it. A captured order
/// is paid, so a repeat under its key finds it paid and does not capture again.
pub async fn capture(
    provider: &ConektaProvider,
    fields: Map<String, Value>,
    keyed: Option<&mut KeyedAttempt<'_>>,
) -> Result<ActionReply, ActionError> {
    let request = CaptureRequest::parse(&fields).map_err(ActionError::InvalidFields)?;
    if let Some(done) = already(provider, &request.order, keyed, "paid").await? {
        return Ok(done);
    }
    let client = provider.client();
    let order = client
        .get(&request.order.path(), &request.order.secret)
        .await
        .map_err(provider_error)?;
    let order = payment_view(&order)?;
    if order.payment_status.as_deref() != Some("pre_authorized") {
        return Err(ActionError::field(
            "order_id",
            "is not pre-authorized: only an order made with pre_authorize can be captured",
        ));
    }
    let amount = match request.amount.map(|a| a.centavos()) {
        Some(asked) if asked > order.amount => {
            return Err(ActionError::field(
                "amount",
                format!(
                    "is more than was pre-authorized ({})",
                    rust_decimal::Decimal::new(order.amount, 2)
                ),
            ))
        }
        Some(asked) => asked,
        None => order.amount,
    };
    client
        .post(
            &format!("{}/capture", request.order.path()),
            &request.order.secret,
            None,
            &WireCapture { amount },
        )
        .await
        .map(reply)
        .map_err(provider_error)
}
