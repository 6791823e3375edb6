//! SECURITY: secrets the server has to read back — the admin surface's TOTP seeds — are
//! sealed at rest, so a copy of the database (a dump, a backup, a replica, a file another
//! local user could read) does not hand over anyone's second factor.
//!
//! AES-256-GCM (RustCrypto `aes-gcm`) with a key derived from the server secret
//! (`SECRET_KEY` or the data directory's `secret_key`) by HKDF-SHA256 with a label of its
//! own, so the sealing key is never the signing key. Each value gets a random 96-bit nonce,
//! and the row it belongs to is the associated data: a sealed value copied into another
//! row does not open there. Stored form: `v1:` + hex(nonce ‖ ciphertext ‖ tag).
//! Rotating the server secret makes sealed values unreadable, as it makes every token
//! invalid; the affected users set up 2FA again after an administrator cancels it.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;

const PREFIX: &str = "v1:";
const NONCE_LEN: usize = 12;
const KEY_LABEL: &[u8] = b"console-server at-rest sealing key v1";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("the sealed value is malformed")]
    Malformed,
    #[error("the sealed value does not open with this server secret (was SECRET_KEY changed?)")]
    WrongKey,
    #[error("sealing failed")]
    Seal,
}

/// Seals and opens values under the key derived from one server secret.
pub struct Sealer {
    cipher: Aes256Gcm,
}

impl Sealer {
    pub fn new(server_secret: &[u8]) -> Self {
        let mut key = [0u8; 32];
        // A 32-byte output is far below HKDF-SHA256's limit (255 × 32 bytes), so expand
        // cannot fail; the fallback key is never used.
        if hkdf::Hkdf::<sha2::Sha256>::new(None, server_secret)
            .expand(KEY_LABEL, &mut key)
            .is_err()
        {
            key = [0u8; 32];
        }
        Self {
            cipher: Aes256Gcm::new(&key.into()),
        }
    }

    /// Whether `stored` is a sealed value (not plain text written before sealing existed).
    pub fn is_sealed(stored: &str) -> bool {
        stored.starts_with(PREFIX)
    }

    /// Seals `plain` for the row named by `context`.
    pub fn seal(&self, plain: &str, context: &str) -> Result<String, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SealError::Seal)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}", hex::encode(out)))
    }

    /// Opens a value sealed for `context`. A value stored before sealing existed (no
    /// prefix) is returned as it is, so an upgrade reads old rows until they are sealed.
    pub fn open(&self, stored: &str, context: &str) -> Result<String, SealError> {
        let Some(encoded) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_string());
        };
        let bytes = hex::decode(encoded).map_err(|_| SealError::Malformed)?;
        if bytes.len() <= NONCE_LEN {
            return Err(SealError::Malformed);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| SealError::Malformed)?;
        let plain = self
            .cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SealError::WrongKey)?;
        String::from_utf8(plain).map_err(|_| SealError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_with_its_key_and_row() {
        let sealer = Sealer::new(b"0123456789abcdef0123456789abcdef");
        let sealed = sealer
            .seal("JBSWY3DPEHPK3PXP", "admin_user:7")
            .expect("seal");
        assert!(Sealer::is_sealed(&sealed));
        assert!(!sealed.contains("JBSWY3DPEHPK3PXP"));
        assert_ne!(
            sealed,
            sealer
                .seal("JBSWY3DPEHPK3PXP", "admin_user:7")
                .expect("seal")
        );
        assert_eq!(
            sealer.open(&sealed, "admin_user:7").as_deref(),
            Ok("JBSWY3DPEHPK3PXP")
        );
        assert_eq!(
            sealer.open(&sealed, "admin_user:8"),
            Err(SealError::WrongKey)
        );
        let other = Sealer::new(b"another-server-secret-of-32-byte");
        assert_eq!(
            other.open(&sealed, "admin_user:7"),
            Err(SealError::WrongKey)
        );
        assert_eq!(
            sealer.open("v1:zz", "admin_user:7"),
            Err(SealError::Malformed)
        );
        assert_eq!(
            sealer.open("PLAINBASE32", "x").as_deref(),
            Ok("PLAINBASE32")
        );
    }
}
