//! The server secret that signs every token (console and admin surfaces alike).
//!
//! `SECRET_KEY` wins. Without it the secret is generated once and kept in the data
//! directory, readable by the owner only, so restarts keep sessions valid and no default
//! secret ever ships. Several instances must share one `SECRET_KEY`.

use std::io::Write;
use std::path::Path;

use rand::RngCore;

/// The file the generated secret lives in, inside the data directory.
pub const SECRET_FILE: &str = "secret_key";

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("SECRET_KEY must be at least 32 characters")]
    TooShort,
    #[error("cannot read or create {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// The signing secret: `configured`, else the data directory's file (created when missing).
pub fn load(configured: Option<&str>, data_dir: &Path) -> Result<Vec<u8>, SecretError> {
    if let Some(secret) = configured {
        if secret.len() < 32 {
            return Err(SecretError::TooShort);
        }
        return Ok(secret.as_bytes().to_vec());
    }
    let path = data_dir.join(SECRET_FILE);
    let io = |source| SecretError::Io {
        path: path.display().to_string(),
        source,
    };
    std::fs::create_dir_all(data_dir).map_err(io)?;
    match std::fs::read_to_string(&path) {
        Ok(text) if text.trim().len() >= 32 => return Ok(text.trim().as_bytes().to_vec()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = hex::encode(bytes);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&path).map_err(io)?;
    file.write_all(secret.as_bytes()).map_err(io)?;
    Ok(secret.into_bytes())
}

/// A random secret for tests and throwaway instances.
pub fn random() -> Vec<u8> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_then_reused_and_private() {
        let dir = tempfile::tempdir().expect("dir");
        let first = load(None, dir.path()).expect("generate");
        assert_eq!(first.len(), 64);
        assert_eq!(load(None, dir.path()).expect("reuse"), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(SECRET_FILE))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn configured_secret_wins_and_must_be_long() {
        let dir = tempfile::tempdir().expect("dir");
        let s = "x".repeat(40);
        assert_eq!(
            load(Some(&s), dir.path()).expect("configured"),
            s.as_bytes()
        );
        assert!(!dir.path().join(SECRET_FILE).exists());
        assert!(matches!(
            load(Some("short"), dir.path()),
            Err(SecretError::TooShort)
        ));
    }
}
