//! Viewing analytics counted from what the edge serves (SPEC §10): per video (or live
//! input) per UTC day, the views, the minutes of media delivered, the bytes and the
//! refusals by reason. No client beacon: a served segment is the evidence.
//!
//! The request path only adds to counters in memory, in shards picked per thread so
//! that two cores never wait on one lock. A flusher takes the counters every few
//! seconds and writes them as one batch (`Db::apply_view_batch`), off the request
//! path. What makes the numbers exact:
//! - a batch carries an id and is applied at most once, so a retry after an ambiguous
//!   failure (the commit may have happened) adds nothing; unapplied batches are retried
//!   in order, and the last one is written when the server stops;
//! - a view is a viewer (the token, or the client address for a uid) first seen for a
//!   video in a 30-minute window, decided by the database across every edge, so a
//!   viewer moving between edges, or seen again after a restart, is still one view;
//! - minutes are the durations of the media segments served, which the flusher reads
//!   from the video's own playlists (cached), never guessed from byte counts.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use usher_core::VideoId;
use usher_core::fnv::fnv1a;
use usher_core::ids::random_hex_id;
use usher_core::time_fmt::day_of;
use usher_store::layout::{PublishedDir, published_file};
use usher_store::{Blobs, Db, VIEW_WINDOW_SECS, ViewDelta};

/// How often counts are written: the endpoint shows them within twice this.
pub const FLUSH_EVERY: Duration = Duration::from_secs(5);
/// Unapplied batches kept while the database is unreachable (an hour of flushes);
/// beyond that the oldest are dropped, with an error in the log.
const MAX_PENDING_BATCHES: usize = 720;
/// Playlists whose segment durations the flusher keeps.
const MAX_CACHED_PLAYLISTS: usize = 4096;
/// A media playlist of a long video is a few hundred KB.
const MAX_PLAYLIST_BYTES: u64 = 16 << 20;

/// The counters, in shards.
pub struct Analytics {
    enabled: bool,
    shards: Box<[Mutex<Tally>]>,
}

/// What one request served, for [`Analytics::served`].
#[derive(Debug, Clone, Copy)]
pub struct Hit<'a> {
    pub account: &'a str,
    pub uid: &'a str,
    /// The video's media generation, whose playlists give its segments' durations.
    pub generation: Option<&'a str>,
    /// The published file, as after `/{uid or token}/`.
    pub path: &'a str,
    /// Who asked: the id in the path (a uid or a token) and the client's address, made
    /// into a [`viewer_id`] only for the requests that are views.
    pub id: &'a str,
    pub client: std::net::IpAddr,
    pub bytes: u64,
    /// Unix seconds.
    pub now: i64,
}

#[derive(Default)]
struct Tally {
    subjects: HashMap<String, Subject>,
}

#[derive(Default)]
struct Subject {
    account: String,
    generation: Option<String>,
    /// Nearly always one day; two around midnight.
    days: Vec<Day>,
}

#[derive(Default)]
struct Day {
    day: i64,
    bytes: u64,
    denials: Vec<(&'static str, u64)>,
    /// (viewer, 30-minute window) pairs seen.
    viewers: HashSet<(u64, i64)>,
    /// Video segments served, per rendition directory (`v0`), counted by number.
    segments: Vec<(String, HashMap<u32, u64>)>,
}

impl Subject {
    fn day(&mut self, day: i64) -> &mut Day {
        match self.days.iter().position(|d| d.day == day) {
            Some(i) => &mut self.days[i],
            None => {
                self.days.push(Day {
                    day,
                    ..Day::default()
                });
                let last = self.days.len() - 1;
                &mut self.days[last]
            }
        }
    }
}

static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static SHARD: usize = NEXT_SHARD.fetch_add(1, Ordering::Relaxed);
}

impl Analytics {
    /// Counters that count (`enabled`) or ignore everything (`--no-view-analytics`).
    pub fn new(enabled: bool) -> Self {
        let n = std::thread::available_parallelism()
            .map_or(4, |n| n.get() * 2)
            .max(4);
        Self {
            enabled,
            shards: (0..n).map(|_| Mutex::default()).collect(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    fn shard(&self) -> MutexGuard<'_, Tally> {
        let i = SHARD.with(|s| *s) % self.shards.len();
        // A panic while holding a shard leaves counts, not broken invariants.
        self.shards[i]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn subject<'t>(tally: &'t mut Tally, account: &str, uid: &str) -> &'t mut Subject {
        // Looked up by `&str` first: the key is allocated once per video per flush.
        if !tally.subjects.contains_key(uid) {
            tally.subjects.insert(
                uid.to_owned(),
                Subject {
                    account: account.to_owned(),
                    ..Subject::default()
                },
            );
        }
        tally
            .subjects
            .get_mut(uid)
            .unwrap_or_else(|| unreachable!("inserted above"))
    }

    /// Counts a response the edge sent with a 2xx status.
    pub fn served(&self, hit: Hit<'_>) {
        if !self.enabled {
            return;
        }
        let media = media_of(hit.path);
        let mut tally = self.shard();
        let subject = Self::subject(&mut tally, hit.account, hit.uid);
        if subject.generation.is_none() {
            subject.generation = hit.generation.map(str::to_owned);
        }
        let day = subject.day(day_of(hit.now));
        day.bytes = day.bytes.saturating_add(hit.bytes);
        if media == Media::Other {
            return;
        }
        let viewer = viewer_id(hit.id, hit.id == hit.uid, hit.client);
        day.viewers
            .insert((viewer, hit.now.div_euclid(VIEW_WINDOW_SECS)));
        if let Media::VideoSegment(rendition, number) = media {
            let counts = match day.segments.iter().position(|(r, _)| r == rendition) {
                Some(i) => &mut day.segments[i].1,
                None => {
                    day.segments.push((rendition.to_owned(), HashMap::new()));
                    let last = day.segments.len() - 1;
                    &mut day.segments[last].1
                }
            };
            *counts.entry(number).or_default() += 1;
        }
    }

    /// Counts a refusal of a request for `uid`.
    pub fn refused(&self, account: &str, uid: &str, reason: &'static str, now: i64) {
        if !self.enabled {
            return;
        }
        let mut tally = self.shard();
        let day = Self::subject(&mut tally, account, uid).day(day_of(now));
        match day.denials.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, n)) => *n += 1,
            None => day.denials.push((reason, 1)),
        }
    }

    /// Takes everything counted so far, leaving the counters empty.
    fn take(&self) -> Vec<(String, Subject)> {
        let mut all = Vec::new();
        for shard in self.shards.iter() {
            let tally = std::mem::take(&mut *shard.lock().unwrap_or_else(PoisonError::into_inner));
            all.extend(tally.subjects);
        }
        all
    }
}

/// What a served path counts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Media<'a> {
    /// A segment of a video rendition (`manifest/v0/seg_00012.m4s`): a view, and its
    /// duration in minutes delivered.
    VideoSegment(&'a str, u32),
    /// Another segment (audio, a live broadcast's) or the download: a view.
    Viewing,
    /// Manifests, init segments, captions, thumbnails: bytes only.
    Other,
}

fn media_of(path: &str) -> Media<'_> {
    if path == "downloads/default.mp4" {
        return Media::Viewing;
    }
    let Some(rest) = path.strip_prefix("manifest/") else {
        return Media::Other;
    };
    if rest.starts_with("seg-") {
        return Media::Viewing;
    }
    let Some((dir, file)) = rest.split_once('/') else {
        return Media::Other;
    };
    let Some(number) = file
        .strip_prefix("seg_")
        .and_then(|f| f.strip_suffix(".m4s"))
        .and_then(|n| n.parse::<u32>().ok())
    else {
        return Media::Other;
    };
    if dir.starts_with('v') {
        Media::VideoSegment(dir, number)
    } else {
        Media::Viewing
    }
}

/// Who is watching, as far as views go: the token (its signature, which is unique to
/// it), or the client's address for a request by uid. A stable hash (FNV-1a), so every
/// edge computes the same one.
pub fn viewer_id(id: &str, by_uid: bool, client: std::net::IpAddr) -> u64 {
    if by_uid {
        match client {
            std::net::IpAddr::V4(a) => fnv1a(&a.octets()),
            std::net::IpAddr::V6(a) => fnv1a(&a.octets()),
        }
    } else {
        // A JWT's last 43 characters are its RS256 signature's tail: enough to tell
        // tokens apart without hashing all of one on every request.
        let tail = id.len().saturating_sub(43);
        fnv1a(id.as_bytes().get(tail..).unwrap_or_default())
    }
}

/// The milliseconds of each segment an HLS media playlist lists, by segment number.
pub fn segment_durations(m3u8: &str) -> HashMap<u32, u64> {
    let mut out = HashMap::new();
    let mut pending: Option<u64> = None;
    for line in m3u8.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("#EXTINF:") {
            let secs = v.split(',').next().unwrap_or("").trim();
            pending = secs
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s >= 0.0 && *s < 86_400.0)
                // Rounded to whole milliseconds, the unit sums are kept in.
                .map(|s| (s * 1000.0).round() as u64);
        } else if !line.is_empty() && !line.starts_with('#') {
            let number = line
                .strip_prefix("seg_")
                .and_then(|f| f.strip_suffix(".m4s"))
                .and_then(|n| n.parse::<u32>().ok());
            if let (Some(n), Some(ms)) = (number, pending.take()) {
                out.insert(n, ms);
            }
        }
    }
    out
}

/// Writes what [`Analytics`] counted, in batches, on its own task.
pub struct Flusher {
    analytics: Arc<Analytics>,
    /// Live viewers to report, under this process's own id.
    viewers: Option<(Arc<crate::live::Viewers>, String)>,
    /// Whether the last report had any, so that an edge without broadcasts writes none.
    reported_viewers: bool,
    db: Db,
    blobs: Blobs,
    pending: VecDeque<(String, Vec<ViewDelta>)>,
    durations: HashMap<String, Arc<HashMap<u32, u64>>>,
}

impl Flusher {
    pub fn new(analytics: Arc<Analytics>, db: Db, blobs: Blobs) -> Self {
        Self {
            analytics,
            viewers: None,
            reported_viewers: false,
            db,
            blobs,
            pending: VecDeque::new(),
            durations: HashMap::new(),
        }
    }

    /// Also reports the live viewers this edge sees, for `GET /{input}/views`.
    pub fn with_live_viewers(mut self, viewers: Arc<crate::live::Viewers>) -> Self {
        self.viewers = Some((viewers, random_hex_id()));
        self
    }

    /// Flushes every [`FLUSH_EVERY`] until `stop`; returns itself so that the caller
    /// can [`Flusher::flush`] once more after the last request was served.
    pub fn spawn(
        mut self,
        stop: tokio_util::sync::CancellationToken,
    ) -> tokio::task::JoinHandle<Self> {
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = stop.cancelled() => return self,
                    () = tokio::time::sleep(FLUSH_EVERY) => {}
                }
                self.flush().await;
            }
        })
    }

    /// Takes the counts into a batch and writes every unapplied batch, oldest first;
    /// returns how many remain unapplied.
    pub async fn flush(&mut self) -> usize {
        self.report_live_viewers().await;
        let taken = self.analytics.take();
        if !taken.is_empty() {
            let deltas = self.deltas(taken).await;
            self.pending.push_back((random_hex_id(), deltas));
            while self.pending.len() > MAX_PENDING_BATCHES {
                tracing::error!(
                    "viewing analytics: the database has refused batches for too long; dropping the oldest"
                );
                self.pending.pop_front();
            }
        }
        while let Some((id, deltas)) = self.pending.front() {
            match self.db.apply_view_batch(id, deltas).await {
                Ok(_) => {
                    self.pending.pop_front();
                }
                Err(e) => {
                    tracing::warn!(error = %e, pending = self.pending.len(), "viewing analytics: could not write a batch; retrying");
                    break;
                }
            }
        }
        usher_metrics::metrics()
            .analytics_unwritten_batches
            .set(i64::try_from(self.pending.len()).unwrap_or(i64::MAX));
        self.pending.len()
    }

    async fn report_live_viewers(&mut self) {
        let Some((viewers, edge)) = &self.viewers else {
            return;
        };
        let counts = viewers.snapshot();
        if counts.is_empty() && !self.reported_viewers {
            return;
        }
        match self.db.report_live_viewers(edge, &counts).await {
            Ok(()) => self.reported_viewers = !counts.is_empty(),
            Err(e) => tracing::warn!(error = %e, "could not report live viewers"),
        }
    }

    async fn deltas(&mut self, taken: Vec<(String, Subject)>) -> Vec<ViewDelta> {
        let mut out = Vec::new();
        for (uid, subject) in taken {
            for day in subject.days {
                let mut millis: u64 = 0;
                for (rendition, counts) in &day.segments {
                    let durations = self
                        .durations(&uid, subject.generation.as_deref(), rendition)
                        .await;
                    for (number, n) in counts {
                        let ms = durations.get(number).copied().unwrap_or(0);
                        millis = millis.saturating_add(ms.saturating_mul(*n));
                    }
                }
                let mut sessions: Vec<(String, i64)> = day
                    .viewers
                    .iter()
                    .map(|(v, b)| (format!("{v:016x}"), *b))
                    .collect();
                sessions.sort_unstable();
                out.push(ViewDelta {
                    account: subject.account.clone(),
                    uid: uid.clone(),
                    day: day.day,
                    millis: i64::try_from(millis).unwrap_or(i64::MAX),
                    bytes: i64::try_from(day.bytes).unwrap_or(i64::MAX),
                    denials: day
                        .denials
                        .iter()
                        .map(|(r, n)| ((*r).to_owned(), i64::try_from(*n).unwrap_or(i64::MAX)))
                        .collect(),
                    sessions,
                });
            }
        }
        out
    }

    /// The segment durations of one rendition's playlist; none when it cannot be read
    /// (the video was deleted or re-packaged meanwhile), counted as no minutes.
    async fn durations(
        &mut self,
        uid: &str,
        generation: Option<&str>,
        rendition: &str,
    ) -> Arc<HashMap<u32, u64>> {
        let (Ok(uid), Some(generation)) = (uid.parse::<VideoId>(), generation) else {
            return Arc::default();
        };
        let key = published_file(
            &uid,
            PublishedDir::Generation(generation),
            &format!("manifest/{rendition}/index.m3u8"),
        );
        if let Some(d) = self.durations.get(&key) {
            return d.clone();
        }
        let parsed = match self.blobs.get_bytes(&key, MAX_PLAYLIST_BYTES).await {
            Ok(Some(bytes)) => Arc::new(segment_durations(&String::from_utf8_lossy(&bytes))),
            Ok(None) => {
                tracing::warn!(%key, "viewing analytics: no playlist for the segments served");
                return Arc::default();
            }
            Err(e) => {
                tracing::warn!(error = %e, %key, "viewing analytics: no playlist for the segments served");
                return Arc::default();
            }
        };
        if self.durations.len() >= MAX_CACHED_PLAYLISTS {
            self.durations.clear();
        }
        self.durations.insert(key, parsed.clone());
        parsed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn paths_count_as_views_minutes_or_bytes() {
        assert_eq!(
            media_of("manifest/v0/seg_00012.m4s"),
            Media::VideoSegment("v0", 12)
        );
        assert_eq!(media_of("manifest/a0/seg_00001.m4s"), Media::Viewing);
        assert_eq!(media_of("manifest/t3f/seg_00001.m4s"), Media::Viewing);
        assert_eq!(media_of("downloads/default.mp4"), Media::Viewing);
        assert_eq!(
            media_of("manifest/seg-0123456789abcdef0123456789abcdef-0-7.m4s"),
            Media::Viewing
        );
        for other in [
            "manifest/video.m3u8",
            "manifest/v0/index.m3u8",
            "manifest/v0/init.mp4",
            "manifest/cc-en/captions.vtt",
            "thumbnails/thumbnail.jpg",
            "manifest/media_0.m3u8",
        ] {
            assert_eq!(media_of(other), Media::Other, "{other}");
        }
    }

    #[test]
    fn durations_come_from_extinf() {
        let m3u8 = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MAP:URI=\"init.mp4\"\n\
                    #EXTINF:4.000000,\nseg_00001.m4s\n#EXTINF:3.966667,\nseg_00002.m4s\n\
                    #EXTINF:bogus,\nseg_00003.m4s\n#EXT-X-ENDLIST\n";
        let d = segment_durations(m3u8);
        assert_eq!(d.get(&1), Some(&4000));
        assert_eq!(d.get(&2), Some(&3967));
        assert_eq!(d.get(&3), None);
        assert_eq!(d.len(), 2);
    }

    #[test]
    fn counts_per_subject_day_and_viewer() {
        let a = Analytics::new(true);
        let hit = |path, viewer: &'static str, now| Hit {
            account: "acct",
            uid: "u1",
            generation: Some("g1"),
            path,
            id: viewer,
            client: "10.0.0.1".parse().unwrap(),
            bytes: 100,
            now,
        };
        let day = 20_000 * 86_400;
        a.served(hit("manifest/video.m3u8", "t1", day));
        a.served(hit("manifest/v0/seg_00001.m4s", "t1", day));
        a.served(hit("manifest/v0/seg_00001.m4s", "t1", day + 1));
        a.served(hit("manifest/v0/seg_00002.m4s", "t2", day + 2));
        a.served(hit("manifest/a0/seg_00002.m4s", "t2", day + 2));
        a.served(hit("manifest/v0/seg_00002.m4s", "t1", day + 86_400));
        a.refused("acct", "u1", "expired", day);
        a.refused("acct", "u1", "expired", day);
        let taken = a.take();
        assert_eq!(taken.len(), 1);
        let (uid, subject) = &taken[0];
        assert_eq!((uid.as_str(), subject.account.as_str()), ("u1", "acct"));
        assert_eq!(subject.days.len(), 2);
        let first = &subject.days[0];
        assert_eq!(first.bytes, 500);
        assert_eq!(first.viewers.len(), 2, "viewers 1 and 2 in one window");
        assert_eq!(first.denials, vec![("expired", 2)]);
        assert_eq!(first.segments[0].1.get(&1), Some(&2));
        assert!(a.take().is_empty(), "taken means gone");

        let off = Analytics::new(false);
        off.served(hit("manifest/v0/seg_00001.m4s", "t1", day));
        off.refused("acct", "u1", "expired", day);
        assert!(off.take().is_empty());
    }

    #[test]
    fn viewers_are_the_token_or_the_address() {
        let ip = "10.0.0.1".parse().unwrap();
        let other = "10.0.0.2".parse().unwrap();
        let uid = "0123456789abcdef0123456789abcdef";
        assert_eq!(viewer_id(uid, true, ip), viewer_id("another", true, ip));
        assert_ne!(viewer_id(uid, true, ip), viewer_id(uid, true, other));
        let t1 = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLW9uZS1sb25nLWVub3VnaC10by1jb3VudC0xMjM";
        let t2 = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXR3by1sb25nLWVub3VnaC10by1jb3VudC0xMjM";
        assert_eq!(viewer_id(t1, false, ip), viewer_id(t1, false, other));
        assert_ne!(viewer_id(t1, false, ip), viewer_id(t2, false, ip));
        assert_ne!(viewer_id("", false, ip), viewer_id("x", false, ip));
    }

    proptest! {
        #[test]
        fn any_playlist_parses_without_panicking(s in "\\PC*") {
            let _ = segment_durations(&s);
        }

        #[test]
        fn listed_segments_come_back_with_their_durations(
            ms in proptest::collection::vec(0u64..100_000, 0..50)
        ) {
            let mut m3u8 = String::from("#EXTM3U\n");
            for (i, d) in ms.iter().enumerate() {
                m3u8.push_str(&format!("#EXTINF:{:.6},\nseg_{:05}.m4s\n", *d as f64 / 1000.0, i + 1));
            }
            let parsed = segment_durations(&m3u8);
            prop_assert_eq!(parsed.len(), ms.len());
            for (i, d) in ms.iter().enumerate() {
                prop_assert_eq!(parsed.get(&(i as u32 + 1)), Some(d));
            }
        }
    }
}
