//! Text-free line plots of mean curves along progress (the numbers are in the tables; the
//! pictures show the shapes).

use crate::viz::{label_color, Image};

/// Colour of each method of [`super::eval::METHODS`]: MUSIC blue, linear between the same end
/// points orange, linear between the real images green.
pub fn method_color(index: usize) -> [u8; 3] {
    label_color(index)
}

fn line(img: &mut Image, a: [f32; 2], b: [f32; 2], color: [u8; 3], width: i64) {
    let steps = (b[0] - a[0]).abs().max((b[1] - a[1]).abs()).ceil().max(1.0) as usize;
    for s in 0..=steps {
        let t = s as f32 / steps as f32;
        let x = (a[0] + t * (b[0] - a[0])).round() as i64;
        let y = (a[1] + t * (b[1] - a[1])).round() as i64;
        for dy in 0..width {
            for dx in 0..width {
                let (px, py) = (x + dx, y + dy);
                if px >= 0 && py >= 0 {
                    img.set(px as usize, py as usize, color);
                }
            }
        }
    }
}

/// One panel per metric, side by side: x = progress `t` in `[0, 1]`, y = the metric from the
/// smallest to the largest value of any curve in the panel (each panel its own range), with
/// light grid lines at t = 0.25, 0.5, 0.75. Each curve is `(values at ts, colour)`.
///
/// # Shapes
/// Every curve has one value per entry of `ts`.
pub fn curve_panels(
    ts: &[f32],
    panels: &[Vec<(Vec<f64>, [u8; 3])>],
    panel_size: [usize; 2],
) -> Image {
    let [w, h] = panel_size;
    let margin = 8usize;
    let mut img = Image::new(panels.len() * (w + margin) + margin, h + 2 * margin);
    for (p, curves) in panels.iter().enumerate() {
        let x0 = margin + p * (w + margin);
        let y0 = margin;
        let finite = curves
            .iter()
            .flat_map(|(v, _)| v)
            .copied()
            .filter(|v| v.is_finite());
        let lo = finite.clone().fold(f64::INFINITY, f64::min);
        let hi = finite.fold(f64::NEG_INFINITY, f64::max);
        let (lo, hi) = if hi > lo {
            (lo, hi)
        } else {
            (lo - 0.5, lo + 0.5)
        };
        let to_px = |t: f32, v: f64| {
            [
                x0 as f32 + t * (w - 1) as f32,
                y0 as f32 + (1.0 - ((v - lo) / (hi - lo)) as f32 * 0.9 - 0.05) * (h - 1) as f32,
            ]
        };
        for t in [0.25f32, 0.5, 0.75] {
            let x = to_px(t, lo)[0];
            line(
                &mut img,
                [x, y0 as f32],
                [x, (y0 + h - 1) as f32],
                [225, 225, 225],
                1,
            );
        }
        let box_color = [60, 60, 60];
        let (xa, xb, ya, yb) = (
            x0 as f32,
            (x0 + w - 1) as f32,
            y0 as f32,
            (y0 + h - 1) as f32,
        );
        line(&mut img, [xa, ya], [xb, ya], box_color, 1);
        line(&mut img, [xa, yb], [xb, yb], box_color, 1);
        line(&mut img, [xa, ya], [xa, yb], box_color, 1);
        line(&mut img, [xb, ya], [xb, yb], box_color, 1);
        for (values, color) in curves {
            let points: Vec<[f32; 2]> = ts
                .iter()
                .zip(values)
                .filter(|(_, v)| v.is_finite())
                .map(|(&t, &v)| to_px(t, v))
                .collect();
            for seg in points.windows(2) {
                line(&mut img, seg[0], seg[1], *color, 2);
            }
        }
    }
    img
}
