//! The JSON Schema (draft 2020-12) of an event as it travels on the log, generated from this crate's
//! types. The checked-in copy, `events/schema/events.schema.json`, is compared with it by a test.

use crate::{Envelope, SCHEMA_VERSION};
use schemars::{json_schema, Schema, SchemaGenerator};

/// Where the checked-in schema lives, relative to this crate's folder.
pub const CHECKED_IN_PATH: &str = "schema/events.schema.json";

/// The schema of one encoded [`Envelope`]: the envelope's fields, and one `oneOf` branch per event
/// type with `type` as a constant and that type's `data`.
pub fn json_schema() -> serde_json::Value {
    let mut schema = SchemaGenerator::default().into_root_schema_for::<Envelope>();
    schema.insert(
        "title".into(),
        format!("Concierge event (schema v{SCHEMA_VERSION})").into(),
    );
    sorted(schema.to_value())
}

/// [`json_schema`] as it is checked in: pretty-printed with sorted keys, ending in a newline.
pub fn to_checked_in_text() -> String {
    let mut text = serde_json::to_string_pretty(&json_schema()).expect("a schema serializes");
    text.push('\n');
    text
}

/// `v` is this version's number, not any integer: a reader of this schema reads this version only.
pub(crate) fn version(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "integer", "const": SCHEMA_VERSION })
}

/// The same value with every object's keys in order, whatever map serde_json was built with.
fn sorted(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}
