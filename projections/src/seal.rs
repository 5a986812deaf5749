//! The views' values sealed at rest under the operator's key (`VIEWS_KEY`): XChaCha20-Poly1305, a
//! random 24-byte nonce per write (random nonces of that size never repeat in practice), and the
//! value's key as associated data, so a sealed value read back under another key fails to open.
//! Keys stay readable: they hold ids and sequence numbers, never a message's words.

use crate::error::{Corruption, StoreError};
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

const NONCE: usize = 24;

/// Seals and opens the values of one store.
#[derive(Clone)]
pub struct Cipher {
    aead: XChaCha20Poly1305,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher(..)")
    }
}

impl Cipher {
    /// A cipher under a 32-byte key.
    pub fn new(key: &[u8; 32]) -> Cipher {
        Cipher {
            aead: XChaCha20Poly1305::new(key.into()),
        }
    }

    /// `value` sealed for `key`: the nonce, then the ciphertext and its tag (40 bytes more).
    pub fn seal(&self, key: &[u8], value: &[u8]) -> Vec<u8> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .aead
            .encrypt(
                &nonce,
                Payload {
                    msg: value,
                    aad: key,
                },
            )
            .expect("XChaCha20-Poly1305 seals any length a view has");
        let mut out = Vec::with_capacity(NONCE + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// The value sealed for `key`.
    ///
    /// # Errors
    /// A corrupt value when it does not open: another key sealed it, it was changed, or it was
    /// written unsealed.
    pub fn open(&self, key: &[u8], sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
        if sealed.len() < NONCE {
            return Err(StoreError::corrupt(
                key,
                Corruption::Layout("sealed value too short"),
            ));
        }
        let (nonce, body) = sealed.split_at(NONCE);
        self.aead
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: key,
                },
            )
            .map_err(|_| {
                StoreError::corrupt(
                    key,
                    Corruption::Layout("sealed value does not open under VIEWS_KEY"),
                )
            })
    }

    /// What the store records of the key it was sealed under: the tag of an empty message under a
    /// fixed nonce, which names the key without revealing it.
    pub fn fingerprint(&self) -> Vec<u8> {
        let mut out = b"xchacha20poly1305:".to_vec();
        let tag = self
            .aead
            .encrypt(
                XNonce::from_slice(&[0; NONCE]),
                Payload {
                    msg: b"",
                    aad: b"concierge views key",
                },
            )
            .expect("an empty message seals");
        out.extend_from_slice(&tag);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_under_its_key_only() {
        let c = Cipher::new(&[7; 32]);
        let sealed = c.seal(b"c/1", b"Can I check in early?");
        assert_eq!(sealed.len(), 24 + 21 + 16);
        assert!(!sealed.windows(5).any(|w| w == b"check"));
        assert_eq!(c.open(b"c/1", &sealed).unwrap(), b"Can I check in early?");
        assert!(c.open(b"c/2", &sealed).is_err(), "moved to another key");
        assert!(
            Cipher::new(&[8; 32]).open(b"c/1", &sealed).is_err(),
            "another key"
        );
        assert_ne!(
            c.seal(b"c/1", b"x"),
            c.seal(b"c/1", b"x"),
            "a nonce per write"
        );
        assert_eq!(c.fingerprint(), Cipher::new(&[7; 32]).fingerprint());
        assert_ne!(c.fingerprint(), Cipher::new(&[8; 32]).fingerprint());
    }
}
