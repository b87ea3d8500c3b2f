//! `audio` jobs: fetch and encode a video's queued additional audio tracks
//! (`POST …/stream/{uid}/audio/copy`), then republish its masters.
//!
//! Each track is fetched through [`usher_outbound::Outbound`] (the address policy of
//! video copies holds on every name and redirect) into the store beside the video's
//! upload, so a retried job does not fetch again. It is encoded to stereo AAC in the
//! same fMP4 segments as the ladder's own audio, padded with silence or cut to the
//! video's duration as Cloudflare does, and written under the track's own directory,
//! which no other track or generation shares. A track whose source is refused or is not
//! audio ends in `error` on its own; the other tracks carry on.

use std::path::{Path, PathBuf};

use usher_core::time_fmt::now_micros;
use usher_core::{VideoId, VideoState};
use usher_outbound::{FetchError, Outbound};
use usher_store::layout::{audio_source_key, audio_track_prefix, generation_prefix};
use usher_store::{AudioTrackRecord, Blobs, Db, StoreError};

use crate::command::{
    AUDIO_BITRATE_KBPS, FFMPEG_PLAYLIST_FILE, MANIFEST_DIR, MAX_AUDIO_CHANNELS, SEGMENT_SECS,
};
use crate::error::MediaError;
use crate::index::{self, FFMPEG_SEGMENT_PATTERN, FIRST_SEGMENT_NUMBER, INIT_FILE, PLAYLIST_FILE};
use crate::manifest;
use crate::package::INDEX_FILE;
use crate::probe::{PROBE_TIMEOUT, input_args, parse_ffprobe_json};
use crate::process::timeout_for;
use crate::publish::{self, MAX_INDEX_BYTES, PublishError};
use crate::tools::Tools;

/// Sample rate of encoded tracks: what the ladder's own AAC usually is, and what every
/// player decodes.
pub const AUDIO_SAMPLE_RATE: u32 = 48_000;

/// Why an audio job stopped short; the worker retries what [`AudioError::is_retryable`].
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Publish(#[from] PublishError),
}

impl AudioError {
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Store(_) => true,
            Self::Media(m) => m.is_retryable(),
            Self::Fetch(f) => f.is_retryable(),
            Self::Publish(p) => matches!(p, PublishError::Store(_)),
        }
    }
}

/// What a worker needs to run audio jobs.
#[derive(Debug, Clone)]
pub struct AudioEncoder {
    pub outbound: Outbound,
    /// Largest source file fetched, in bytes.
    pub max_bytes: u64,
}

impl AudioEncoder {
    /// Encodes every queued track of the video. A video not ready yet is left alone:
    /// when it becomes ready its packaging job enqueues this job again.
    pub async fn run(
        &self,
        db: &Db,
        blobs: &Blobs,
        tools: &Tools,
        scratch: &Path,
        uid: &VideoId,
    ) -> Result<(), AudioError> {
        let Some(video) = db.video_by_uid(uid).await? else {
            return Ok(()); // deleted while queued
        };
        let (VideoState::Ready, Some(generation)) = (video.state, &video.media_generation) else {
            return Ok(());
        };
        let duration = video_duration(blobs, uid, generation).await?;
        for track in db.queued_audio_tracks(uid).await? {
            let work = tempfile::Builder::new()
                .prefix("audio-")
                .tempdir_in(scratch)
                .map_err(|e| MediaError::io("creating a scratch directory", e))?;
            match self
                .encode(blobs, tools, work.path(), &track, duration)
                .await
            {
                Ok(rendition) => {
                    let json = serde_json::to_string(&rendition).map_err(|e| {
                        MediaError::UnexpectedOutput(format!("audio track index: {e}"))
                    })?;
                    let prefix = audio_track_prefix(uid, &track.uid);
                    upload_dir(blobs, &work.path().join("out"), &prefix).await?;
                    if db
                        .audio_track_ready(uid, &track.uid, &json, now_micros())
                        .await?
                    {
                        tracing::info!(video = %uid, track = %track.uid, "audio track ready");
                    } else if !db.audio_track_exists(uid, &track.uid).await? {
                        // Deleted while we worked: nothing else would remove what we wrote.
                        // (Otherwise another worker finished it, into these same keys.)
                        blobs.delete_prefix(&prefix).await?;
                        blobs.delete(&audio_source_key(uid, &track.uid)).await?;
                    }
                }
                Err(e) if e.is_retryable() => return Err(e),
                Err(e) => {
                    tracing::warn!(video = %uid, track = %track.uid, error = %e, "audio track failed");
                    db.audio_track_failed(uid, &track.uid, &e.to_string(), now_micros())
                        .await?;
                }
            }
        }
        publish::republish(db, blobs, uid).await?;
        Ok(())
    }

    /// Fetches (once) and encodes one track into `work/out`; returns its index.
    async fn encode(
        &self,
        blobs: &Blobs,
        tools: &Tools,
        work: &Path,
        track: &AudioTrackRecord,
        duration: f64,
    ) -> Result<index::Rendition, AudioError> {
        let key = audio_source_key(&track.video_uid, &track.uid);
        if !blobs.exists(&key).await? {
            tracing::info!(track = %track.uid, "fetching an audio track");
            self.outbound
                .fetch_to_blob(&track.source_url, blobs, &key, self.max_bytes)
                .await?;
        }
        let input = match blobs.local_path(&key) {
            Some(path) => path,
            None => {
                let path = work.join("input");
                blobs.download_to(&key, &path).await?;
                path
            }
        };
        let channels = probe_channels(tools, &input).await?;
        let out = work.join("out");
        tokio::fs::create_dir_all(&out)
            .await
            .map_err(|e| MediaError::io("creating the output directory", e))?;
        tools
            .ffmpeg(timeout_for(duration))
            .current_dir(&out)
            .args(input_args(&input)?)
            .args(encode_args(duration, channels))
            .output()
            .await
            .map_err(MediaError::from)?;
        let id = publish::audio_track_dir(&track.uid);
        let dir = out.clone();
        let rendition = tokio::task::spawn_blocking(move || finish(&dir, &id))
            .await
            .map_err(|e| MediaError::UnexpectedOutput(format!("indexing task failed: {e}")))??;
        Ok(rendition)
    }
}

/// The video's duration as published (the longest rendition), which the track is
/// padded or cut to.
async fn video_duration(blobs: &Blobs, uid: &VideoId, generation: &str) -> Result<f64, AudioError> {
    let key = format!(
        "{}/{MANIFEST_DIR}/{INDEX_FILE}",
        generation_prefix(uid, generation)
    );
    let bytes = blobs
        .get_bytes(&key, MAX_INDEX_BYTES)
        .await?
        .ok_or_else(|| PublishError::Corrupt(format!("{key} is missing")))?;
    let index: index::SegmentIndex =
        serde_json::from_slice(&bytes).map_err(|e| PublishError::Corrupt(format!("{key}: {e}")))?;
    Ok(index.duration_secs)
}

/// The source's audio channels, refusing a file without audio.
async fn probe_channels(tools: &Tools, input: &Path) -> Result<u32, AudioError> {
    let json = tools
        .ffprobe(PROBE_TIMEOUT)
        .args(["-print_format", "json", "-show_format", "-show_streams"])
        .args(input_args(input)?)
        .output()
        .await
        .map_err(|e| {
            if e.exited_with_error() {
                MediaError::bad_input(usher_core::ErrorReason::NonVideo, "not a media file")
            } else {
                e.into()
            }
        })?;
    let probe = parse_ffprobe_json(&json)?;
    let audio = probe.audio.ok_or_else(|| {
        MediaError::bad_input(usher_core::ErrorReason::NonVideo, "no audio stream")
    })?;
    Ok(audio
        .channels
        .unwrap_or(MAX_AUDIO_CHANNELS)
        .clamp(1, MAX_AUDIO_CHANNELS))
}

/// ffmpeg arguments after the input: the first audio stream as AAC, padded with
/// silence (`apad`) and cut (`-t`) to exactly `duration`, segmented like the ladder's
/// own audio.
pub fn encode_args(duration: f64, channels: u32) -> Vec<String> {
    let duration = format!("{:.6}", duration.max(0.0));
    [
        "-map",
        "0:a:0",
        "-vn",
        "-sn",
        "-dn",
        "-c:a",
        "aac",
        "-b:a",
        &format!("{AUDIO_BITRATE_KBPS}k"),
        "-ac",
        &channels.to_string(),
        "-ar",
        &AUDIO_SAMPLE_RATE.to_string(),
        "-af",
        &format!("apad=whole_dur={duration}"),
        "-t",
        &duration,
        "-map_metadata",
        "-1",
        "-f",
        "hls",
        "-hls_time",
        &SEGMENT_SECS.to_string(),
        "-hls_list_size",
        "0",
        "-hls_playlist_type",
        "vod",
        "-hls_segment_type",
        "fmp4",
        "-hls_fmp4_init_filename",
        INIT_FILE,
        "-start_number",
        &FIRST_SEGMENT_NUMBER.to_string(),
        "-hls_segment_filename",
        FFMPEG_SEGMENT_PATTERN,
        FFMPEG_PLAYLIST_FILE,
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Indexes what ffmpeg wrote into `dir` and swaps its playlist for ours. Blocking.
fn finish(dir: &Path, id: &str) -> Result<index::Rendition, MediaError> {
    let ffmpeg_playlist = dir.join(FFMPEG_PLAYLIST_FILE);
    let playlist = std::fs::read_to_string(&ffmpeg_playlist)
        .map_err(|e| MediaError::UnexpectedOutput(format!("ffmpeg wrote no playlist: {e}")))?;
    let names = index::playlist_segments(&playlist);
    let rendition = index::index_rendition(dir, id, &names)?;
    if rendition.is_video() {
        return Err(MediaError::UnexpectedOutput(
            "an audio track with video".into(),
        ));
    }
    std::fs::remove_file(&ffmpeg_playlist)
        .map_err(|e| MediaError::io(format!("removing {}", ffmpeg_playlist.display()), e))?;
    std::fs::write(dir.join(PLAYLIST_FILE), manifest::hls_variant(&rendition))
        .map_err(|e| MediaError::io("writing the audio track's playlist", e))?;
    Ok(rendition)
}

/// Stores every file of `dir` under `prefix`.
async fn upload_dir(blobs: &Blobs, dir: &Path, prefix: &str) -> Result<(), AudioError> {
    let mut entries = tokio::fs::read_dir(dir)
        .await
        .map_err(|e| MediaError::io("listing the encoded track", e))?;
    let mut files: Vec<PathBuf> = Vec::new();
    while let Some(e) = entries
        .next_entry()
        .await
        .map_err(|e| MediaError::io("listing the encoded track", e))?
    {
        files.push(e.path());
    }
    // The playlist last: a reader that finds it finds every segment it names.
    files.sort_by_key(|p| p.file_name().is_some_and(|n| n == PLAYLIST_FILE));
    for path in files {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        blobs.put_file(&format!("{prefix}/{name}"), &path).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_are_padded_and_cut_to_the_video() {
        let args = encode_args(12.5, 2);
        let joined = args.join(" ");
        assert!(joined.contains("-af apad=whole_dur=12.500000"), "{joined}");
        assert!(joined.contains("-t 12.500000"), "{joined}");
        assert!(joined.contains("-map 0:a:0"), "{joined}");
        assert!(joined.contains("-hls_segment_type fmp4"), "{joined}");
        assert_eq!(args.last().map(String::as_str), Some(FFMPEG_PLAYLIST_FILE));
    }
}
