//! MNIST parsing and validation: the real files load, and every kind of bad file gets a specific
//! error naming the file. The bad files are small ones each test writes itself.

use std::path::{Path, PathBuf};
use trainer::data::{
    encode_images, encode_labels, load_split, locate, parse_images, parse_labels, DataError,
    DataSource, Locator, Split, FILES, PIXELS,
};

mod common;

fn shared_mnist() -> PathBuf {
    common::mnist_dir()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn real_test_split_loads_and_verifies() {
    let set = load_split(&shared_mnist(), Split::Test).expect("real MNIST test split");
    assert_eq!(set.len(), 10_000);
    assert_eq!(set.images.len(), 10_000 * PIXELS);
    // Every digit occurs, and the first test label of MNIST is a 7.
    assert_eq!(set.labels[0], 7);
    for digit in 0..10 {
        assert!(set.labels.iter().filter(|&&l| l == digit).count() > 800);
    }
}

#[test]
fn idx_round_trip_is_exact() {
    let pixels: Vec<u8> = (0..3 * PIXELS).map(|i| (i * 7 % 256) as u8).collect();
    let bytes = encode_images(&pixels);
    let parsed = parse_images(&bytes, Path::new("x")).unwrap();
    assert_eq!((parsed.count, parsed.pixels), (3, pixels));
    let labels = parse_labels(&encode_labels(&[1, 2, 9]), Path::new("y")).unwrap();
    assert_eq!(labels.labels, vec![1, 2, 9]);
}

#[test]
fn wrong_magic_names_file() {
    let mut bytes = encode_images(&[0; PIXELS]);
    bytes[3] = 0x01; // labels magic in an images file
    let err = parse_images(&bytes, Path::new("imgs.idx")).unwrap_err();
    assert!(
        matches!(err, DataError::BadMagic { found: 0x801, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("imgs.idx"));
}

#[test]
fn truncated_header_and_payload() {
    let bytes = encode_images(&[0; 2 * PIXELS]);
    let err = parse_images(&bytes[..10], Path::new("a")).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Truncated {
                expected: 16,
                found: 10,
                ..
            }
        ),
        "{err}"
    );
    let err = parse_images(&bytes[..bytes.len() - 1], Path::new("a")).unwrap_err();
    assert!(matches!(err, DataError::Truncated { .. }), "{err}");
    let err = parse_images(&bytes[..2], Path::new("a")).unwrap_err();
    assert!(matches!(err, DataError::Truncated { .. }), "{err}");
    let err = parse_labels(&encode_labels(&[1, 2, 3])[..9], Path::new("l")).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Truncated {
                expected: 11,
                found: 9,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn trailing_bytes_and_wrong_image_size() {
    let mut bytes = encode_images(&[0; PIXELS]);
    bytes.push(0);
    let err = parse_images(&bytes, Path::new("a")).unwrap_err();
    assert!(
        matches!(err, DataError::TrailingBytes { extra: 1, .. }),
        "{err}"
    );
    let mut bytes = encode_images(&[0; PIXELS]);
    bytes[11] = 27; // rows = 27
    let err = parse_images(&bytes, Path::new("a")).unwrap_err();
    assert!(
        matches!(err, DataError::WrongImageSize { rows: 27, .. }),
        "{err}"
    );
}

#[test]
fn label_out_of_range() {
    let err = parse_labels(&encode_labels(&[3, 10]), Path::new("l")).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::LabelOutOfRange {
                index: 1,
                value: 10,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn image_label_count_mismatch_and_wrong_count() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), FILES[2].name, &encode_images(&[0; 3 * PIXELS]));
    write(dir.path(), FILES[3].name, &encode_labels(&[1, 2]));
    // The standard split expects 10,000: the wrong count is reported first, naming the file.
    let err = load_split(dir.path(), Split::Test).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::WrongCount {
                expected: 10_000,
                found: 3,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("t10k-images-idx3-ubyte"));
    let images = parse_images(&encode_images(&[0; 3 * PIXELS]), Path::new("i")).unwrap();
    let labels = parse_labels(&encode_labels(&[1, 2]), Path::new("l")).unwrap();
    let err = trainer::data::Dataset::from_parts(images, labels, Path::new("i"), Path::new("l"))
        .unwrap_err();
    assert!(
        matches!(
            err,
            DataError::CountMismatch {
                images: 3,
                labels: 2,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn digest_mismatch_on_altered_real_file() {
    let dir = tempfile::tempdir().unwrap();
    let real = shared_mnist();
    for f in [&FILES[2], &FILES[3]] {
        let bytes = trainer::data::read_maybe_gz(&trainer::data::find_file(&real, f.name).unwrap())
            .unwrap();
        write(dir.path(), f.name, &bytes);
    }
    // Flip one label to another valid digit: structurally fine, but no longer MNIST.
    let labels_path = dir.path().join(FILES[3].name);
    let mut labels = std::fs::read(&labels_path).unwrap();
    labels[8] = (labels[8] + 1) % 10;
    std::fs::write(&labels_path, labels).unwrap();
    let err = load_split(dir.path(), Split::Test).unwrap_err();
    assert!(matches!(err, DataError::DigestMismatch { .. }), "{err}");
    assert!(err.to_string().contains("t10k-labels-idx1-ubyte"));
}

#[test]
fn corrupt_gzip_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "t10k-images-idx3-ubyte.gz",
        &[0x1f, 0x8b, 8, 0, 1, 2, 3],
    );
    let err = trainer::data::read_maybe_gz(&path).unwrap_err();
    assert!(matches!(err, DataError::Gzip { .. }), "{err}");
}

#[test]
fn lookup_order_and_missing_files() {
    let empty = tempfile::tempdir().unwrap();
    let real = shared_mnist();
    let locator = |flag: Option<PathBuf>, env: Option<PathBuf>| Locator {
        flag,
        env,
        cache: empty.path().join("cache"),
        allow_download: false,
    };
    assert_eq!(
        locate(&locator(Some(real.clone()), Some(empty.path().into()))).unwrap(),
        DataSource::Flag(real.clone())
    );
    assert_eq!(
        locate(&locator(None, Some(real.clone()))).unwrap(),
        DataSource::Env(real.clone())
    );
    // An explicitly named folder without the files is an error, not a silent fallback.
    let err = locate(&locator(Some(empty.path().into()), Some(real.clone()))).unwrap_err();
    assert!(matches!(err, DataError::Missing { .. }), "{err}");
    let err = locate(&locator(None, None)).unwrap_err();
    assert!(err.to_string().contains("cache"), "{err}");
}
