//! The IDX format of MNIST: a big-endian header `00 00 DTYPE NDIM`, NDIM u32 sizes, then the data
//! row-major. Files may be raw or gzip-compressed (detected by the gzip magic `1f 8b`).
//!
//! Only unsigned bytes (`DTYPE = 0x08`) are supported, which covers every image and label file of
//! MNIST-like data sets. The reader never trusts the header: sizes are checked against a cap before
//! anything is allocated, and the payload must match the dimensions exactly.

use std::io::{self, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;

use crate::error::{Error, Result};

/// The largest payload accepted (2 GiB): larger headers are corrupt, not data.
pub const MAX_IDX_BYTES: usize = 1 << 31;

/// The IDX type code of unsigned bytes, the only one supported.
const DTYPE_UBYTE: u8 = 0x08;

/// An n-dimensional array of bytes read from an IDX file.
///
/// # Shapes
/// `data.len() == dims.iter().product()`, row-major (the last dimension varies fastest).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxArray {
    /// The sizes of each dimension, outermost first (images: `[n, rows, cols]`; labels: `[n]`).
    pub dims: Vec<usize>,
    /// The values, row-major.
    pub data: Vec<u8>,
}

fn idx_error(name: &Path, reason: impl Into<String>) -> Error {
    Error::Idx {
        path: name.to_path_buf(),
        reason: reason.into(),
    }
}

fn dtype_name(code: u8) -> &'static str {
    match code {
        0x09 => "signed byte",
        0x0B => "16-bit integer",
        0x0C => "32-bit integer",
        0x0D => "32-bit float",
        0x0E => "64-bit float",
        _ => "unknown type",
    }
}

/// Reads as many bytes as the reader gives up to `want`, reporting gzip corruption as an IDX error.
fn read_up_to(reader: &mut impl Read, want: usize, name: &Path) -> Result<Vec<u8>> {
    // Capacity grows with the data actually present, so a lying header cannot force a huge allocation.
    let mut buf = Vec::with_capacity(want.min(1 << 24));
    reader
        .take(want as u64)
        .read_to_end(&mut buf)
        .map_err(|e| stream_error(name, e))?;
    Ok(buf)
}

fn stream_error(name: &Path, e: io::Error) -> Error {
    idx_error(name, format!("corrupt gzip stream ({e})"))
}

/// Parses an IDX array from the bytes of a file, raw or gzip-compressed.
///
/// `name` is only used in error messages.
///
/// # Errors
/// [`Error::Idx`] naming `name` and the defect: corrupt gzip, wrong magic number, unsupported data
/// type, NDIM outside 1..=4, a size over [`MAX_IDX_BYTES`], a truncated payload, or trailing bytes.
pub fn parse_idx(bytes: &[u8], name: &Path) -> Result<IdxArray> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        parse_stream(&mut MultiGzDecoder::new(bytes), name)
    } else {
        parse_stream(&mut &bytes[..], name)
    }
}

fn parse_stream(reader: &mut impl Read, name: &Path) -> Result<IdxArray> {
    let magic = read_up_to(reader, 4, name)?;
    if magic.len() < 4 {
        return Err(idx_error(
            name,
            format!(
                "file too short for the 4-byte magic number ({} bytes)",
                magic.len()
            ),
        ));
    }
    if magic[0] != 0 || magic[1] != 0 {
        return Err(idx_error(
            name,
            format!(
                "wrong magic number {:02x} {:02x} {:02x} {:02x} (expected 00 00 08 NDIM)",
                magic[0], magic[1], magic[2], magic[3]
            ),
        ));
    }
    if magic[2] != DTYPE_UBYTE {
        return Err(idx_error(
            name,
            format!(
                "unsupported data type 0x{:02x} ({}); only unsigned bytes (0x08) are supported",
                magic[2],
                dtype_name(magic[2])
            ),
        ));
    }
    let n_dims = magic[3] as usize;
    if !(1..=4).contains(&n_dims) {
        return Err(idx_error(
            name,
            format!("unsupported number of dimensions {n_dims} (expected 1 to 4)"),
        ));
    }
    let header = read_up_to(reader, 4 * n_dims, name)?;
    if header.len() < 4 * n_dims {
        return Err(idx_error(
            name,
            format!(
                "truncated header: {n_dims} dimension sizes need {} bytes, found {}",
                4 * n_dims,
                header.len()
            ),
        ));
    }
    let dims: Vec<usize> = header
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= MAX_IDX_BYTES)
        .ok_or_else(|| {
            idx_error(
                name,
                format!("dimensions {dims:?} exceed the {MAX_IDX_BYTES}-byte limit"),
            )
        })?;
    let data = read_up_to(reader, expected, name)?;
    if data.len() < expected {
        return Err(idx_error(
            name,
            format!(
                "truncated payload: dimensions {dims:?} need {expected} bytes, found {}",
                data.len()
            ),
        ));
    }
    // Reading to the end also makes the gzip decoder verify its checksum.
    let n_trailing =
        io::copy(&mut reader.take(1 << 20), &mut io::sink()).map_err(|e| stream_error(name, e))?;
    if n_trailing > 0 {
        let more = if n_trailing == 1 << 20 {
            "at least "
        } else {
            ""
        };
        return Err(idx_error(
            name,
            format!("{more}{n_trailing} trailing byte(s) after the {expected}-byte payload of dimensions {dims:?}"),
        ));
    }
    Ok(IdxArray { dims, data })
}

/// Reads and parses an IDX file, raw or gzip-compressed.
///
/// # Errors
/// [`Error::Io`] with the path when the file cannot be read; [`Error::Idx`] when it is malformed
/// (see [`parse_idx`]).
pub fn read_idx(path: &Path) -> Result<IdxArray> {
    let bytes = std::fs::read(path).map_err(|e| Error::io("read IDX file", path, e))?;
    parse_idx(&bytes, path)
}

/// The bytes of an uncompressed IDX file of unsigned bytes.
///
/// # Panics
/// When `dims` has more than 255 entries, a dimension exceeds `u32::MAX`, or
/// `data.len() != dims.iter().product()`: all are programming errors.
pub fn encode_idx(dims: &[usize], data: &[u8]) -> Vec<u8> {
    assert_eq!(
        dims.iter().product::<usize>(),
        data.len(),
        "encode_idx: data length must equal the product of dims"
    );
    let n_dims = u8::try_from(dims.len()).expect("encode_idx: at most 255 dimensions");
    let mut out = Vec::with_capacity(4 + 4 * dims.len() + data.len());
    out.extend_from_slice(&[0, 0, DTYPE_UBYTE, n_dims]);
    for &d in dims {
        let d = u32::try_from(d).expect("encode_idx: dimension fits in u32");
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

/// Writes an IDX file of unsigned bytes atomically, gzip-compressed when `gzip` is set.
///
/// # Errors
/// [`Error::Shape`] when `data.len()` differs from the product of `dims` or a dimension does not
/// fit the format; [`Error::Io`] naming the path when it cannot be written.
pub fn write_idx(path: &Path, dims: &[usize], data: &[u8], gzip: bool) -> Result<()> {
    let n: usize = dims.iter().product();
    if n != data.len()
        || dims.is_empty()
        || dims.len() > 4
        || dims.iter().any(|&d| d > u32::MAX as usize)
    {
        return Err(Error::Shape {
            op: "write_idx",
            expected: format!(
                "1 to 4 dimensions below 2^32 whose product is {}",
                data.len()
            ),
            got: format!("{dims:?}"),
            fix: "pass the dimensions of the data being written",
        });
    }
    let raw = encode_idx(dims, data);
    let bytes = if gzip {
        use std::io::Write;
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(&raw)
            .and_then(|_| enc.finish())
            .map_err(|e| Error::io("compress", path, e))?
    } else {
        raw
    };
    crate::io::write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name() -> &'static Path {
        Path::new("test.idx")
    }

    fn reason(r: Result<IdxArray>) -> String {
        match r {
            Err(Error::Idx { reason, .. }) => reason,
            other => panic!("expected an IDX error, got {other:?}"),
        }
    }

    #[test]
    fn round_trip_raw_and_gzip() {
        let data: Vec<u8> = (0..24).collect();
        let raw = encode_idx(&[2, 3, 4], &data);
        assert_eq!(&raw[..4], &[0, 0, 8, 3]);
        let a = parse_idx(&raw, name()).unwrap();
        assert_eq!(a.dims, vec![2, 3, 4]);
        assert_eq!(a.data, data);

        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        std::io::Write::write_all(&mut enc, &raw).unwrap();
        let gz = enc.finish().unwrap();
        assert_eq!(parse_idx(&gz, name()).unwrap(), a);
    }

    #[test]
    fn header_defects_are_named() {
        assert!(reason(parse_idx(&[], name())).contains("too short"));
        assert!(reason(parse_idx(&[1, 0, 8, 1, 0, 0, 0, 0], name())).contains("wrong magic"));
        assert!(reason(parse_idx(&[0, 0, 0x0D, 1, 0, 0, 0, 0], name())).contains("32-bit float"));
        assert!(reason(parse_idx(&[0, 0, 8, 0], name())).contains("number of dimensions 0"));
        assert!(reason(parse_idx(&[0, 0, 8, 5], name())).contains("number of dimensions 5"));
        assert!(reason(parse_idx(&[0, 0, 8, 2, 0, 0, 0, 1], name())).contains("truncated header"));
    }

    #[test]
    fn payload_length_must_match_exactly() {
        let mut raw = encode_idx(&[2, 3], &[7; 6]);
        raw.pop();
        assert!(reason(parse_idx(&raw, name())).contains("truncated payload"));
        raw.extend_from_slice(&[1, 2, 3]);
        assert!(reason(parse_idx(&raw, name())).contains("2 trailing byte(s)"));
    }

    #[test]
    fn absurd_sizes_rejected_before_allocating() {
        let raw = [
            0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 2,
        ];
        assert!(reason(parse_idx(&raw, name())).contains("limit"));
    }

    #[test]
    fn corrupt_gzip_is_an_error() {
        let raw = encode_idx(&[100], &[3; 100]);
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        std::io::Write::write_all(&mut enc, &raw).unwrap();
        let mut gz = enc.finish().unwrap();
        // Flip a byte of the CRC trailer: the data decodes but the checksum fails.
        let n = gz.len();
        gz[n - 6] ^= 0xff;
        assert!(reason(parse_idx(&gz, name())).contains("corrupt gzip"));
        // A cut stream.
        assert!(parse_idx(&gz[..n / 2], name()).is_err());
    }
}
