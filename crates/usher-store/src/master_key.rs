//! The operator's master key (SPEC §9), which seals the private half of each account's
//! own signing key at rest: AES-256-GCM (aws-lc-rs), a fresh random nonce per seal, the
//! key's row (id and account) as associated data so a sealed key cannot be moved to
//! another row, and the master key's id stored beside the ciphertext.
//!
//! The master key lives in a file outside the database (`--master-key-file`, by default
//! `master.key` in the data dir), so a copy of the database alone — a backup, a replica,
//! a stolen disk image of the database server — holds no usable private key. The file
//! lists one key per line, the current one first: `usher keys rotate-master` puts a new
//! key first and re-seals every account key under it, keeping the older keys in the
//! file so that processes still running with the old file can read keys they meet
//! (and re-read the file when they meet an id they do not know).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use usher_core::{AccountId, KeyId};
use zeroize::{Zeroize, Zeroizing};

use crate::db::Db;
use crate::error::{Result, StoreError};

/// The default file name, in the data dir.
pub const MASTER_KEY_FILE: &str = "master.key";
/// Bytes of an AES-256 key.
const KEY_LEN: usize = 32;
/// First line of the file, so a wrong file is recognised as such.
const HEADER: &str =
    "# usher master key v1: current key first; keep this file secret and backed up";

/// One master key and its id (the first 8 bytes of its SHA-256, hex).
struct MasterKey {
    id: String,
    key: LessSafeKey,
    /// The raw bytes, kept to write the file again on rotation.
    raw: Zeroizing<Vec<u8>>,
}

impl MasterKey {
    fn new(raw: Zeroizing<Vec<u8>>) -> Result<Self> {
        let unbound = UnboundKey::new(&AES_256_GCM, &raw)
            .map_err(|_| StoreError::Config("a master key must be 32 bytes".into()))?;
        Ok(Self {
            id: hex_prefix(digest(&SHA256, &raw).as_ref()),
            key: LessSafeKey::new(unbound),
            raw,
        })
    }

    fn generate() -> Result<Self> {
        let mut raw = Zeroizing::new(vec![0u8; KEY_LEN]);
        aws_lc_rs::rand::fill(&mut raw)
            .map_err(|_| StoreError::Config("the system random generator failed".into()))?;
        Self::new(raw)
    }
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The master keys of this deployment, the current one first.
pub struct MasterKeys {
    path: PathBuf,
    keys: RwLock<Vec<Arc<MasterKey>>>,
}

impl std::fmt::Debug for MasterKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKeys")
            .field("path", &self.path)
            .field("current", &self.current_id())
            .finish_non_exhaustive()
    }
}

/// What sealing produced: the master key's id and the sealed bytes (base64 of the
/// nonce followed by the ciphertext and its tag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub master_key_id: String,
    pub sealed: String,
}

impl MasterKeys {
    /// Reads the key file, or creates it with a new key when there is none; the flag
    /// says whether it was created (the caller warns: losing the file loses every
    /// account's key).
    pub fn load_or_create(path: &Path) -> Result<(Self, bool)> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok((Self::from_text(path, &text)?, false)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = MasterKey::generate()?;
                // Processes starting together on one data dir must end up with one key:
                // only the first to link its file in place creates it, the rest read it.
                if !write_file(path, std::slice::from_ref(&key), Replace::No)? {
                    return Ok((Self::load(path)?, false));
                }
                Ok((
                    Self {
                        path: path.to_owned(),
                        keys: RwLock::new(vec![Arc::new(key)]),
                    },
                    true,
                ))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Reads an existing key file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            StoreError::Config(format!(
                "reading the master key file {}: {e}",
                path.display()
            ))
        })?;
        Self::from_text(path, &text)
    }

    fn from_text(path: &Path, text: &str) -> Result<Self> {
        Ok(Self {
            path: path.to_owned(),
            keys: RwLock::new(parse(path, text)?),
        })
    }

    /// Puts a new key first in the file (the old ones stay, for reading) and uses it
    /// from now on; returns its id.
    pub fn rotate(&self) -> Result<String> {
        let new = Arc::new(MasterKey::generate()?);
        let mut keys = self.keys.write().unwrap_or_else(|p| p.into_inner());
        let mut all: Vec<Arc<MasterKey>> = vec![new.clone()];
        all.extend(keys.iter().cloned());
        write_file(
            &self.path,
            &all.iter().map(|k| k.as_ref()).collect::<Vec<_>>(),
            Replace::Yes,
        )?;
        *keys = all;
        Ok(new.id.clone())
    }

    /// Whether the file holds the key with this id.
    pub fn holds(&self, id: &str) -> bool {
        self.find(id).is_some()
    }

    /// The id of the key new seals use.
    pub fn current_id(&self) -> String {
        self.current().map(|k| k.id.clone()).unwrap_or_default()
    }

    fn current(&self) -> Option<Arc<MasterKey>> {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        keys.first().cloned()
    }

    fn find(&self, id: &str) -> Option<Arc<MasterKey>> {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        keys.iter().find(|k| k.id == id).cloned()
    }

    /// Seals `plaintext` under the current key, bound to `aad`.
    pub fn seal(&self, plaintext: &[u8], aad: &str) -> Result<Sealed> {
        let key = self
            .current()
            .ok_or_else(|| StoreError::Config("no master key".into()))?;
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce)
            .map_err(|_| StoreError::Config("the system random generator failed".into()))?;
        let mut buf = plaintext.to_vec();
        key.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad.as_bytes()),
                &mut buf,
            )
            .map_err(|_| StoreError::Config("sealing failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        buf.zeroize();
        Ok(Sealed {
            master_key_id: key.id.clone(),
            sealed: STANDARD.encode(out),
        })
    }

    /// Opens what [`MasterKeys::seal`] produced. A master key id this process does not
    /// know sends it back to the file once (another process may have rotated).
    pub fn open(&self, master_key_id: &str, sealed: &str, aad: &str) -> Result<Zeroizing<Vec<u8>>> {
        let key = match self.find(master_key_id) {
            Some(k) => k,
            None => {
                self.reload()?;
                self.find(master_key_id).ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "sealed with master key {master_key_id}, which {} does not hold",
                        self.path.display()
                    ))
                })?
            }
        };
        let bytes = STANDARD
            .decode(sealed)
            .map_err(|_| StoreError::Corrupt("sealed key is not base64".into()))?;
        if bytes.len() < NONCE_LEN {
            return Err(StoreError::Corrupt("sealed key too short".into()));
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| StoreError::Corrupt("sealed key nonce".into()))?;
        let mut buf = Zeroizing::new(rest.to_vec());
        let len = key
            .key
            .open_in_place(nonce, Aad::from(aad.as_bytes()), &mut buf)
            .map_err(|_| {
                StoreError::Corrupt(
                    "a sealed key does not open: wrong master key or altered row".into(),
                )
            })?
            .len();
        buf.truncate(len);
        Ok(buf)
    }

    fn reload(&self) -> Result<()> {
        let fresh = Self::load(&self.path)?;
        let keys = fresh.keys.into_inner().unwrap_or_else(|p| p.into_inner());
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = keys;
        Ok(())
    }
}

/// What an account key's seal is bound to: its own row.
pub fn account_key_aad(id: &KeyId, account: &AccountId) -> String {
    format!("usher account signing key {id} of {account}")
}

/// Seals every account key that is not sealed under the current master key: keys in
/// the clear (written before sealing existed) and keys under an older master key (after
/// a rotation). Then scrubs what the old values left in the database files. Safe to run
/// from several processes at once; returns how many keys this call sealed.
pub async fn seal_account_keys(db: &Db, keys: &MasterKeys) -> Result<usize> {
    let mut sealed_now = 0;
    for record in db.account_keys_to_seal(&keys.current_id()).await? {
        let Some(stored) = &record.private_key else {
            continue;
        };
        let aad = account_key_aad(&record.id, &record.account_id);
        let der = match &record.master_key_id {
            None => Zeroizing::new(
                STANDARD
                    .decode(stored)
                    .map_err(|_| StoreError::Corrupt(format!("key {} unreadable", record.id)))?,
            ),
            Some(id) => keys.open(id, stored, &aad)?,
        };
        let sealed = keys.seal(&der, &aad)?;
        if db
            .reseal_key(&record, &sealed.master_key_id, &sealed.sealed)
            .await?
        {
            sealed_now += 1;
        }
    }
    if sealed_now > 0 {
        db.scrub_signing_keys().await?;
    }
    Ok(sealed_now)
}

fn parse(path: &Path, text: &str) -> Result<Vec<Arc<MasterKey>>> {
    let bad = |why: &str| StoreError::Config(format!("master key file {}: {why}", path.display()));
    let mut keys = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (id, b64) = line
            .split_once(' ')
            .ok_or_else(|| bad("a line is not `ID KEY`"))?;
        let raw = Zeroizing::new(
            STANDARD
                .decode(b64.trim())
                .map_err(|_| bad("a key is not base64"))?,
        );
        if raw.len() != KEY_LEN {
            return Err(bad("a key is not 32 bytes"));
        }
        let key = MasterKey::new(raw)?;
        if key.id != id {
            return Err(bad("a key does not match its id (the file was altered)"));
        }
        keys.push(Arc::new(key));
    }
    if keys.is_empty() {
        return Err(bad("no key in it"));
    }
    Ok(keys)
}

/// Whether writing the key file may replace an existing one.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Replace {
    Yes,
    No,
}

/// Writes the file readable by its owner only, atomically: a reader sees the old file or
/// the new one, whole. With `Replace::No` an existing file is left alone and `false`
/// returned.
fn write_file(
    path: &Path,
    keys: &[impl std::borrow::Borrow<MasterKey>],
    replace: Replace,
) -> Result<bool> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut text = Zeroizing::new(format!("{HEADER}\n"));
    for k in keys {
        let k = k.borrow();
        text.push_str(&format!("{} {}\n", k.id, STANDARD.encode(&*k.raw)));
    }
    let tmp = path.with_extension(format!("tmp-{}", &usher_core::ids::random_hex_id()[..12]));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    drop(f);
    let placed = match replace {
        Replace::Yes => std::fs::rename(&tmp, path).map(|()| true),
        Replace::No => {
            let linked = match std::fs::hard_link(&tmp, path) {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
                Err(e) => Err(e),
            };
            let _ = std::fs::remove_file(&tmp);
            linked
        }
    };
    if placed.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    Ok(placed?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_open_only_with_the_same_key_and_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let (keys, created) = MasterKeys::load_or_create(&path).unwrap();
        assert!(created);
        let sealed = keys.seal(b"private bits", "row-1").unwrap();
        assert_eq!(sealed.master_key_id, keys.current_id());
        assert!(!sealed.sealed.contains("private"));
        assert_eq!(
            &*keys
                .open(&sealed.master_key_id, &sealed.sealed, "row-1")
                .unwrap(),
            b"private bits"
        );
        // Moved to another row: refused.
        assert!(
            keys.open(&sealed.master_key_id, &sealed.sealed, "row-2")
                .is_err()
        );
        // Two seals of one plaintext differ (fresh nonces).
        assert_ne!(
            keys.seal(b"private bits", "row-1").unwrap().sealed,
            sealed.sealed
        );
        // Reopened from the file: same key.
        let (again, created) = MasterKeys::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(again.current_id(), keys.current_id());
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&path).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        // Another deployment's key cannot open it.
        let (other, _) = MasterKeys::load_or_create(&dir.path().join("other.key")).unwrap();
        assert!(
            other
                .open(&sealed.master_key_id, &sealed.sealed, "row-1")
                .is_err()
        );
    }

    #[test]
    fn rotation_keeps_old_seals_readable_and_others_learn_of_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let (keys, _) = MasterKeys::load_or_create(&path).unwrap();
        let (running, _) = MasterKeys::load_or_create(&path).unwrap();
        let old = keys.seal(b"k", "a").unwrap();
        let new_id = keys.rotate().unwrap();
        assert_ne!(new_id, old.master_key_id);
        assert_eq!(keys.current_id(), new_id);
        let new = keys.seal(b"k", "a").unwrap();
        assert_eq!(new.master_key_id, new_id);
        assert_eq!(
            &*keys.open(&old.master_key_id, &old.sealed, "a").unwrap(),
            b"k"
        );
        // A process started before the rotation re-reads the file for the new id.
        assert_eq!(&*running.open(&new_id, &new.sealed, "a").unwrap(), b"k");
    }

    #[test]
    fn processes_starting_together_share_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let ids: Vec<(String, bool)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        let (k, created) = MasterKeys::load_or_create(&path).unwrap();
                        (k.current_id(), created)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(ids.iter().filter(|(_, created)| *created).count(), 1);
        assert!(ids.iter().all(|(id, _)| *id == ids[0].0), "{ids:?}");
        assert_eq!(MasterKeys::load(&path).unwrap().current_id(), ids[0].0);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary files left");
    }

    #[test]
    fn damaged_files_are_refused_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        for (text, why) in [
            ("", "no key"),
            ("# only a comment\n", "no key"),
            ("abc\n", "ID KEY"),
            ("abc !!!\n", "base64"),
            ("abc AAAA\n", "32 bytes"),
            (
                "0000000000000000 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
                "altered",
            ),
        ] {
            std::fs::write(&path, text).unwrap();
            let e = MasterKeys::load(&path).unwrap_err().to_string();
            assert!(e.contains(why), "{text:?}: {e}");
        }
    }
}
