//! Watermark geometry: where and how large a watermark image lands on a frame, as
//! Cloudflare's profile fields define it, and the ffmpeg filters that draw it. Pure, so
//! every position is unit-tested.
//!
//! - `scale` 0 keeps the image's own size; otherwise the image is fitted, keeping its
//!   aspect ratio, within `scale × W` by `scale × H` of the frame. Either way it is
//!   never larger than the frame itself.
//! - `padding` is `padding × min(W, H)` pixels between the image and the two edges
//!   its position names (`center` ignores it), so the gap is the same on both edges
//!   and in both orientations.
//! - `opacity` multiplies the image's alpha channel (a JPEG counts as opaque).
//!
//! The overlay is drawn once on the top rendition's frame, before the ladder is
//! split, so every rendition shows the same mark scaled with the picture.

use usher_core::WatermarkPosition;

use crate::plan::Overlay;

/// Where the scaled image goes on a frame: its size and top-left corner, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub width: u32,
    pub height: u32,
    pub x: u32,
    pub y: u32,
}

/// The placement of `overlay` on a `frame_width × frame_height` frame.
pub fn placement(overlay: &Overlay, frame_width: u32, frame_height: u32) -> Placement {
    let (fw, fh) = (
        f64::from(frame_width.max(1)),
        f64::from(frame_height.max(1)),
    );
    let (iw, ih) = (
        f64::from(overlay.width.max(1)),
        f64::from(overlay.height.max(1)),
    );
    let scale = unit(overlay.scale);
    let (box_w, box_h) = if scale > 0.0 {
        (scale * fw, scale * fh)
    } else {
        (iw, ih)
    };
    // Fit within the box (scale) and within the frame (either way), keeping the aspect.
    let factor = (box_w / iw).min(box_h / ih).min(fw / iw).min(fh / ih);
    let width = even_at_least_two(iw * factor).min(frame_width.max(2));
    let height = even_at_least_two(ih * factor).min(frame_height.max(2));
    let pad = (unit(overlay.padding) * fw.min(fh)).round() as u32;
    // Room left on each axis; the padding never pushes the image off the frame.
    let room_x = frame_width.saturating_sub(width);
    let room_y = frame_height.saturating_sub(height);
    let near = |room: u32| pad.min(room);
    let far = |room: u32| room.saturating_sub(pad);
    let (x, y) = match overlay.position {
        WatermarkPosition::UpperLeft => (near(room_x), near(room_y)),
        WatermarkPosition::UpperRight => (far(room_x), near(room_y)),
        WatermarkPosition::LowerLeft => (near(room_x), far(room_y)),
        WatermarkPosition::LowerRight => (far(room_x), far(room_y)),
        WatermarkPosition::Center => (room_x / 2, room_y / 2),
    };
    Placement {
        width,
        height,
        x,
        y,
    }
}

/// The filter chain that turns the image input into the mark to draw: alpha multiplied
/// by the opacity, scaled to the placement. `format=rgba` gives a JPEG an alpha channel.
pub fn image_filter(overlay: &Overlay, placement: &Placement) -> String {
    format!(
        "format=rgba,colorchannelmixer=aa={:.4},scale={}:{}",
        unit(overlay.opacity),
        placement.width,
        placement.height
    )
}

/// The `overlay` filter that draws the mark (second input) on the frame (first input).
pub fn overlay_filter(placement: &Placement) -> String {
    format!("overlay=x={}:y={}", placement.x, placement.y)
}

/// A 0.0–1.0 setting, anything else pulled into range (NaN counts as 0).
fn unit(v: f64) -> f64 {
    if v.is_finite() {
        v.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// Rounds to an even number of pixels, at least 2 (4:2:0 chroma needs even sizes).
fn even_at_least_two(x: f64) -> u32 {
    ((x.round() as u32).div_ceil(2) * 2).max(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(
        width: u32,
        height: u32,
        scale: f64,
        padding: f64,
        position: WatermarkPosition,
    ) -> Overlay {
        Overlay {
            image: "wm.png".into(),
            width,
            height,
            opacity: 0.5,
            padding,
            scale,
            position,
        }
    }

    fn at(p: Placement) -> (u32, u32, u32, u32) {
        (p.width, p.height, p.x, p.y)
    }

    #[test]
    fn every_position_on_a_1080p_frame() {
        // 200x100 image, scale 0.15 → fits 288x162 → 288x144; pad 0.05 × 1080 = 54.
        let on = |pos| at(placement(&mark(200, 100, 0.15, 0.05, pos), 1920, 1080));
        assert_eq!(on(WatermarkPosition::UpperLeft), (288, 144, 54, 54));
        assert_eq!(
            on(WatermarkPosition::UpperRight),
            (288, 144, 1920 - 288 - 54, 54)
        );
        assert_eq!(
            on(WatermarkPosition::LowerLeft),
            (288, 144, 54, 1080 - 144 - 54)
        );
        assert_eq!(
            on(WatermarkPosition::LowerRight),
            (288, 144, 1920 - 288 - 54, 1080 - 144 - 54)
        );
        assert_eq!(
            on(WatermarkPosition::Center),
            (288, 144, (1920 - 288) / 2, (1080 - 144) / 2),
            "center ignores padding"
        );
    }

    #[test]
    fn the_box_limits_the_taller_side_too() {
        // A tall image in a wide frame: height is the binding side (0.2 × 360 = 72).
        let p = placement(
            &mark(100, 400, 0.2, 0.0, WatermarkPosition::UpperLeft),
            640,
            360,
        );
        assert_eq!(at(p), (18, 72, 0, 0));
    }

    #[test]
    fn scale_zero_keeps_the_image_size_but_never_exceeds_the_frame() {
        let own = placement(
            &mark(64, 32, 0.0, 0.1, WatermarkPosition::LowerRight),
            640,
            360,
        );
        assert_eq!(at(own), (64, 32, 640 - 64 - 36, 360 - 32 - 36));
        let huge = placement(
            &mark(4000, 1000, 0.0, 0.0, WatermarkPosition::UpperLeft),
            640,
            360,
        );
        assert_eq!(at(huge), (640, 160, 0, 0));
        let full = placement(
            &mark(160, 90, 1.0, 0.0, WatermarkPosition::Center),
            1280,
            720,
        );
        assert_eq!(at(full), (1280, 720, 0, 0), "scale 1 fills the frame");
    }

    #[test]
    fn padding_follows_the_shorter_side_in_portrait_too() {
        let p = placement(
            &mark(100, 100, 0.1, 0.05, WatermarkPosition::UpperRight),
            1080,
            1920,
        );
        // box 108x192 → 108x108; pad 0.05 × 1080 = 54.
        assert_eq!(at(p), (108, 108, 1080 - 108 - 54, 54));
    }

    #[test]
    fn padding_never_pushes_the_image_off_the_frame() {
        let p = placement(
            &mark(100, 100, 0.5, 1.0, WatermarkPosition::LowerRight),
            200,
            100,
        );
        // 100 px of padding asked for; 150 x 50 px of room.
        assert_eq!(at(p), (50, 50, 50, 0));
        let p = placement(
            &mark(100, 100, 0.5, 1.0, WatermarkPosition::UpperLeft),
            200,
            100,
        );
        assert_eq!(at(p), (50, 50, 100, 50));
    }

    #[test]
    fn sizes_are_even_and_settings_out_of_range_are_clamped() {
        let p = placement(
            &mark(33, 17, 0.0, f64::NAN, WatermarkPosition::UpperLeft),
            100,
            100,
        );
        assert_eq!(at(p), (34, 18, 0, 0));
        let mut m = mark(10, 10, 7.0, 0.0, WatermarkPosition::UpperLeft);
        m.opacity = 3.0;
        let p = placement(&m, 100, 60);
        assert_eq!(at(p), (60, 60, 0, 0));
        assert_eq!(
            image_filter(&m, &p),
            "format=rgba,colorchannelmixer=aa=1.0000,scale=60:60"
        );
        assert_eq!(overlay_filter(&p), "overlay=x=0:y=0");
    }
}
