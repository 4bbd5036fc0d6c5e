//! Integration tests of the PNG pictures: decodable files of the right size, grid layout, atomic
//! saving, and I/O errors.

use invsom::viz::{heatmap, image_grid, prototype_grid, scatter2d, strips, viridis, Image, WHITE};
use invsom::Error;

/// Decodes PNG bytes into (width, height, rgb).
fn decode(bytes: &[u8]) -> (usize, usize, Vec<u8>) {
    let decoder = png::Decoder::new(bytes);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    buf.truncate(info.buffer_size());
    (info.width as usize, info.height as usize, buf)
}

#[test]
fn png_round_trip_keeps_every_pixel() {
    let mut img = Image::new(5, 3);
    img.set(4, 2, [1, 2, 3]);
    img.set(9, 9, [0, 0, 0]); // outside: ignored
    let (w, h, rgb) = decode(&img.encode_png());
    assert_eq!((w, h), (5, 3));
    assert_eq!(rgb, img.rgb);
    assert_eq!(&rgb[3 * (2 * 5 + 4)..3 * (2 * 5 + 4) + 3], &[1, 2, 3]);
    // An empty picture still encodes (as one white pixel).
    assert_eq!(decode(&Image::new(0, 0).encode_png()).0, 1);
}

#[test]
fn image_grid_places_tiles_row_major_with_padding() {
    // Three 2x2 tiles of distinct constant gray, 2 per row, zoom 3, pad 1.
    let tiles: Vec<Vec<f32>> = vec![vec![0.2; 4], vec![0.5; 4], vec![-1.0; 4]];
    let refs: Vec<&[f32]> = tiles.iter().map(Vec::as_slice).collect();
    let img = image_grid(&refs, [2, 2], 2, 3, 1);
    assert_eq!((img.width, img.height), (1 + 2 * (6 + 1), 1 + 2 * (6 + 1)));
    assert_eq!(img.get(0, 0), Some(WHITE), "border padding");
    assert_eq!(img.get(1, 1), Some([51, 51, 51]), "tile 0 at top-left");
    assert_eq!(img.get(6, 6), Some([51, 51, 51]), "tile 0 spans 6 pixels");
    assert_eq!(img.get(7, 3), Some(WHITE), "padding between tiles");
    assert_eq!(img.get(8, 1), Some([128, 128, 128]), "tile 1 to the right");
    assert_eq!(
        img.get(1, 8),
        Some([0, 0, 0]),
        "tile 2 below, -1 clamped to black"
    );
    assert_eq!(img.get(9, 9), Some(WHITE), "no fourth tile");
}

#[test]
fn prototype_grid_has_the_map_shape() {
    // A 2x3 map of 1x2 prototypes whose first pixel encodes the unit index.
    let codebook: Vec<f32> = (0..6).flat_map(|u| [u as f32 / 5.0, 0.0]).collect();
    let img = prototype_grid(&codebook, 2, 3, [1, 2], 2);
    assert_eq!((img.width, img.height), (1 + 3 * 5, 1 + 2 * 3));
    // Unit 4 = row 1, column 1.
    assert_eq!(img.get(1 + 5, 1 + 3), Some([204, 204, 204]));
    let (w, h, _) = decode(&img.encode_png());
    assert_eq!((w, h), (16, 7));
}

#[test]
fn heatmap_colours_min_dark_max_bright_and_shifts_hex_rows() {
    let values = [0.0, 1.0, 2.0, 3.0];
    let rect = heatmap(&values, 2, 2, false, 10);
    assert_eq!(rect.get(2, 2), Some(viridis(0.0)));
    assert_eq!(rect.get(12, 12), Some(viridis(1.0)));
    let hex = heatmap(&values, 2, 2, true, 10);
    assert!(hex.width > rect.width);
    // Row 1 starts half a cell to the right: its first 5 pixels are background.
    assert_eq!(hex.get(2, 12), Some(WHITE));
    assert_eq!(hex.get(7, 12), Some(viridis(2.0 / 3.0)));
    // The colour bar's top is the maximum colour.
    let bar_x = rect.width - 2;
    assert_eq!(rect.get(bar_x, 0), Some(viridis(1.0)));
    assert_eq!(rect.get(bar_x, rect.height - 1), Some(viridis(0.0)));
    // A constant map does not divide by zero.
    let flat = heatmap(&[5.0; 4], 2, 2, false, 4);
    assert_eq!(flat.get(1, 1), Some(viridis(0.5)));
}

#[test]
fn strips_are_as_wide_as_the_longest_row() {
    let a = [0.0f32; 4];
    let rows = vec![vec![&a[..], &a[..], &a[..]], vec![&a[..]]];
    let img = strips(&rows, [2, 2], 1, 2);
    assert_eq!((img.width, img.height), (2 + 3 * 4, 2 + 2 * 4));
    assert_eq!(
        img.get(2 + 4, 2 + 4),
        Some(WHITE),
        "second row has one tile"
    );
    assert_eq!(img.get(2, 2 + 4), Some([0, 0, 0]), "second row's tile");
    assert_eq!(img.get(2 + 8, 2), Some([0, 0, 0]), "first row's third tile");
    assert_eq!(img.get(1, 1), Some(WHITE));
}

#[test]
fn scatter_is_square_and_survives_degenerate_input() {
    let img = scatter2d(&[[1.0, 1.0]], &[], &[], &[], &[], 64);
    assert_eq!((img.width, img.height), (64, 64));
    let nan = scatter2d(
        &[[f32::NAN, 0.0]],
        &[0],
        &[[f32::INFINITY, 0.0]],
        &[(0, 0)],
        &[],
        64,
    );
    assert!(nan.rgb.iter().all(|&b| b == 255));
}

#[test]
fn save_is_atomic_and_reports_unwritable_paths() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/picture.png");
    let img = heatmap(&[0.0, 1.0], 1, 2, false, 8);
    img.save_png(&path).unwrap();
    let (w, h, rgb) = decode(&std::fs::read(&path).unwrap());
    assert_eq!((w, h, rgb), (img.width, img.height, img.rgb.clone()));
    let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["picture.png".to_string()],
        "no temporary file left"
    );

    // A path under a regular file cannot be created.
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    match img.save_png(&file.join("picture.png")) {
        Err(Error::Io { path, .. }) => assert!(path.starts_with(&file)),
        other => panic!("expected Io, got {other:?}"),
    }
}

/// Writes example pictures of every kind from the embedded fixtures, for looking at by eye:
/// `cargo test --features wgpu --test suite viz:: -- --ignored`, pictures in `target/viz-gallery/`.
#[test]
#[ignore = "writes pictures for visual inspection"]
fn gallery() {
    use invsom::data::{fixtures, mixture::GaussianMixture};
    let out = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/viz-gallery");
    let digits = fixtures::mnist_train();
    let tiles: Vec<&[f32]> = (0..40).map(|i| digits.row(i)).collect();
    image_grid(&tiles, [28, 28], 10, 2, 2)
        .save_png(&out.join("digits.png"))
        .unwrap();
    let faces = fixtures::lfw();
    let tiles: Vec<&[f32]> = (0..200).map(|i| faces.row(i)).collect();
    image_grid(&tiles, [25, 25], 20, 2, 1)
        .save_png(&out.join("lfw.png"))
        .unwrap();
    let rows: Vec<Vec<&[f32]>> = (0..3)
        .map(|r| (0..8).map(|c| digits.row(r * 8 + c)).collect())
        .collect();
    strips(&rows, [28, 28], 2, 2)
        .save_png(&out.join("strips.png"))
        .unwrap();
    let u: Vec<f32> = (0..80)
        .map(|i| ((i % 10) as f32 - 4.5).powi(2) + (i / 10) as f32)
        .collect();
    heatmap(&u, 8, 10, false, 24)
        .save_png(&out.join("heatmap-rect.png"))
        .unwrap();
    heatmap(&u, 8, 10, true, 24)
        .save_png(&out.join("heatmap-hex.png"))
        .unwrap();
    let mix = GaussianMixture {
        n_components: 4,
        d_input: 2,
        spread: 10.0,
        sigma: 0.8,
        seed: 1,
    };
    let s = mix.sample(400).unwrap();
    let points: Vec<[f32; 2]> = (0..s.n_samples)
        .map(|i| [s.row(i)[0], s.row(i)[1]])
        .collect();
    let (rows_, cols_) = (3, 4);
    let protos: Vec<[f32; 2]> = (0..rows_ * cols_)
        .map(|u| {
            [
                1.0 + 8.0 * (u % cols_) as f32 / 3.0,
                1.0 + 8.0 * (u / cols_) as f32 / 2.0,
            ]
        })
        .collect();
    let mut edges = Vec::new();
    for u in 0..rows_ * cols_ {
        if u % cols_ + 1 < cols_ {
            edges.push((u, u + 1));
        }
        if u + cols_ < rows_ * cols_ {
            edges.push((u, u + cols_));
        }
    }
    let path = (
        vec![[0.0, 0.0], [3.0, 2.0], [5.0, 5.0], [9.0, 6.0]],
        [220, 0, 120],
    );
    scatter2d(
        &points,
        s.labels.as_deref().unwrap(),
        &protos,
        &edges,
        &[path],
        500,
    )
    .save_png(&out.join("scatter.png"))
    .unwrap();
}
