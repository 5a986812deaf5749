//! Route 12: `PUT /messaging/bookings/:bookingId` (API.md route 12 and route 2's ownership rules).

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn booking_url(app: &App, booking: &str) -> String {
    app.url(&format!("/messaging/bookings/{booking}"))
}

async fn put_booking(app: &App, token: &str, booking: &str, body: Value) -> (StatusCode, Value) {
    put(&booking_url(app, booking), token, &body).await
}

#[tokio::test]
async fn admins_and_services_register_bookings_idempotently() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let body = json!({ "customerId": "cus_ann", "title": "Suite 12" });

    let d = data(
        put_booking(app, &service(), "bk_1", body.clone()).await,
        201,
    );
    assert_eq!(
        d,
        json!({ "bookingId": "bk_1", "customerId": "cus_ann", "title": "Suite 12" })
    );
    let d = data(
        put_booking(app, &service(), "bk_1", body.clone()).await,
        200,
    );
    assert_eq!(
        d,
        json!({ "bookingId": "bk_1", "customerId": "cus_ann", "title": "Suite 12" })
    );
    let d = data(
        put_booking(app, &admin("adm_1"), "bk_1", body.clone()).await,
        200,
    );
    assert_eq!(d["customerId"], json!("cus_ann"));

    let d = data(
        put_booking(
            app,
            &admin("adm_1"),
            "bk_2",
            json!({ "customerId": "cus_ben", "title": "Villa" }),
        )
        .await,
        201,
    );
    assert_eq!(
        d,
        json!({ "bookingId": "bk_2", "customerId": "cus_ben", "title": "Villa" })
    );

    // Customers may not, not even for themselves.
    error(
        put_booking(
            app,
            &customer("cus_ann", &["bk_3"]),
            "bk_3",
            json!({ "customerId": "cus_ann" }),
        )
        .await,
        403,
        "forbidden",
    );
    error(
        put_booking(app, &customer("cus_ann", &["bk_1"]), "bk_1", body.clone()).await,
        403,
        "forbidden",
    );
    let r = raw(
        Method::PUT,
        &booking_url(app, "bk_1"),
        None,
        &[("content-type", "application/json")],
        Some(body.to_string().into_bytes()),
    )
    .await;
    error((r.status, r.body), 401, "unauthorized");
    error(
        get(&booking_url(app, "bk_1"), &service()).await,
        405,
        "method_not_allowed",
    );

    // The registered owner opens it; the forbidden attempt registered nothing.
    let c = created(open(app, &customer("cus_ann", &[]), "bk_1").await);
    assert_eq!(c["title"], json!("Suite 12"));
    error(open(app, &admin("adm_1"), "bk_3").await, 404, "not_found");
}

#[tokio::test]
async fn reassigning_is_allowed_until_a_conversation_exists() {
    let env = TestEnv::start().await;
    let app = &env.app;
    data(
        put_booking(app, &service(), "bk_1", json!({ "customerId": "cus_ann" })).await,
        201,
    );
    let d = data(
        put_booking(app, &service(), "bk_1", json!({ "customerId": "cus_ben" })).await,
        200,
    );
    assert_eq!(d["bookingId"], json!("bk_1"));
    assert_eq!(d["customerId"], json!("cus_ben"));

    // Now Ben's, whatever Ann's token claims.
    error(
        open(app, &customer("cus_ann", &["bk_1"]), "bk_1").await,
        403,
        "forbidden",
    );
    let c = created(open(app, &customer("cus_ben", &[]), "bk_1").await);
    assert_eq!(c["participants"].as_array().unwrap().len(), 1);
    assert_eq!(c["participants"][0]["userId"], json!("cus_ben"));

    // With a conversation, giving it to someone else conflicts and changes nothing.
    error(
        put_booking(app, &service(), "bk_1", json!({ "customerId": "cus_ann" })).await,
        409,
        "conflict",
    );
    error(
        put_booking(
            app,
            &admin("adm_1"),
            "bk_1",
            json!({ "customerId": "cus_ann", "title": "New" }),
        )
        .await,
        409,
        "conflict",
    );
    error(
        open(app, &customer("cus_ann", &["bk_1"]), "bk_1").await,
        403,
        "forbidden",
    );
    let again = data(open(app, &customer("cus_ben", &[]), "bk_1").await, 200);
    assert_eq!(again["id"], c["id"]);
    // Confirming the owner stays fine.
    let d = data(
        put_booking(app, &service(), "bk_1", json!({ "customerId": "cus_ben" })).await,
        200,
    );
    assert_eq!(d["customerId"], json!("cus_ben"));
}

#[tokio::test]
async fn a_title_left_out_keeps_the_current_title() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let s = service();
    data(
        put_booking(
            app,
            &s,
            "bk_1",
            json!({ "customerId": "cus_ann", "title": "Suite 12" }),
        )
        .await,
        201,
    );
    let d = data(
        put_booking(app, &s, "bk_1", json!({ "customerId": "cus_ann" })).await,
        200,
    );
    assert_eq!(d["title"], json!("Suite 12"));
    let d = data(
        put_booking(app, &s, "bk_1", json!({ "customerId": "cus_ben" })).await,
        200,
    );
    assert_eq!(
        d["title"],
        json!("Suite 12"),
        "reassigning keeps the title too"
    );
    let d = data(
        put_booking(
            app,
            &s,
            "bk_1",
            json!({ "customerId": "cus_ben", "title": "Villa 3" }),
        )
        .await,
        200,
    );
    assert_eq!(d["title"], json!("Villa 3"));
    let c = created(open(app, &customer("cus_ben", &[]), "bk_1").await);
    assert_eq!(c["title"], json!("Villa 3"));

    // Never given a title: the conversation is "Booking <id>".
    data(
        put_booking(app, &s, "bk_2", json!({ "customerId": "cus_ann" })).await,
        201,
    );
    let c = created(open(app, &customer("cus_ann", &[]), "bk_2").await);
    assert_eq!(c["title"], json!("Booking bk_2"));
}

#[tokio::test]
async fn booking_and_customer_ids_are_validated() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let s = service();
    for bad in [
        json!({ "customerId": "bad id!" }),
        json!({ "customerId": "cus/ann" }),
        json!({ "customerId": "émile" }),
        json!({ "customerId": "" }),
        json!({ "customerId": "c".repeat(129) }),
        json!({ "customerId": 7 }),
        json!({ "customerId": null }),
        json!({ "title": "No customer" }),
    ] {
        let r = put_booking(app, &s, "bk_v", bad.clone()).await;
        assert_eq!(r.0, StatusCode::BAD_REQUEST, "{bad}: {}", r.1);
        invalid(r, "customerId");
    }
    for bad_booking in ["bk%20v", "bk%21", &"b".repeat(129)] {
        let r = put_booking(app, &s, bad_booking, json!({ "customerId": "cus_ann" })).await;
        assert_eq!(r.0, StatusCode::BAD_REQUEST, "{bad_booking}: {}", r.1);
        invalid(r, "booking");
    }
    let r = raw(
        Method::PUT,
        &booking_url(app, "bk_v"),
        Some(&s),
        &[("content-type", "text/plain")],
        Some(br#"{"customerId":"cus_ann"}"#.to_vec()),
    )
    .await;
    error((r.status, r.body), 415, "unsupported_media_type");
    let r = raw(
        Method::PUT,
        &booking_url(app, "bk_v"),
        Some(&s),
        &[("content-type", "application/json")],
        Some(br#"{"customerId":"#.to_vec()),
    )
    .await;
    error((r.status, r.body), 400, "validation_failed");
    // Nothing was registered.
    error(open(app, &admin("adm_1"), "bk_v").await, 404, "not_found");

    // The whole alphabet and the longest ids are fine.
    let long_booking = "b".repeat(128);
    let d = data(
        put_booking(
            app,
            &s,
            &long_booking,
            json!({ "customerId": "A.b_c:d@e-f9" }),
        )
        .await,
        201,
    );
    assert_eq!(d["customerId"], json!("A.b_c:d@e-f9"));
    assert_eq!(d["bookingId"], json!(long_booking));
    let long_customer = "c".repeat(128);
    let d = data(
        put_booking(
            app,
            &s,
            "bk.1:x@y-z_",
            json!({ "customerId": long_customer }),
        )
        .await,
        201,
    );
    assert_eq!(d["bookingId"], json!("bk.1:x@y-z_"));
}
