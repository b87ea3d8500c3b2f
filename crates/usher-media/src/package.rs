//! Packaging: run the ffmpeg command for a plan (`command.rs`), index the segments it
//! cut (`index.rs`), walk the samples of copied video (`integrity.rs`), check that the
//! ladder can be switched at every segment (`alignment.rs`), replace ffmpeg's playlists
//! with our own manifests (`manifest.rs`), and report every file written. The output
//! directory is private to this call until the caller publishes it, so files are
//! written in place.
//!
//! A remux whose ladder does not line up — key frames too sparse past the probe's scan,
//! or a source whose timing the encoded rungs could not follow — is packaged again as a
//! transcode, so what is published always switches cleanly.
//!
//! ```text
//! manifest/video.m3u8  manifest/video.mpd  manifest/index.json
//! manifest/v0/index.m3u8  manifest/v0/init.mp4  manifest/v0/seg_00001.m4s …  (v1, v2 … per rung)
//! manifest/a0/index.m3u8  manifest/a0/init.mp4  manifest/a0/seg_00001.m4s …  (when there is audio)
//! downloads/default.mp4
//! ```

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use usher_core::ErrorReason;

use crate::alignment;
use crate::command::{self, DOWNLOAD_FILE, FFMPEG_PLAYLIST_FILE, Layout, MANIFEST_DIR};
use crate::error::MediaError;
use crate::index::{self, INIT_FILE, PLAYLIST_FILE, SegmentIndex, Track};
use crate::integrity;
use crate::manifest::{self, DASH_MPD_FILE, HLS_MASTER_FILE};
use crate::mp4::Mp4Error;
use crate::plan::{self, Edits, MAX_REMUX_KEYFRAME_INTERVAL_SECS, Plan};
use crate::probe::Probe;
use crate::process::timeout_for;
use crate::tools::Tools;

/// The segment index, stored beside the manifests.
pub const INDEX_FILE: &str = "index.json";
/// Progress reported while ffmpeg runs stops here; 1.0 means every file is written.
pub const MAX_RUNNING_PROGRESS: f64 = 0.99;
/// A result shorter than the probed duration by more than this (or by
/// [`TRUNCATION_TOLERANCE_RATIO`] of it, whichever is larger) means ffmpeg stopped at
/// damage in the file: a truncated upload, not a short video.
pub const TRUNCATION_TOLERANCE_SECS: f64 = 1.0;
pub const TRUNCATION_TOLERANCE_RATIO: f64 = 0.05;

/// What [`package`] produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Packaged {
    /// The plan carried out: the one asked for, or the transcode a remux fell back to.
    pub plan: Plan,
    pub duration_secs: f64,
    /// Frame size of the highest video rendition.
    pub width: u32,
    pub height: u32,
    pub renditions: Vec<RenditionInfo>,
    pub index: SegmentIndex,
    /// Every file written, relative to the output directory, sorted.
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RenditionInfo {
    pub id: String,
    #[serde(flatten)]
    pub track: Track,
    pub codecs: String,
    pub bandwidth: u64,
    pub segment_count: usize,
}

/// Packages `input` into `out_dir` (which must be empty or absent) following `plan`.
/// `progress` receives non-decreasing fractions, starting at 0.0 and ending at 1.0
/// once every file is written.
pub async fn package(
    tools: &Tools,
    input: &Path,
    probe: &Probe,
    plan: &Plan,
    out_dir: &Path,
    progress: impl Fn(f64) + Send + Sync,
) -> Result<Packaged, MediaError> {
    let reported = Mutex::new(-1.0f64);
    let report = |fraction: f64| {
        if let Ok(mut last) = reported.lock()
            && fraction > *last
        {
            *last = fraction;
            progress(fraction);
        }
    };
    report(0.0);
    let outcome = package_once(tools, input, probe, plan, out_dir, &report, None).await;
    let packaged = match outcome {
        Err(MediaError::Ladder(why)) if plan.is_remux() => {
            tracing::warn!(%why, "the remuxed ladder does not line up; transcoding it instead");
            clear_dir(out_dir).await?;
            let fallback = plan::transcode(probe, Edits::default());
            package_once(tools, input, probe, &fallback, out_dir, &report, None).await?
        }
        other => other?,
    };
    report(1.0);
    Ok(packaged)
}

/// Progressive publishing's second step: encodes `lower` below the copy already
/// packaged and published (`published`, that generation's index), checks that the
/// whole ladder lines up, and writes into `out_dir` the new renditions and the
/// manifests of the whole ladder. The published files (the copy, the audio, the MP4)
/// are not rewritten: the caller carries them over.
///
/// A ladder that does not line up is an [`MediaError::Ladder`]; the caller then
/// transcodes the whole ladder with [`package`] instead.
pub async fn package_below(
    tools: &Tools,
    input: &Path,
    probe: &Probe,
    lower: &[crate::plan::Rung],
    published: &SegmentIndex,
    out_dir: &Path,
) -> Result<Packaged, MediaError> {
    let below = Plan::Below {
        lower: lower.to_vec(),
    };
    let merged = Merge {
        published: published.clone(),
        plan: Plan::Remux {
            lower: lower.to_vec(),
        },
    };
    package_once(tools, input, probe, &below, out_dir, &|_| {}, Some(merged)).await
}

/// What a [`Plan::Below`] run is merged with: the published index, and the plan the
/// whole ladder then carries out.
struct Merge {
    published: SegmentIndex,
    plan: Plan,
}

/// One ffmpeg run and its checks; progress (capped below 1.0) goes to `report`, which
/// ignores anything lower than what it has already passed on.
async fn package_once(
    tools: &Tools,
    input: &Path,
    probe: &Probe,
    plan: &Plan,
    out_dir: &Path,
    report: &(dyn Fn(f64) + Send + Sync),
    merge: Option<Merge>,
) -> Result<Packaged, MediaError> {
    let (args, layout) = command::ffmpeg_args(input, probe, plan)?;
    prepare_dir(out_dir, &layout).await?;
    let duration = plan.output_duration(probe);
    let on_time = |secs: f64| report((secs / duration).clamp(0.0, MAX_RUNNING_PROGRESS));
    tools
        .ffmpeg(timeout_for(duration))
        .current_dir(out_dir)
        .args(args)
        .run_with_progress(&on_time)
        .await?;

    let out = out_dir.to_path_buf();
    let carried_out = plan.clone();
    tokio::task::spawn_blocking(move || finish(&out, &layout, duration, carried_out, merge))
        .await
        .map_err(|e| MediaError::UnexpectedOutput(format!("indexing task failed: {e}")))?
}
/// Empties `dir` (a failed attempt's files) so it can be packaged into again.
async fn clear_dir(dir: &Path) -> Result<(), MediaError> {
    match tokio::fs::remove_dir_all(dir).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(MediaError::io(format!("clearing {}", dir.display()), e)),
    }
}

async fn prepare_dir(out_dir: &Path, layout: &Layout) -> Result<(), MediaError> {
    let io = |what: &Path| {
        let what = what.display().to_string();
        move |e| MediaError::io(format!("preparing {what}"), e)
    };
    if let Ok(mut entries) = tokio::fs::read_dir(out_dir).await
        && entries.next_entry().await.map_err(io(out_dir))?.is_some()
    {
        // Leftovers from an earlier attempt would be published along with this one.
        return Err(MediaError::UnexpectedOutput(format!(
            "{} is not empty",
            out_dir.display()
        )));
    }
    for id in layout.ids() {
        let dir = out_dir.join(MANIFEST_DIR).join(id);
        tokio::fs::create_dir_all(&dir).await.map_err(io(&dir))?;
    }
    let downloads = out_dir.join(DOWNLOAD_FILE);
    if let Some(parent) = downloads.parent().filter(|_| layout.download) {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(io(parent))?;
    }
    Ok(())
}

/// Indexes what ffmpeg wrote (checking copied video samples), checks the ladder (with
/// the published renditions it joins, for a [`Plan::Below`] run), swaps ffmpeg's
/// playlists for ours and lists the files.
fn finish(
    out_dir: &Path,
    layout: &Layout,
    expected_duration: f64,
    mut plan: Plan,
    merge: Option<Merge>,
) -> Result<Packaged, MediaError> {
    let manifest_dir = out_dir.join(MANIFEST_DIR);
    let mut renditions = Vec::new();
    let mut files = Vec::new();
    if layout.download {
        if !out_dir.join(DOWNLOAD_FILE).is_file() {
            return Err(MediaError::UnexpectedOutput(format!(
                "ffmpeg wrote no {DOWNLOAD_FILE}"
            )));
        }
        files.push(PathBuf::from(DOWNLOAD_FILE));
    }
    for id in layout.ids() {
        let dir = manifest_dir.join(id);
        let ffmpeg_playlist = dir.join(FFMPEG_PLAYLIST_FILE);
        // A tee output that failed to open is skipped by ffmpeg with only a warning, so
        // check that every rendition really was written.
        let playlist = std::fs::read_to_string(&ffmpeg_playlist).map_err(|e| {
            MediaError::UnexpectedOutput(format!("ffmpeg wrote no playlist for {id}: {e}"))
        })?;
        let segment_names = index::playlist_segments(&playlist);
        let rendition = index::index_rendition(&dir, id, &segment_names)?;
        if layout.copied_video_id.as_deref() == Some(id) {
            integrity::check_video_rendition(&dir, &segment_names).map_err(|e| match e {
                Mp4Error::CorruptSample(what) => {
                    MediaError::bad_input(ErrorReason::MalformedVideo, what)
                }
                other => MediaError::UnexpectedOutput(format!("{id}: {other}")),
            })?;
        }
        std::fs::remove_file(&ffmpeg_playlist)
            .map_err(|e| MediaError::io(format!("removing {}", ffmpeg_playlist.display()), e))?;
        let rel = Path::new(MANIFEST_DIR).join(id);
        files.push(rel.join(INIT_FILE));
        files.extend(segment_names.iter().map(|name| rel.join(name)));
        files.push(rel.join(PLAYLIST_FILE));
        renditions.push(rendition);
    }
    let written: Vec<String> = renditions.iter().map(|r| r.id.clone()).collect();
    let index = SegmentIndex::new(renditions);

    let shortfall = expected_duration - index.duration_secs;
    if shortfall > TRUNCATION_TOLERANCE_SECS.max(expected_duration * TRUNCATION_TOLERANCE_RATIO) {
        return Err(MediaError::bad_input(
            ErrorReason::MalformedVideo,
            format!(
                "only {:.3}s of a {expected_duration:.3}s video could be read",
                index.duration_secs
            ),
        ));
    }

    // The published top and audio, then the rungs just encoded below it.
    let index = match merge {
        Some(Merge {
            published,
            plan: whole,
        }) => {
            plan = whole;
            let (video, audio): (Vec<_>, Vec<_>) =
                published.renditions.into_iter().partition(|r| r.is_video());
            SegmentIndex::new(
                video
                    .into_iter()
                    .chain(index.renditions)
                    .chain(audio)
                    .collect(),
            )
        }
        None => index,
    };
    // Only now: a truncated upload is the input's fault, whatever its ladder looks like.
    alignment::check_ladder(&index).map_err(MediaError::Ladder)?;
    if let Some(copied) = index
        .renditions
        .iter()
        .find(|r| layout.copied_video_id.as_deref() == Some(r.id.as_str()))
    {
        alignment::check_segment_lengths(copied, MAX_REMUX_KEYFRAME_INTERVAL_SECS)
            .map_err(MediaError::Ladder)?;
    }

    let write = |rel: PathBuf, text: String| -> Result<PathBuf, MediaError> {
        let path = out_dir.join(&rel);
        std::fs::write(&path, text)
            .map_err(|e| MediaError::io(format!("writing {}", path.display()), e))?;
        Ok(rel)
    };
    for r in index.renditions.iter().filter(|r| written.contains(&r.id)) {
        write(
            Path::new(MANIFEST_DIR).join(&r.id).join(PLAYLIST_FILE),
            manifest::hls_variant(r),
        )?;
    }
    files.push(write(
        Path::new(MANIFEST_DIR).join(HLS_MASTER_FILE),
        manifest::hls_master(&index),
    )?);
    files.push(write(
        Path::new(MANIFEST_DIR).join(DASH_MPD_FILE),
        manifest::dash_mpd(&index),
    )?);
    let json = serde_json::to_string_pretty(&index)
        .map_err(|e| MediaError::UnexpectedOutput(format!("index JSON: {e}")))?;
    files.push(write(Path::new(MANIFEST_DIR).join(INDEX_FILE), json)?);
    files.sort();

    let (width, height) = index
        .video()
        .find_map(|r| match r.track {
            Track::Video { width, height, .. } => Some((width, height)),
            Track::Audio { .. } => None,
        })
        .unwrap_or((0, 0));
    let renditions = index
        .renditions
        .iter()
        .map(|r| RenditionInfo {
            id: r.id.clone(),
            track: r.track.clone(),
            codecs: r.codecs.clone(),
            bandwidth: r.bandwidth,
            segment_count: r.segments.len(),
        })
        .collect();
    Ok(Packaged {
        plan,
        duration_secs: index.duration_secs,
        width,
        height,
        renditions,
        index,
        files,
    })
}
