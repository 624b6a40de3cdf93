//! sensor_msgs/Image -> model input, with the Python kernel's checks and messages
//! (`nanobot_ros/data/convert.py`, `nanobot_ros/policy/processing.py`).
//!
//! Encodings rgb8, bgr8 and mono8; `step` must be at least width * channels and the data must
//! hold height * step bytes (padded rows are cropped). Resizing to the model's square input
//! follows OpenCV's INTER_AREA for shrinking (each output pixel the area-weighted mean of the
//! source pixels it covers, rounded to uint8) and bilinear with pixel centres for growing.

/// An image as the node received it (the fields of sensor_msgs/Image that matter).
pub struct Frame<'a> {
    pub encoding: &'a str,
    pub width: u32,
    pub height: u32,
    pub step: u32,
    pub data: &'a [u8],
}

fn channels(encoding: &str) -> Result<usize, String> {
    match encoding {
        "rgb8" | "bgr8" => Ok(3),
        "mono8" => Ok(1),
        _ => Err(format!(
            "unsupported image encoding '{encoding}'; supported: rgb8, bgr8, mono8"
        )),
    }
}

/// Return the frame as packed rgb bytes (height * width * 3) or say what is wrong with it.
pub fn to_rgb(frame: &Frame) -> Result<Vec<u8>, String> {
    let c = channels(frame.encoding)?;
    let (h, w, step) = (frame.height as usize, frame.width as usize, frame.step as usize);
    if h == 0 || w == 0 {
        return Err(format!("image has no pixels: {w}x{h}"));
    }
    if step < w * c {
        return Err(format!(
            "image step {step} is smaller than width * channels = {} for {}",
            w * c,
            frame.encoding
        ));
    }
    if frame.data.len() != h * step {
        return Err(format!(
            "image data holds {} bytes, expected height * step = {h} * {step} = {}",
            frame.data.len(),
            h * step
        ));
    }
    let mut rgb = Vec::with_capacity(h * w * 3);
    for row in frame.data.chunks_exact(step) {
        for px in row[..w * c].chunks_exact(c) {
            match frame.encoding {
                "rgb8" => rgb.extend_from_slice(px),
                "bgr8" => rgb.extend_from_slice(&[px[2], px[1], px[0]]),
                _ => rgb.extend_from_slice(&[px[0], px[0], px[0]]),
            }
        }
    }
    Ok(rgb)
}

/// Source index ranges and weights of each output coordinate along one axis.
fn axis_weights(src: usize, dst: usize) -> Vec<Vec<(usize, f64)>> {
    let scale = src as f64 / dst as f64;
    (0..dst)
        .map(|d| {
            if scale >= 1.0 {
                // Area: the source interval [d * scale, (d + 1) * scale) by overlap.
                let (start, end) = (d as f64 * scale, (d as f64 + 1.0) * scale);
                let mut weights = Vec::new();
                let mut s = start.floor() as usize;
                while (s as f64) < end && s < src {
                    let overlap = (end.min(s as f64 + 1.0) - start.max(s as f64)).max(0.0);
                    if overlap > 1e-12 {
                        weights.push((s, overlap / scale));
                    }
                    s += 1;
                }
                weights
            } else {
                // Bilinear between pixel centres, clamped at the border.
                let x = ((d as f64 + 0.5) * scale - 0.5).max(0.0);
                let left = (x.floor() as usize).min(src - 1);
                let right = (left + 1).min(src - 1);
                let frac = x - left as f64;
                vec![(left, 1.0 - frac), (right, frac)]
            }
        })
        .collect()
}

/// Resize packed rgb (h, w) to (size, size) and return float CHW values in [0, 1].
pub fn to_model_input(rgb: &[u8], height: usize, width: usize, size: usize) -> Vec<f32> {
    let rows = axis_weights(height, size);
    let cols = axis_weights(width, size);
    let mut out = vec![0f32; 3 * size * size];
    for (y, row_weights) in rows.iter().enumerate() {
        for (x, col_weights) in cols.iter().enumerate() {
            for c in 0..3 {
                let value = if height == size && width == size {
                    rgb[(y * width + x) * 3 + c] as f64
                } else {
                    let mut sum = 0.0;
                    for &(sy, wy) in row_weights {
                        for &(sx, wx) in col_weights {
                            sum += wy * wx * rgb[(sy * width + sx) * 3 + c] as f64;
                        }
                    }
                    sum.round().clamp(0.0, 255.0)
                };
                out[c * size * size + y * size + x] = value as f32 / 255.0;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame<'a>(encoding: &'a str, w: u32, h: u32, step: u32, data: &'a [u8]) -> Frame<'a> {
        Frame { encoding, width: w, height: h, step, data }
    }

    #[test]
    fn bgr_and_mono_become_rgb_and_padding_is_cropped() {
        let bgr = [1, 2, 3, 4, 5, 6, 99];
        assert_eq!(to_rgb(&frame("bgr8", 2, 1, 7, &bgr)).unwrap(), vec![3, 2, 1, 6, 5, 4]);
        assert_eq!(to_rgb(&frame("mono8", 2, 1, 2, &[7, 9])).unwrap(), vec![7, 7, 7, 9, 9, 9]);
    }

    #[test]
    fn malformed_frames_say_why() {
        let e = to_rgb(&frame("32FC3", 1, 1, 12, &[0; 12])).unwrap_err();
        assert!(e.starts_with("unsupported image encoding '32FC3'"), "{e}");
        let e = to_rgb(&frame("rgb8", 40, 40, 120, &[0; 100])).unwrap_err();
        assert_eq!(e, "image data holds 100 bytes, expected height * step = 40 * 120 = 4800");
        assert_eq!(to_rgb(&frame("rgb8", 0, 0, 0, &[])).unwrap_err(), "image has no pixels: 0x0");
        let e = to_rgb(&frame("rgb8", 2, 1, 5, &[0; 5])).unwrap_err();
        assert_eq!(e, "image step 5 is smaller than width * channels = 6 for rgb8");
    }

    #[test]
    fn halving_averages_2x2_blocks() {
        // 2x2 rgb image, one channel ramps 0, 100, 200, 255: mean 138.75 -> 139.
        let mut rgb = vec![0u8; 12];
        for (i, v) in [0u8, 100, 200, 255].iter().enumerate() {
            rgb[i * 3] = *v;
        }
        let out = to_model_input(&rgb, 2, 2, 1);
        assert_eq!(out, vec![139.0 / 255.0, 0.0, 0.0]);
    }

    #[test]
    fn non_integer_shrink_weights_sum_to_one() {
        for w in axis_weights(40, 16) {
            let total: f64 = w.iter().map(|(_, x)| x).sum();
            assert!((total - 1.0).abs() < 1e-9, "{total}");
        }
    }
}
