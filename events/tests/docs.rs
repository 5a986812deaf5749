//! The JSON examples in docs/events.md are the samples exactly as this crate encodes them
//! (pretty-printed). Regenerate them with `UPDATE_DOCS=1 cargo test -p concierge-events docs`.

mod samples;

use concierge_events::{Envelope, KNOWN_TYPES};
use std::ops::Range;
use std::path::PathBuf;

const REGENERATE: &str = "UPDATE_DOCS=1 cargo test -p concierge-events docs";

fn doc_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/events.md")
}

/// Each `<!-- example: TYPE -->` marker of the doc, with the byte range of the ```json block after it.
fn examples(doc: &str) -> Vec<(String, Range<usize>)> {
    const MARKER: &str = "<!-- example: ";
    const OPEN: &str = " -->\n```json\n";
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(i) = doc[from..].find(MARKER) {
        let name_start = from + i + MARKER.len();
        let rest = &doc[name_start..];
        let name_end = rest.find(OPEN).unwrap_or_else(|| {
            panic!("an example marker at byte {name_start} without a json block")
        });
        let body_start = name_start + name_end + OPEN.len();
        let body_len = doc[body_start..]
            .find("```\n")
            .unwrap_or_else(|| panic!("an unclosed json block at byte {body_start}"));
        found.push((
            rest[..name_end].to_string(),
            body_start..body_start + body_len,
        ));
        from = body_start + body_len;
    }
    found
}

fn pretty(envelope: &Envelope) -> String {
    let mut text = serde_json::to_string_pretty(envelope).expect("an envelope serializes");
    text.push('\n');
    text
}

#[test]
fn docs_examples_are_the_encoded_samples() {
    let path = doc_path();
    let doc = std::fs::read_to_string(&path).expect("read docs/events.md");
    let samples = samples::samples();
    let found = examples(&doc);
    let names: Vec<&str> = found.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names, KNOWN_TYPES,
        "docs/events.md must have one example marker per event type, in this order"
    );

    let mut updated = String::with_capacity(doc.len());
    let mut copied = 0;
    let mut differ = Vec::new();
    for ((name, body), sample) in found.into_iter().zip(&samples) {
        assert_eq!(name, sample.event.event_type());
        let expected = pretty(sample);
        if doc[body.clone()] != expected {
            differ.push(name);
        }
        updated.push_str(&doc[copied..body.start]);
        updated.push_str(&expected);
        copied = body.end;
    }
    updated.push_str(&doc[copied..]);

    if differ.is_empty() {
        return;
    }
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, updated).expect("write docs/events.md");
        return;
    }
    panic!(
        "the examples of {differ:?} in docs/events.md differ from what the code encodes; \
         regenerate them with `{REGENERATE}`"
    );
}

#[test]
fn docs_examples_decode_to_the_samples_and_encode_back() {
    let doc = std::fs::read_to_string(doc_path()).expect("read docs/events.md");
    for ((name, body), sample) in examples(&doc).into_iter().zip(samples::samples()) {
        let decoded = Envelope::decode(doc[body].as_bytes())
            .unwrap_or_else(|e| panic!("the {name} example does not decode: {e}"))
            .unwrap_or_else(|| panic!("the {name} example is of an unknown type or version"));
        assert_eq!(decoded, sample, "the {name} example");
        assert_eq!(decoded.encode(), sample.encode(), "the {name} example");
    }
}

#[test]
fn there_is_a_sample_of_every_type() {
    let types: Vec<&str> = samples::samples()
        .iter()
        .map(|e| e.event.event_type())
        .collect();
    assert_eq!(types, KNOWN_TYPES);
}
