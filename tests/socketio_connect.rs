//! `/socket.io/`: connecting with each way of authenticating (auth.token, header, query, the
//! `authenticate` event), refusals as `connect_error`, and the rules of SOCKETIO.md "Connecting".

mod common;

use common::sio::{connect, open, Auth, Connect};
use common::*;
use serde_json::json;

#[tokio::test]
async fn every_way_of_authenticating_says_authenticated_first() {
    let env = TestEnv::start().await;
    let ann = customer("cus_ann", &[]);
    for auth in [
        Auth::Token(&ann),
        Auth::Header(&ann),
        Auth::Query(&ann),
        Auth::Event(&ann),
    ] {
        let mut c = connect(&env.app.base(), auth).await;
        let first = c.seen.iter().find(|v| v.get("event").is_some()).cloned();
        let first = first.expect("an event");
        assert_eq!(first["event"], "authenticated", "{:?}", c.seen);
        assert_eq!(first["data"]["userId"], "cus_ann");
        assert_eq!(first["data"]["role"], "customer");
        let pong = c.request("ping", json!({})).await;
        assert_eq!(pong["success"], true, "{pong}");
    }
}

#[tokio::test]
async fn bad_and_service_tokens_get_connect_error() {
    let env = TestEnv::start().await;
    for (token, code) in [
        ("not-a-jwt".to_string(), "unauthorized"),
        (service(), "forbidden"),
    ] {
        let mut c = open(&env.app.base(), &Auth::Token(&token), None).await;
        match c.connect_answer().await {
            Connect::Refused(e) => {
                assert_eq!(e["message"], code, "{e}");
                assert_eq!(e["data"]["code"], code, "{e}");
                assert!(e["data"]["message"].as_str().is_some_and(|m| !m.is_empty()));
            }
            other => panic!("refusal expected, got {other:?}"),
        }
    }
}
