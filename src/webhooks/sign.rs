//! Standard Webhooks signatures: `v1,` + base64(HMAC-SHA256(key, "<id>.<timestamp>.<body>")), the key
//! being the bytes `WEBHOOK_SECRET` encodes after `whsec_`, so that any of the convention's reference
//! libraries verifies a delivery.

use base64::Engine;

/// The fewest key bytes `WEBHOOK_SECRET` may hold (the convention's libraries make 24 to 64).
pub const MIN_KEY_BYTES: usize = 24;

/// `WEBHOOK_SECRET` decoded: the HMAC key. Never printed.
#[derive(Clone)]
pub struct Secret(ring::hmac::Key);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Why a `WEBHOOK_SECRET` is refused; the message never repeats the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("WEBHOOK_SECRET must start with `whsec_` followed by base64")]
    NoPrefix,
    #[error("WEBHOOK_SECRET is not base64 after `whsec_`")]
    NotBase64,
    #[error("WEBHOOK_SECRET holds {0} bytes; it needs at least {MIN_KEY_BYTES} (e.g. `echo whsec_$(openssl rand -base64 32)`)")]
    TooShort(usize),
}

impl Secret {
    /// The key of `whsec_<base64>`.
    ///
    /// # Errors
    /// A [`SecretError`] naming what is wrong with the setting.
    pub fn parse(setting: &str) -> Result<Secret, SecretError> {
        let encoded = setting
            .trim()
            .strip_prefix("whsec_")
            .ok_or(SecretError::NoPrefix)?;
        let key = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| SecretError::NotBase64)?;
        if key.len() < MIN_KEY_BYTES {
            return Err(SecretError::TooShort(key.len()));
        }
        Ok(Secret(ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key)))
    }

    /// The `webhook-signature` header of the attempt of delivery `id` made at `timestamp` (Unix
    /// seconds) with `body`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut context = ring::hmac::Context::with_key(&self.0);
        context.update(id.as_bytes());
        context.update(b".");
        context.update(timestamp.to_string().as_bytes());
        context.update(b".");
        context.update(body);
        let tag = context.sign();
        format!(
            "v1,{}",
            base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_webhooks_example_signs_as_its_specification_shows() {
        // The example of the Standard Webhooks specification: its secret, id, timestamp, body and
        // the signature it gives.
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn a_secret_without_its_prefix_or_too_short_is_refused_by_name() {
        assert_eq!(
            Secret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap_err(),
            SecretError::NoPrefix
        );
        assert_eq!(
            Secret::parse("whsec_not base64!").unwrap_err(),
            SecretError::NotBase64
        );
        assert_eq!(
            Secret::parse("whsec_c2hvcnQ=").unwrap_err(),
            SecretError::TooShort(5)
        );
        assert!(!format!("{:?}", Secret::parse("whsec_c2hvcnQ=")).contains("c2hvcnQ"));
    }
}
