//! Still frames as JPEG: the video's poster (`thumbnails/thumbnail.jpg`) at
//! `thumbnailTimestampPct` of its duration, or at a `?time=` the edge asks for.

use std::path::Path;
use std::time::Duration;

use usher_core::ErrorReason;

use crate::error::MediaError;
use crate::probe::input_args;
use crate::tools::Tools;

/// Seeking before `-i` jumps to the previous keyframe and decodes at most one GOP, so
/// this does not grow with the video's length.
pub const THUMBNAIL_TIMEOUT: Duration = Duration::from_secs(60);
/// ffmpeg's JPEG quality scale, 2 (best) to 31: visually clean at a third of the size of 2.
pub const JPEG_QUALITY: u32 = 3;
/// How far before the end a requested time is pulled back, so that seeking lands on a
/// frame that exists (the last frame starts one frame duration before the end).
pub const END_MARGIN_SECS: f64 = 0.1;

/// The time of the poster frame: `pct` (0.0–1.0, Cloudflare's
/// `thumbnailTimestampPct`) of `duration_secs`, kept inside the video.
pub fn thumbnail_time(pct: f64, duration_secs: f64) -> f64 {
    let pct = if pct.is_finite() {
        pct.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let duration = if duration_secs.is_finite() {
        duration_secs.max(0.0)
    } else {
        0.0
    };
    (pct * duration).min((duration - END_MARGIN_SECS).max(0.0))
}

/// How a requested thumbnail size is met when its shape differs from the video's
/// (Cloudflare's `fit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fit {
    /// Cover the box, cutting what falls outside it.
    #[default]
    Crop,
    /// The whole frame, shrunk to fit inside the box (the image may be smaller).
    Clip,
    /// Stretched to exactly the box.
    Scale,
    /// The whole frame inside the box, the rest filled with black.
    Fill,
}

impl Fit {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "crop" => Self::Crop,
            "clip" => Self::Clip,
            "scale" => Self::Scale,
            "fill" => Self::Fill,
            _ => return None,
        })
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Crop => "crop",
            Self::Clip => "clip",
            Self::Scale => "scale",
            Self::Fill => "fill",
        }
    }
}

/// The size of a thumbnail: the video's own, no wider than a maximum, one side given
/// (the other follows the aspect ratio), or a box with a [`Fit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    MaxWidth(u32),
    Width(u32),
    Height(u32),
    Box { width: u32, height: u32, fit: Fit },
}

impl Size {
    fn filter(&self) -> String {
        match *self {
            Self::MaxWidth(w) => format!("scale='min({},iw)':-2", w.max(2)),
            Self::Width(w) => format!("scale={w}:-2"),
            Self::Height(h) => format!("scale=-2:{h}"),
            Self::Box { width, height, fit } => match fit {
                Fit::Crop => format!(
                    "scale={width}:{height}:force_original_aspect_ratio=increase,crop={width}:{height}"
                ),
                Fit::Clip => {
                    format!("scale={width}:{height}:force_original_aspect_ratio=decrease")
                }
                Fit::Scale => format!("scale={width}:{height}"),
                Fit::Fill => format!(
                    "scale={width}:{height}:force_original_aspect_ratio=decrease,\
                     pad={width}:{height}:(ow-iw)/2:(oh-ih)/2"
                ),
            },
        }
    }
}

/// Writes the frame at `at_secs` of `input` to `out` as a JPEG, scaled down to
/// `max_width` if it is wider (never up), with square pixels and rotation applied.
/// A time past the last frame falls back to the first frame rather than failing.
pub async fn thumbnail(
    tools: &Tools,
    input: &Path,
    at_secs: f64,
    out: &Path,
    max_width: Option<u32>,
) -> Result<(), MediaError> {
    thumbnail_sized(tools, input, at_secs, out, max_width.map(Size::MaxWidth)).await
}

/// [`thumbnail`] at any [`Size`].
pub async fn thumbnail_sized(
    tools: &Tools,
    input: &Path,
    at_secs: f64,
    out: &Path,
    size: Option<Size>,
) -> Result<(), MediaError> {
    let at_secs = if at_secs.is_finite() {
        at_secs.max(0.0)
    } else {
        0.0
    };
    extract(tools, input, at_secs, out, size).await?;
    if !wrote_frame(out).await && at_secs > 0.0 {
        tracing::debug!(
            at_secs,
            "no frame at the requested time; using the first frame"
        );
        extract(tools, input, 0.0, out, size).await?;
    }
    if wrote_frame(out).await {
        Ok(())
    } else {
        Err(MediaError::bad_input(
            ErrorReason::MalformedVideo,
            "no frame could be decoded",
        ))
    }
}

async fn extract(
    tools: &Tools,
    input: &Path,
    at_secs: f64,
    out: &Path,
    size: Option<Size>,
) -> Result<(), MediaError> {
    // Stretch anamorphic pixels to square first, then resize; -2 keeps a side even.
    let mut filter = String::from("scale='trunc(iw*sar/2)*2':ih,setsar=1");
    if let Some(size) = size {
        filter.push(',');
        filter.push_str(&size.filter());
    }
    let mut command = tools.ffmpeg(THUMBNAIL_TIMEOUT);
    if at_secs > 0.0 {
        command = command.args(["-ss", &format!("{at_secs:.3}")]);
    }
    let mut target = std::ffi::OsString::from("file:");
    target.push(
        std::path::absolute(out)
            .map_err(|e| MediaError::io(format!("resolving {}", out.display()), e))?,
    );
    command
        .args(input_args(input)?)
        // `V` skips cover art; `-update 1` writes one image to exactly this name (no
        // `%d` pattern expansion).
        .args([
            "-map",
            "0:V:0",
            "-frames:v",
            "1",
            "-an",
            "-vf",
            &filter,
            "-q:v",
            &JPEG_QUALITY.to_string(),
        ])
        .args(["-f", "image2", "-update", "1"])
        .arg(target)
        .output()
        .await?;
    Ok(())
}

async fn wrote_frame(out: &Path) -> bool {
    tokio::fs::metadata(out).await.is_ok_and(|m| m.len() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poster_time_is_clamped_to_the_video() {
        assert_eq!(thumbnail_time(0.0, 10.0), 0.0);
        assert_eq!(thumbnail_time(0.5, 10.0), 5.0);
        assert_eq!(thumbnail_time(1.0, 10.0), 9.9);
        assert_eq!(thumbnail_time(7.0, 10.0), 9.9);
        assert_eq!(thumbnail_time(-1.0, 10.0), 0.0);
        assert_eq!(thumbnail_time(f64::NAN, 10.0), 0.0);
        assert_eq!(thumbnail_time(0.5, 0.05), 0.0);
    }
}
