//! `pagos deliveries list|show|retry|recover`: the admin API (`/admin/deliveries…`) of a running
//! pagos, read as tables.

use super::args::Args;
use super::http::{send, Call};
use super::table::{cut, render, time};
use super::{env_var, since, Failure};
use awc::http::Method;
use serde_json::Value;

const DEFAULT_URL: &str = "http://127.0.0.1:8080";
const TOKEN: &str = "PAGOS__ADMIN__TOKEN";

pub struct Request {
    what: What,
    url: String,
    json: bool,
}

enum What {
    List(Vec<(&'static str, String)>),
    Show(String),
    Retry(String),
    Recover(String),
}

pub fn parse(words: &[&str]) -> Result<Request, Failure> {
    let (verb, rest) = match words {
        [verb, rest @ ..] => (*verb, rest),
        [] => {
            return Err(Failure::Usage(
                "deliveries: list, show, retry or recover?".into(),
            ))
        }
    };
    let filters = ["status", "reference-id", "target", "storefront", "limit"];
    let args = match verb {
        "list" => Args::parse(rest, &[&["url"][..], &filters].concat(), &["json"])?,
        "recover" => Args::parse(rest, &["url", "since"], &["json"])?,
        "show" | "retry" => Args::parse(rest, &["url"], &["json"])?,
        other => {
            return Err(Failure::Usage(format!(
                "deliveries: unknown command `{other}` (list, show, retry, recover)"
            )))
        }
    };
    let what = match verb {
        "list" => {
            args.positional([])?;
            // The admin API's own names: `--reference-id` is `reference_id`.
            let query = filters
                .iter()
                .filter_map(|flag| Some((*flag, args.value(flag)?.to_owned())))
                .map(|(flag, value)| match flag {
                    "reference-id" => ("reference_id", value),
                    other => (other, value),
                })
                .collect();
            What::List(query)
        }
        "show" => What::Show(args.positional(["ID"])?[0].to_owned()),
        "retry" => What::Retry(args.positional(["ID"])?[0].to_owned()),
        _ => {
            args.positional([])?;
            let since = args
                .value("since")
                .ok_or_else(|| Failure::Usage("recover: --since is missing (e.g. 2h)".into()))?;
            What::Recover(since.to_owned())
        }
    };
    Ok(Request {
        what,
        url: args
            .value("url")
            .unwrap_or(DEFAULT_URL)
            .trim_end_matches('/')
            .to_owned(),
        json: args.switch("json"),
    })
}

pub async fn run(request: Request) -> Result<String, Failure> {
    let token = env_var(TOKEN).ok_or_else(|| {
        Failure::Usage(format!(
            "{TOKEN} is not set: the admin API needs its bearer token"
        ))
    })?;
    let admin = format!("{}/admin/deliveries", request.url);
    let (method, url) = match &request.what {
        What::List(query) => {
            let mut pairs = url::form_urlencoded::Serializer::new(String::new());
            pairs.extend_pairs(query.iter().map(|(name, value)| (*name, value.as_str())));
            let query = pairs.finish();
            let joined = if query.is_empty() {
                query
            } else {
                format!("?{query}")
            };
            (Method::GET, format!("{admin}{joined}"))
        }
        What::Show(id) => (Method::GET, format!("{admin}/{}", path_segment(id))),
        What::Retry(id) => (Method::POST, format!("{admin}/{}/retry", path_segment(id))),
        What::Recover(text) => {
            let since = since::parse(text, crate::clock::unix_s())?;
            (Method::POST, format!("{admin}/recover?since={since}"))
        }
    };
    let answer = send(Call {
        method,
        url,
        bearer: Some(&token),
        accept: None,
        body: None,
    })
    .await?;
    if request.json {
        return Ok(serde_json::to_string_pretty(&answer).unwrap_or_default());
    }
    Ok(match &request.what {
        What::List(_) => list_table(&answer),
        What::Show(_) => one(&answer),
        What::Retry(id) => format!("{id}: back in the queue; it is delivered again shortly"),
        What::Recover(_) => match answer["requeued"].as_i64() {
            Some(1) => "1 failed notification back in the queue".to_owned(),
            Some(n) => format!("{n} failed notifications back in the queue"),
            None => answer.to_string(),
        },
    })
}

/// An id as one path segment: whatever was typed, it cannot reach another endpoint.
fn path_segment(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes()).collect()
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or("-").to_owned()
}

/// What a delivery's last attempt got: the status code, the error, or who it waits behind.
fn last_answer(delivery: &Value) -> String {
    if let Some(earlier) = delivery["waiting_behind"].as_str() {
        return format!("waiting behind {earlier}");
    }
    match (
        delivery["last_response_code"].as_i64(),
        delivery["last_error"].as_str(),
    ) {
        (Some(code), _) => code.to_string(),
        (None, Some(error)) => cut(error, 40),
        (None, None) => "-".to_owned(),
    }
}

fn list_table(answer: &Value) -> String {
    let deliveries = answer["deliveries"].as_array().cloned().unwrap_or_default();
    if deliveries.is_empty() {
        return "no notifications match".to_owned();
    }
    let rows: Vec<Vec<String>> = deliveries
        .iter()
        .map(|d| {
            let when = match d["status"].as_str() {
                Some("pending") => d["next_attempt_at"].as_i64(),
                _ => d["finished_at"].as_i64(),
            };
            vec![
                text(&d["id"]),
                text(&d["status"]),
                text(&d["event_type"]),
                text(&d["reference_id"]),
                cut(d["target_url"].as_str().unwrap_or("-"), 40),
                d["attempts"].as_i64().unwrap_or(0).to_string(),
                last_answer(d),
                time(when),
            ]
        })
        .collect();
    render(
        &[
            "ID",
            "STATUS",
            "TYPE",
            "REFERENCE",
            "TARGET",
            "ATTEMPTS",
            "LAST ANSWER",
            "NEXT/DONE",
        ],
        &rows,
    )
}

fn one(delivery: &Value) -> String {
    let mut lines = vec![
        format!("id           {}", text(&delivery["id"])),
        format!("status       {}", text(&delivery["status"])),
        format!("type         {}", text(&delivery["event_type"])),
        format!("reference    {}", text(&delivery["reference_id"])),
        format!(
            "order        {}",
            text(&delivery["notification"]["order_id"])
        ),
        format!("target       {}", text(&delivery["target_url"])),
    ];
    if let Some(storefront) = delivery["storefront"].as_str() {
        lines.push(format!("storefront   {storefront}"));
    }
    lines.push(format!(
        "created      {}",
        time(delivery["created_at"].as_i64())
    ));
    match delivery["status"].as_str() {
        Some("pending") => match delivery["waiting_behind"].as_str() {
            Some(earlier) => lines.push(format!(
                "waiting      behind {earlier} (an earlier notification about the same order)"
            )),
            None => lines.push(format!(
                "next try     {}",
                time(delivery["next_attempt_at"].as_i64())
            )),
        },
        _ => lines.push(format!(
            "finished     {}",
            time(delivery["finished_at"].as_i64())
        )),
    }
    let attempts = delivery["attempt_log"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    lines.push(String::new());
    if attempts.is_empty() {
        lines.push("no attempts yet".to_owned());
    } else {
        let rows: Vec<Vec<String>> = attempts
            .iter()
            .map(|a| {
                vec![
                    a["attempt"].as_i64().unwrap_or(0).to_string(),
                    time(a["at"].as_i64()),
                    format!("{} ms", a["duration_ms"].as_i64().unwrap_or(0)),
                    match (a["response_code"].as_i64(), a["error"].as_str()) {
                        (Some(code), _) => code.to_string(),
                        (None, Some(error)) => error.to_owned(),
                        (None, None) => "-".to_owned(),
                    },
                ]
            })
            .collect();
        lines.push(render(&["ATTEMPT", "AT", "TOOK", "ANSWER"], &rows));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn list_flags_become_the_admin_apis_filters() {
        let request = parse(&[
            "list",
            "--status",
            "failed",
            "--reference-id",
            "6588",
            "--url",
            "http://h:1/",
        ])
        .unwrap();
        assert_eq!(request.url, "http://h:1");
        match request.what {
            What::List(query) => assert_eq!(
                query,
                vec![
                    ("status", "failed".to_owned()),
                    ("reference_id", "6588".to_owned())
                ]
            ),
            _ => panic!("not a list"),
        }
        assert!(parse(&["list", "--reference_id", "1"]).is_err());
        assert!(parse(&["show"]).is_err());
        assert!(parse(&["recover"]).is_err());
        assert!(parse(&["purge"]).is_err());
    }

    #[test]
    fn a_waiting_delivery_says_what_it_waits_for() {
        let waiting = json!({"id": "msg_2", "status": "pending", "event_type": "order.paid",
            "waiting_behind": "msg_1", "attempts": 0, "target_url": "http://s/n",
            "attempt_log": []});
        assert!(one(&waiting).contains("behind msg_1"));
        assert!(list_table(&json!({"deliveries": [waiting]})).contains("waiting behind msg_1"));
    }
}
