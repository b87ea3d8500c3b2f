//! Which published file a path names, and where in the blob store it lives. Anything
//! not named here is not served, whatever the token says.
//!
//! A video's files live in three places (see `usher_media::publish`): its generation
//! (the ladder, the download, the poster), its current masters revision (the master
//! manifests and the captions) and, per additional audio track, the track's own
//! directory. Every one of them is immutable once written, so the edge may cache any
//! file by its key for as long as it likes.

use usher_core::{AudioTrackId, Video};
use usher_store::layout::{PublishedDir, published_file};

use crate::access::Resource;

/// Where a published file lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    Generation,
    /// The master manifests: the current revision's, else the generation's own.
    Masters,
    /// A caption's files: only in a revision.
    Captions,
    AudioTrack(AudioTrackId),
    /// A live broadcast's playlists and segments (only a live input has them).
    Live,
}

/// A path the edge serves: what kind of resource it is and where it lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub resource: Resource,
    pub place: Place,
}

/// Longest BCP 47 tag accepted in a caption path (RFC 5646 advises 35 characters).
const MAX_LANGUAGE_LEN: usize = 35;

fn is_segment_file(s: &str) -> bool {
    s == "index.m3u8"
        || s == "init.mp4"
        || s.strip_prefix("seg_")
            .and_then(|r| r.strip_suffix(".m4s"))
            .is_some_and(|n| n.len() == 5 && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The names a live packager writes (`usher_live::packager`): `media_N.m3u8`,
/// `init-{run}-N.m4s` and `seg-{run}-N-{number}.m4s`, `run` being 32 hex characters.
pub fn is_live_file(s: &str) -> bool {
    let digits = |d: &str, max: usize| {
        !d.is_empty() && d.len() <= max && d.bytes().all(|b| b.is_ascii_digit())
    };
    let run = |r: &str| r.len() == 32 && r.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if let Some(n) = s
        .strip_prefix("media_")
        .and_then(|r| r.strip_suffix(".m3u8"))
    {
        return digits(n, 2);
    }
    if let Some(r) = s.strip_prefix("init-").and_then(|r| r.strip_suffix(".m4s")) {
        return r
            .split_once('-')
            .is_some_and(|(id, n)| run(id) && digits(n, 2));
    }
    if let Some(r) = s.strip_prefix("seg-").and_then(|r| r.strip_suffix(".m4s")) {
        let mut parts = r.splitn(3, '-');
        return matches!(
            (parts.next(), parts.next(), parts.next()),
            (Some(id), Some(n), Some(num)) if run(id) && digits(n, 2) && digits(num, 9)
        );
    }
    false
}

fn is_language(s: &str) -> bool {
    (2..=MAX_LANGUAGE_LEN).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Classifies `path` (what follows `/{uid or token}/`).
pub fn classify(path: &str) -> Option<Published> {
    let at = |resource, place| Some(Published { resource, place });
    match path {
        "manifest/video.m3u8" | "manifest/video.mpd" => return at(Resource::Media, Place::Masters),
        "downloads/default.mp4" => return at(Resource::Download, Place::Generation),
        "thumbnails/thumbnail.jpg" => return at(Resource::Thumbnail, Place::Generation),
        _ => {}
    }
    let rest = path.strip_prefix("manifest/")?;
    if is_live_file(rest) {
        return at(Resource::Media, Place::Live);
    }
    let (dir, file) = rest.split_once('/')?;
    if let Some(language) = dir.strip_prefix("cc-") {
        let ok = is_language(language) && matches!(file, "index.m3u8" | "captions.vtt");
        return if ok {
            at(Resource::Media, Place::Captions)
        } else {
            None
        };
    }
    if !is_segment_file(file) {
        return None;
    }
    if let Some(track) = dir.strip_prefix('t') {
        return at(Resource::Media, Place::AudioTrack(track.parse().ok()?));
    }
    let (kind, n) = dir.split_at_checked(1)?;
    let rendition = matches!(kind, "v" | "a")
        && !n.is_empty()
        && n.len() <= 2
        && n.bytes().all(|b| b.is_ascii_digit());
    if rendition {
        at(Resource::Media, Place::Generation)
    } else {
        None
    }
}

/// The blob key of `path` (classified as `place`) for `video`, or `None` if the video
/// has nothing published there.
pub fn blob_key(video: &Video, path: &str, place: &Place) -> Option<String> {
    let generation = video.media_generation.as_deref()?;
    let uid = &video.uid;
    match place {
        Place::Generation => Some(published_file(
            uid,
            PublishedDir::Generation(generation),
            path,
        )),
        Place::Masters | Place::Captions => {
            let file = path.strip_prefix("manifest/")?;
            match (&video.manifest_revision, place) {
                (Some(rev), _) => Some(published_file(uid, PublishedDir::Masters(rev), file)),
                (None, Place::Masters) => Some(published_file(
                    uid,
                    PublishedDir::Generation(generation),
                    path,
                )),
                (None, _) => None,
            }
        }
        // Only the tracks the current masters list: a deleted track's files may still
        // be in some edge's memory, but they are never served again.
        Place::AudioTrack(track) if video.published_audio.contains(track) => {
            let file = path.rsplit('/').next()?;
            Some(published_file(uid, PublishedDir::AudioTrack(track), file))
        }
        Place::AudioTrack(_) | Place::Live => None,
    }
}

/// The `Content-Type` of a published file.
pub fn content_type(path: &str) -> &'static str {
    if path.ends_with(".m3u8") {
        "application/vnd.apple.mpegurl"
    } else if path.ends_with(".mpd") {
        "application/dash+xml"
    } else if path.ends_with(".jpg") {
        "image/jpeg"
    } else if path.ends_with(".vtt") {
        "text/vtt; charset=utf-8"
    } else {
        "video/mp4"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use usher_core::{AccountId, VideoId, VideoState};

    const TRACK: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn live_files_are_the_packager_names_and_nothing_else() {
        let run = "0123456789abcdef0123456789abcdef";
        for ok in [
            "media_0.m3u8".to_owned(),
            "media_12.m3u8".to_owned(),
            format!("init-{run}-0.m4s"),
            format!("seg-{run}-1-000042.m4s"),
        ] {
            assert!(is_live_file(&ok), "{ok}");
            assert_eq!(
                classify(&format!("manifest/{ok}")).map(|p| p.place),
                Some(Place::Live)
            );
        }
        for bad in [
            "media_.m3u8".to_owned(),
            "media_123.m3u8".to_owned(),
            "master.m3u8".to_owned(),
            "manifest.mpd".to_owned(),
            format!("init-{run}.m4s"),
            format!("init-{}-0.m4s", &run[1..]),
            format!("seg-{run}-1.m4s"),
            format!("seg-{run}-1-00a042.m4s"),
            format!("seg-{run}-1-000042.m4s/x"),
            format!("seg-{}-1-000042.m4s", run.to_uppercase()),
        ] {
            assert!(!is_live_file(&bad), "{bad}");
        }
    }

    #[test]
    fn only_published_files_are_addressable() {
        for ok in [
            "manifest/video.m3u8",
            "manifest/video.mpd",
            "manifest/v0/index.m3u8",
            "manifest/a0/init.mp4",
            "manifest/v12/seg_00001.m4s",
            "downloads/default.mp4",
            "thumbnails/thumbnail.jpg",
            "manifest/cc-en/index.m3u8",
            "manifest/cc-zh-Hant-TW/captions.vtt",
            &format!("manifest/t{TRACK}/seg_00002.m4s"),
            &format!("manifest/t{TRACK}/index.m3u8"),
        ] {
            assert!(classify(ok).is_some(), "{ok}");
        }
        for bad in [
            "",
            "manifest/index.json",
            "manifest/../../../etc/passwd",
            "manifest/v0/../../x",
            "manifest/v0/seg_1.m4s",
            "manifest/x0/init.mp4",
            "manifest/v/init.mp4",
            "manifest/v0/init.mp4/x",
            "../usher.db",
            "downloads/other.mp4",
            "manifest/cc-en/other.vtt",
            "manifest/cc-/captions.vtt",
            "manifest/cc-../captions.vtt",
            "manifest/cc-en-/captions.vtt",
            "manifest/cc-en/../../x",
            "manifest/cc-en/captions.vtt/x",
            "manifest/t0123/init.mp4",
            "manifest/tABCDEF0123456789abcdef0123456789/init.mp4",
            &format!("manifest/t{TRACK}/captions.vtt"),
            &format!("manifest/t{TRACK}/../v0/init.mp4"),
        ] {
            assert!(classify(bad).is_none(), "{bad}");
        }
        assert_eq!(
            classify("downloads/default.mp4").map(|p| p.resource),
            Some(Resource::Download)
        );
    }

    #[test]
    fn keys_follow_the_revision_and_the_track() {
        let mut v = Video::new(
            VideoId::generate(),
            AccountId::generate(),
            VideoState::Ready,
            0,
        );
        let key = |v: &Video, path: &str| {
            let p = classify(path).unwrap();
            blob_key(v, path, &p.place)
        };
        assert_eq!(key(&v, "manifest/video.m3u8"), None, "nothing published");
        v.media_generation = Some("g".into());
        let gen_dir = format!("videos/{}/g", v.uid);
        assert_eq!(
            key(&v, "manifest/video.m3u8"),
            Some(format!("{gen_dir}/manifest/video.m3u8"))
        );
        assert_eq!(key(&v, "manifest/cc-en/captions.vtt"), None);
        v.manifest_revision = Some("r".into());
        let rev_dir = format!("videos/{}/masters/r", v.uid);
        assert_eq!(
            key(&v, "manifest/video.mpd"),
            Some(format!("{rev_dir}/video.mpd"))
        );
        assert_eq!(
            key(&v, "manifest/cc-en/captions.vtt"),
            Some(format!("{rev_dir}/cc-en/captions.vtt"))
        );
        assert_eq!(
            key(&v, "manifest/v1/seg_00003.m4s"),
            Some(format!("{gen_dir}/manifest/v1/seg_00003.m4s"))
        );
        assert_eq!(
            key(&v, &format!("manifest/t{TRACK}/init.mp4")),
            None,
            "not listed by the masters"
        );
        v.published_audio = vec![TRACK.parse().unwrap()];
        assert_eq!(
            key(&v, &format!("manifest/t{TRACK}/init.mp4")),
            Some(format!("videos/{}/audio/{TRACK}/init.mp4", v.uid))
        );
        assert_eq!(
            key(&v, "downloads/default.mp4"),
            Some(format!("{gen_dir}/downloads/default.mp4"))
        );
    }
}
