//! Provider API keys encrypted at rest.
//!
//! AES-256-GCM (RustCrypto's `aes-gcm`) under the server's 32-byte key:
//! `TOLLBOOTH_SECRET_KEY` (64 hex characters or base64), else on SQLite a
//! key file created with mode 0600 beside the database on first start
//! (`<db dir>/tollbooth.secret`). Each encryption takes a fresh random
//! 96-bit nonce; the organization id and the connection name are the
//! associated data, so a ciphertext moved to another organization's row (or
//! renamed) fails to decrypt instead of lending one tenant's key to another.
//!
//! On PostgreSQL without the variable there is no key: several server
//! processes share one database there, and a key file per machine would let
//! one process store keys the others cannot read. The server then starts
//! with connections unavailable (saving one says why), and refuses to start
//! if connections are already stored (see [`super::check_secret_box`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use rand::RngCore;

use crate::db::Engine;
use crate::{Error, Result};

/// The key file's name, in the SQLite database's directory.
pub const KEY_FILE_NAME: &str = "tollbooth.secret";
/// The environment variable holding the key.
pub const KEY_VARIABLE: &str = "TOLLBOOTH_SECRET_KEY";
/// AES-GCM's standard nonce length (bytes).
pub const NONCE_LEN: usize = 12;
const KEY_LEN: usize = 32;

/// A secret value (a provider API key): usable through [`Secret::expose`],
/// never printed by `Debug`, never serialized.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, to put in an upstream request's header and nowhere else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A key encrypted for one connection: hex of the ciphertext (with its tag)
/// and of the nonce, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub ciphertext: String,
    pub nonce: String,
}

/// Encrypts and decrypts provider keys under the server's key; or, without
/// a key, refuses both (see the module's documentation).
#[derive(Clone)]
pub struct SecretBox {
    cipher: Option<Arc<Aes256Gcm>>,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.cipher.is_some() { "SecretBox(***)" } else { "SecretBox(unavailable)" })
    }
}

/// Where the server's key came from (for the start-up log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `TOLLBOOTH_SECRET_KEY`.
    Environment,
    /// The key file, created now.
    FileCreated(PathBuf),
    /// The key file, as found.
    File(PathBuf),
    /// No key (PostgreSQL without `TOLLBOOTH_SECRET_KEY`).
    Unavailable,
}

fn associated_data(org_id: &str, name: &str) -> Vec<u8> {
    // NUL cannot occur in an id or a connection name: the parts cannot run together.
    format!("tollbooth provider key v1\0{org_id}\0{name}").into_bytes()
}

impl SecretBox {
    /// A box over the given 32-byte key.
    pub fn from_key(key: &[u8; KEY_LEN]) -> Self {
        SecretBox { cipher: Some(Arc::new(Aes256Gcm::new_from_slice(key).expect("a 32-byte key"))) }
    }

    /// A box over a new random key (tests, and nothing that must outlive the process).
    pub fn random() -> Self {
        let mut key = [0u8; KEY_LEN];
        rand::rngs::OsRng.fill_bytes(&mut key);
        Self::from_key(&key)
    }

    /// A box without a key: sealing and opening are refused.
    pub fn unavailable() -> Self {
        SecretBox { cipher: None }
    }

    /// Reads a key written as 64 hex characters or as base64 (standard or
    /// URL-safe, padded or not) of 32 bytes. The error never repeats the text.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let t = text.trim();
        let bytes = if t.len() == 2 * KEY_LEN && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(t).ok()
        } else {
            [
                &base64::engine::general_purpose::STANDARD,
                &base64::engine::general_purpose::STANDARD_NO_PAD,
                &base64::engine::general_purpose::URL_SAFE,
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            ]
            .iter()
            .find_map(|e| e.decode(t).ok())
        };
        match bytes.and_then(|b| <[u8; KEY_LEN]>::try_from(b).ok()) {
            Some(key) => Ok(Self::from_key(&key)),
            None => Err("must be 32 bytes written as 64 hex characters or as base64 (e.g. the output of `openssl rand -hex 32`)".into()),
        }
    }

    /// Whether keys can be stored and read.
    pub fn is_available(&self) -> bool {
        self.cipher.is_some()
    }

    fn cipher(&self) -> Result<&Aes256Gcm> {
        self.cipher.as_deref().ok_or_else(|| {
            Error::conflict(
                "api_key",
                format!("this server cannot store provider keys: its operator must set {KEY_VARIABLE} (see the README)"),
            )
        })
    }

    /// Encrypts `plaintext` for the connection `name` of `org_id`, under a
    /// new random nonce.
    pub fn seal(&self, org_id: &str, name: &str, plaintext: &str) -> Result<Sealed> {
        let cipher = self.cipher()?;
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = associated_data(org_id, name);
        let ciphertext = cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext.as_bytes(), aad: &aad })
            .map_err(|_| Error::Internal("provider key encryption failed".into()))?;
        Ok(Sealed { ciphertext: hex::encode(ciphertext), nonce: hex::encode(nonce) })
    }

    /// Decrypts what [`seal`](Self::seal) made for the same organization and
    /// name; anything else (another row's ciphertext, another server key, a
    /// changed byte) is an error.
    pub fn open(&self, org_id: &str, name: &str, sealed: &Sealed) -> Result<Secret> {
        let cipher = self.cipher()?;
        let undecryptable = || Error::Internal(format!("the stored key of provider connection {name:?} does not decrypt under this server's key"));
        let nonce = hex::decode(&sealed.nonce).ok().filter(|n| n.len() == NONCE_LEN).ok_or_else(undecryptable)?;
        let ciphertext = hex::decode(&sealed.ciphertext).map_err(|_| undecryptable())?;
        let aad = associated_data(org_id, name);
        let plain = cipher
            .decrypt(Nonce::from_slice(&nonce), Payload { msg: &ciphertext, aad: &aad })
            .map_err(|_| undecryptable())?;
        String::from_utf8(plain).map(Secret).map_err(|_| undecryptable())
    }

    /// The key in the file at `path`, or a new random key written there
    /// (mode 0600) when there is no file yet. The file appears whole or not
    /// at all: it is written beside and linked into place, so two servers
    /// starting at once agree on one key.
    pub fn load_or_create(path: &Path) -> std::result::Result<(Self, bool), String> {
        match std::fs::read_to_string(path) {
            Ok(text) => return Self::parse(&text).map(|b| (b, false)).map_err(|e| format!("the key file {}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot read the key file {}: {e}", path.display())),
        }
        let mut key = [0u8; KEY_LEN];
        rand::rngs::OsRng.fill_bytes(&mut key);
        let tmp = path.with_file_name(format!("{KEY_FILE_NAME}.{}.tmp", crate::secrets::random_hex(6)));
        let written = write_private(&tmp, format!("{}\n", hex::encode(key)).as_bytes());
        let linked = written.and_then(|_| std::fs::hard_link(&tmp, path));
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => Ok((Self::from_key(&key), true)),
            // Another process created it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Self::load_or_create(path),
            Err(e) => Err(format!("cannot create the key file {}: {e}", path.display())),
        }
    }
}

/// Writes a new file readable and writable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Whether group or others may read the file (a key file should be 0600).
pub fn is_readable_by_others(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

/// Where the key file of a SQLite database lives: beside the database
/// file. `None` for other engines.
pub fn key_file_for(database_url: &str) -> Option<PathBuf> {
    if Engine::from_url(database_url).ok()? != Engine::Sqlite {
        return None;
    }
    let rest = database_url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let db_path = Path::new(rest.split('?').next().unwrap_or_default());
    let dir = db_path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    Some(dir.join(KEY_FILE_NAME))
}

/// The server's box: from `TOLLBOOTH_SECRET_KEY` when given (`key`), else
/// the key file beside a SQLite database, else none (PostgreSQL). A bad key
/// is an error naming the variable or the file, never showing the key.
pub fn from_config(database_url: &str, key: Option<&str>) -> Result<(SecretBox, KeySource)> {
    if let Some(text) = key.filter(|k| !k.trim().is_empty()) {
        let b = SecretBox::parse(text).map_err(|e| Error::invalid(KEY_VARIABLE, e))?;
        return Ok((b, KeySource::Environment));
    }
    match key_file_for(database_url) {
        Some(path) => {
            let (b, created) = SecretBox::load_or_create(&path).map_err(|e| Error::invalid(KEY_VARIABLE, e))?;
            Ok((b, if created { KeySource::FileCreated(path) } else { KeySource::File(path) }))
        }
        None => Ok((SecretBox::unavailable(), KeySource::Unavailable)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn temp_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tollbooth-secret-{}", crate::secrets::random_hex(8)));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_sealed_key_opens_only_for_its_own_organization_and_name() {
        let b = SecretBox::random();
        let sealed = b.seal("org-a", "groq", "gsk_live_secret_1234").unwrap();
        assert_eq!(b.open("org-a", "groq", &sealed).unwrap().expose(), "gsk_live_secret_1234");
        assert!(!sealed.ciphertext.contains(&hex::encode("gsk_live_secret_1234")), "not stored in clear");
        assert!(b.open("org-b", "groq", &sealed).is_err(), "moved to another organization");
        assert!(b.open("org-a", "vllm", &sealed).is_err(), "renamed");
        assert!(SecretBox::random().open("org-a", "groq", &sealed).is_err(), "another server key");
        let mut flipped = sealed.clone();
        let last = flipped.ciphertext.pop().unwrap();
        flipped.ciphertext.push(if last == '0' { '1' } else { '0' });
        assert!(b.open("org-a", "groq", &flipped).is_err(), "a changed byte");
    }

    #[test]
    fn every_seal_takes_a_new_nonce() {
        let b = SecretBox::random();
        let one = b.seal("o", "n", "same key").unwrap();
        let two = b.seal("o", "n", "same key").unwrap();
        assert_ne!(one.nonce, two.nonce);
        assert_ne!(one.ciphertext, two.ciphertext);
        assert_eq!(one.nonce.len(), 2 * NONCE_LEN);
    }

    #[test]
    fn keys_are_read_as_hex_or_base64_of_32_bytes() {
        let from_hex = SecretBox::parse(&format!("  {HEX_KEY}\n")).unwrap();
        let bytes = hex::decode(HEX_KEY).unwrap();
        for e in [&base64::engine::general_purpose::STANDARD, &base64::engine::general_purpose::URL_SAFE_NO_PAD] {
            let from_b64 = SecretBox::parse(&e.encode(&bytes)).unwrap();
            let sealed = from_hex.seal("o", "n", "k").unwrap();
            assert_eq!(from_b64.open("o", "n", &sealed).unwrap().expose(), "k", "the same key");
        }
        for bad in ["", "abc", &HEX_KEY[..62], &format!("{HEX_KEY}00"), "zz".repeat(32).as_str(), "not base64 at all!"] {
            let e = SecretBox::parse(bad).unwrap_err();
            assert!(e.contains("32 bytes"), "{bad:?}: {e}");
        }
        let e = from_config("sqlite://x/y.db", Some("short")).unwrap_err();
        assert_eq!(e.field(), Some(KEY_VARIABLE));
        assert!(!e.to_string().contains("short"), "the error never shows the value: {e}");
    }

    #[test]
    fn nothing_secret_is_printed() {
        assert_eq!(format!("{:?}", Secret::new("sk-abc")), "Secret(***)");
        assert_eq!(format!("{:?}", SecretBox::random()), "SecretBox(***)");
        assert_eq!(format!("{:?}", SecretBox::unavailable()), "SecretBox(unavailable)");
    }

    #[test]
    fn without_a_key_sealing_is_refused_with_the_reason() {
        let e = SecretBox::unavailable().seal("o", "n", "k").unwrap_err();
        assert_eq!(e.field(), Some("api_key"));
        assert!(e.to_string().contains(KEY_VARIABLE), "{e}");
        let (b, source) = from_config("postgres://u@h/db", None).unwrap();
        assert!(!b.is_available());
        assert_eq!(source, KeySource::Unavailable);
    }

    #[test]
    fn the_key_file_is_created_once_with_mode_0600_beside_the_database() {
        let dir = temp_dir();
        let url = format!("sqlite://{}/tollbooth.db?mode=rwc", dir.display());
        let path = dir.join(KEY_FILE_NAME);
        assert_eq!(key_file_for(&url), Some(path.clone()));
        assert_eq!(key_file_for("sqlite:tollbooth.db"), Some(PathBuf::from(".").join(KEY_FILE_NAME)));
        assert_eq!(key_file_for("postgres://u@h/db"), None);

        let (first, source) = from_config(&url, None).unwrap();
        assert_eq!(source, KeySource::FileCreated(path.clone()));
        assert!(!is_readable_by_others(&path));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let sealed = first.seal("o", "n", "the key").unwrap();
        let (again, source) = from_config(&url, Some("  ")).unwrap();
        assert_eq!(source, KeySource::File(path.clone()), "a blank variable counts as unset");
        assert_eq!(again.open("o", "n", &sealed).unwrap().expose(), "the key", "the same key on the next start");
        let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(leftovers, vec![std::ffi::OsString::from(KEY_FILE_NAME)], "no temporary file is left");

        std::fs::write(&path, "garbage").unwrap();
        let e = from_config(&url, None).unwrap_err();
        assert!(e.to_string().contains(&path.display().to_string()), "{e}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_variable_takes_precedence_over_the_key_file() {
        let dir = temp_dir();
        let url = format!("sqlite://{}/t.db", dir.display());
        let (b, source) = from_config(&url, Some(HEX_KEY)).unwrap();
        assert_eq!(source, KeySource::Environment);
        assert!(b.is_available());
        assert!(!dir.join(KEY_FILE_NAME).exists(), "no file is made when the variable is set");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
