//! Live inputs (`…/stream/live_inputs`): what a broadcaster streams to, with the
//! settings its recordings inherit. The API reaches an input only through its account;
//! the ingest, which is handed a stream key rather than a tenant, finds it by the uid
//! in front of the key (see [`usher_core::live`]).
//!
//! Every change to an input (and its deletion) moves the access version, as a video edit
//! does: the edges decide on the live uid with `requireSignedURLs`, `allowedOrigins` and
//! `enabled`, and must not keep deciding with the old ones.

use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;
use usher_core::live::{
    RecordingMode, generate_srt_passphrase, generate_stream_key, stream_key_input,
};
use usher_core::time_fmt::{Micros, now_micros};
use usher_core::{AccountId, LiveInputId, Secret, Video};

use crate::db::Db;
use crate::error::{Result, StoreError};
use crate::row::{flag, get, parse};

/// Live inputs per account. The list has no pagination, so this bounds its answer.
pub const MAX_LIVE_INPUTS: usize = 1000;

const COLUMNS: &str = "uid, account_id, meta, enabled, default_creator, \
                       delete_recording_after_days, prefer_low_latency, recording_mode, \
                       require_signed_urls, allowed_origins, timeout_seconds, \
                       hide_live_viewer_count, stream_key, srt_passphrase, status_state, \
                       status_entered_at, created, modified";

/// One live input. `Debug` shows neither secret.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveInputRecord {
    pub uid: LiveInputId,
    pub account_id: AccountId,
    pub meta: serde_json::Map<String, serde_json::Value>,
    /// Whether a broadcaster may connect.
    pub enabled: bool,
    /// The `creator` its recordings get.
    pub default_creator: Option<String>,
    /// Days after a recording is ready until its `scheduledDeletion`.
    pub delete_recording_after_days: Option<i64>,
    pub prefer_low_latency: bool,
    pub recording: LiveRecordingSettings,
    /// What the broadcaster presents over RTMP: `{uid}k{32 hex}`.
    pub stream_key: Secret,
    /// What the broadcaster presents over SRT (whose stream id is the uid).
    pub srt_passphrase: Secret,
    /// `None` until the input has ever connected.
    pub status: Option<LiveStatus>,
    pub created: Micros,
    pub modified: Micros,
}

/// `recording`: what becomes of a broadcast, and the access settings of the live uid
/// and of its recordings.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LiveRecordingSettings {
    pub mode: RecordingMode,
    pub require_signed_urls: bool,
    pub allowed_origins: Vec<String>,
    /// How long after the publisher leaves the broadcast ends (0: the platform default).
    pub timeout_seconds: i64,
    pub hide_live_viewer_count: bool,
}

/// The input's last connection state, as Cloudflare names them (`connected`,
/// `reconnecting`, `reconnected`, `disconnected`), and since when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveStatus {
    pub state: String,
    pub entered_at: Micros,
}

impl LiveInputRecord {
    /// A new input of `account` with Cloudflare's defaults (enabled, not recording) and
    /// fresh secrets.
    pub fn new(account_id: AccountId, now: Micros) -> Self {
        let uid = LiveInputId::generate();
        Self {
            stream_key: generate_stream_key(&uid),
            srt_passphrase: generate_srt_passphrase(),
            uid,
            account_id,
            meta: serde_json::Map::new(),
            enabled: true,
            default_creator: None,
            delete_recording_after_days: None,
            prefer_low_latency: false,
            recording: LiveRecordingSettings::default(),
            status: None,
            created: now,
            modified: now,
        }
    }
}

/// Settings `PUT …/live_inputs/{uid}` changes; `None` leaves a field as it is (an
/// SDK's `update(uid, enabled=False)` sends only `enabled`).
#[derive(Debug, Clone, Default)]
pub struct LiveInputEdit {
    pub meta: Option<serde_json::Map<String, serde_json::Value>>,
    pub enabled: Option<bool>,
    pub default_creator: Option<Option<String>>,
    pub delete_recording_after_days: Option<Option<i64>>,
    pub prefer_low_latency: Option<bool>,
    pub mode: Option<RecordingMode>,
    pub require_signed_urls: Option<bool>,
    pub allowed_origins: Option<Vec<String>>,
    pub timeout_seconds: Option<i64>,
    pub hide_live_viewer_count: Option<bool>,
}

impl LiveInputEdit {
    /// Sets on `input` every field this edit names.
    pub fn apply_to(&self, input: &mut LiveInputRecord) {
        fn set<T: Clone>(field: &mut T, value: &Option<T>) {
            if let Some(v) = value {
                field.clone_from(v);
            }
        }
        let r = &mut input.recording;
        set(&mut input.meta, &self.meta);
        set(&mut input.enabled, &self.enabled);
        set(&mut input.default_creator, &self.default_creator);
        set(
            &mut input.delete_recording_after_days,
            &self.delete_recording_after_days,
        );
        set(&mut input.prefer_low_latency, &self.prefer_low_latency);
        set(&mut r.mode, &self.mode);
        set(&mut r.require_signed_urls, &self.require_signed_urls);
        set(&mut r.allowed_origins, &self.allowed_origins);
        set(&mut r.timeout_seconds, &self.timeout_seconds);
        set(&mut r.hide_live_viewer_count, &self.hide_live_viewer_count);
    }
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn from_row(r: &AnyRow) -> Result<LiveInputRecord> {
    let meta: String = get(r, "meta")?;
    let origins: String = get(r, "allowed_origins")?;
    let state: Option<String> = get(r, "status_state")?;
    let entered_at: Option<Micros> = get(r, "status_entered_at")?;
    Ok(LiveInputRecord {
        uid: parse(r, "uid")?,
        account_id: parse(r, "account_id")?,
        meta: serde_json::from_str(&meta).map_err(corrupt)?,
        enabled: flag(r, "enabled")?,
        default_creator: get(r, "default_creator")?,
        delete_recording_after_days: get(r, "delete_recording_after_days")?,
        prefer_low_latency: flag(r, "prefer_low_latency")?,
        recording: LiveRecordingSettings {
            mode: parse(r, "recording_mode")?,
            require_signed_urls: flag(r, "require_signed_urls")?,
            allowed_origins: serde_json::from_str(&origins).map_err(corrupt)?,
            timeout_seconds: get(r, "timeout_seconds")?,
            hide_live_viewer_count: flag(r, "hide_live_viewer_count")?,
        },
        stream_key: Secret::new(get::<String>(r, "stream_key")?),
        srt_passphrase: Secret::new(get::<String>(r, "srt_passphrase")?),
        status: state.map(|state| LiveStatus {
            state,
            entered_at: entered_at.unwrap_or_default(),
        }),
        created: get(r, "created")?,
        modified: get(r, "modified")?,
    })
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// Binds the settings a user may change, in [`COLUMNS`] order from `meta` to
/// `hide_live_viewer_count`: an insert and an update write them alike.
fn bind_settings<'q>(q: AnyQuery<'q>, input: &'q LiveInputRecord) -> Result<AnyQuery<'q>> {
    let r = &input.recording;
    Ok(q.bind(serde_json::to_string(&input.meta).map_err(corrupt)?)
        .bind(i64::from(input.enabled))
        .bind(&input.default_creator)
        .bind(input.delete_recording_after_days)
        .bind(i64::from(input.prefer_low_latency))
        .bind(r.mode.as_str())
        .bind(i64::from(r.require_signed_urls))
        .bind(serde_json::to_string(&r.allowed_origins).map_err(corrupt)?)
        .bind(r.timeout_seconds)
        .bind(i64::from(r.hide_live_viewer_count)))
}

/// The account's input, read and locked inside `tx` (see `videos::owned_in`).
pub(crate) async fn owned_in(
    db: &Db,
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    account: &AccountId,
    uid: &LiveInputId,
) -> Result<Option<LiveInputRecord>> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM live_inputs WHERE uid = $1 AND account_id = $2{}",
        db.lock_read()
    )))
    .bind(uid.as_str())
    .bind(account.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(from_row).transpose()
}

impl Db {
    /// Inserts a new input; refuses once the account has [`MAX_LIVE_INPUTS`].
    pub async fn insert_live_input(&self, input: &LiveInputRecord) -> Result<()> {
        let mut tx = self.write_tx().await?;
        // Locking the account row makes racing inserts count one after the other.
        sqlx::query(AssertSqlSafe(format!(
            "SELECT id FROM accounts WHERE id = $1{}",
            self.lock_read()
        )))
        .bind(input.account_id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM live_inputs WHERE account_id = $1")
            .bind(input.account_id.as_str())
            .fetch_one(&mut *tx)
            .await?;
        if usize::try_from(n).unwrap_or(usize::MAX) >= MAX_LIVE_INPUTS {
            return Err(StoreError::LimitReached("live inputs"));
        }
        let q = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO live_inputs ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
             $10, $11, $12, $13, $14, $15, $16, $17, $18)"
        )))
        .bind(input.uid.as_str())
        .bind(input.account_id.as_str());
        bind_settings(q, input)?
            .bind(input.stream_key.expose())
            .bind(input.srt_passphrase.expose())
            .bind(input.status.as_ref().map(|s| s.state.clone()))
            .bind(input.status.as_ref().map(|s| s.entered_at))
            .bind(input.created)
            .bind(input.modified)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The account's input, or `None` (another account's is `None` too).
    pub async fn account_live_input(
        &self,
        account: &AccountId,
        uid: &LiveInputId,
    ) -> Result<Option<LiveInputRecord>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM live_inputs WHERE uid = $1 AND account_id = $2"
        )))
        .bind(uid.as_str())
        .bind(account.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// The account's inputs, newest first.
    pub async fn list_live_inputs(&self, account: &AccountId) -> Result<Vec<LiveInputRecord>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM live_inputs WHERE account_id = $1 \
             ORDER BY created DESC, uid DESC"
        )))
        .bind(account.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Applies `edit` to the account's input and returns it, or `None` if there is none.
    pub async fn update_live_input(
        &self,
        account: &AccountId,
        uid: &LiveInputId,
        edit: &LiveInputEdit,
        now: Micros,
    ) -> Result<Option<LiveInputRecord>> {
        let mut tx = self.write_tx().await?;
        let Some(mut input) = owned_in(self, &mut tx, account, uid).await? else {
            return Ok(None);
        };
        edit.apply_to(&mut input);
        input.modified = now;
        let q = sqlx::query(
            "UPDATE live_inputs SET meta = $1, enabled = $2, default_creator = $3, \
             delete_recording_after_days = $4, prefer_low_latency = $5, recording_mode = $6, \
             require_signed_urls = $7, allowed_origins = $8, timeout_seconds = $9, \
             hide_live_viewer_count = $10, modified = $11 WHERE uid = $12",
        );
        bind_settings(q, &input)?
            .bind(now)
            .bind(uid.as_str())
            .execute(&mut *tx)
            .await?;
        self.bump_access_version(&mut *tx).await?;
        tx.commit().await?;
        self.mark_access_stale();
        Ok(Some(input))
    }

    /// Gives the account's input a fresh stream key and SRT passphrase (from the
    /// CSPRNG) and returns it; `None` if the account has no such input. The old key
    /// opens nothing from now on; a broadcast already on air goes on (a key is checked
    /// when a publisher connects).
    pub async fn rotate_live_input_secrets(
        &self,
        account: &AccountId,
        uid: &LiveInputId,
        now: Micros,
    ) -> Result<Option<LiveInputRecord>> {
        let mut tx = self.write_tx().await?;
        let Some(mut input) = owned_in(self, &mut tx, account, uid).await? else {
            return Ok(None);
        };
        input.stream_key = usher_core::live::generate_stream_key(uid);
        input.srt_passphrase = usher_core::live::generate_srt_passphrase();
        input.modified = now;
        sqlx::query(
            "UPDATE live_inputs SET stream_key = $1, srt_passphrase = $2, modified = $3 \
             WHERE uid = $4",
        )
        .bind(input.stream_key.expose())
        .bind(input.srt_passphrase.expose())
        .bind(now)
        .bind(uid.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(input))
    }

    /// Deletes the account's input and its outputs, and returns it; `None` if the
    /// account has no such input. Its recordings stay: they are videos of their own.
    pub async fn delete_live_input(
        &self,
        account: &AccountId,
        uid: &LiveInputId,
    ) -> Result<Option<LiveInputRecord>> {
        let mut tx = self.write_tx().await?;
        let Some(input) = owned_in(self, &mut tx, account, uid).await? else {
            return Ok(None);
        };
        sqlx::query("DELETE FROM live_outputs WHERE live_input_uid = $1")
            .bind(uid.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM live_inputs WHERE uid = $1")
            .bind(uid.as_str())
            .execute(&mut *tx)
            .await?;
        // Edges must stop serving the live uid at once, not when their caches age out.
        self.bump_access_version(&mut *tx).await?;
        tx.commit().await?;
        self.mark_access_stale();
        Ok(Some(input))
    }

    /// The recordings of the account's input, newest first.
    pub async fn videos_of_live_input(
        &self,
        account: &AccountId,
        uid: &LiveInputId,
    ) -> Result<Vec<Video>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {} FROM videos WHERE live_input = $1 AND account_id = $2 \
             ORDER BY created DESC, uid DESC",
            crate::videos::SELECT_COLUMNS
        )))
        .bind(uid.as_str())
        .bind(account.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(crate::videos::from_row).collect()
    }

    /// The input whatever its account: for the ingest and the edge, which are handed a
    /// uid by trusted code (a verified stream key or token) rather than by a tenant.
    pub async fn live_input(&self, uid: &LiveInputId) -> Result<Option<LiveInputRecord>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM live_inputs WHERE uid = $1"
        )))
        .bind(uid.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// The input whose stream key `presented` is, compared whole and in constant time;
    /// `None` for a wrong or malformed key. Whether the input is enabled is the
    /// caller's to check.
    pub async fn live_input_for_stream_key(
        &self,
        presented: &str,
    ) -> Result<Option<LiveInputRecord>> {
        let Some(uid) = stream_key_input(presented) else {
            return Ok(None);
        };
        Ok(self
            .live_input(&uid)
            .await?
            .filter(|input| input.stream_key.verify(presented)))
    }

    /// Records the input's connection state (`None`: never connected) as of now.
    pub async fn set_live_input_status(
        &self,
        uid: &LiveInputId,
        state: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE live_inputs SET status_state = $1, status_entered_at = $2 WHERE uid = $3",
        )
        .bind(state)
        .bind(state.map(|_| now_micros()))
        .bind(uid.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_secret() {
        let input = LiveInputRecord::new(AccountId::generate(), 0);
        let shown = format!("{input:?}");
        assert!(shown.contains(input.uid.as_str()));
        assert!(!shown.contains(input.stream_key.expose()));
        assert!(!shown.contains(&input.stream_key.expose()[33..]));
        assert!(!shown.contains(input.srt_passphrase.expose()));
    }
}
