//! The server's at-rest key file: 32 random bytes, created on first start
//! with mode 0600, kept apart from the database so that a copy of the
//! database alone reveals no notification address and no duress key.

use aman_protocol::at_rest::ServerKey;
use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use zeroize::Zeroizing;

/// Loads an existing key.
pub fn load(path: &Path) -> std::io::Result<ServerKey> {
    let mut f = OpenOptions::new().read(true).open(path)?;
    let mut bytes = Zeroizing::new([0u8; 32]);
    f.read_exact(bytes.as_mut())?;
    let mut extra = [0u8; 1];
    if f.read(&mut extra)? != 0 {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "server key file must be exactly 32 bytes"));
    }
    Ok(ServerKey::from_bytes(bytes))
}

/// Loads the key, creating it if the file does not exist.
pub fn load_or_create(path: &Path) -> std::io::Result<ServerKey> {
    match load(path) {
        Ok(key) => Ok(key),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let key = ServerKey::generate().map_err(|e| std::io::Error::other(e.to_string()))?;
            let mut f = OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
            f.write_all(key.to_bytes().as_ref())?;
            f.sync_all()?;
            Ok(key)
        }
        Err(e) => Err(e),
    }
}
