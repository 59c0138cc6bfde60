//! Reading a request body with a hard size limit, answered as problem+json.

use super::problem::Problem;
use actix_web::web;
use futures_util::StreamExt;

pub async fn read_limited(mut payload: web::Payload, limit: usize) -> Result<web::Bytes, Problem> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| match e {
            actix_web::error::PayloadError::Overflow => Problem::body_too_large(limit),
            other => Problem::malformed_body(format!("the body could not be read: {other}")),
        })?;
        if body.len() + chunk.len() > limit {
            return Err(Problem::body_too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}
