//! Engine.IO v4 and Socket.IO v5 packets as text: reading what a client sends and writing what the
//! server sends. Pure functions; JSON payloads only (binary attachments are refused). Everything
//! written is a whole Engine.IO packet (a Socket.IO packet inside a `4` message), so the same text
//! goes out as a WebSocket frame or inside a long-polling payload.

use crate::realtime::event::{ServerEvent, Text, Wire};
use serde::Serialize;
use serde_json::Value;

/// Engine.IO's record separator between packets of one long-polling payload.
pub const SEPARATOR: char = '\u{1e}';

/// How often the server pings, and how long it waits for the pong (Engine.IO's defaults).
pub const PING_INTERVAL_MS: u64 = 25_000;
pub const PING_TIMEOUT_MS: u64 = 20_000;

/// An Engine.IO packet from the client.
#[derive(Debug, PartialEq, Eq)]
pub enum Engine<'a> {
    Close,
    Ping(&'a str),
    Pong,
    /// A Socket.IO packet.
    Message(&'a str),
    Upgrade,
    Noop,
}

/// Reads one Engine.IO packet.
///
/// # Errors
/// A message naming what is wrong.
pub fn engine(text: &str) -> Result<Engine<'_>, String> {
    let mut chars = text.chars();
    let kind = chars.next().ok_or("empty Engine.IO packet")?;
    let rest = chars.as_str();
    Ok(match kind {
        '1' => Engine::Close,
        '2' => Engine::Ping(rest),
        '3' => Engine::Pong,
        '4' => Engine::Message(rest),
        '5' => Engine::Upgrade,
        '6' => Engine::Noop,
        _ => return Err(format!("unknown Engine.IO packet type {kind:?}")),
    })
}

/// The Engine.IO open packet: the session id and the heartbeat the client must keep.
pub fn open(sid: &str, upgrades: &[&str], max_payload: usize) -> String {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Open<'a> {
        sid: &'a str,
        upgrades: &'a [&'a str],
        ping_interval: u64,
        ping_timeout: u64,
        max_payload: usize,
    }
    let open = Open {
        sid,
        upgrades,
        ping_interval: PING_INTERVAL_MS,
        ping_timeout: PING_TIMEOUT_MS,
        max_payload,
    };
    format!("0{}", serde_json::to_string(&open).unwrap_or_default())
}

/// A Socket.IO packet from the client, on the default namespace unless `namespace` says otherwise.
#[derive(Debug, PartialEq)]
pub enum SocketIo {
    /// `CONNECT` with its auth payload (`None` when the client sent none).
    Connect {
        namespace: String,
        auth: Option<Value>,
    },
    Disconnect {
        namespace: String,
    },
    /// `EVENT`: the array `[name, data?, …]`, with an ack id when the client wants an answer.
    Event {
        namespace: String,
        ack: Option<u64>,
        args: Value,
    },
    /// `ACK` of a server event (the server asks for none; ignored).
    Ack,
    /// `BINARY_EVENT` or `BINARY_ACK`: refused.
    Binary {
        ack: Option<u64>,
    },
}

/// Reads one Socket.IO packet (the payload of an Engine.IO message).
///
/// # Errors
/// A message naming what is wrong: an unknown type, a bad namespace or ack id, a payload that is
/// not JSON.
pub fn socketio(text: &str) -> Result<SocketIo, String> {
    let mut chars = text.chars();
    let kind = chars.next().ok_or("empty Socket.IO packet")?;
    let mut rest = chars.as_str();
    if matches!(kind, '5' | '6') {
        // `<attachments>-` comes first.
        rest = rest.split_once('-').map_or("", |(_, r)| r);
    }
    let namespace = if rest.starts_with('/') {
        let (ns, after) = rest.split_once(',').unwrap_or((rest, ""));
        rest = after;
        ns.to_string()
    } else {
        "/".to_string()
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let ack = if digits > 0 {
        let id = rest[..digits]
            .parse::<u64>()
            .map_err(|_| "the ack id is too large".to_string())?;
        rest = &rest[digits..];
        Some(id)
    } else {
        None
    };
    let payload = || -> Result<Option<Value>, String> {
        if rest.is_empty() {
            return Ok(None);
        }
        serde_json::from_str(rest)
            .map(Some)
            .map_err(|e| format!("packet payload is not valid JSON: {e}"))
    };
    Ok(match kind {
        '0' => SocketIo::Connect {
            namespace,
            auth: payload()?,
        },
        '1' => SocketIo::Disconnect { namespace },
        '2' => SocketIo::Event {
            namespace,
            ack,
            args: payload()?.unwrap_or(Value::Null),
        },
        '3' => SocketIo::Ack,
        '5' | '6' => SocketIo::Binary { ack },
        _ => return Err(format!("unknown Socket.IO packet type {kind:?}")),
    })
}

/// The Engine.IO ping the server sends every [`PING_INTERVAL_MS`].
pub const PING: &str = "2";

/// `CONNECT` accepted: `40{"sid"}`.
pub fn connected(sid: &str) -> Text {
    Text::from(format!("40{}", serde_json::json!({ "sid": sid })))
}

/// `CONNECT_ERROR` on `namespace`: `44{"message", "data": {"code", "message"}}`, which the client
/// sees as `connect_error` with `err.message` and `err.data`.
pub fn connect_error(namespace: &str, code: &str, message: &str) -> Text {
    let body = serde_json::json!({ "message": code, "data": { "code": code, "message": message } });
    if namespace == "/" {
        Text::from(format!("44{body}"))
    } else {
        Text::from(format!("44{namespace},{body}"))
    }
}

/// `DISCONNECT` of the default namespace.
pub const DISCONNECT: &str = "41";

/// A server event as `42["name", data]`, with the event's log `seq` as `data.seq`: written once per
/// event and shared by every Socket.IO socket it goes to, whichever Engine.IO transport carries it.
pub fn event(event: &ServerEvent) -> Text {
    event.encoded(Wire::SocketIo, |e| {
        let data = serde_json::to_string(&e.data).expect("event data always serializes");
        Text::from(with_seq(e.name, e.seq, &data))
    })
}

/// `42["name", data]` with `"seq"` put first in the `data` object when there is one.
fn with_seq(name: &str, seq: Option<u64>, data: &str) -> String {
    let name = serde_json::to_string(name).unwrap_or_default();
    match (seq, data.strip_prefix('{')) {
        (Some(seq), Some("}")) => format!("42[{name},{{\"seq\":{seq}}}]"),
        (Some(seq), Some(fields)) => format!("42[{name},{{\"seq\":{seq},{fields}]"),
        _ => format!("42[{name},{data}]"),
    }
}

/// Emits `name` with `data` (no `seq`): for events that are not from the log, like `error`.
pub fn emit(name: &str, data: &impl Serialize) -> Text {
    let data = serde_json::to_string(data).unwrap_or_else(|_| "null".into());
    Text::from(with_seq(name, None, &data))
}

/// `ACK` of the client's event `id`: `43<id>[payload]`.
pub fn ack(id: u64, payload: &impl Serialize) -> Text {
    let payload = serde_json::to_string(payload).unwrap_or_else(|_| "null".into());
    Text::from(format!("43{id}[{payload}]"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::realtime::event::{Data, ResumeComplete};
    use serde_json::json;

    #[test]
    fn reads_engine_packets() {
        assert_eq!(engine("3"), Ok(Engine::Pong));
        assert_eq!(engine("2probe"), Ok(Engine::Ping("probe")));
        assert_eq!(engine("42[\"x\"]"), Ok(Engine::Message("2[\"x\"]")));
        assert_eq!(engine("5"), Ok(Engine::Upgrade));
        assert!(engine("").is_err());
        assert!(engine("9").is_err());
    }

    #[test]
    fn reads_socketio_packets() {
        assert_eq!(
            socketio(r#"0{"token":"t"}"#),
            Ok(SocketIo::Connect {
                namespace: "/".into(),
                auth: Some(json!({"token": "t"}))
            })
        );
        assert_eq!(
            socketio("0/admin,"),
            Ok(SocketIo::Connect {
                namespace: "/admin".into(),
                auth: None
            })
        );
        assert_eq!(
            socketio(r#"217["ping",{}]"#),
            Ok(SocketIo::Event {
                namespace: "/".into(),
                ack: Some(17),
                args: json!(["ping", {}])
            })
        );
        assert_eq!(
            socketio(r#"2["x"]"#),
            Ok(SocketIo::Event {
                namespace: "/".into(),
                ack: None,
                args: json!(["x"])
            })
        );
        assert_eq!(
            socketio(r#"51-3["x",{"_placeholder":true,"num":0}]"#),
            Ok(SocketIo::Binary { ack: Some(3) })
        );
        assert!(socketio("2[").unwrap_err().contains("JSON"));
        assert!(socketio("299999999999999999999999[]").is_err());
    }

    #[test]
    fn writes_seq_first_in_data() {
        let e = ServerEvent::new(
            "resume_complete",
            Some(7),
            Data::ResumeComplete(ResumeComplete { up_to: 9 }),
        );
        assert_eq!(&*event(&e), r#"42["resume_complete",{"seq":7,"upTo":9}]"#);
        assert_eq!(with_seq("x", Some(1), "{}"), r#"42["x",{"seq":1}]"#);
        assert_eq!(with_seq("x", None, "{}"), r#"42["x",{}]"#);
        assert_eq!(
            &*ack(3, &json!({"success": true})),
            r#"433[{"success":true}]"#
        );
        assert_eq!(
            &*connect_error("/", "unauthorized", "missing bearer token"),
            r#"44{"data":{"code":"unauthorized","message":"missing bearer token"},"message":"unauthorized"}"#
        );
    }
}
