//! `pagos sandbox trigger EVENT --order ID`: asks a running sandbox's simulator to make that
//! Conekta event happen to one of its orders (`POST /_sandbox/trigger`), as Stripe CLI's
//! `stripe trigger` does.

use super::args::Args;
use super::http::{send, Call};
use super::{env_var, Failure};
use awc::http::Method;
use serde_json::json;

pub struct Trigger {
    event: String,
    order_id: String,
    url: Option<String>,
    json: bool,
}

pub fn parse(words: &[&str]) -> Result<Trigger, Failure> {
    let args = Args::parse(words, &["order", "url"], &["json"])?;
    let [event] = args.positional(["EVENT (e.g. order.paid)"])?;
    let order_id = args
        .value("order")
        .ok_or_else(|| Failure::Usage("--order is missing (the order's id, ord_…)".into()))?;
    Ok(Trigger {
        event: event.to_owned(),
        order_id: order_id.to_owned(),
        url: args.value("url").map(str::to_owned),
        json: args.switch("json"),
    })
}

/// `--url`, else the simulator named by `PAGOS__SANDBOX__HOST` (default 127.0.0.1) and
/// `PAGOS__SANDBOX__PORT`, which a sandbox picks at random unless it is set.
fn simulator_url(given: Option<&str>) -> Result<String, Failure> {
    if let Some(url) = given {
        return Ok(url.trim_end_matches('/').to_owned());
    }
    let port = env_var("PAGOS__SANDBOX__PORT").ok_or_else(|| {
        Failure::Usage(
            "which simulator? give --url (the start banner of `pagos --sandbox` names it) or set \
             PAGOS__SANDBOX__PORT"
                .into(),
        )
    })?;
    let host = env_var("PAGOS__SANDBOX__HOST")
        .filter(|host| host != "0.0.0.0")
        .unwrap_or_else(|| "127.0.0.1".to_owned());
    Ok(format!("http://{host}:{port}"))
}

pub async fn run(trigger: Trigger) -> Result<String, Failure> {
    let url = format!(
        "{}/_sandbox/trigger",
        simulator_url(trigger.url.as_deref())?
    );
    let body = json!({"event": trigger.event, "order_id": trigger.order_id});
    let answer = send(Call {
        method: Method::POST,
        url,
        bearer: None,
        accept: None,
        body: Some(&body),
    })
    .await?;
    if trigger.json {
        return Ok(serde_json::to_string_pretty(&answer).unwrap_or_default());
    }
    Ok(format!(
        "{} sent for {} (event {}); pagos took it in",
        answer["type"].as_str().unwrap_or(&trigger.event),
        answer["order_id"].as_str().unwrap_or(&trigger.order_id),
        answer["event_id"].as_str().unwrap_or("?"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_and_its_order_are_required() {
        let trigger = parse(&["order.expired", "--order", "ord_1"]).unwrap();
        assert_eq!(
            (trigger.event.as_str(), trigger.order_id.as_str()),
            ("order.expired", "ord_1")
        );
        assert!(parse(&["order.expired"]).is_err());
        assert!(parse(&["--order", "ord_1"]).is_err());
        assert_eq!(
            simulator_url(Some("http://127.0.0.1:8090/")).unwrap(),
            "http://127.0.0.1:8090"
        );
    }
}
