//! Signed attachment URLs: what lets `<img src>` and `<audio src>` fetch an upload without a token.
//!
//! A URL is the upload's path with `exp` (Unix seconds) and `sig`, the HMAC-SHA256 of
//! `<path>\n<exp>` under a key derived from `JWT_SECRET`, so every node of a cluster signs and checks
//! alike. `exp` is rounded down to a step of a twelfth of the TTL (at most 5 minutes), so that a
//! message read twice within a step gets the same URL and the browser's cache answers the second time.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use concierge_projections::views::{AttachmentView, MessageView};
use ring::hmac;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The prefix of every upload's path; the views keep paths, never signatures.
pub const PATH_PREFIX: &str = "/messaging/attachments/";

/// Why a signed URL was refused, in words a client can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the link has no valid signature")]
    Invalid,
    #[error("the link has expired: read the message again for a fresh one")]
    Expired,
}

/// Signs and checks attachment URLs.
pub struct UrlSigner {
    key: hmac::Key,
    ttl: Duration,
}

impl UrlSigner {
    /// A signer whose key is derived from the token secret (never the secret itself), with URLs
    /// valid for `ttl`.
    pub fn new(jwt_secret: &str, ttl: Duration) -> UrlSigner {
        let root = hmac::Key::new(hmac::HMAC_SHA256, jwt_secret.as_bytes());
        let derived = hmac::sign(&root, b"concierge attachment urls v1");
        UrlSigner {
            key: hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()),
            ttl,
        }
    }

    /// The path of an upload, or of its thumbnail.
    pub fn path(id: &str, thumbnail: bool) -> String {
        if thumbnail {
            format!("{PATH_PREFIX}{id}/thumbnail")
        } else {
            format!("{PATH_PREFIX}{id}")
        }
    }

    /// `path` signed to expire between `ttl` minus one step and `ttl` from `now`.
    pub fn sign_at(&self, path: &str, now: SystemTime) -> String {
        let step = (self.ttl.as_secs() / 12).clamp(1, 300);
        let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let exp = (now + self.ttl.as_secs()) / step * step;
        let exp = exp.max(now + 1);
        format!("{path}?exp={exp}&sig={}", self.signature(path, exp))
    }

    pub fn sign(&self, path: &str) -> String {
        self.sign_at(path, SystemTime::now())
    }

    fn signature(&self, path: &str, exp: u64) -> String {
        let tag = hmac::sign(&self.key, format!("{path}\n{exp}").as_bytes());
        URL_SAFE_NO_PAD.encode(tag.as_ref())
    }

    /// Checks `exp` and `sig` of a request for `path`.
    ///
    /// # Errors
    /// [`SignatureError::Invalid`] for a missing, malformed or wrong signature (checked in constant
    /// time), [`SignatureError::Expired`] for a right one past its `exp`.
    pub fn check_at(
        &self,
        path: &str,
        exp: Option<&str>,
        sig: Option<&str>,
        now: SystemTime,
    ) -> Result<(), SignatureError> {
        let exp: u64 = exp
            .filter(|e| !e.is_empty() && e.len() <= 20 && e.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|e| e.parse().ok())
            .ok_or(SignatureError::Invalid)?;
        let sig = sig
            .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
            .ok_or(SignatureError::Invalid)?;
        hmac::verify(&self.key, format!("{path}\n{exp}").as_bytes(), &sig)
            .map_err(|_| SignatureError::Invalid)?;
        let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        if now >= exp {
            return Err(SignatureError::Expired);
        }
        Ok(())
    }

    /// [`check_at`](Self::check_at) now.
    ///
    /// # Errors
    /// As [`check_at`](Self::check_at).
    pub fn check(
        &self,
        path: &str,
        exp: Option<&str>,
        sig: Option<&str>,
    ) -> Result<(), SignatureError> {
        self.check_at(path, exp, sig, SystemTime::now())
    }

    /// The attachment as handed out: an upload's paths signed; a file outside Concierge as it is.
    pub fn attachment(&self, mut a: AttachmentView) -> AttachmentView {
        if a.id.is_some() {
            a.url = self.sign(&a.url);
            a.thumbnail_url = a.thumbnail_url.map(|t| self.sign(&t));
        }
        a
    }

    /// The message as handed out, its uploads' URLs signed. Messages without uploads are returned
    /// untouched (no allocation).
    pub fn message(&self, mut m: MessageView) -> MessageView {
        if m.attachments.iter().any(|a| a.id.is_some()) {
            m.attachments = std::mem::take(&mut m.attachments)
                .into_iter()
                .map(|a| self.attachment(a))
                .collect();
        }
        m
    }

    /// [`message`](Self::message) for every message of a page.
    pub fn messages(&self, messages: Vec<MessageView>) -> Vec<MessageView> {
        messages.into_iter().map(|m| self.message(m)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(url: &str) -> (String, Option<String>, Option<String>) {
        let (path, q) = url.split_once('?').unwrap();
        let mut exp = None;
        let mut sig = None;
        for (k, v) in form_urlencoded::parse(q.as_bytes()) {
            match &*k {
                "exp" => exp = Some(v.into_owned()),
                "sig" => sig = Some(v.into_owned()),
                _ => {}
            }
        }
        (path.to_string(), exp, sig)
    }

    #[test]
    fn a_signed_url_is_accepted_until_it_expires_and_only_for_its_path() {
        let signer = UrlSigner::new("secret", Duration::from_secs(3600));
        let t0 = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let url = signer.sign_at("/messaging/attachments/A", t0);
        let (path, exp, sig) = query(&url);
        assert_eq!(path, "/messaging/attachments/A");
        let exp_n: u64 = exp.as_deref().unwrap().parse().unwrap();
        assert!(exp_n > 1_800_000_000 + 3600 - 300 && exp_n <= 1_800_000_000 + 3600);
        let check =
            |p: &str, at: SystemTime| signer.check_at(p, exp.as_deref(), sig.as_deref(), at);
        assert_eq!(check(&path, t0), Ok(()));
        assert_eq!(
            check("/messaging/attachments/B", t0),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            check(&path, UNIX_EPOCH + Duration::from_secs(exp_n)),
            Err(SignatureError::Expired)
        );
        // Another exp with the same signature, or another secret, is not accepted.
        let later = (exp_n + 10).to_string();
        assert_eq!(
            signer.check_at(&path, Some(&later), sig.as_deref(), t0),
            Err(SignatureError::Invalid)
        );
        let other = UrlSigner::new("other", Duration::from_secs(3600));
        assert_eq!(
            other.check_at(&path, exp.as_deref(), sig.as_deref(), t0),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            signer.check_at(&path, None, sig.as_deref(), t0),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            signer.check_at(&path, Some("-1"), sig.as_deref(), t0),
            Err(SignatureError::Invalid)
        );
    }

    #[test]
    fn urls_signed_within_one_step_are_equal() {
        let signer = UrlSigner::new("secret", Duration::from_secs(3600));
        let t0 = UNIX_EPOCH + Duration::from_secs(1_800_000_100);
        assert_eq!(
            signer.sign_at("/p", t0),
            signer.sign_at("/p", t0 + Duration::from_secs(50))
        );
    }
}
