//! Who is calling: HS256 JWTs verified with the secret from state, as an axum extractor.

use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use concierge_events::{ids, Actor, Role};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// Clock leeway for `exp` and `nbf`, as the contract allows.
pub const LEEWAY_SECS: u64 = 30;

/// Tokens longer than this are refused before any decoding.
const MAX_TOKEN_BYTES: usize = 8 * 1024;

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: String,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bookings: Option<Vec<String>>,
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: String,
    pub role: Role,
    pub name: Option<String>,
    /// Booking ids this customer owns by the platform's signed statement.
    pub bookings: Vec<String>,
    /// Expiry, seconds since the epoch: a socket closes with 4401 when it passes.
    pub exp: u64,
}

impl Caller {
    pub fn actor(&self) -> Actor {
        Actor {
            id: self.user_id.clone(),
            role: self.role,
            name: self.name.clone(),
        }
    }

    /// The name the caller joins a conversation with: the token's, else the user id.
    pub fn display_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.user_id.clone())
    }

    pub fn claims_booking(&self, booking_id: &str) -> bool {
        self.bookings.iter().any(|b| b == booking_id)
    }
}

/// Why a token was refused. Every variant is a 401 (or a 4401 close on a socket).
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("missing bearer token")]
    Missing,
    #[error("malformed Authorization header: expected `Bearer <token>`")]
    MalformedHeader,
    #[error("token is too long")]
    TooLong,
    #[error("invalid token: {}", describe(.0))]
    Invalid(#[source] jsonwebtoken::errors::Error),
    #[error("invalid token: {0}")]
    BadClaim(&'static str),
    /// A request for an attachment with neither a token nor a valid signed link.
    #[error("a token or a signed link is needed: {0}")]
    BadLink(crate::attachments::sign::SignatureError),
}

/// What was wrong with a token, in words a client can act on (not the library's variant names).
fn describe(e: &jsonwebtoken::errors::Error) -> &'static str {
    use jsonwebtoken::errors::ErrorKind;
    match e.kind() {
        ErrorKind::ExpiredSignature => "it has expired",
        ErrorKind::ImmatureSignature => "it is not valid yet (nbf)",
        ErrorKind::InvalidSignature => "the signature does not match JWT_SECRET",
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            "the algorithm must be HS256"
        }
        ErrorKind::MissingRequiredClaim(_) | ErrorKind::Json(_) => {
            "its header or claims are malformed (expected alg HS256 and the claims sub, role and exp)"
        }
        _ => "it is not a well-formed JWT",
    }
}

/// The signing and verification keys; built once from the configured secret.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl JwtKeys {
    pub fn new(secret: &str) -> JwtKeys {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        JwtKeys {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
        }
    }

    /// Verifies a token: HS256 only, signature, `exp`/`nbf` with leeway, `sub` and `role` well formed.
    ///
    /// # Errors
    /// An [`AuthError`] saying what was wrong with the token.
    pub fn verify(&self, token: &str) -> Result<Caller, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::TooLong);
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(AuthError::Invalid)?;
        let c = data.claims;
        let role = match c.role.as_str() {
            "customer" => Role::Customer,
            "admin" => Role::Admin,
            "service" => Role::Service,
            _ => {
                return Err(AuthError::BadClaim(
                    "role must be customer, admin or service",
                ))
            }
        };
        if !ids::is_external(&c.sub) {
            return Err(AuthError::BadClaim(
                "sub must be 1-128 characters of [A-Za-z0-9._:@-]",
            ));
        }
        Ok(Caller {
            user_id: c.sub,
            role,
            name: c.name.filter(|n| !n.trim().is_empty()),
            bookings: c.bookings.unwrap_or_default(),
            exp: c.exp,
        })
    }

    /// Signs claims into a token (the `token` command and the dev routes).
    pub fn mint(&self, claims: &Claims) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .expect("HS256 signing cannot fail")
    }
}

/// Reads the bearer token of a request header value.
///
/// # Errors
/// [`AuthError::Missing`] or [`AuthError::MalformedHeader`].
pub fn bearer(header: Option<&axum::http::HeaderValue>) -> Result<&str, AuthError> {
    let value = header.ok_or(AuthError::Missing)?;
    let value = value.to_str().map_err(|_| AuthError::MalformedHeader)?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .ok_or(AuthError::MalformedHeader)?
        .trim();
    if token.is_empty() {
        return Err(AuthError::Missing);
    }
    Ok(token)
}

/// Why the [`Caller`] extractor refused a request; the HTTP layer maps it to the envelope.
#[derive(Debug, thiserror::Error)]
pub enum AuthRejection {
    /// 401: no token, or a bad one.
    #[error(transparent)]
    Unauthorized(#[from] AuthError),
    /// 429: this address failed to authenticate too often; the wait until it may try again.
    #[error("too many failed authentications from this address: try again later")]
    TooManyFailures { retry_after: std::time::Duration },
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ip = client_ip(parts);
        if let Some(retry_after) = ip.and_then(|ip| state.auth_failures.blocked(ip)) {
            return Err(AuthRejection::TooManyFailures { retry_after });
        }
        let verified = bearer(parts.headers.get(axum::http::header::AUTHORIZATION))
            .and_then(|token| state.keys.verify(token));
        if let (Err(e), Some(ip)) = (&verified, ip) {
            if e.counts_as_failure() {
                state.auth_failures.failed(ip);
            }
        }
        Ok(verified?)
    }
}

/// The address the request came from (the peer of the TCP connection; a proxy in front is not
/// looked through).
pub fn client_ip(parts: &Parts) -> Option<std::net::IpAddr> {
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
}

impl AuthError {
    /// A token was presented and refused: counted toward the address's failed authentications.
    /// A request without any token is not an attempt to authenticate.
    pub fn counts_as_failure(&self) -> bool {
        !matches!(self, AuthError::Missing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    fn claims(role: &str, exp: u64) -> Claims {
        Claims {
            sub: "cus_7".into(),
            role: role.into(),
            exp,
            name: Some("Ann".into()),
            bookings: Some(vec!["bk_1".into()]),
        }
    }

    #[test]
    fn a_minted_token_verifies() {
        let keys = JwtKeys::new("s");
        let caller = keys
            .verify(&keys.mint(&claims("customer", now() + 60)))
            .unwrap();
        assert_eq!(caller.user_id, "cus_7");
        assert_eq!(caller.role, Role::Customer);
        assert!(caller.claims_booking("bk_1"));
    }

    #[test]
    fn expiry_has_thirty_seconds_of_leeway() {
        let keys = JwtKeys::new("s");
        assert!(keys
            .verify(&keys.mint(&claims("admin", now() - 10)))
            .is_ok());
        assert!(keys
            .verify(&keys.mint(&claims("admin", now() - 60)))
            .is_err());
    }

    #[test]
    fn bad_role_other_secret_and_alg_none_are_refused() {
        let keys = JwtKeys::new("s");
        assert!(keys
            .verify(&keys.mint(&claims("root", now() + 60)))
            .is_err());
        let other = JwtKeys::new("other");
        assert!(keys
            .verify(&other.mint(&claims("admin", now() + 60)))
            .is_err());
        // {"alg":"none","typ":"JWT"} . {"sub":"a","role":"admin","exp":9999999999} . (no signature)
        let none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhIiwicm9sZSI6ImFkbWluIiwiZXhwIjo5OTk5OTk5OTk5fQ.";
        assert!(keys.verify(none).is_err());
    }

    #[test]
    fn bearer_header_forms() {
        use axum::http::HeaderValue;
        assert!(matches!(bearer(None), Err(AuthError::Missing)));
        let v = HeaderValue::from_static("Basic abc");
        assert!(matches!(bearer(Some(&v)), Err(AuthError::MalformedHeader)));
        let v = HeaderValue::from_static("Bearer abc");
        assert_eq!(bearer(Some(&v)).unwrap(), "abc");
    }
}
