//! Reading the parts of a request in the order the contract checks them: query parameters with
//! messages that name them, and bodies read once and judged later (415, then 413, then 400).

use super::ApiError;
use axum::body::Body;
use axum::http::{header, HeaderMap};
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use serde_json::Value;
use std::collections::HashMap;

/// The largest body the API takes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Query parameters; the last value of a repeated name wins, unknown names are ignored.
pub struct Params(HashMap<String, String>);

impl Params {
    pub fn parse(raw: Option<&str>) -> Params {
        Params(
            form_urlencoded::parse(raw.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// An integer parameter within `min..=max`, `default` when absent.
    ///
    /// # Errors
    /// 400 naming the parameter and its range.
    pub fn int(&self, name: &str, default: u64, min: u64, max: u64) -> Result<u64, ApiError> {
        let Some(raw) = self.get(name) else {
            return Ok(default);
        };
        let range = format!("{name} must be an integer from {min} to {max}");
        match raw.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::Invalid(range)),
        }
    }

    /// A `true`/`false` parameter, `false` when absent.
    ///
    /// # Errors
    /// 400 naming the parameter.
    pub fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.get(name) {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(_) => Err(ApiError::Invalid(format!("{name} must be true or false"))),
        }
    }
}

/// A request body, read up to the limit but not yet judged.
pub struct RawBody {
    is_json: bool,
    /// `None` when the body was over the limit (or could not be read).
    bytes: Option<Bytes>,
}

impl RawBody {
    /// Reads at most [`MAX_BODY_BYTES`] (plus one to know it was more).
    pub async fn read(headers: &HeaderMap, body: Body) -> RawBody {
        let is_json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
        let bytes = Limited::new(body, MAX_BODY_BYTES)
            .collect()
            .await
            .ok()
            .map(|c| c.to_bytes());
        RawBody { is_json, bytes }
    }

    /// The body as JSON if it is JSON at all; used only to find a client key early.
    pub fn peek_json(&self) -> Option<Value> {
        match (&self.bytes, self.is_json) {
            (Some(b), true) => serde_json::from_slice(b).ok(),
            _ => None,
        }
    }

    /// The body as JSON, judged in the contract's order.
    ///
    /// # Errors
    /// 415 not `application/json`, 413 over 64 KiB, 400 not valid JSON.
    pub fn json(&self) -> Result<Value, ApiError> {
        if !self.is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = self.bytes.as_ref().ok_or(ApiError::PayloadTooLarge)?;
        serde_json::from_slice(bytes)
            .map_err(|e| ApiError::Invalid(format!("body is not valid JSON: {e}")))
    }
}
