//! PNG pictures of maps and trajectories, drawn pixel by pixel on an RGB [`Image`] and written
//! with the `png` crate (no font: pictures carry no text, captions belong in the report).
//!
//! - [`image_grid`], [`prototype_grid`], [`strips`]: grayscale tiles (digits, faces, prototypes,
//!   trajectory frames) laid out in a grid.
//! - [`heatmap`]: one value per unit (U-matrix, hit map) in the viridis colormap with a colour bar,
//!   rectangular or hexagonal (odd rows shifted right by half a cell, as in [`crate::topology`]).
//! - [`scatter2d`]: 2-D data coloured by label, the prototypes' Voronoi cells, the map's lattice
//!   edges, and coloured polylines (MUSIC trajectories).

use std::path::Path;

use crate::error::Result;

/// White, the background of every picture.
pub const WHITE: [u8; 3] = [255, 255, 255];

/// An 8-bit RGB picture.
///
/// # Shapes
/// `rgb` holds `width * height * 3` bytes, row-major from the top-left corner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// The pixels, 3 bytes each (red, green, blue), row-major.
    pub rgb: Vec<u8>,
}

impl Image {
    /// A white `width x height` picture.
    pub fn new(width: usize, height: usize) -> Image {
        Image {
            width,
            height,
            rgb: vec![255; width * height * 3],
        }
    }

    /// The colour at `(x, y)`, or `None` outside the picture.
    pub fn get(&self, x: usize, y: usize) -> Option<[u8; 3]> {
        (x < self.width && y < self.height).then(|| {
            let i = 3 * (y * self.width + x);
            [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
        })
    }

    /// Sets the pixel at `(x, y)`; pixels outside the picture are ignored (drawing is clipped).
    pub fn set(&mut self, x: usize, y: usize, color: [u8; 3]) {
        if x < self.width && y < self.height {
            let i = 3 * (y * self.width + x);
            self.rgb[i..i + 3].copy_from_slice(&color);
        }
    }

    /// Sets the pixel at signed coordinates, ignoring those outside the picture.
    fn set_signed(&mut self, x: i64, y: i64, color: [u8; 3]) {
        if x >= 0 && y >= 0 {
            self.set(x as usize, y as usize, color);
        }
    }

    /// Fills the `w x h` rectangle with top-left corner `(x, y)`, clipped to the picture.
    pub fn fill_rect(&mut self, x: usize, y: usize, w: usize, h: usize, color: [u8; 3]) {
        for yy in y..(y + h).min(self.height) {
            for xx in x..(x + w).min(self.width) {
                self.set(xx, yy, color);
            }
        }
    }

    /// Copies `src` with its top-left corner at `(x, y)`, clipped to this picture.
    pub fn blit(&mut self, src: &Image, x: usize, y: usize) {
        for sy in 0..src.height.min(self.height.saturating_sub(y)) {
            let n = src.width.min(self.width.saturating_sub(x));
            let from = 3 * sy * src.width;
            let to = 3 * ((y + sy) * self.width + x);
            self.rgb[to..to + 3 * n].copy_from_slice(&src.rgb[from..from + 3 * n]);
        }
    }

    /// The pictures one above the other, left-aligned, `gap` white pixels apart.
    pub fn stack_vertical(images: &[Image], gap: usize) -> Image {
        let width = images.iter().map(|im| im.width).max().unwrap_or(0);
        let height =
            images.iter().map(|im| im.height).sum::<usize>() + gap * images.len().saturating_sub(1);
        let mut out = Image::new(width, height);
        let mut y = 0;
        for im in images {
            out.blit(im, 0, y);
            y += im.height + gap;
        }
        out
    }

    /// The picture as PNG bytes (8-bit RGB). An empty picture is encoded as one white pixel, since
    /// PNG has no zero-sized images.
    pub fn encode_png(&self) -> Vec<u8> {
        let valid =
            self.width > 0 && self.height > 0 && self.rgb.len() == self.width * self.height * 3;
        let fallback;
        let image = if valid {
            self
        } else {
            fallback = Image::new(1, 1);
            &fallback
        };
        let mut bytes = Vec::new();
        let mut encoder = png::Encoder::new(&mut bytes, image.width as u32, image.height as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        // Writing a validated RGB buffer to memory cannot fail.
        let mut writer = encoder
            .write_header()
            .expect("PNG header of a non-empty image");
        writer
            .write_image_data(&image.rgb)
            .expect("PNG data of matching length");
        writer.finish().expect("PNG end into memory");
        bytes
    }

    /// Writes the picture as a PNG file, atomically (see [`crate::io::write_atomic`]).
    ///
    /// # Errors
    /// [`crate::Error::Io`] naming the path when it cannot be written.
    pub fn save_png(&self, path: &Path) -> Result<()> {
        crate::io::write_atomic(path, &self.encode_png())
    }

    /// Draws a line of thickness `width` from `a` to `b` (pixel coordinates), clipped.
    fn line(&mut self, a: [f32; 2], b: [f32; 2], width: usize, color: [u8; 3]) {
        let steps = (b[0] - a[0]).abs().max((b[1] - a[1]).abs()).ceil().max(1.0) as usize;
        let r = width as i64 / 2;
        let lo = -r;
        let hi = width as i64 - 1 - r;
        for s in 0..=steps {
            let t = s as f32 / steps as f32;
            let x = (a[0] + t * (b[0] - a[0])).round() as i64;
            let y = (a[1] + t * (b[1] - a[1])).round() as i64;
            for dy in lo..=hi {
                for dx in lo..=hi {
                    self.set_signed(x + dx, y + dy, color);
                }
            }
        }
    }

    /// Draws a filled square of side `side` centred on `c` (pixel coordinates), clipped.
    fn dot(&mut self, c: [f32; 2], side: usize, color: [u8; 3]) {
        let x0 = c[0].round() as i64 - side as i64 / 2;
        let y0 = c[1].round() as i64 - side as i64 / 2;
        for dy in 0..side as i64 {
            for dx in 0..side as i64 {
                self.set_signed(x0 + dx, y0 + dy, color);
            }
        }
    }
}

/// A grayscale value in `[0, 1]` (clamped; NaN is black) as an RGB pixel.
fn gray(v: f32) -> [u8; 3] {
    let g = if v.is_nan() {
        0
    } else {
        (v.clamp(0.0, 1.0) * 255.0).round() as u8
    };
    [g, g, g]
}

/// Draws one grayscale tile of `shape` with each value as a `zoom x zoom` block at `(x, y)`.
/// A tile with fewer values than `rows * cols` leaves the rest white.
fn draw_tile(img: &mut Image, tile: &[f32], shape: [usize; 2], zoom: usize, x: usize, y: usize) {
    let [rows, cols] = shape;
    for (i, &v) in tile.iter().take(rows * cols).enumerate() {
        let (r, c) = (i / cols, i % cols);
        img.fill_rect(x + c * zoom, y + r * zoom, zoom, zoom, gray(v));
    }
}

/// Grayscale tiles in a grid of `n_cols` tiles per row, each pixel upscaled by `zoom`, with `pad`
/// white pixels between tiles and around the border.
///
/// # Shapes
/// Each tile holds `shape[0] * shape[1]` values (rows x cols, row-major) in `[0, 1]` (clamped).
/// The picture is `pad + n_cols * (cols * zoom + pad)` wide and
/// `pad + ceil(n / n_cols) * (rows * zoom + pad)` high (`n_cols` and `zoom` count at least 1).
pub fn image_grid(
    tiles: &[&[f32]],
    shape: [usize; 2],
    n_cols: usize,
    zoom: usize,
    pad: usize,
) -> Image {
    let n_cols = n_cols.max(1);
    let zoom = zoom.max(1);
    let n_rows = tiles.len().div_ceil(n_cols);
    let (tile_w, tile_h) = (shape[1] * zoom, shape[0] * zoom);
    let mut img = Image::new(pad + n_cols * (tile_w + pad), pad + n_rows * (tile_h + pad));
    for (k, tile) in tiles.iter().enumerate() {
        let (r, c) = (k / n_cols, k % n_cols);
        draw_tile(
            &mut img,
            tile,
            shape,
            zoom,
            pad + c * (tile_w + pad),
            pad + r * (tile_h + pad),
        );
    }
    img
}

/// The codebook as a map-shaped grid of prototype images: unit `r * map_cols + c` at tile row `r`,
/// column `c`, one white pixel between tiles.
///
/// # Shapes
/// `codebook` is `K x D` row-major with `D = shape[0] * shape[1]`; `K = map_rows * map_cols`
/// (extra units are not drawn, missing ones stay white).
pub fn prototype_grid(
    codebook: &[f32],
    map_rows: usize,
    map_cols: usize,
    shape: [usize; 2],
    zoom: usize,
) -> Image {
    let d = (shape[0] * shape[1]).max(1);
    let tiles: Vec<&[f32]> = codebook.chunks(d).take(map_rows * map_cols).collect();
    let mut img = image_grid(&tiles, shape, map_cols, zoom, 1);
    // Keep the full map shape even when fewer units were given.
    let want_h = 1 + map_rows * (shape[0] * zoom.max(1) + 1);
    if img.height < want_h {
        let mut full = Image::new(img.width, want_h);
        full.blit(&img, 0, 0);
        img = full;
    }
    img
}

/// Matplotlib's viridis at 10 evenly spaced points (the standard 10-step palette).
const VIRIDIS: [[u8; 3]; 10] = [
    [68, 1, 84],
    [72, 40, 120],
    [62, 73, 137],
    [49, 104, 142],
    [38, 130, 142],
    [31, 158, 137],
    [53, 183, 121],
    [109, 205, 89],
    [180, 222, 44],
    [253, 231, 37],
];

/// The viridis colour of `t` in `[0, 1]` (clamped), linearly interpolated; NaN is mid-grey.
pub fn viridis(t: f32) -> [u8; 3] {
    if t.is_nan() {
        return [128, 128, 128];
    }
    let x = t.clamp(0.0, 1.0) * (VIRIDIS.len() - 1) as f32;
    let i = (x.floor() as usize).min(VIRIDIS.len() - 2);
    let f = x - i as f32;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    std::array::from_fn(|k| (a[k] as f32 + f * (b[k] as f32 - a[k] as f32)).round() as u8)
}

/// A heatmap of one value per unit (U-matrix, hit map) in viridis, low values dark, with a
/// vertical colour bar on the right (top = maximum, bottom = minimum).
///
/// Each unit is a `cell x cell` square (less a 1-pixel white border when `cell >= 4`); on a
/// `hexagonal` map odd rows are shifted right by half a cell, as the lattice places them.
/// Values are scaled linearly from their minimum to their maximum (a constant map is drawn at the
/// middle colour); non-finite values are grey.
///
/// # Shapes
/// `values` has `map_rows * map_cols` entries, row-major (missing units stay white).
pub fn heatmap(
    values: &[f32],
    map_rows: usize,
    map_cols: usize,
    hexagonal: bool,
    cell: usize,
) -> Image {
    let cell = cell.max(1);
    let finite = values.iter().copied().filter(|v| v.is_finite());
    let lo = finite.clone().fold(f32::INFINITY, f32::min);
    let hi = finite.fold(f32::NEG_INFINITY, f32::max);
    let norm = |v: f32| {
        if !v.is_finite() {
            f32::NAN
        } else if hi > lo {
            (v - lo) / (hi - lo)
        } else {
            0.5
        }
    };
    let map_w = map_cols * cell + if hexagonal { cell / 2 } else { 0 };
    let map_h = map_rows * cell;
    let (gap, bar_w) = (cell.max(4) / 2, cell.clamp(6, 16));
    let mut img = Image::new(map_w + gap + bar_w, map_h.max(1));
    let border = usize::from(cell >= 4);
    for (u, &v) in values.iter().enumerate().take(map_rows * map_cols) {
        let (r, c) = (u / map_cols, u % map_cols);
        let shift = if hexagonal && r % 2 == 1 { cell / 2 } else { 0 };
        let size = cell - border;
        img.fill_rect(c * cell + shift, r * cell, size, size, viridis(norm(v)));
    }
    for y in 0..map_h {
        let t = 1.0 - y as f32 / (map_h.max(2) - 1) as f32;
        img.fill_rect(map_w + gap, y, bar_w, 1, viridis(t));
    }
    img
}

/// Rows of grayscale tiles (for example one MUSIC trajectory per row), each row left-aligned,
/// `pad` white pixels between tiles, rows and around the border.
///
/// # Shapes
/// Each tile holds `shape[0] * shape[1]` values in `[0, 1]`; the picture is as wide as the
/// longest row.
pub fn strips(rows: &[Vec<&[f32]>], shape: [usize; 2], zoom: usize, pad: usize) -> Image {
    let zoom = zoom.max(1);
    let n_cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let (tile_w, tile_h) = (shape[1] * zoom, shape[0] * zoom);
    let mut img = Image::new(
        pad + n_cols * (tile_w + pad),
        pad + rows.len() * (tile_h + pad),
    );
    for (r, row) in rows.iter().enumerate() {
        for (c, tile) in row.iter().enumerate() {
            draw_tile(
                &mut img,
                tile,
                shape,
                zoom,
                pad + c * (tile_w + pad),
                pad + r * (tile_h + pad),
            );
        }
    }
    img
}

/// Tableau's 10 categorical colours, for labels and cells.
const CATEGORICAL: [[u8; 3]; 10] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
];

/// The categorical colour of label `k` (cycling after 10).
pub fn label_color(k: usize) -> [u8; 3] {
    CATEGORICAL[k % CATEGORICAL.len()]
}

/// `color` mixed with white, keeping a fraction `keep` of the colour.
fn tint(color: [u8; 3], keep: f32) -> [u8; 3] {
    color.map(|c| (255.0 - keep * (255.0 - c as f32)).round() as u8)
}

/// A 2-D picture for Gaussian-mixture experiments, `size x size` pixels:
/// - the Voronoi cells of the prototypes shaded in pale colours, with grey cell boundaries;
/// - the data points as small squares coloured by label;
/// - the map's lattice `edges` (unit index pairs) as dark grey lines between prototypes, the
///   prototypes as black squares;
/// - each path as a polyline in its own colour, its vertices marked.
///
/// Data coordinates (`[x, y]`, y up) are fitted to the picture with one scale on both axes and a
/// 5% margin; out-of-range edge indices and non-finite points are skipped.
pub fn scatter2d(
    points: &[[f32; 2]],
    labels: &[u8],
    prototypes: &[[f32; 2]],
    edges: &[(usize, usize)],
    paths: &[(Vec<[f32; 2]>, [u8; 3])],
    size: usize,
) -> Image {
    let size = size.max(16);
    let mut img = Image::new(size, size);
    let all = points
        .iter()
        .chain(prototypes)
        .chain(paths.iter().flat_map(|(p, _)| p))
        .filter(|p| p[0].is_finite() && p[1].is_finite());
    let (mut lo, mut hi) = ([f32::INFINITY; 2], [f32::NEG_INFINITY; 2]);
    for p in all {
        for k in 0..2 {
            lo[k] = lo[k].min(p[k]);
            hi[k] = hi[k].max(p[k]);
        }
    }
    if lo[0] > hi[0] {
        return img; // nothing finite to draw
    }
    let span = (hi[0] - lo[0]).max(hi[1] - lo[1]).max(1e-6);
    let scale = 0.9 * (size - 1) as f32 / span;
    let centre = [(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0];
    let half = (size - 1) as f32 / 2.0;
    let to_pixel = |p: [f32; 2]| {
        [
            half + (p[0] - centre[0]) * scale,
            half - (p[1] - centre[1]) * scale,
        ]
    };
    let to_data = |x: usize, y: usize| {
        [
            centre[0] + (x as f32 - half) / scale,
            centre[1] - (y as f32 - half) / scale,
        ]
    };

    let finite_protos: Vec<(usize, [f32; 2])> = prototypes
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, p)| p[0].is_finite() && p[1].is_finite())
        .collect();
    if !finite_protos.is_empty() {
        let nearest = |q: [f32; 2]| {
            finite_protos
                .iter()
                .map(|&(k, p)| (k, (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map_or(0, |(k, _)| k)
        };
        let cells: Vec<usize> = (0..size * size)
            .map(|i| nearest(to_data(i % size, i / size)))
            .collect();
        for y in 0..size {
            for x in 0..size {
                let k = cells[y * size + x];
                let boundary = (x + 1 < size && cells[y * size + x + 1] != k)
                    || (y + 1 < size && cells[(y + 1) * size + x] != k);
                let color = if boundary {
                    [200, 200, 200]
                } else {
                    tint(label_color(k), 0.12)
                };
                img.set(x, y, color);
            }
        }
    }
    let dot = (size / 160).max(3);
    for (i, &p) in points.iter().enumerate() {
        if p[0].is_finite() && p[1].is_finite() {
            let label = labels.get(i).copied().unwrap_or(0) as usize;
            img.dot(to_pixel(p), dot, label_color(label));
        }
    }
    let line_w = (size / 400).max(1);
    for &(a, b) in edges {
        if let (Some(&pa), Some(&pb)) = (prototypes.get(a), prototypes.get(b)) {
            if pa.iter().chain(&pb).all(|v| v.is_finite()) {
                img.line(to_pixel(pa), to_pixel(pb), line_w, [70, 70, 70]);
            }
        }
    }
    for &(_, p) in &finite_protos {
        img.dot(to_pixel(p), dot + 2, [0, 0, 0]);
    }
    for (path, color) in paths {
        let pixels: Vec<[f32; 2]> = path
            .iter()
            .filter(|p| p[0].is_finite() && p[1].is_finite())
            .map(|&p| to_pixel(p))
            .collect();
        for w in pixels.windows(2) {
            img.line(w[0], w[1], line_w + 1, *color);
        }
        for &p in &pixels {
            img.dot(p, dot + 1, *color);
        }
    }
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viridis_endpoints_and_monotone_brightness() {
        assert_eq!(viridis(0.0), [68, 1, 84]);
        assert_eq!(viridis(1.0), [253, 231, 37]);
        assert_eq!(viridis(2.0), viridis(1.0));
        let lum = |c: [u8; 3]| 0.2126 * c[0] as f32 + 0.7152 * c[1] as f32 + 0.0722 * c[2] as f32;
        for i in 0..100 {
            assert!(lum(viridis(i as f32 / 100.0)) < lum(viridis((i + 1) as f32 / 100.0)));
        }
    }

    #[test]
    fn blit_and_stack_clip_and_align() {
        let mut red = Image::new(2, 3);
        red.fill_rect(0, 0, 2, 3, [255, 0, 0]);
        let mut big = Image::new(3, 3);
        big.blit(&red, 2, 1); // partly outside: clipped, no panic
        assert_eq!(big.get(2, 1), Some([255, 0, 0]));
        assert_eq!(big.get(1, 1), Some(WHITE));
        let s = Image::stack_vertical(&[red.clone(), Image::new(4, 1)], 2);
        assert_eq!((s.width, s.height), (4, 6));
        assert_eq!(s.get(1, 2), Some([255, 0, 0]));
        assert_eq!(s.get(1, 3), Some(WHITE));
        assert_eq!(s.get(3, 0), Some(WHITE));
    }

    #[test]
    fn scatter_draws_cells_points_and_paths() {
        let protos = [[0.0, 0.0], [1.0, 0.0]];
        let img = scatter2d(
            &[[0.0, 1.0]],
            &[3],
            &protos,
            &[(0, 1), (0, 9)],
            &[(vec![[0.0, 0.5], [1.0, 0.5]], [255, 0, 255])],
            200,
        );
        assert_eq!((img.width, img.height), (200, 200));
        let count = |c: [u8; 3]| img.rgb.chunks(3).filter(|p| *p == c).count();
        assert!(
            count(label_color(3)) > 0,
            "data point drawn in its label colour"
        );
        assert!(count([255, 0, 255]) > 100, "path drawn");
        assert!(count([0, 0, 0]) > 0, "prototypes drawn");
        assert!(
            count([200, 200, 200]) > 50,
            "Voronoi boundary between the two prototypes"
        );
        // The two halves are tinted in different cell colours.
        assert_ne!(img.get(5, 190), img.get(194, 190));
    }
}
