//! Message search (docs/search.md): the query language, who finds what, deleted and edited
//! messages, filters and pages, refusals, freshness and readiness, a crash while indexing, and a
//! rebuild that equals the live index.

mod common;

use common::*;
use concierge_events::{
    subject, Actor, Envelope, Event, MessageSent, MessageType, Role, Timestamp,
};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::process::Command;
use std::time::Duration;

fn ann() -> String {
    customer("cus_ann", &[])
}

fn dan() -> String {
    customer("cus_dan", &[])
}

fn bo() -> String {
    admin("adm_bo")
}

/// Ann's conversation on `bk_ann` and Dan's on `bk_dan`.
async fn two_conversations(app: &App) -> (String, String) {
    data(register_booking(app, "bk_ann", "cus_ann", None).await, 201);
    data(register_booking(app, "bk_dan", "cus_dan", None).await, 201);
    let a = id_of(&created(open(app, &ann(), "bk_ann").await));
    let d = id_of(&created(open(app, &dan(), "bk_dan").await));
    (a, d)
}

/// The results of a search that must succeed, once the index has caught up.
async fn found(app: &App, token: &str, query: &str) -> Vec<Value> {
    let body = data(search(app, token, query).await, 200);
    body["results"].as_array().unwrap().clone()
}

fn snippets(results: &[Value]) -> Vec<String> {
    results
        .iter()
        .map(|r| r["snippet"].as_str().unwrap().to_string())
        .collect()
}

fn message_ids(results: &[Value]) -> Vec<String> {
    results
        .iter()
        .map(|r| r["messageId"].as_str().unwrap().to_string())
        .collect()
}

/// The highlighted parts of a result's snippet, cut by code points as the contract says.
fn marked(result: &Value) -> Vec<String> {
    let chars: Vec<char> = result["snippet"].as_str().unwrap().chars().collect();
    result["highlights"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            let (s, e) = (
                h[0].as_u64().unwrap() as usize,
                h[1].as_u64().unwrap() as usize,
            );
            chars[s..e].iter().collect()
        })
        .collect()
}

#[tokio::test]
async fn words_phrases_prefixes_case_and_accents_in_any_script() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let (conv, _) = two_conversations(app).await;
    for text in [
        "Café au lait at 8?",
        "The late check-out is at noon",
        "Check in late, out early",
        "東京駅で会いましょう",
        "Привет, мир",
        "A naïve question 🙂 about the CAFE",
    ] {
        send(app, &ann(), &conv, text).await;
    }
    searchable(app).await;
    let token = ann();
    let s = |text: &str| {
        let (token, query) = (token.clone(), q(text));
        async move { found(app, &token, &query).await }
    };

    // Case and accents folded both ways; newest first.
    let cafe = s("cafe").await;
    assert_eq!(
        snippets(&cafe),
        ["A naïve question 🙂 about the CAFE", "Café au lait at 8?"]
    );
    assert_eq!(snippets(&s("CAFÉ").await), snippets(&cafe));
    assert_eq!(marked(&cafe[0]), ["CAFE"]);
    assert_eq!(
        cafe[0]["highlights"],
        json!([[29, 33]]),
        "code points, not bytes"
    );
    assert_eq!(marked(&cafe[1]), ["Café"]);
    assert_eq!(
        snippets(&s("NAIVE").await),
        ["A naïve question 🙂 about the CAFE"]
    );

    // Words must all match, anywhere; a phrase only in a row.
    assert_eq!(
        snippets(&s("late check").await),
        ["Check in late, out early", "The late check-out is at noon"]
    );
    let phrase = s("\"late check\"").await;
    assert_eq!(snippets(&phrase), ["The late check-out is at noon"]);
    assert_eq!(marked(&phrase[0]), ["late check"]);
    assert_eq!(snippets(&s("\"check late\"").await), Vec::<String>::new());
    assert_eq!(
        snippets(&s("check-out").await),
        ["The late check-out is at noon"]
    );
    assert_eq!(snippets(&s("late cafe").await), Vec::<String>::new());

    // Prefixes for type-ahead.
    let chec = s("chec*").await;
    assert_eq!(
        snippets(&chec),
        ["Check in late, out early", "The late check-out is at noon"]
    );
    assert_eq!(marked(&chec[0]), ["Check"]);
    assert_eq!(
        snippets(&s("noo*").await),
        ["The late check-out is at noon"]
    );
    assert_eq!(
        snippets(&s("\"late chec*\"").await),
        ["The late check-out is at noon"]
    );
    assert_eq!(snippets(&s("checkout*").await), Vec::<String>::new());

    // Other scripts: Unicode words (ideographs one by one, so a word of them is a phrase).
    let tokyo = s("東京").await;
    assert_eq!(snippets(&tokyo), ["東京駅で会いましょう"]);
    assert_eq!(marked(&tokyo[0]), ["東京"]);
    assert_eq!(snippets(&s("京東").await), Vec::<String>::new());
    assert_eq!(snippets(&s("ПРИВЕТ").await), ["Привет, мир"]);
    assert_eq!(snippets(&s("мир").await), ["Привет, мир"]);
}

#[tokio::test]
async fn a_customer_finds_only_their_own_conversations_and_never_a_note() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let (a, d) = two_conversations(app).await;
    send(app, &ann(), &a, "my room number is zanzibar").await;
    send(app, &dan(), &d, "the parking code is quetzal").await;
    send(app, &bo(), &d, "Dan, your parking is quetzal too").await;
    let note = json!({ "content": "quetzal zanzibar: both VIPs", "internal": true });
    data(send_body(app, &bo(), &a, &note).await, 201);
    searchable(app).await;

    // Ann: her own message only; Dan's unique word and the note's find nothing.
    let mine = found(app, &ann(), &q("zanzibar")).await;
    assert_eq!(snippets(&mine), ["my room number is zanzibar"]);
    assert_eq!(mine[0]["conversationId"], json!(a));
    assert_eq!(mine[0]["bookingId"], "bk_ann");
    assert_eq!(mine[0]["sender"], "cus_ann");
    assert_eq!(mine[0]["internal"], false);
    assert_eq!(found(app, &ann(), &q("quetzal")).await, Vec::<Value>::new());
    assert_eq!(found(app, &ann(), &q("vips")).await, Vec::<Value>::new());
    assert_eq!(found(app, &ann(), &q("quet*")).await, Vec::<Value>::new());
    assert_eq!(
        found(app, &ann(), &format!("{}&bookingId=bk_dan", q("quetzal"))).await,
        Vec::<Value>::new()
    );
    // Dan: his conversation's two messages, newest first.
    assert_eq!(
        snippets(&found(app, &dan(), &q("quetzal")).await),
        [
            "Dan, your parking is quetzal too",
            "the parking code is quetzal"
        ]
    );
    // Another customer's conversation named: 403, as on every conversation route; unknown: 404.
    let refused = search(app, &ann(), &format!("{}&conversationId={d}", q("quetzal"))).await;
    assert_eq!(
        error(refused, 403, "forbidden"),
        "You are not a participant in this conversation"
    );
    let unknown = format!("{}&conversationId={}", q("x"), fixtures::UNKNOWN_ULID);
    assert_eq!(
        error(search(app, &ann(), &unknown).await, 404, "not_found"),
        "conversation not found"
    );
    // Admins find everything, notes included and marked.
    let all = found(app, &bo(), &q("quetzal")).await;
    assert_eq!(
        snippets(&all),
        [
            "quetzal zanzibar: both VIPs",
            "Dan, your parking is quetzal too",
            "the parking code is quetzal"
        ]
    );
    let internal: Vec<&Value> = all.iter().map(|r| &r["internal"]).collect();
    assert_eq!(internal, [&json!(true), &json!(false), &json!(false)]);
    // Service tokens read no messages; no token is 401.
    error(
        search(app, &service(), &q("quetzal")).await,
        403,
        "forbidden",
    );
    let r = raw(
        reqwest::Method::GET,
        &app.url(&format!("/messaging/search?{}", q("quetzal"))),
        None,
        &[],
        None,
    )
    .await;
    assert_eq!(r.status.as_u16(), 401);
}

#[tokio::test]
async fn a_deleted_message_is_never_found_and_an_edited_one_only_by_its_current_text() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let (a, _) = two_conversations(app).await;
    let gone = send(app, &ann(), &a, "please forget walrus").await;
    let edited = send(app, &ann(), &a, "arriving by ferry").await;
    let kept = send(app, &ann(), &a, "the ferry is late").await;
    searchable(app).await;
    assert_eq!(found(app, &ann(), &q("walrus")).await.len(), 1);
    assert_eq!(found(app, &ann(), &q("ferry")).await.len(), 2);

    let url = |m: &Value| format!("{}/{}", messages_url(app, &a), id_of(m));
    data(delete(&url(&gone), &ann()).await, 200);
    data(
        patch(
            &url(&edited),
            &ann(),
            &json!({ "content": "arriving by train" }),
        )
        .await,
        200,
    );
    // Edited twice before the index commits and once after: the last text wins.
    searchable(app).await;
    data(
        patch(
            &url(&kept),
            &ann(),
            &json!({ "content": "the boat is late" }),
        )
        .await,
        200,
    );
    data(
        patch(
            &url(&kept),
            &ann(),
            &json!({ "content": "the hovercraft is late" }),
        )
        .await,
        200,
    );
    searchable(app).await;

    for token in [ann(), bo()] {
        assert_eq!(found(app, &token, &q("walrus")).await, Vec::<Value>::new());
        assert_eq!(found(app, &token, &q("forget")).await, Vec::<Value>::new());
        assert_eq!(found(app, &token, &q("ferry")).await, Vec::<Value>::new());
        assert_eq!(found(app, &token, &q("boat")).await, Vec::<Value>::new());
        let train = found(app, &token, &q("train")).await;
        assert_eq!(message_ids(&train), [id_of(&edited)]);
        assert_eq!(
            train[0]["createdAt"], edited["createdAt"],
            "edits keep the time"
        );
        let late = found(app, &token, &q("late")).await;
        assert_eq!(message_ids(&late), [id_of(&kept)]);
        assert_eq!(snippets(&late), ["the hovercraft is late"]);
    }
    // A note edited and deleted likewise.
    let note = data(
        send_body(
            app,
            &bo(),
            &a,
            &json!({ "content": "old lighthouse", "internal": true }),
        )
        .await,
        201,
    );
    data(
        patch(&url(&note), &bo(), &json!({ "content": "new lighthouse" })).await,
        200,
    );
    searchable(app).await;
    assert_eq!(
        snippets(&found(app, &bo(), &q("lighthouse")).await),
        ["new lighthouse"]
    );
    assert_eq!(found(app, &bo(), &q("old")).await, Vec::<Value>::new());
    data(delete(&url(&note), &bo()).await, 200);
    searchable(app).await;
    assert_eq!(
        found(app, &bo(), &q("lighthouse")).await,
        Vec::<Value>::new()
    );
}

#[tokio::test]
async fn filters_and_pages_newest_first() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let (a, d) = two_conversations(app).await;
    let mut sent = Vec::new();
    for i in 0..7 {
        let (token, conv) = if i % 2 == 0 { (ann(), &a) } else { (bo(), &a) };
        sent.push(send(app, &token, conv, &format!("pelican {i}")).await);
    }
    let dans = send(app, &dan(), &d, "pelican of dan").await;
    searchable(app).await;

    // Pages of 3, newest first, the cursor walking to the end.
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            None => format!("{}&limit=3", q("pelican")),
            Some(c) => format!("{}&limit=3&cursor={c}", q("pelican")),
        };
        let body = data(search(app, &ann(), &query).await, 200);
        pages.push(message_ids(body["results"].as_array().unwrap()));
        match body["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let newest_first: Vec<String> = sent.iter().rev().map(id_of).collect();
    assert_eq!(
        pages,
        [
            newest_first[0..3].to_vec(),
            newest_first[3..6].to_vec(),
            newest_first[6..7].to_vec()
        ]
    );
    // A page that ends exactly at the last result has no next cursor.
    let body = data(
        search(app, &ann(), &format!("{}&limit=7", q("pelican"))).await,
        200,
    );
    assert_eq!(body["nextCursor"], json!(null));
    assert_eq!(body["results"].as_array().unwrap().len(), 7);
    let body = data(
        search(app, &bo(), &format!("{}&limit=7", q("pelican"))).await,
        200,
    );
    assert!(body["nextCursor"].is_string());

    // sender, bookingId, conversationId.
    let by_bo = found(app, &ann(), &format!("{}&sender=adm_bo", q("pelican"))).await;
    assert_eq!(snippets(&by_bo), ["pelican 5", "pelican 3", "pelican 1"]);
    let of_dan = found(app, &bo(), &format!("{}&bookingId=bk_dan", q("pelican"))).await;
    assert_eq!(message_ids(&of_dan), [id_of(&dans)]);
    let in_a = found(app, &bo(), &format!("{}&conversationId={a}", q("pelican"))).await;
    assert_eq!(in_a.len(), 7);

    // from (inclusive) and to (exclusive), on createdAt.
    let at = |i: usize| sent[i]["createdAt"].as_str().unwrap().to_string();
    let window = found(
        app,
        &ann(),
        &format!("{}&from={}&to={}", q("pelican"), at(2), at(5)),
    )
    .await;
    let want: Vec<String> = sent
        .iter()
        .filter(|m| {
            let t = millis(&m["createdAt"]);
            t >= millis(&sent[2]["createdAt"]) && t < millis(&sent[5]["createdAt"])
        })
        .rev()
        .map(id_of)
        .collect();
    assert!(want.contains(&id_of(&sent[2])) && !want.contains(&id_of(&sent[5])));
    assert_eq!(message_ids(&window), want);
}

#[tokio::test]
async fn refusals_name_the_problem() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let long = "a ".repeat(101);
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "q is required"),
        ("q=".into(), "q is required"),
        ("q=%20%20".into(), "q is required"),
        (q(&long), "q must be at most 200 characters"),
        (q("?! … *"), "q has no word to search for"),
        (
            format!("{}&conversationId=nope", q("x")),
            "conversationId must be a 26-character ULID",
        ),
        (
            format!("{}&bookingId=a%20b", q("x")),
            "bookingId must be 1-128 characters of [A-Za-z0-9._:@-]",
        ),
        (
            format!("{}&sender=", q("x")),
            "sender must be 1-128 characters of [A-Za-z0-9._:@-]",
        ),
        (
            format!("{}&from=yesterday", q("x")),
            "from must be an RFC 3339 time",
        ),
        (
            format!("{}&to=2026-13-01T00:00:00Z", q("x")),
            "to must be an RFC 3339 time",
        ),
        (
            format!(
                "{}&from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z",
                q("x")
            ),
            "from must not be after to",
        ),
        (
            format!("{}&limit=0", q("x")),
            "limit must be an integer from 1 to 100",
        ),
        (
            format!("{}&limit=101", q("x")),
            "limit must be an integer from 1 to 100",
        ),
        (
            format!("{}&cursor=abc", q("x")),
            "cursor must be a nextCursor this server gave",
        ),
    ];
    for (query, message) in cases {
        let got = error(search(app, &bo(), &query).await, 400, "validation_failed");
        assert_eq!(got, message, "{query}");
    }
    // Just inside the bounds.
    let inside = "a ".repeat(100);
    data(
        search(app, &bo(), &format!("{}&limit=100", q(&inside))).await,
        200,
    );
    data(
        search(app, &bo(), &format!("{}&limit=1", q("x"))).await,
        200,
    );
}

#[tokio::test]
async fn a_send_becomes_searchable_and_the_lag_is_in_the_metrics() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let (a, _) = two_conversations(app).await;
    let m = send(app, &ann(), &a, "kookaburra sighted").await;
    log::eventually("the message to be found", || async {
        message_ids(&found(app, &ann(), &q("kookaburra")).await) == [id_of(&m)]
    })
    .await;
    let last = log::last_seq(app.nats_url()).await;
    log::eventually("the search lag to be 0", || async {
        metric(app, r#"concierge_projection_lag{projection="search"}"#).await == Some(0.0)
            && metric(
                app,
                r#"concierge_projection_checkpoint{projection="search"}"#,
            )
            .await
                == Some(last as f64)
    })
    .await;
    let bytes = metric(app, "concierge_search_index_bytes").await.unwrap();
    assert!(bytes > 0.0, "{bytes}");
    let queries = metric(app, "concierge_search_query_duration_seconds_count")
        .await
        .unwrap();
    assert!(queries >= 1.0, "{queries}");
}

/// Publishes `n` messages by Ann straight into the log (as other nodes would have), each with a
/// unique word `w<i>` and the word `bulk`; returns their ids.
async fn publish_messages(nats_url: &str, conv: &str, n: usize) -> Vec<String> {
    use futures::stream::{self, StreamExt};
    let client = async_nats::connect(nats_url).await.expect("connect");
    let js = async_nats::jetstream::new(client);
    let ids: Vec<String> = (0..n).map(|_| ulid::Ulid::new().to_string()).collect();
    let acks: Vec<_> = stream::iter(ids.iter().enumerate())
        .then(|(i, id)| {
            let env = Envelope::new(
                ulid::Ulid::new().to_string(),
                Timestamp::now(),
                Actor {
                    id: "cus_ann".into(),
                    role: Role::Customer,
                    name: Some("Ann".into()),
                },
                Some(conv.to_string()),
                Event::MessageSent(MessageSent {
                    message_id: id.clone(),
                    content: format!("bulk message w{i}"),
                    message_type: MessageType::Text,
                    attachments: vec![],
                    reply_to: None,
                    client_message_id: None,
                }),
            );
            let js = js.clone();
            async move {
                js.publish(subject::conversation(conv), env.encode().into())
                    .await
                    .expect("publish")
            }
        })
        .collect()
        .await;
    for ack in acks {
        ack.await.expect("ack");
    }
    ids
}

/// Every message id an admin's search for `words` finds, page by page.
async fn all_found(app: &App, words: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            None => format!("{}&limit=100", q(words)),
            Some(c) => format!("{}&limit=100&cursor={c}", q(words)),
        };
        let body = data(search(app, &bo(), &query).await, 200);
        out.extend(message_ids(body["results"].as_array().unwrap()));
        match body["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
}

#[tokio::test]
async fn a_crash_while_indexing_resumes_with_no_message_missing_or_twice() {
    const N: usize = 30_000;
    // Commits every 2,000 events while catching up, so that a kill falls between commits.
    let mut env = TestEnv::start_with(AppOptions {
        extra_env: vec![("SEARCH_COMMIT_EVENTS".into(), "2000".into())],
        ..Default::default()
    })
    .await;
    let (a, _) = two_conversations(&env.app).await;
    assert!(env.app.terminate().success());
    let before = log::last_seq(&env.nats.url()).await;
    let ids = publish_messages(&env.nats.url(), &a, N).await;
    let last = log::last_seq(&env.nats.url()).await;
    // Restarted, the node indexes the 30,000; it is killed once some but not all are committed.
    env.app.respawn();
    let start = std::time::Instant::now();
    let caught = loop {
        let checkpoint = metric(
            &env.app,
            r#"concierge_projection_checkpoint{projection="search"}"#,
        )
        .await
        .unwrap_or(0.0) as u64;
        if checkpoint > before && checkpoint < last {
            break checkpoint;
        }
        assert!(
            checkpoint < last,
            "indexing finished before the kill; make N larger"
        );
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "indexing never started"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    // Not ready while the index catches up at start-up.
    let ready = raw(
        reqwest::Method::GET,
        &env.app.url("/ready"),
        None,
        &[],
        None,
    )
    .await;
    assert_eq!(ready.status.as_u16(), 503, "{:?}", ready.body);
    env.app.kill();
    assert!(caught < last);

    // Restarted again: ready only once the index has caught up, then every message found once.
    env.app.respawn();
    env.app.wait_ready_within(Duration::from_secs(120)).await;
    let checkpoint = metric(
        &env.app,
        r#"concierge_projection_checkpoint{projection="search"}"#,
    )
    .await
    .unwrap() as u64;
    assert_eq!(checkpoint, last, "ready before the search index caught up");
    let got = all_found(&env.app, "bulk").await;
    assert_eq!(got.len(), N, "missing or repeated messages");
    let unique: HashSet<&String> = got.iter().collect();
    assert_eq!(unique.len(), N, "a message found twice");
    let want: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(got, want, "newest first, each once");
    for i in [0, N / 2, N - 1] {
        let one = found(&env.app, &ann(), &q(&format!("w{i}"))).await;
        assert_eq!(message_ids(&one), [ids[i].clone()], "w{i}");
    }
}

#[tokio::test]
async fn a_rebuilt_index_answers_as_the_live_one() {
    let mut env = TestEnv::start().await;
    let app = &env.app;
    let (a, d) = two_conversations(app).await;
    let mut kept = Vec::new();
    for i in 0..12 {
        kept.push(send(app, &ann(), &a, &format!("heron {i} café")).await);
    }
    send(app, &dan(), &d, "heron of dan").await;
    let url = |m: &Value| format!("{}/{}", messages_url(app, &a), id_of(m));
    data(delete(&url(&kept[3]), &ann()).await, 200);
    data(
        patch(&url(&kept[5]), &ann(), &json!({ "content": "egret now" })).await,
        200,
    );
    data(
        send_body(
            app,
            &bo(),
            &a,
            &json!({ "content": "heron note", "internal": true }),
        )
        .await,
        201,
    );
    searchable(app).await;
    let queries = ["heron", "cafe", "egret", "her*", "\"heron 1\"", "note"];
    let mut live = Vec::new();
    for words in queries {
        for token in [ann(), dan(), bo()] {
            live.push(data(search(app, &token, &q(words)).await, 200));
        }
    }
    // Twelve herons, one deleted and one edited away.
    assert_eq!(live[0]["results"].as_array().unwrap().len(), 10);

    assert!(env.app.terminate().success());
    let out = Command::new(env!("CARGO_BIN_EXE_concierge"))
        .args(["rebuild", "--search"])
        .env("DATA_DIR", env.app.data_dir())
        .env("NATS_URL", env.app.nats_url())
        .env("RUST_LOG", "warn")
        .output()
        .expect("run concierge rebuild --search");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    let last = log::last_seq(&env.nats.url()).await;
    assert!(
        stdout.contains("wiped the search index in")
            && stdout.contains(&format!("rebuilt the search index from {last} events in"))
            && stdout.contains(&format!("; checkpoint {last}; index ")),
        "{stdout}"
    );
    env.app.restart().await;
    let app = &env.app;
    let mut rebuilt = Vec::new();
    for words in queries {
        for token in [ann(), dan(), bo()] {
            rebuilt.push(data(search(app, &token, &q(words)).await, 200));
        }
    }
    assert_eq!(rebuilt, live);
}

#[tokio::test]
async fn catching_up_with_rare_commits_is_not_taken_for_a_stall() {
    const N: usize = 60_000;
    let mut env = TestEnv::start().await;
    let (a, _) = two_conversations(&env.app).await;
    assert!(env.app.terminate().success());
    let ids = publish_messages(&env.nats.url(), &a, N).await;
    let last = log::last_seq(&env.nats.url()).await;
    // Catching up, the index commits every 5 s; the stall watch (2 s) must not reopen the
    // consumer in between, and the checkpoint shown must be the last commit's.
    let started = std::time::Instant::now();
    env.app.respawn();
    env.app.wait_ready_within(Duration::from_secs(120)).await;
    let took = started.elapsed();
    let checkpoint = metric(
        &env.app,
        r#"concierge_projection_checkpoint{projection="search"}"#,
    )
    .await
    .unwrap() as u64;
    assert_eq!(checkpoint, last);
    let log = env.app.log();
    assert!(
        !log.contains("folding stalled behind the log"),
        "caught up in {took:?}, taken for a stall:\n{log}"
    );
    for i in [0, N / 3, N - 1] {
        let one = found(&env.app, &ann(), &q(&format!("w{i}"))).await;
        assert_eq!(message_ids(&one), [ids[i].clone()], "w{i}");
    }
}
