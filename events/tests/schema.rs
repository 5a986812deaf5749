//! The checked-in JSON Schema is the one the code generates, and every sample and docs example
//! validates against it. Regenerate it with `UPDATE_SCHEMA=1 cargo test -p concierge-events schema`.

mod samples;

use concierge_events::schema::{self, CHECKED_IN_PATH};
use serde_json::{json, Value};
use std::path::PathBuf;

const REGENERATE: &str = "UPDATE_SCHEMA=1 cargo test -p concierge-events schema";

fn checked_in_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(CHECKED_IN_PATH)
}

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(&schema::json_schema())
        .expect("the generated schema is a valid schema")
}

fn errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn checked_in_schema_matches_the_code() {
    let path = checked_in_path();
    let generated = schema::to_checked_in_text();
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    let same = serde_json::from_str::<Value>(&checked_in).ok() == Some(schema::json_schema());
    if same {
        return;
    }
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, generated).expect("write the schema");
        return;
    }
    panic!(
        "events/{CHECKED_IN_PATH} differs from the schema the code generates; \
         regenerate it with `{REGENERATE}`"
    );
}

#[test]
fn every_sample_validates_against_the_schema() {
    let validator = validator();
    for sample in samples::samples() {
        let instance: Value = serde_json::from_slice(&sample.encode()).unwrap();
        assert_eq!(
            errors(&validator, &instance),
            Vec::<String>::new(),
            "{instance}"
        );
    }
}

#[test]
fn every_docs_example_validates_against_the_schema() {
    let doc = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/events.md"),
    )
    .expect("read docs/events.md");
    let validator = validator();
    let mut checked = 0;
    for block in doc.split("```json\n").skip(1) {
        let body = &block[..block.find("```").expect("a closed json block")];
        let instance: Value = serde_json::from_str(body).unwrap_or_else(|e| {
            panic!("a json block of docs/events.md is not JSON ({e}):\n{body}")
        });
        assert_eq!(
            errors(&validator, &instance),
            Vec::<String>::new(),
            "{body}"
        );
        checked += 1;
    }
    assert_eq!(checked, concierge_events::KNOWN_TYPES.len());
}

fn message_read(patch: impl FnOnce(&mut Value)) -> Value {
    let mut event = json!({
        "v": 1,
        "id": "01JDQ80AHR7N3B5TQK9W2XG401",
        "type": "messages_read",
        "data": { "upToSeq": 7 },
        "at": "2026-11-24T10:15:00.000Z",
        "actor": { "id": "adm_2", "role": "admin" },
        "conversationId": "01JDQ7X0S9G1W7V8M2K3Z4Y5AB"
    });
    patch(&mut event);
    event
}

#[test]
fn unknown_fields_are_allowed_as_readers_ignore_them() {
    let validator = validator();
    let event = message_read(|e| {
        e["new"] = json!(0);
        e["data"]["more"] = json!(true);
        e["actor"]["extra"] = json!("x");
    });
    assert_eq!(errors(&validator, &event), Vec::<String>::new());
}

#[test]
fn the_schema_rejects_what_is_not_a_v1_event() {
    let validator = validator();
    let cases: [(&str, Value); 7] = [
        ("another version", message_read(|e| e["v"] = json!(2))),
        (
            "an unknown type",
            message_read(|e| e["type"] = json!("made_up")),
        ),
        (
            "data of another type",
            message_read(|e| e["type"] = json!("message_deleted")),
        ),
        (
            "a wrongly typed field",
            message_read(|e| e["data"]["upToSeq"] = json!("7")),
        ),
        (
            "no data",
            message_read(|e| {
                e.as_object_mut().unwrap().remove("data");
            }),
        ),
        (
            "a time with an offset",
            message_read(|e| e["at"] = json!("2026-11-24T11:15:00.000+01:00")),
        ),
        (
            "an unknown role",
            message_read(|e| e["actor"]["role"] = json!("owner")),
        ),
    ];
    for (what, event) in cases {
        assert!(
            !validator.is_valid(&event),
            "{what} must not validate: {event}"
        );
    }
}
