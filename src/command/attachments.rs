//! Uploads: a participant's file streamed into the object store, checked by its bytes, with its
//! derived facts (an image's size and thumbnail, an audio file's duration); and the uploads a send
//! names, checked against the object store and the views.
//!
//! An upload writes no event: it is a file waiting for a message. The `message_sent` that uses it
//! carries its metadata, so the log still holds everything the views show.

use super::{access, CommandError, Result};
use crate::attachments::files::{PutFailure, Upload, THUMB_SUFFIX};
use crate::attachments::intake::{Intake, Refusal};
use crate::attachments::media;
use crate::attachments::sign::UrlSigner;
use crate::auth::Caller;
use crate::state::AppState;
use bytes::{Bytes, BytesMut};
use concierge_events::{Attachment, Role, Status};
use concierge_projections::views::{AttachmentView, ConversationView};
use futures::{Stream, StreamExt};
use std::collections::HashSet;

/// The file part of an upload request, not read yet.
pub struct Part<S> {
    /// The part's `Content-Type`, as the client declared it.
    pub declared: Option<String>,
    /// The part's file name, as the client gave it.
    pub filename: Option<String>,
    pub data: S,
}

const ALLOWED: &str =
    "images (JPEG, PNG, GIF, WebP), PDF, plain text (UTF-8) and audio (Ogg, WebM, MP4/M4A, MP3)";

/// The checks before a byte of an upload is read: the conversation (404, 403; service tokens may not
/// upload), the caller's write budget (429) and the conversation's state (409 when closed).
///
/// # Errors
/// As listed.
pub fn may_upload(
    app: &AppState,
    caller: &Caller,
    conversation_id: &str,
) -> Result<ConversationView> {
    let conv = access::conversation(app, caller, conversation_id)?;
    if caller.role == Role::Service {
        return Err(CommandError::Forbidden(access::SERVICE_FORBIDDEN.into()));
    }
    super::take_write(app, caller)?;
    Ok(conv)
}

/// Fails a closed conversation's upload (checked after the request's type and declared length).
///
/// # Errors
/// 409 when the conversation is closed.
pub fn open_for_upload(conv: &ConversationView) -> Result<()> {
    if conv.status == Status::Closed {
        return Err(CommandError::Conflict("the conversation is closed".into()));
    }
    Ok(())
}

fn too_large(app: &AppState) -> CommandError {
    CommandError::TooLarge(format!(
        "file must be at most {} bytes",
        app.config.attachments.max_bytes
    ))
}

fn unreadable(e: impl std::fmt::Display) -> CommandError {
    CommandError::Invalid(format!("the upload could not be read: {e}"))
}

/// Streams the part into the object store and answers the stored attachment (its URLs signed).
/// Nothing is kept when any step fails: the object is written last-step-ready, and removed (or left
/// not ready for the sweeper) otherwise.
///
/// # Errors
/// 415 for a type not allowed or not the declared one, 413 over `MAX_ATTACHMENT_BYTES`, 400 for an
/// image over 40 megapixels or that does not decode (or a body that cannot be read), 503 when the
/// object store cannot take it.
pub async fn upload<S, E>(
    app: &AppState,
    caller: &Caller,
    conv: &ConversationView,
    part: Part<S>,
) -> Result<AttachmentView>
where
    S: Stream<Item = std::result::Result<Bytes, E>> + Unpin + Send,
    E: std::fmt::Display,
{
    let limit = app.config.attachments.max_bytes;
    let mut data = part.data;
    let mut head = BytesMut::new();
    while head.len() < media::SNIFF_BYTES {
        match data.next().await {
            None => break,
            Some(Ok(chunk)) => head.extend_from_slice(&chunk),
            Some(Err(e)) => return Err(unreadable(e)),
        }
    }
    let Some(format) = media::sniff(&head) else {
        return Err(CommandError::Unsupported(format!(
            "file type not allowed: only {ALLOWED} may be attached"
        )));
    };
    if !media::declared_agrees(part.declared.as_deref(), format) {
        return Err(CommandError::Unsupported(format!(
            "the file is {} but was sent as {}",
            format.mimetype(),
            part.declared.as_deref().unwrap_or("")
        )));
    }
    if head.len() as u64 > limit {
        return Err(too_large(app));
    }
    let files = &app.attachments.files;
    let id = ulid::Ulid::new().to_string();
    let mut upload = Upload {
        id: id.clone(),
        conversation_id: conv.id.clone(),
        uploader: caller.user_id.clone(),
        filename: media::safe_filename(part.filename.as_deref(), format),
        mimetype: format.mimetype().to_string(),
        size: 0,
        width: None,
        height: None,
        duration_ms: None,
        thumbnail: None,
        digest: None,
        nuid: String::new(),
        modified_ms: 0,
        ready: false,
    };
    let mut intake = Intake::new(format, head.freeze(), data, limit);
    let stored = match files.put(&id, upload.metadata(), &mut intake).await {
        Ok(stored) => stored,
        Err(PutFailure::Reader) => {
            return Err(match intake.refusal.clone() {
                Some(Refusal::TooLarge) => too_large(app),
                Some(Refusal::NotText) => CommandError::Unsupported(format!(
                    "the file is not UTF-8 text: only {ALLOWED} may be attached"
                )),
                Some(Refusal::Body(e)) => unreadable(e),
                None => unreadable("the body ended early"),
            });
        }
        Err(PutFailure::Files(e)) => {
            tracing::warn!(error = %e, "upload refused: the object store did not take it");
            return Err(CommandError::FilesUnavailable(e));
        }
    };
    upload.size = stored.size;
    let finish = async {
        if let Some(bytes) = intake.whole.take() {
            // Decoding an image holds its pixels: a bounded number at a time, taken only once the
            // file is in, so that a slow client never holds a turn.
            let _decoding = app
                .attachments
                .decode
                .acquire()
                .await
                .map_err(|_| CommandError::Invalid("the server is stopping".into()))?;
            let info = tokio::task::spawn_blocking(move || media::image_info(format, &bytes))
                .await
                .map_err(|e| CommandError::Invalid(format!("the image could not be decoded: {e}")))?
                .map_err(|e| CommandError::Invalid(e.to_string()))?;
            let thumb = info.thumbnail;
            let mut meta = std::collections::HashMap::new();
            meta.insert("mimetype".to_string(), thumb.mimetype.to_string());
            files
                .put(
                    &format!("{id}{THUMB_SUFFIX}"),
                    meta,
                    &mut std::io::Cursor::new(thumb.bytes),
                )
                .await
                .map_err(|e| match e {
                    PutFailure::Files(e) => CommandError::FilesUnavailable(e),
                    PutFailure::Reader => unreadable("the thumbnail"),
                })?;
            upload.width = Some(info.width);
            upload.height = Some(info.height);
            upload.thumbnail = Some(thumb.mimetype.to_string());
        }
        if format.is_audio() {
            upload.duration_ms =
                media::audio_duration_ms(format, &intake.head, &intake.tail_bytes(), stored.size);
        }
        upload.ready = true;
        files
            .set_metadata(&id, upload.metadata())
            .await
            .map_err(CommandError::FilesUnavailable)
    };
    if let Err(e) = finish.await {
        // Best effort: an upload left behind is not ready, so never served nor sent, and swept.
        let _ = files.delete(&format!("{id}{THUMB_SUFFIX}")).await;
        let _ = files.delete(&id).await;
        return Err(e);
    }
    metrics::counter!("concierge_attachments_uploaded_total").increment(1);
    metrics::counter!("concierge_attachments_uploaded_bytes_total").increment(stored.size);
    Ok(app.attachments.signer.attachment(view_of(&upload)))
}

/// An upload as the views show it (paths, not yet signed).
pub fn view_of(u: &Upload) -> AttachmentView {
    AttachmentView::from(&attachment_of(u))
}

/// The attachment a message carries for an upload: its metadata, never its bytes.
pub fn attachment_of(u: &Upload) -> Attachment {
    Attachment {
        url: UrlSigner::path(&u.id, false),
        filename: u.filename.clone(),
        mimetype: u.mimetype.clone(),
        size: u.size,
        id: Some(u.id.clone()),
        width: u.width,
        height: u.height,
        duration_ms: u.duration_ms,
        thumbnail: u.thumbnail.is_some(),
    }
}

/// The uploads a send names, checked: each uploaded to this conversation (404 otherwise, as if
/// unknown), by this sender (403), and not used by a message yet (409).
///
/// # Errors
/// As listed; 400 for the same id twice; 503 when the object store cannot be asked.
pub async fn resolve(
    app: &AppState,
    caller: &Caller,
    conv: &ConversationView,
    ids: &[String],
) -> Result<Vec<Attachment>> {
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if !seen.insert(id) {
            return Err(CommandError::Invalid(format!(
                "attachments names {id} more than once"
            )));
        }
        let upload = app
            .attachments
            .files
            .upload(id)
            .await
            .map_err(CommandError::FilesUnavailable)?
            .filter(|u| u.ready && u.conversation_id == conv.id)
            .ok_or_else(|| {
                CommandError::NotFound(format!("attachment {id} not found in this conversation"))
            })?;
        if upload.uploader != caller.user_id {
            return Err(CommandError::Forbidden(format!(
                "attachment {id} was uploaded by someone else"
            )));
        }
        if app.views.views().attachment_use(id)?.is_some() {
            return Err(CommandError::Conflict(format!(
                "attachment {id} is already used by a message"
            )));
        }
        out.push(attachment_of(&upload));
    }
    Ok(out)
}

/// Whether one of the uploads is used by a message other than `message_id` (a send that lost a race
/// for it).
///
/// # Errors
/// 500 when the views cannot be read.
pub fn taken_by_other(app: &AppState, ids: &[String], message_id: &str) -> Result<bool> {
    let views = app.views.views();
    for id in ids {
        if let Some(user) = views.attachment_use(id)? {
            if user != message_id {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Where an upload may be read from: the checks of `GET /messaging/attachments/:id` after the
/// caller (token or signature) is known. A signed request may see what the signer handed out; a
/// token's caller must be an admin or the conversation's customer. An upload whose message was
/// deleted is gone (404) at once, whatever the sweeper has done yet.
///
/// # Errors
/// 404 unknown, not ready or deleted; 403 for a caller who may not see the conversation; 503 when
/// the object store cannot be asked.
pub async fn readable(app: &AppState, caller: Option<&Caller>, id: &str) -> Result<Upload> {
    let not_found = || CommandError::NotFound("attachment not found".into());
    let upload = app
        .attachments
        .files
        .upload(id)
        .await
        .map_err(CommandError::FilesUnavailable)?
        .filter(|u| u.ready)
        .ok_or_else(not_found)?;
    let views = app.views.views();
    if let Some(message_id) = views.attachment_use(id)? {
        match views.message_by_id(&message_id)? {
            Some(m) if !m.is_deleted => {}
            _ => return Err(not_found()),
        }
    }
    if let Some(caller) = caller {
        let conv = views
            .conversation(&upload.conversation_id)?
            .ok_or_else(not_found)?;
        access::allowed(caller, &conv)?;
    }
    Ok(upload)
}
