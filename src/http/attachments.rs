//! Uploads: `POST /messaging/conversations/:id/attachments` streams one multipart part into the
//! object store; `GET /messaging/attachments/:id` (and `/thumbnail`) serves it to a token that may
//! see its conversation, or to the signed URL the views hand out, with ranges and an ETag.

use super::{ok, path_param, ApiError};
use crate::attachments::files::{Stored, Upload, THUMB_SUFFIX};
use crate::attachments::media::Format;
use crate::attachments::sign::UrlSigner;
use crate::auth::{AuthRejection, Caller};
use crate::command::attachments::{self as command, Part};
use crate::command::{access, CommandError};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use concierge_events::ids;
use futures::StreamExt;
use serde::Serialize;

/// What an upload's multipart body may hold besides the file: a few small fields.
const OTHER_PART_BYTES: u64 = 64 * 1024;

/// The sandbox every served file runs in, should a browser ever render one as a document.
const FILE_CSP: &str = "default-src 'none'; sandbox";

#[derive(Serialize)]
struct Uploaded {
    attachment: concierge_projections::views::AttachmentView,
}

/// Upload a file to a conversation, for a message to carry.
#[utoipa::path(
    post,
    path = "/messaging/conversations/{conversationId}/attachments",
    operation_id = "uploadAttachment",
    tag = "attachments",
    summary = "Upload a file (one multipart part named `file`) for a message to carry",
    params(("conversationId" = crate::http::openapi::Ulid, Path, description = "The conversation")),
    request_body(content = crate::http::openapi::UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Stored; send it with `attachments: [{id}]`", body = crate::http::openapi::Envelope<crate::http::openapi::UploadedAttachment>),
        (status = 400, response = crate::http::openapi::BadRequest),
        (status = 401, response = crate::http::openapi::Unauthorized),
        (status = 403, response = crate::http::openapi::Forbidden),
        (status = 404, response = crate::http::openapi::NotFound),
        (status = 409, response = crate::http::openapi::Conflict),
        (status = 413, response = crate::http::openapi::PayloadTooLarge),
        (status = 415, response = crate::http::openapi::UnsupportedMediaType),
        (status = 429, response = crate::http::openapi::TooManyRequests),
        (status = 500, response = crate::http::openapi::Internal),
        (status = 503, response = crate::http::openapi::Unavailable),
    ),
    security(("bearer" = []))
)]
pub async fn upload(
    State(app): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let id = path_param(path, "conversationId")?;
    let conv = command::may_upload(&app, &caller, &id)?;
    let boundary = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| multer::parse_boundary(ct).ok())
        .ok_or_else(|| {
            CommandError::Unsupported(
                "body must be multipart/form-data with one part named file".into(),
            )
        })?;
    let max = app.config.attachments.max_bytes;
    let whole_limit = max + OTHER_PART_BYTES * 4;
    let declared_length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared_length.is_some_and(|n| n > whole_limit) {
        return Err(CommandError::TooLarge(format!("file must be at most {max} bytes")).into());
    }
    command::open_for_upload(&conv)?;
    let constraints = multer::Constraints::new().size_limit(
        multer::SizeLimit::new()
            .whole_stream(whole_limit)
            .per_field(OTHER_PART_BYTES)
            .for_field("file", max + OTHER_PART_BYTES),
    );
    let mut multipart =
        multer::Multipart::with_constraints(body.into_data_stream(), boundary, constraints);
    let too_large = || CommandError::TooLarge(format!("file must be at most {max} bytes"));
    let part_error = |e: multer::Error| -> ApiError {
        match e {
            multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. } => {
                too_large().into()
            }
            e => ApiError::Invalid(format!("body is not valid multipart/form-data: {e}")),
        }
    };
    loop {
        let Some(field) = multipart.next_field().await.map_err(part_error)? else {
            return Err(ApiError::Invalid("body must have a part named file".into()));
        };
        if field.name() != Some("file") {
            continue;
        }
        let part = Part {
            declared: field.content_type().map(|m| m.to_string()),
            filename: field.file_name().map(str::to_string),
            data: field.map(|chunk| {
                chunk.map_err(|e| match e {
                    multer::Error::StreamSizeExceeded { .. }
                    | multer::Error::FieldSizeExceeded { .. } => "too large".to_string(),
                    e => e.to_string(),
                })
            }),
        };
        let attachment = command::upload(&app, &caller, &conv, part).await?;
        return Ok(ok(
            StatusCode::CREATED,
            "Attachment uploaded",
            Uploaded { attachment },
        ));
    }
}

/// An upload's bytes.
#[utoipa::path(
    get,
    path = "/messaging/attachments/{attachmentId}",
    operation_id = "getAttachment",
    tag = "attachments",
    summary = "An uploaded file's bytes, for a token or a signed URL",
    params(("attachmentId" = crate::http::openapi::Ulid, Path, description = "The upload"), crate::http::openapi::SignedQuery, ("Range" = Option<String>, Header, description = "One byte range, e.g. `bytes=0-1023`")),
    responses(
        (status = 200, description = "The file, with the type it was stored as", content_type = "*/*"),
        (status = 206, description = "The requested range of the file", content_type = "*/*"),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, response = crate::http::openapi::BadRequest),
        (status = 401, response = crate::http::openapi::Unauthorized),
        (status = 403, response = crate::http::openapi::Forbidden),
        (status = 404, response = crate::http::openapi::NotFound),
        (status = 416, response = crate::http::openapi::RangeNotSatisfiable),
        (status = 500, response = crate::http::openapi::Internal),
        (status = 503, response = crate::http::openapi::Unavailable),
    ),
    security(("bearer" = []), ())
)]
pub async fn download(
    State(app): State<AppState>,
    caller: Result<Caller, AuthRejection>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    serve(app, caller, path, query, headers, false).await
}

/// An uploaded image's thumbnail (at most 320 pixels on its long side).
#[utoipa::path(
    get,
    path = "/messaging/attachments/{attachmentId}/thumbnail",
    operation_id = "getAttachmentThumbnail",
    tag = "attachments",
    summary = "An uploaded image's thumbnail, for a token or a signed URL",
    params(("attachmentId" = crate::http::openapi::Ulid, Path, description = "The upload"), crate::http::openapi::SignedQuery, ("Range" = Option<String>, Header, description = "One byte range")),
    responses(
        (status = 200, description = "The thumbnail: JPEG, or PNG for an image with transparency", content_type = "image/*"),
        (status = 206, description = "The requested range of the thumbnail", content_type = "image/*"),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, response = crate::http::openapi::BadRequest),
        (status = 401, response = crate::http::openapi::Unauthorized),
        (status = 403, response = crate::http::openapi::Forbidden),
        (status = 404, response = crate::http::openapi::NotFound),
        (status = 416, response = crate::http::openapi::RangeNotSatisfiable),
        (status = 500, response = crate::http::openapi::Internal),
        (status = 503, response = crate::http::openapi::Unavailable),
    ),
    security(("bearer" = []), ())
)]
pub async fn thumbnail(
    State(app): State<AppState>,
    caller: Result<Caller, AuthRejection>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    serve(app, caller, path, query, headers, true).await
}

/// The checks in the contract's order (who, then the id, then the upload, then may they), then the
/// bytes.
async fn serve(
    app: AppState,
    caller: Result<Caller, AuthRejection>,
    path: Result<Path<String>, PathRejection>,
    query: Option<String>,
    headers: HeaderMap,
    thumbnail: bool,
) -> Result<Response, ApiError> {
    let id = path_param(path, "attachmentId")?;
    let params = super::extract::Params::parse(query.as_deref());
    let caller = if headers.contains_key(header::AUTHORIZATION) {
        Some(caller?)
    } else {
        let signed_path = UrlSigner::path(&id, thumbnail);
        app.attachments
            .signer
            .check(&signed_path, params.get("exp"), params.get("sig"))
            .map_err(|e| ApiError::Unauthorized(crate::auth::AuthError::BadLink(e)))?;
        None
    };
    if !ids::is_ulid(&id) {
        return Err(ApiError::Invalid(
            "attachmentId must be a 26-character ULID".into(),
        ));
    }
    if caller
        .as_ref()
        .is_some_and(|c| c.role == concierge_events::Role::Service)
    {
        return Err(CommandError::Forbidden(access::SERVICE_FORBIDDEN.into()).into());
    }
    let upload = command::readable(&app, caller.as_ref(), &id).await?;
    let files = &app.attachments.files;
    let (stored, mimetype) = if thumbnail {
        let not_found = || CommandError::NotFound("this attachment has no thumbnail".into());
        let mimetype = upload.thumbnail.clone().ok_or_else(not_found)?;
        let info = files
            .info(&format!("{id}{THUMB_SUFFIX}"))
            .await
            .map_err(CommandError::FilesUnavailable)?
            .ok_or_else(not_found)?;
        (
            Stored {
                size: info.size as u64,
                nuid: info.nuid,
                digest: info.digest,
            },
            mimetype,
        )
    } else {
        (
            Stored {
                size: upload.size,
                nuid: upload.nuid.clone(),
                digest: upload.digest.clone(),
            },
            upload.mimetype.clone(),
        )
    };
    respond(&app, &upload, stored, &mimetype, thumbnail, &headers).await
}

async fn respond(
    app: &AppState,
    upload: &Upload,
    stored: Stored,
    mimetype: &str,
    thumbnail: bool,
    request: &HeaderMap,
) -> Result<Response, ApiError> {
    let etag = stored
        .digest
        .as_deref()
        .map(|d| format!("\"{}\"", d.trim_start_matches("SHA-256=")));
    let inline = thumbnail || Format::from_mimetype(mimetype).is_some_and(Format::inline);
    let mut response = Response::builder()
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::CONTENT_SECURITY_POLICY, FILE_CSP)
        .header(header::CACHE_CONTROL, "private, no-cache")
        .header(header::ACCEPT_RANGES, "bytes");
    if let Some(etag) = &etag {
        response = response.header(header::ETAG, etag);
        let matches = request
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
        if matches {
            return Ok(response
                .status(StatusCode::NOT_MODIFIED)
                .body(Body::empty())
                .unwrap_or_default());
        }
    }
    let content_type = if mimetype == "text/plain" {
        "text/plain; charset=utf-8".to_string()
    } else {
        mimetype.to_string()
    };
    response = response.header(header::CONTENT_TYPE, content_type).header(
        header::CONTENT_DISPOSITION,
        disposition(inline, &upload.filename),
    );
    let size = stored.size;
    // A `Range` that does not parse is ignored (the whole file, as RFC 9110 allows); one that
    // parses but lies outside the file is 416.
    let range = request
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| http_range_header::parse_range_header(v).ok())
        .map(|r| r.validate(size));
    let (status, skip, take) = match range {
        Some(Ok(ranges)) if ranges.len() == 1 => {
            let r = &ranges[0];
            response = response.header(
                header::CONTENT_RANGE,
                format!("bytes {}-{}/{size}", r.start(), r.end()),
            );
            (
                StatusCode::PARTIAL_CONTENT,
                *r.start(),
                r.end() - r.start() + 1,
            )
        }
        Some(Err(_)) if size > 0 => return Err(ApiError::RangeNotSatisfiable { size }),
        // No range, several ranges, or a range of an empty file: the whole file.
        _ => (StatusCode::OK, 0, size),
    };
    let bytes = app
        .attachments
        .files
        .read(&stored, skip, take)
        .await
        .map_err(CommandError::FilesUnavailable)?;
    metrics::counter!("concierge_attachments_served_total").increment(1);
    Ok(response
        .status(status)
        .header(header::CONTENT_LENGTH, take)
        .body(Body::from_stream(bytes))
        .map_err(|_| ApiError::Invalid("the file name cannot be sent".into()))?
        .into_response())
}

/// `Content-Disposition` with the display name: an ASCII fallback and the exact name (RFC 6266).
fn disposition(inline: bool, filename: &str) -> HeaderValue {
    let kind = if inline { "inline" } else { "attachment" };
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let exact: String = form_urlencoded::byte_serialize(filename.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    HeaderValue::from_str(&format!(
        "{kind}; filename=\"{ascii}\"; filename*=UTF-8''{exact}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

#[cfg(test)]
mod tests {
    use super::disposition;

    #[test]
    fn a_disposition_carries_an_ascii_fallback_and_the_exact_name() {
        assert_eq!(
            disposition(true, "Café menu.pdf"),
            "inline; filename=\"Caf_ menu.pdf\"; filename*=UTF-8''Caf%C3%A9%20menu.pdf"
        );
        assert_eq!(
            disposition(false, "a\"b.txt"),
            "attachment; filename=\"a_b.txt\"; filename*=UTF-8''a%22b.txt"
        );
    }
}
