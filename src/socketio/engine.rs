//! Engine.IO v4 connections: one [`Engine`] per Socket.IO socket, over a WebSocket or over HTTP
//! long-polling (which a client may upgrade to a WebSocket midway). The engine hides the transport:
//! it yields Socket.IO packets and writes packets, keeps the heartbeat, and on an upgrade carries
//! the packets not yet polled over to the WebSocket, in order.

use super::packet::{self, Engine as EnginePacket, SocketIo};
use crate::realtime::event::Text;
use crate::realtime::session::Gone;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use dashmap::DashMap;
use futures::SinkExt;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{mpsc, Notify};

/// Packets written while the client does not poll, before a write waits for it.
const OUTBOX_PACKETS: usize = 1024;
/// Engine.IO packets a POST may queue ahead of the connection's task.
const INBOUND_PACKETS: usize = 16;
/// How long a closing long-polling session waits for the client to fetch its last packets.
const LAST_POLL: Duration = Duration::from_secs(5);

/// The long-polling sessions of this node, by Engine.IO session id.
#[derive(Default)]
pub struct Sessions {
    map: DashMap<String, Arc<Polling>>,
}

impl Sessions {
    pub fn get(&self, sid: &str) -> Option<Arc<Polling>> {
        self.map.get(sid).map(|p| p.value().clone())
    }

    /// Opens a long-polling session; the returned engine belongs to the connection's task.
    pub fn open(self: &Arc<Self>, sid: String) -> Engine {
        let (tx, rx) = mpsc::channel(INBOUND_PACKETS);
        let polling = Arc::new(Polling {
            inbound: tx,
            outbox: Mutex::new(Outbox::default()),
            changed: Notify::new(),
            drained: Notify::new(),
            upgrade: Mutex::new(None),
            upgraded: Notify::new(),
            ended: Notify::new(),
        });
        self.map.insert(sid.clone(), polling.clone());
        Engine {
            mode: Mode::Polling {
                polling,
                inbound: rx,
                sessions: self.clone(),
                sid,
            },
            posted: VecDeque::new(),
            pending: VecDeque::new(),
            pong_due: false,
            close_with: None,
        }
    }
}

/// What the HTTP requests of one long-polling session share with its connection's task.
pub struct Polling {
    /// Engine.IO packets POSTed by the client, in order.
    inbound: mpsc::Sender<String>,
    outbox: Mutex<Outbox>,
    /// The outbox or its flags changed (a waiting GET looks again).
    changed: Notify,
    /// A GET took packets (a write waiting for room looks again).
    drained: Notify,
    /// The WebSocket the client upgraded to, once it confirmed the upgrade.
    upgrade: Mutex<Option<WebSocket>>,
    upgraded: Notify,
    /// The HTTP side closed the session: the connection's task ends.
    ended: Notify,
}

#[derive(Default)]
struct Outbox {
    packets: VecDeque<Text>,
    /// The next GET answers a noop, so that a client about to upgrade stops polling.
    noop: bool,
    /// No more packets will come; the next GET that finds none answers a close.
    closed: bool,
    /// A GET answered the close: later ones are refused as for an unknown session.
    close_sent: bool,
    /// A GET is waiting (Engine.IO allows one at a time).
    polling: bool,
    /// The client confirmed the upgrade: writes wait for the connection to move to the WebSocket.
    upgrading: bool,
}

/// Why a GET or POST of a long-polling session was refused (Engine.IO's own error codes).
#[derive(Debug, PartialEq, Eq)]
pub enum PollError {
    /// The session is closed or was upgraded.
    Closed,
    /// A second GET while one is waiting: the session is closed, as Engine.IO does.
    Overlapping,
}

impl Polling {
    fn outbox(&self) -> MutexGuard<'_, Outbox> {
        self.outbox.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A GET: every packet written so far, joined by the record separator, waiting for one.
    ///
    /// # Errors
    /// [`PollError`] when the session is closed or another GET is waiting.
    pub async fn poll(&self) -> Result<String, PollError> {
        {
            let mut outbox = self.outbox();
            if outbox.polling {
                drop(outbox);
                self.close();
                return Err(PollError::Overlapping);
            }
            if outbox.closed && outbox.packets.is_empty() && outbox.close_sent {
                return Err(PollError::Closed);
            }
            outbox.polling = true;
        }
        let mut waiting = Waiting {
            polling: self,
            answered: false,
        };
        loop {
            {
                let mut outbox = self.outbox();
                if !outbox.packets.is_empty() {
                    let packets: Vec<Text> = outbox.packets.drain(..).collect();
                    // The last packets of a closed session end with the close, in the same
                    // response: the node may be gone by the next GET (a drain).
                    let closing = outbox.closed;
                    outbox.close_sent = closing;
                    drop(outbox);
                    self.drained.notify_one();
                    let mut body = String::new();
                    for (i, p) in packets.iter().enumerate() {
                        if i > 0 {
                            body.push(packet::SEPARATOR);
                        }
                        body.push_str(p.as_str());
                    }
                    if closing {
                        body.push(packet::SEPARATOR);
                        body.push('1');
                    }
                    waiting.answered = true;
                    return Ok(body);
                }
                if outbox.noop {
                    outbox.noop = false;
                    waiting.answered = true;
                    return Ok("6".into());
                }
                if outbox.closed {
                    outbox.close_sent = true;
                    waiting.answered = true;
                    return Ok("1".into());
                }
            }
            self.changed.notified().await;
        }
    }

    /// A POST: its packets, in order, for the connection's task.
    ///
    /// # Errors
    /// [`PollError::Closed`] when the connection is gone.
    pub async fn post(&self, body: &str) -> Result<(), PollError> {
        if self.outbox().closed {
            return Err(PollError::Closed);
        }
        for p in body.split(packet::SEPARATOR) {
            self.inbound
                .send(p.to_string())
                .await
                .map_err(|_| PollError::Closed)?;
        }
        Ok(())
    }

    /// Ends the session: no more packets are taken or written, a waiting GET answers a close, and
    /// the connection's task ends (a payload over the limit, a second GET).
    pub fn close(&self) {
        self.outbox().closed = true;
        self.changed.notify_one();
        self.ended.notify_one();
    }

    /// The client probed a WebSocket: pending and future GETs answer a noop until it upgrades.
    pub fn pause(&self) {
        self.outbox().noop = true;
        self.changed.notify_one();
    }

    /// The client confirmed the upgrade: what it had not fetched goes over `socket` first, then the
    /// connection's task moves to `socket`.
    pub async fn upgrade(&self, mut socket: WebSocket) {
        let unfetched: Vec<Text> = {
            let mut outbox = self.outbox();
            outbox.upgrading = true;
            outbox.packets.drain(..).collect()
        };
        let mut sent = Ok(());
        for p in unfetched {
            sent = socket.feed(Message::Text(p)).await;
            if sent.is_err() {
                break;
            }
        }
        if sent.is_ok() {
            let _ = socket.flush().await;
        }
        *self.upgrade.lock().unwrap_or_else(|e| e.into_inner()) = Some(socket);
        self.upgraded.notify_one();
    }
}

/// Clears the one-GET-at-a-time flag however the GET ends. A GET dropped before it was answered
/// means the client closed the request (a closed page, a lost network): the session ends at once,
/// as Engine.IO's own server does, rather than at the ping timeout.
struct Waiting<'a> {
    polling: &'a Polling,
    answered: bool,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.polling.outbox().polling = false;
        if !self.answered {
            self.polling.close();
        }
    }
}

/// The WebSocket variant is the common one and is kept inline: boxing it would only add an
/// allocation per socket.
#[allow(clippy::large_enum_variant)]
enum Mode {
    WebSocket(WebSocket),
    Polling {
        polling: Arc<Polling>,
        inbound: mpsc::Receiver<String>,
        sessions: Arc<Sessions>,
        sid: String,
    },
}

/// One Engine.IO connection, as its task sees it.
pub struct Engine {
    mode: Mode,
    /// Packets the client POSTed before it confirmed the upgrade, not yet read: they come before
    /// anything sent over the WebSocket.
    posted: VecDeque<String>,
    /// Packets that reached the outbox after the upgrade handed over the unfetched ones.
    pending: VecDeque<Text>,
    /// A ping was sent and its pong has not come back.
    pong_due: bool,
    /// The close code and reason [`Engine::finish`] closes a WebSocket with (none by default).
    close_with: Option<(u16, &'static str)>,
}

impl Engine {
    /// An engine over a WebSocket opened directly (`transport=websocket` without a session id).
    pub fn websocket(socket: WebSocket) -> Engine {
        Engine {
            mode: Mode::WebSocket(socket),
            posted: VecDeque::new(),
            pending: VecDeque::new(),
            pong_due: false,
            close_with: None,
        }
    }

    /// Moves to the WebSocket the client upgraded to, if it has.
    fn take_upgrade(&mut self) {
        let Mode::Polling {
            polling,
            inbound,
            sessions,
            sid,
        } = &mut self.mode
        else {
            return;
        };
        let Some(socket) = polling
            .upgrade
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        else {
            return;
        };
        while let Ok(p) = inbound.try_recv() {
            self.posted.push_back(p);
        }
        {
            let mut outbox = polling.outbox();
            self.pending.extend(outbox.packets.drain(..));
            outbox.closed = true;
        }
        polling.changed.notify_one();
        sessions.map.remove(sid);
        self.mode = Mode::WebSocket(socket);
    }

    /// The next Socket.IO packet; `None` when the connection ended. Cancel safe.
    ///
    /// `Some(Err)` is a packet that could not be read; the connection goes on.
    pub async fn next(&mut self) -> Option<Result<SocketIo, String>> {
        loop {
            let text = match (self.posted.pop_front(), &mut self.mode) {
                (Some(posted), _) => Text::from(posted),
                (None, Mode::WebSocket(socket)) => match socket.recv().await {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Binary(_))) => {
                        return Some(Err("binary payloads are not supported".into()))
                    }
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return None,
                    Some(Ok(_)) => continue,
                },
                (
                    None,
                    Mode::Polling {
                        polling, inbound, ..
                    },
                ) => {
                    let shared = polling.clone();
                    if shared.outbox().closed {
                        return None;
                    }
                    tokio::select! {
                        // What was POSTed before the upgrade comes first.
                        biased;
                        got = inbound.recv() => match got {
                            Some(p) => Text::from(p),
                            None => return None,
                        },
                        _ = shared.upgraded.notified() => {
                            self.take_upgrade();
                            continue;
                        }
                        _ = shared.ended.notified() => return None,
                    }
                }
            };
            match packet::engine(text.as_str()) {
                Ok(EnginePacket::Message(m)) => return Some(packet::socketio(m)),
                Ok(EnginePacket::Pong) => self.pong_due = false,
                Ok(EnginePacket::Close) => return None,
                Ok(EnginePacket::Ping(_) | EnginePacket::Upgrade | EnginePacket::Noop) => {}
                Err(e) => return Some(Err(e)),
            }
        }
    }

    /// Writes one Engine.IO packet.
    ///
    /// # Errors
    /// [`Gone`] when the connection is closed.
    pub async fn write(&mut self, text: Text) -> Result<(), Gone> {
        self.write_all(std::iter::once(text)).await
    }

    /// Writes Engine.IO packets in order, with one flush: over a WebSocket they are fed into its
    /// write buffer and flushed once; over long-polling they join the outbox together and a waiting
    /// GET is woken once, to answer them all in one response.
    ///
    /// # Errors
    /// [`Gone`] when the connection is closed.
    pub async fn write_all<I>(&mut self, packets: I) -> Result<(), Gone>
    where
        I: IntoIterator<Item = Text>,
        I::IntoIter: Send,
    {
        let mut packets = packets.into_iter().peekable();
        loop {
            match &mut self.mode {
                Mode::WebSocket(socket) => {
                    while let Some(p) = self.pending.pop_front() {
                        socket.feed(Message::Text(p)).await.map_err(|_| Gone)?;
                    }
                    for p in packets {
                        socket.feed(Message::Text(p)).await.map_err(|_| Gone)?;
                    }
                    return socket.flush().await.map_err(|_| Gone);
                }
                Mode::Polling { polling, .. } => {
                    let polling = polling.clone();
                    {
                        let mut outbox = polling.outbox();
                        if outbox.closed {
                            return Err(Gone);
                        }
                        let mut pushed = false;
                        while !outbox.upgrading && outbox.packets.len() < OUTBOX_PACKETS {
                            let Some(p) = packets.next() else { break };
                            outbox.packets.push_back(p);
                            pushed = true;
                        }
                        drop(outbox);
                        if pushed {
                            polling.changed.notify_one();
                        }
                        if packets.peek().is_none() {
                            return Ok(());
                        }
                    }
                    tokio::select! {
                        _ = polling.drained.notified() => {}
                        _ = polling.upgraded.notified() => self.take_upgrade(),
                    }
                }
            }
        }
    }

    /// A heartbeat: a ping, unless the previous one is still unanswered.
    ///
    /// # Errors
    /// [`Gone`] when the client missed the previous ping or the connection is closed.
    pub async fn ping(&mut self) -> Result<(), Gone> {
        if self.pong_due {
            return Err(Gone);
        }
        self.pong_due = true;
        self.write(Text::from_static(packet::PING)).await
    }

    /// Has [`Engine::finish`] close a WebSocket with `code` and `reason` (a long-polling session
    /// ends with Engine.IO's `close` packet, which carries neither).
    pub fn closing_for(&mut self, code: u16, reason: &'static str) {
        self.close_with = Some((code, reason));
    }

    /// Ends the connection: a WebSocket is closed; a long-polling session lets the client fetch
    /// what is left for a moment, then goes.
    pub async fn finish(self) {
        match self.mode {
            Mode::WebSocket(mut socket) => {
                let frame = self.close_with.map(|(code, reason)| CloseFrame {
                    code,
                    reason: reason.into(),
                });
                let close = socket.send(Message::Close(frame));
                let _ = tokio::time::timeout(LAST_POLL, close).await;
            }
            Mode::Polling {
                polling,
                sessions,
                sid,
                ..
            } => {
                polling.close();
                let fetched = async {
                    loop {
                        let notified = polling.drained.notified();
                        if polling.outbox().packets.is_empty() {
                            return;
                        }
                        notified.await;
                    }
                };
                let _ = tokio::time::timeout(LAST_POLL, fetched).await;
                sessions.map.remove(&sid);
            }
        }
    }
}
