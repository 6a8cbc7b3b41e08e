//! The data directory and the secrets the control plane keeps in it: the admin key, the
//! data-plane token and the master key. Each is taken from the environment when given, else
//! read from its file, else generated into that file with mode 0600.

use std::fs::{DirBuilder, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// File name of the generated admin key in the data directory.
pub const ADMIN_KEY_FILE: &str = "admin.key";
/// File name of the generated data-plane token in the data directory.
pub const DATAPLANE_TOKEN_FILE: &str = "dataplane.token";
/// File name of the generated master key in the data directory.
pub const MASTER_KEY_FILE: &str = "master.key";
/// File name of the SQLite database in the data directory.
pub const DATABASE_FILE: &str = "keybrake.db";

/// Prefix of generated admin keys.
pub const ADMIN_KEY_PREFIX: &str = "kba_";
/// Prefix of generated data-plane tokens.
pub const DATAPLANE_TOKEN_PREFIX: &str = "kbd_";

/// Where a secret came from, for the log line that says where to find it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretSource {
    Environment,
    File(PathBuf),
    Generated(PathBuf),
}

/// A secret and its origin. Its `Debug` never prints the value.
#[derive(Clone)]
pub struct Secret {
    value: String,
    pub source: SecretSource,
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} must not be empty and must not contain whitespace")]
    Invalid { what: &'static str },
    #[error("the system random source failed")]
    Random,
}

// === impl Secret ===

impl Secret {
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// Where to find it, for humans: "the environment" or a path.
    pub fn location(&self) -> String {
        match &self.source {
            SecretSource::Environment => "the environment".to_owned(),
            SecretSource::File(p) | SecretSource::Generated(p) => p.display().to_string(),
        }
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({:?}, <redacted>)", self.source)
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SecretError + '_ {
    move |source| SecretError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Creates the data directory (mode 0700) when it is missing.
pub fn ensure_data_dir(dir: &Path) -> Result<(), SecretError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_err(dir))
}

/// Creates `path` empty with mode 0600 when it is missing. SQLite gives its `-wal` and `-shm`
/// files the database file's mode, so this keeps all three private.
pub fn ensure_private_file(path: &Path) -> Result<(), SecretError> {
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// `prefix` followed by 64 random hex digits.
pub fn random_token(prefix: &str) -> Result<String, SecretError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|_| SecretError::Random)?;
    Ok(format!("{prefix}{}", hex::encode(bytes)))
}

fn validate(what: &'static str, value: String) -> Result<String, SecretError> {
    if value.is_empty() || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(SecretError::Invalid { what });
    }
    Ok(value)
}

/// Reads a secret file written by [`load_or_generate`] or by hand.
pub fn read_secret_file(what: &'static str, path: &Path) -> Result<String, SecretError> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    validate(what, text.trim().to_owned())
}

/// The secret given in the environment, else the one in `dir/file`, else a new one from
/// `generate` written to `dir/file` with mode 0600.
pub fn load_or_generate(
    what: &'static str,
    provided: Option<String>,
    dir: &Path,
    file: &str,
    generate: impl FnOnce() -> Result<String, SecretError>,
) -> Result<Secret, SecretError> {
    if let Some(value) = provided {
        return Ok(Secret {
            value: validate(what, value.trim().to_owned())?,
            source: SecretSource::Environment,
        });
    }
    let path = dir.join(file);
    let value = generate()?;
    let created = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path);
    match created {
        Ok(mut f) => {
            f.write_all(format!("{value}\n").as_bytes())
                .and_then(|()| f.sync_all())
                .map_err(io_err(&path))?;
            Ok(Secret {
                value,
                source: SecretSource::Generated(path),
            })
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            let mode = std::fs::metadata(&path)
                .map_err(io_err(&path))?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                tracing::warn!(path = %path.display(), mode = format!("{:o}", mode & 0o777),
                    "secret file is readable by other users; chmod 600 it");
            }
            Ok(Secret {
                value: read_secret_file(what, &path)?,
                source: SecretSource::File(path),
            })
        }
        Err(e) => Err(io_err(&path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_with_mode_0600_then_reuses_and_prefers_the_environment() {
        let dir = std::env::temp_dir().join(format!("keybrake-secrets-{}", std::process::id()));
        ensure_data_dir(&dir).unwrap();
        let gen = || random_token("kbt_");
        let first = load_or_generate("token", None, &dir, "t", gen).unwrap();
        assert!(matches!(first.source, SecretSource::Generated(_)));
        assert!(first.expose().starts_with("kbt_") && first.expose().len() == 68);
        let mode = std::fs::metadata(dir.join("t"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = load_or_generate("token", None, &dir, "t", gen).unwrap();
        assert_eq!(again.expose(), first.expose());
        assert!(matches!(again.source, SecretSource::File(_)));
        let env = load_or_generate("token", Some(" given ".into()), &dir, "t", gen).unwrap();
        assert_eq!(env.expose(), "given");
        assert!(matches!(
            load_or_generate("token", Some("a b".into()), &dir, "t", gen),
            Err(SecretError::Invalid { what: "token" })
        ));
        assert!(!format!("{first:?}").contains(first.expose()));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
