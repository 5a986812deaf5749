//! The `--dev` test routes: a sample conversation in one call, and the socket registry's state.
//! Everything they create goes through the log like any other write.

use super::{ok, ApiError};
use crate::auth::Caller;
use crate::command::{bookings, conversations, messages};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use concierge_events::{MessageType, Role};
use serde_json::json;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/test/test-messaging", post(test_messaging))
        .route("/test/socket-status", get(socket_status))
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
        })
    })
    .await?;
    let conv = app.views.views().conversation(&conv.id).unwrap_or(conv);
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
