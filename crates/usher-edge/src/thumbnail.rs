//! `/{id}/thumbnails/thumbnail.jpg`: the stored poster frame, or with `time`, `width`,
//! `height` or `fit` (Cloudflare's parameters) a frame cut on demand from the published
//! MP4. Each distinct request is cut once: the JPEG is stored under the video's
//! published generation (so it goes when the media does) and served like any
//! published file afterwards. Where blobs are not local files, the MP4 is cut from a
//! local copy ([`sources`]).

mod sources;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::{Mutex, Semaphore};
use usher_media::Tools;
use usher_media::thumbnail::{END_MARGIN_SECS, Fit, Size, thumbnail_sized};
use usher_store::layout::generation_prefix;

use crate::published::Place;
use crate::serve::{Authorized, EdgeState, send};

pub use sources::SOURCE_BUDGET;

const STORED: &str = "thumbnails/thumbnail.jpg";
/// Largest side accepted, in pixels.
pub const MAX_SIDE: u32 = 2048;
/// Latest time accepted, in seconds (longer than any video Usher takes).
const MAX_TIME_SECS: f64 = 7.0 * 86_400.0;
/// ffmpeg processes cutting thumbnails at once, per process.
const CONCURRENT_CUTS: usize = 2;

/// What a thumbnail request asks for, normalised so equal requests share one file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThumbParams {
    /// Milliseconds into the video; `None` is the poster's own time.
    pub time_ms: Option<u64>,
    pub size: Option<Size>,
}

impl ThumbParams {
    /// Parses the query string; `Ok(None)` when it asks for nothing special.
    pub fn parse(query: Option<&str>) -> Result<Option<Self>, String> {
        let (mut time, mut width, mut height, mut fit) = (None, None, None, None);
        for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match &*k {
                "time" => time = Some(parse_time(&v).ok_or(format!("invalid time {v:?}"))?),
                "width" => width = Some(parse_side(&v).ok_or(format!("invalid width {v:?}"))?),
                "height" => height = Some(parse_side(&v).ok_or(format!("invalid height {v:?}"))?),
                "fit" => {
                    fit = Some(Fit::parse(&v).ok_or(format!(
                        "invalid fit {v:?}: expected crop, clip, scale or fill"
                    ))?)
                }
                // Players add their own parameters (cache busters, parentOrigin).
                _ => {}
            }
        }
        let size = match (width, height) {
            (Some(width), Some(height)) => Some(Size::Box {
                width,
                height,
                fit: fit.unwrap_or_default(),
            }),
            (Some(w), None) => Some(Size::Width(w)),
            (None, Some(h)) => Some(Size::Height(h)),
            (None, None) => None,
        };
        Ok((time.is_some() || size.is_some()).then_some(Self {
            time_ms: time,
            size,
        }))
    }

    /// A file name naming exactly these parameters.
    fn file_name(&self) -> String {
        let time = self.time_ms.map_or("p".to_owned(), |t| t.to_string());
        let size = match self.size {
            None => "orig".to_owned(),
            Some(Size::MaxWidth(w)) => format!("max{w}"),
            Some(Size::Width(w)) => format!("w{w}"),
            Some(Size::Height(h)) => format!("h{h}"),
            Some(Size::Box { width, height, fit }) => {
                format!("{width}x{height}_{}", fit.as_str())
            }
        };
        format!("t_{time}_{size}.jpg")
    }
}

/// `8`, `8s`, `8.5s`, `1m2s`, `1h2m3s` → milliseconds.
fn parse_time(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.is_empty() || s.len() > 32 {
        return None;
    }
    let mut total = 0.0_f64;
    let mut num = String::new();
    let mut last_unit = 4; // h=3, m=2, s=1; units must descend
    for c in s.chars() {
        match c {
            '0'..='9' | '.' => num.push(c),
            'h' | 'm' | 's' => {
                let unit = match c {
                    'h' => 3,
                    'm' => 2,
                    _ => 1,
                };
                if num.is_empty() || unit >= last_unit {
                    return None;
                }
                let v: f64 = num.parse().ok()?;
                total += v * [0.0, 1.0, 60.0, 3600.0][unit];
                num.clear();
                last_unit = unit;
            }
            _ => return None,
        }
    }
    if !num.is_empty() {
        // A bare number is seconds, and only on its own.
        if last_unit != 4 {
            return None;
        }
        total = num.parse().ok()?;
    }
    (total.is_finite() && (0.0..=MAX_TIME_SECS).contains(&total))
        .then(|| (total * 1000.0).round() as u64)
}

fn parse_side(s: &str) -> Option<u32> {
    let v: u32 = s.trim().parse().ok()?;
    (1..=MAX_SIDE).contains(&v).then_some(v)
}

/// Cuts thumbnails: ffmpeg, a scratch directory, and one lock per file being cut so
/// concurrent identical requests start one ffmpeg.
pub struct Thumbnailer {
    tools: Arc<Tools>,
    scratch: PathBuf,
    permits: Semaphore,
    cutting: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    /// Local copies of MP4s, for stores without local files.
    sources: sources::Sources,
}

impl Thumbnailer {
    pub fn new(tools: Arc<Tools>, scratch: PathBuf) -> Self {
        Self {
            tools,
            sources: sources::Sources::new(scratch.join("thumbnail-sources"), SOURCE_BUDGET),
            scratch,
            permits: Semaphore::new(CONCURRENT_CUTS),
            cutting: Mutex::new(HashMap::new()),
        }
    }
}

/// Why a thumbnail could not be had; the reason is all the viewer learns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CutError {
    NotFound,
    /// ffmpeg or scratch space failed: nothing a retry is likely to fix.
    Failed,
    /// The blob store could not be read; a retry may succeed.
    StoreDown,
}

impl CutError {
    fn refusal(self) -> Response {
        match self {
            Self::NotFound => refuse(StatusCode::NOT_FOUND, "not found"),
            Self::Failed => refuse(StatusCode::NOT_FOUND, "thumbnail unavailable"),
            Self::StoreDown => refuse(StatusCode::SERVICE_UNAVAILABLE, "media store unavailable"),
        }
    }
}

fn refuse(status: StatusCode, reason: &str) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        format!("{reason}\n"),
    )
        .into_response()
}

pub async fn serve(st: &EdgeState, auth: &Authorized, req: Request) -> Response {
    let params = match ThumbParams::parse(req.uri().query()) {
        Ok(None) => return send(st, auth, STORED, &Place::Generation, req).await,
        Ok(Some(p)) => p,
        Err(reason) => return refuse(StatusCode::BAD_REQUEST, &reason),
    };
    let (Some(thumbs), Some(generation)) = (&st.thumbnails, &auth.video.media_generation) else {
        return refuse(StatusCode::NOT_FOUND, "not found");
    };
    let rest = format!("thumbnails/{}", params.file_name());
    let key = format!("{}/{rest}", generation_prefix(&auth.video.uid, generation));
    if let Err(e) = ensure_cut(st, thumbs, auth, &params, &key).await {
        return e.refusal();
    }
    send(st, auth, &rest, &Place::Generation, req).await
}

/// Makes sure the JPEG for `params` is stored at `key`, cutting it if needed.
async fn ensure_cut(
    st: &EdgeState,
    thumbs: &Thumbnailer,
    auth: &Authorized,
    params: &ThumbParams,
    key: &str,
) -> Result<(), CutError> {
    let stored = || async { st.blobs.exists(key).await.unwrap_or(false) };
    if stored().await {
        return Ok(());
    }
    let lock = {
        let mut cutting = thumbs.cutting.lock().await;
        cutting.entry(key.to_owned()).or_default().clone()
    };
    let result = async {
        let _one = lock.lock().await;
        if stored().await {
            return Ok(());
        }
        let _permit = thumbs
            .permits
            .acquire()
            .await
            .map_err(|_| CutError::Failed)?;
        cut(st, thumbs, auth, params, key).await
    }
    .await;
    // Forget the lock once nobody else waits on it.
    let mut cutting = thumbs.cutting.lock().await;
    if cutting.get(key).is_some_and(|l| Arc::strong_count(l) <= 2) {
        cutting.remove(key);
    }
    result
}

async fn cut(
    st: &EdgeState,
    thumbs: &Thumbnailer,
    auth: &Authorized,
    params: &ThumbParams,
    key: &str,
) -> Result<(), CutError> {
    let video = &auth.video;
    let generation = video
        .media_generation
        .as_deref()
        .ok_or(CutError::NotFound)?;
    let mp4 = format!(
        "{}/downloads/default.mp4",
        generation_prefix(&video.uid, generation)
    );
    // Held until ffmpeg is done: a copy pushed out of the cache meanwhile stays on disk.
    let copy;
    let input = match st.blobs.local_path(&mp4) {
        Some(path) => path,
        None => {
            copy = thumbs.sources.get(&st.blobs, &mp4).await.map_err(|e| {
                if e.is_not_found() {
                    return CutError::NotFound;
                }
                tracing::error!(error = %e, key = mp4, "cannot fetch a thumbnail's source");
                CutError::StoreDown
            })?;
            copy.path().to_owned()
        }
    };
    let at = match params.time_ms {
        Some(ms) => (ms as f64 / 1000.0).min((video.duration - END_MARGIN_SECS).max(0.0)),
        None => usher_media::thumbnail_time(video.thumbnail_pct, video.duration),
    };
    tokio::fs::create_dir_all(&thumbs.scratch)
        .await
        .map_err(failed("cannot create the scratch directory"))?;
    let tmp = tempfile::Builder::new()
        .prefix("thumb-")
        .suffix(".jpg")
        .tempfile_in(&thumbs.scratch)
        .map_err(failed("cannot create a thumbnail scratch file"))?;
    thumbnail_sized(&thumbs.tools, &input, at, tmp.path(), params.size)
        .await
        .map_err(failed("cutting a thumbnail failed"))?;
    // Stored whole or not at all: a reader never sees a half-written JPEG.
    st.blobs.put_file(key, tmp.path()).await.map_err(|e| {
        tracing::error!(error = %e, "cannot store a thumbnail");
        CutError::StoreDown
    })?;
    Ok(())
}

/// Logs why a thumbnail could not be made; the viewer only learns that it could not.
fn failed<E: std::fmt::Display>(what: &'static str) -> impl FnOnce(E) -> CutError {
    move |e| {
        tracing::error!(error = %e, "{what}");
        CutError::Failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn times_as_cloudflare_writes_them() {
        assert_eq!(parse_time("8s"), Some(8_000));
        assert_eq!(parse_time("8"), Some(8_000));
        assert_eq!(parse_time("8.5s"), Some(8_500));
        assert_eq!(parse_time("1m2s"), Some(62_000));
        assert_eq!(parse_time("1h2m3s"), Some(3_723_000));
        assert_eq!(parse_time("8m"), Some(480_000));
        assert_eq!(parse_time("0s"), Some(0));
        for bad in [
            "", "s", "-1s", "1s2m", "1m1m", "1e3s", "1x", "2s3", "1.2.3s", "NaNs", "inf",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn parameters_normalise_to_one_file_per_request() {
        let p = |q: &str| ThumbParams::parse(Some(q));
        assert_eq!(p(""), Ok(None));
        assert_eq!(p("parentOrigin=https%3A%2F%2Fa.example"), Ok(None));
        let a = p("time=1m2s&width=320&height=180").unwrap().unwrap();
        let b = p("height=180&width=320&time=62s&fit=crop")
            .unwrap()
            .unwrap();
        assert_eq!(a.file_name(), b.file_name());
        assert_eq!(a.file_name(), "t_62000_320x180_crop.jpg");
        assert_eq!(
            p("height=270").unwrap().unwrap().file_name(),
            "t_p_h270.jpg"
        );
        assert_ne!(
            p("width=320&height=180&fit=fill")
                .unwrap()
                .unwrap()
                .file_name(),
            a.file_name()
        );
        for bad in [
            "width=0",
            "width=99999",
            "height=-1",
            "fit=banana",
            "time=soon",
            "width=1e3",
        ] {
            assert!(p(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn no_query_panics_and_names_stay_plain(q in ".{0,80}") {
            if let Ok(Some(p)) = ThumbParams::parse(Some(&q)) {
                let name = p.file_name();
                prop_assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._".contains(&b)));
            }
        }

        /// Every valid combination parses to exactly what it asks for.
        #[test]
        fn valid_parameters_parse_to_what_they_say(
            secs in 0u64..36_000,
            width in 1u32..=MAX_SIDE,
            height in 1u32..=MAX_SIDE,
            fit in 0usize..4,
            which in 0u8..8,
        ) {
            let fits = [Fit::Crop, Fit::Clip, Fit::Scale, Fit::Fill];
            let fit_name = ["crop", "clip", "scale", "fill"][fit];
            let mut q = vec![format!("time={secs}s")];
            if which & 1 != 0 { q.push(format!("width={width}")); }
            if which & 2 != 0 { q.push(format!("height={height}")); }
            if which & 4 != 0 { q.push(format!("fit={fit_name}")); }
            let p = ThumbParams::parse(Some(&q.join("&"))).unwrap().unwrap();
            prop_assert_eq!(p.time_ms, Some(secs * 1000));
            let want = match (which & 1 != 0, which & 2 != 0) {
                (true, true) => Some(Size::Box {
                    width,
                    height,
                    fit: if which & 4 != 0 { fits[fit] } else { Fit::Crop },
                }),
                (true, false) => Some(Size::Width(width)),
                (false, true) => Some(Size::Height(height)),
                (false, false) => None,
            };
            prop_assert_eq!(p.size, want);
        }

        #[test]
        fn valid_times_round_trip(h in 0u64..48, m in 0u64..60, s in 0u64..60) {
            prop_assert_eq!(parse_time(&format!("{h}h{m}m{s}s")), Some((h * 3600 + m * 60 + s) * 1000));
        }
    }
}
