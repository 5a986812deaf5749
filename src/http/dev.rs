//! The `--dev` test routes: a sample conversation in one call, the socket registry's state, and
//! tokens minted with the server's secret (for the UI's sign-in form and browser tests).
//! Everything they create goes through the log like any other write.

use super::extract::RawBody;
use super::{ok, ApiError};
use crate::auth::{Caller, Claims};
use crate::command::{bookings, conversations, messages};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use concierge_events::{ids, MessageType, Role};
use serde_json::{json, Map, Value};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/test/test-messaging", post(test_messaging))
        .route("/test/socket-status", get(socket_status))
        .route("/test/token", post(token))
}

fn dev_caller(user_id: &str, role: Role, name: &str) -> Caller {
    Caller {
        user_id: user_id.to_string(),
        role,
        name: Some(name.to_string()),
        bookings: Vec::new(),
        exp: u64::MAX,
    }
}

/// Registers a sample booking for `cus_test`, opens its conversation and sends one message.
async fn test_messaging(State(app): State<AppState>) -> Result<Response, ApiError> {
    let suffix = ulid::Ulid::new().to_string().to_lowercase();
    let booking_id = format!("bk_test_{suffix}");
    let service = dev_caller("concierge-dev", Role::Service, "Concierge dev");
    let customer = dev_caller("cus_test", Role::Customer, "Test Customer");
    let (booking, _) = bookings::register(&app, &service, &booking_id, || {
        Ok::<_, ApiError>(bookings::RegisterInput {
            customer_id: customer.user_id.clone(),
            title: Some("Sample booking".into()),
        })
    })
    .await?;
    let (conv, _) = conversations::get_or_create(&app, &customer, &booking_id).await?;
    let (message, _) = messages::send(&app, &customer, &conv.id, None, || {
        Ok::<_, ApiError>(messages::SendInput {
            content: "Hello! This is a test message.".into(),
            message_type: MessageType::Text,
            reply_to: None,
            attachments: Vec::new(),
            client_message_id: None,
            internal: false,
        })
    })
    .await?;
    let conv = app.views.views().conversation(&conv.id)?.unwrap_or(conv);
    Ok(ok(
        StatusCode::CREATED,
        "Test data created",
        json!({
            "booking": {
                "bookingId": booking.booking_id,
                "customerId": booking.customer_id,
                "title": booking.display_title(),
            },
            "conversation": crate::render::conversation(&conv, &customer.user_id, &app.realtime.presence),
            "message": message,
        }),
    ))
}

/// This node's socket count and the users online cluster-wide.
async fn socket_status(State(app): State<AppState>) -> Response {
    let mut online: Vec<String> = app.realtime.presence.online().into_keys().collect();
    online.sort();
    ok(
        StatusCode::OK,
        "Socket status",
        json!({
            "initialized": true,
            "connections": app.realtime.registry.connections(),
            "onlineUsers": online,
        }),
    )
}

/// Lifetime of a minted token when the body names none: a day.
const DEFAULT_TTL_SECS: u64 = 86_400;
/// The longest lifetime a minted token may have: a week.
const MAX_TTL_SECS: u64 = 604_800;
/// Caps that keep a minted token well under the 8 KiB the server accepts.
const MAX_NAME_CHARS: usize = 100;
const MAX_BOOKINGS: usize = 20;

/// What `POST /test/token` mints: the claims of `concierge token`, checked the same way.
#[derive(Debug, PartialEq)]
struct TokenRequest {
    sub: String,
    role: String,
    name: Option<String>,
    bookings: Vec<String>,
    ttl: u64,
}

/// Reads `{sub, role, name?, bookings?, ttl?}`; a blank `name` counts as none (as the server
/// reads a token's name).
///
/// # Errors
/// 400 naming the first field that is missing or wrong.
fn parse_token_request(body: &Value) -> Result<TokenRequest, ApiError> {
    let invalid = |m: &str| ApiError::Invalid(m.to_string());
    let obj = body
        .as_object()
        .ok_or_else(|| invalid("body must be a JSON object"))?;
    let sub = match obj.get("sub") {
        None | Some(Value::Null) => return Err(invalid("sub is required")),
        Some(Value::String(s)) if ids::is_external(s) => s.clone(),
        Some(_) => return Err(invalid("sub must be 1-128 characters of [A-Za-z0-9._:@-]")),
    };
    let role = match obj.get("role") {
        None | Some(Value::Null) => return Err(invalid("role is required")),
        Some(Value::String(r)) if matches!(r.as_str(), "customer" | "admin" | "service") => {
            r.clone()
        }
        Some(_) => return Err(invalid("role must be customer, admin or service")),
    };
    let name = match obj.get("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(n))
            if n.chars().count() <= MAX_NAME_CHARS && !n.chars().any(char::is_control) =>
        {
            Some(n.trim().to_string()).filter(|n| !n.is_empty())
        }
        Some(_) => {
            return Err(ApiError::Invalid(format!(
                "name must be a string of at most {MAX_NAME_CHARS} characters without control characters"
            )))
        }
    };
    let bookings = parse_bookings(obj)?;
    let ttl = match obj.get("ttl") {
        None | Some(Value::Null) => DEFAULT_TTL_SECS,
        Some(v) => v
            .as_u64()
            .filter(|t| (1..=MAX_TTL_SECS).contains(t))
            .ok_or_else(|| {
                ApiError::Invalid(format!(
                    "ttl must be an integer from 1 to {MAX_TTL_SECS} (seconds)"
                ))
            })?,
    };
    Ok(TokenRequest {
        sub,
        role,
        name,
        bookings,
        ttl,
    })
}

fn parse_bookings(obj: &Map<String, Value>) -> Result<Vec<String>, ApiError> {
    let list = match obj.get("bookings") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) if list.len() <= MAX_BOOKINGS => list,
        Some(_) => {
            return Err(ApiError::Invalid(format!(
                "bookings must be an array of at most {MAX_BOOKINGS} booking ids"
            )))
        }
    };
    list.iter()
        .enumerate()
        .map(|(i, b)| match b {
            Value::String(s) if ids::is_external(s) => Ok(s.clone()),
            _ => Err(ApiError::Invalid(format!(
                "bookings[{i}] must be 1-128 characters of [A-Za-z0-9._:@-]"
            ))),
        })
        .collect()
}

/// Mints a token with this server's secret, as `concierge token` does with JWT_SECRET: 201 with
/// the token and the claims it carries.
async fn token(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = RawBody::read(&headers, body).await;
    let req = parse_token_request(&body.json()?)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let claims = Claims {
        sub: req.sub,
        role: req.role,
        exp: now + req.ttl,
        name: req.name,
        bookings: (!req.bookings.is_empty()).then_some(req.bookings),
    };
    let token = app.keys.mint(&claims);
    Ok(ok(
        StatusCode::CREATED,
        "Token minted",
        json!({
            "token": token,
            "sub": claims.sub,
            "role": claims.role,
            "name": claims.name,
            "bookings": claims.bookings.unwrap_or_default(),
            "exp": claims.exp,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(body: Value) -> String {
        parse_token_request(&body).unwrap_err().to_string()
    }

    #[test]
    fn a_full_request_and_the_defaults() {
        let full = json!({"sub": "cus_7", "role": "customer", "name": " Ann ",
                          "bookings": ["bk_1", "bk_2"], "ttl": 60});
        assert_eq!(
            parse_token_request(&full).unwrap(),
            TokenRequest {
                sub: "cus_7".into(),
                role: "customer".into(),
                name: Some("Ann".into()),
                bookings: vec!["bk_1".into(), "bk_2".into()],
                ttl: 60,
            }
        );
        let bare = parse_token_request(&json!({"sub": "adm_1", "role": "admin", "name": ""}));
        let bare = bare.unwrap();
        assert_eq!((bare.name, bare.bookings, bare.ttl), (None, vec![], 86_400));
    }

    #[test]
    fn each_refusal_names_its_field() {
        assert_eq!(message(json!([])), "body must be a JSON object");
        assert_eq!(message(json!({"role": "admin"})), "sub is required");
        assert!(message(json!({"sub": "a b", "role": "admin"})).starts_with("sub must be"));
        assert_eq!(message(json!({"sub": "a"})), "role is required");
        assert!(message(json!({"sub": "a", "role": "root"})).starts_with("role must be"));
        assert!(message(json!({"sub": "a", "role": "admin", "name": 7})).starts_with("name must"));
        let long = "x".repeat(101);
        assert!(message(json!({"sub": "a", "role": "admin", "name": long})).starts_with("name"));
        assert!(
            message(json!({"sub": "a", "role": "admin", "bookings": "bk_1"}))
                .starts_with("bookings must")
        );
        assert!(
            message(json!({"sub": "a", "role": "customer", "bookings": ["bk_1", "../x"]}))
                .starts_with("bookings[1] must")
        );
        for ttl in [json!(0), json!(604_801), json!(1.5), json!("60"), json!(-1)] {
            assert!(
                message(json!({"sub": "a", "role": "admin", "ttl": ttl})).starts_with("ttl must"),
                "{ttl}"
            );
        }
    }
}
