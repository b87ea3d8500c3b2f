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
    let at_secs = if at_secs.is_finite() {
        at_secs.max(0.0)
    } else {
        0.0
    };
    extract(tools, input, at_secs, out, max_width).await?;
    if !wrote_frame(out).await && at_secs > 0.0 {
        tracing::debug!(
            at_secs,
            "no frame at the requested time; using the first frame"
        );
        extract(tools, input, 0.0, out, max_width).await?;
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
    max_width: Option<u32>,
) -> Result<(), MediaError> {
    // Stretch anamorphic pixels to square first, then shrink; -2 keeps the height even.
    let mut filter = String::from("scale='trunc(iw*sar/2)*2':ih,setsar=1");
    if let Some(width) = max_width {
        filter.push_str(&format!(",scale='min({},iw)':-2", width.max(2)));
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
