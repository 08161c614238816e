//! The numbers firmware-core's documentation states, checked against the code that defines them,
//! so the docs cannot drift when a shape, the scratch layout or the shipped blob changes.

use firmware_core::arch::{FC_OUT, MACS_PER_DIGIT, TOTAL_WEIGHTS};
use firmware_core::{Digit, Generator, Scratch, DEFAULT_BLOB};

/// The crate documentation (lib.rs's `//!` lines and `DEFAULT_BLOB`'s `///` lines).
const LIB_RS: &str = include_str!("../src/lib.rs");

/// `n` the way the docs write it: groups of three digits separated by spaces ("9 408").
fn spaced(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

fn assert_documented(text: &str, what: &str) {
    // Doc lines wrap: compare with line breaks and comment markers folded into single spaces.
    let folded: String = LIB_RS
        .lines()
        .map(|l| {
            l.trim_start()
                .trim_start_matches("//!")
                .trim_start_matches("///")
        })
        .collect::<Vec<_>>()
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        folded.contains(text),
        "lib.rs should state {what} as \"{text}\""
    );
}

#[test]
fn spaced_groups_thousands() {
    assert_eq!(spaced(9408), "9 408");
    assert_eq!(spaced(1_578_112), "1 578 112");
    assert_eq!(spaced(784), "784");
}

#[test]
fn scratch_digit_and_mac_counts_match_the_docs() {
    assert_eq!(Scratch::BYTES, core::mem::size_of::<Scratch>());
    assert_documented(
        &format!("= {} bytes of activations", spaced(Scratch::BYTES)),
        "Scratch::BYTES",
    );
    let kib = format!("{:.1} KiB", Scratch::BYTES as f64 / 1024.0);
    assert_documented(
        &format!("[`Scratch`] memory ({kib})"),
        "the scratch size in KiB",
    );
    assert_documented(
        &format!("a {}-byte [`Digit`]", core::mem::size_of::<Digit>()),
        "the size of a Digit",
    );
    assert_documented(
        &format!("= {} multiply-accumulates", spaced(MACS_PER_DIGIT)),
        "MACS_PER_DIGIT",
    );
}

#[test]
#[cfg_attr(
    miri,
    ignore = "checks documentation, not memory; loading the blob takes a minute in Miri"
)]
fn shipped_blob_facts_match_the_docs() {
    assert_documented(
        &format!("{} bytes for [`DEFAULT_BLOB`]", spaced(DEFAULT_BLOB.len())),
        "the shipped blob's size",
    );
    assert_documented(
        &format!("({} bytes of weights", spaced(TOTAL_WEIGHTS)),
        "the number of weights",
    );
    assert_documented(
        &format!("{} of `fc` biases", spaced(4 * FC_OUT)),
        "fc's bias bytes",
    );
    let generator = Generator::new(DEFAULT_BLOB).expect("the shipped blob is valid");
    assert!(generator.is_conditional());
    assert_documented(
        "The shipped default generator: the class-conditional `cmcu` preset",
        "which preset DEFAULT_BLOB is",
    );
}
