//! The generator the simulator drives: blob loading with clear errors, timed generation.

use embedded_graphics::{prelude::Point, primitives::Rectangle};
use firmware_core::text::{Glyph, Handwriting, TextError};
use firmware_core::{BlobError, ClassError, Digit, Generator, Scratch};
use std::{
    borrow::Cow,
    fmt, fs, io,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

/// Where a blob came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobOrigin {
    /// [`firmware_core::DEFAULT_BLOB`].
    Default,
    /// A file given with `--blob`.
    File(PathBuf),
}

impl fmt::Display for BlobOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => {
                f.write_str("the built-in default blob (firmware-core/blobs/default.postcard)")
            }
            Self::File(path) => write!(f, "blob file `{}`", path.display()),
        }
    }
}

/// Why a blob cannot be used.
#[derive(Debug)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// firmware-core rejected the contents.
    Invalid {
        /// Which blob.
        origin: BlobOrigin,
        /// The failed check.
        source: BlobError,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read { path, source } => {
                write!(f, "cannot read blob file `{}`: {source}", path.display())
            }
            Self::Invalid { origin, source } => {
                write!(f, "{origin} is not a usable generator blob: {source}")
            }
        }
    }
}

impl std::error::Error for LoadError {}

/// Raw blob bytes and where they came from.
#[derive(Debug, Clone)]
pub struct Blob {
    origin: BlobOrigin,
    bytes: Cow<'static, [u8]>,
}

impl Blob {
    /// The blob firmware-core ships.
    pub fn default_blob() -> Self {
        Self {
            origin: BlobOrigin::Default,
            bytes: Cow::Borrowed(firmware_core::DEFAULT_BLOB),
        }
    }

    /// Reads `path`, or returns the default blob for `None`. Contents are checked by
    /// [`Model::new`].
    ///
    /// # Errors
    ///
    /// [`LoadError::Read`] naming the file.
    pub fn read(path: Option<&Path>) -> Result<Self, LoadError> {
        let Some(path) = path else {
            return Ok(Self::default_blob());
        };
        let bytes = fs::read(path).map_err(|source| LoadError::Read {
            path: path.to_owned(),
            source,
        })?;
        Ok(Self {
            origin: BlobOrigin::File(path.to_owned()),
            bytes: Cow::Owned(bytes),
        })
    }

    /// Where the blob came from.
    pub fn origin(&self) -> &BlobOrigin {
        &self.origin
    }
}

/// A validated generator with its scratch memory, exactly as firmware would hold them.
#[derive(Debug)]
pub struct Model<'a> {
    generator: Generator<'a>,
    scratch: Scratch,
}

impl<'a> Model<'a> {
    /// Validates `blob` with [`Generator::new`].
    ///
    /// # Errors
    ///
    /// [`LoadError::Invalid`] naming the blob and the failed check.
    pub fn new(blob: &'a Blob) -> Result<Self, LoadError> {
        let generator = Generator::new(&blob.bytes).map_err(|source| LoadError::Invalid {
            origin: blob.origin.clone(),
            source,
        })?;
        Ok(Self {
            generator,
            scratch: Scratch::new(),
        })
    }

    /// Whether the model takes a digit class.
    pub fn is_conditional(&self) -> bool {
        self.generator.is_conditional()
    }

    /// Fills `out` with `count` digits for seeds `first, first + 1, …` (wrapping), all of
    /// `class` if one is given and the model is conditional, and returns the mean host time of
    /// one `generate` call.
    pub fn generate(
        &mut self,
        first: u32,
        count: u32,
        class: Option<u8>,
        out: &mut Vec<Digit>,
    ) -> Duration {
        // An unconditional generator refuses any class; the state only sets one for
        // conditional models, and this keeps a stray one harmless.
        let class = class.filter(|_| self.is_conditional());
        out.resize(count as usize, Digit::new());
        let start = Instant::now();
        for (seed, digit) in (0..count)
            .map(|i| first.wrapping_add(i))
            .zip(out.iter_mut())
        {
            // Cannot fail: the class is filtered above and comes from keys 0–9.
            let _ = self
                .generator
                .generate(class, seed, &mut self.scratch, digit);
        }
        start.elapsed() / count.max(1)
    }
}

/// One character of a handwritten string, generated and placed (relative to the string's
/// top-left corner, in panel pixels).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placed {
    /// A generated digit whose scaled cell starts at the point.
    Digit(Box<Digit>, Point),
    /// Another character and its cell.
    Separator(char, Rectangle),
}

impl Model<'_> {
    /// `text` in generated handwriting at `scale`, digit i from seed `seed + i`, laid out by
    /// firmware-core's [`Handwriting`].
    ///
    /// # Errors
    ///
    /// The model is not class-conditional, so it cannot draw requested digits.
    pub fn handwrite(
        &mut self,
        text: &str,
        seed: u32,
        scale: u32,
    ) -> Result<Vec<Placed>, ClassError> {
        let mut placed = Vec::new();
        let mut digit = Digit::new();
        let written = Handwriting::new(seed).scaled(scale).write(
            &self.generator,
            &mut self.scratch,
            &mut digit,
            text,
            |glyph| {
                placed.push(match glyph {
                    Glyph::Digit {
                        digit, top_left, ..
                    } => Placed::Digit(Box::new(digit.clone()), top_left),
                    Glyph::Separator { character, cell } => Placed::Separator(character, cell),
                });
                Ok::<(), std::convert::Infallible>(())
            },
        );
        match written {
            Ok(_) => Ok(placed),
            Err(TextError::Class(e)) => Err(e),
            Err(TextError::Draw(never)) => match never {},
        }
    }
}

/// One terminal line about a generation run, e.g.
/// `seeds 42..=49: firmware-core took 1.23 ms per digit on this host (release build)`.
pub fn timing_report(first: u32, count: u32, per_digit: Duration) -> String {
    let last = first.wrapping_add(count.saturating_sub(1));
    let build = if cfg!(debug_assertions) {
        "debug build; release is faster"
    } else {
        "release build"
    };
    let ms = crate::frame::format_ms(per_digit);
    format!("seeds {first}..={last}: firmware-core took {ms} ms per digit on this host ({build})")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(name: &str, contents: &[u8]) -> PathBuf {
        let path = std::env::temp_dir().join(format!("sim-{}-{name}", std::process::id()));
        fs::write(&path, contents).unwrap();
        path
    }

    #[test]
    fn default_blob_is_valid_and_generates_deterministically() {
        let blob = Blob::default_blob();
        let mut model = Model::new(&blob).unwrap();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        model.generate(5, 3, None, &mut a);
        model.generate(6, 1, None, &mut b);
        assert_eq!(a.len(), 3);
        assert_eq!(a[1], b[0], "digit i uses seed first + i");
        assert_ne!(a[0], a[1]);
    }

    #[test]
    fn garbage_file_is_rejected_naming_file_and_problem() {
        let path = temp_file("garbage.postcard", b"definitely not a generator blob");
        let blob = Blob::read(Some(&path)).unwrap();
        let err = Model::new(&blob).unwrap_err();
        let message = err.to_string();
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(err, LoadError::Invalid { .. }), "{err:?}");
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("CRC mismatch"), "{message}");
    }

    #[test]
    fn truncated_default_blob_is_rejected() {
        let bytes = &firmware_core::DEFAULT_BLOB[..100];
        let path = temp_file("short.postcard", bytes);
        let blob = Blob::read(Some(&path)).unwrap();
        let message = Model::new(&blob).unwrap_err().to_string();
        std::fs::remove_file(&path).unwrap();
        assert!(message.contains("short.postcard"), "{message}");
    }

    #[test]
    fn missing_file_names_the_path() {
        let path = Path::new("/nonexistent/dir/model.postcard");
        let err = Blob::read(Some(path)).unwrap_err();
        assert!(matches!(err, LoadError::Read { .. }));
        assert!(err.to_string().contains("/nonexistent/dir/model.postcard"));
    }
}
