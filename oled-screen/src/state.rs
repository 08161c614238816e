//! What the screen shows, and how each key changes it: a pure function, so the firmware, the
//! sim and the tests agree by construction.

use crate::{Key, DIGITS};

/// Seed of the first digit after reset (documented in the README; no clock involved).
pub const START_SEED: u32 = 0;

/// The screen's state: digit `i` (reading order) is drawn from seed `seed + i` (wrapping), of
/// `class` if one is chosen (class-conditional blobs only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Screen {
    seed: u32,
    class: Option<u8>,
}

impl Screen {
    /// The state after reset: seed [`START_SEED`], no class chosen.
    pub const START: Self = Self {
        seed: START_SEED,
        class: None,
    };

    /// A state; a class above 9 is taken as none.
    pub const fn new(seed: u32, class: Option<u8>) -> Self {
        let class = match class {
            Some(c) if c <= 9 => Some(c),
            _ => None,
        };
        Self { seed, class }
    }

    /// Seed of the first digit.
    pub const fn seed(&self) -> u32 {
        self.seed
    }

    /// The chosen class, if any.
    pub const fn class(&self) -> Option<u8> {
        self.class
    }

    /// Seed of digit `index` in reading order.
    pub const fn digit_seed(&self, index: usize) -> u32 {
        self.seed.wrapping_add(index as u32)
    }

    /// The state after `key`. Up/down cycle the class through none, 0, 1, …, 9 (and back to
    /// none) if the blob is `conditional`, and do nothing otherwise; left/right move the seed by
    /// one digit; select moves to the next screenful of seeds.
    #[must_use]
    pub const fn apply(self, key: Key, conditional: bool) -> Self {
        match key {
            Key::Up if conditional => Self {
                class: match self.class {
                    None => Some(0),
                    Some(c) if c >= 9 => None,
                    Some(c) => Some(c + 1),
                },
                ..self
            },
            Key::Down if conditional => Self {
                class: match self.class {
                    None => Some(9),
                    Some(0) => None,
                    Some(c) => Some(c - 1),
                },
                ..self
            },
            Key::Up | Key::Down => self,
            Key::Left => Self {
                seed: self.seed.wrapping_sub(1),
                ..self
            },
            Key::Right => Self {
                seed: self.seed.wrapping_add(1),
                ..self
            },
            Key::Select => Self {
                seed: self.seed.wrapping_add(DIGITS as u32),
                ..self
            },
        }
    }
}

impl Default for Screen {
    fn default() -> Self {
        Self::START
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(keys: &[Key], conditional: bool) -> Screen {
        keys.iter()
            .fold(Screen::START, |s, &k| s.apply(k, conditional))
    }

    #[test]
    fn seeds_move_by_one_and_by_a_screen_and_wrap() {
        use Key::*;
        assert_eq!(run(&[Right, Right], false).seed(), 2);
        assert_eq!(run(&[Left], false).seed(), u32::MAX);
        assert_eq!(run(&[Left, Right], false), Screen::START);
        assert_eq!(run(&[Select], false).seed(), DIGITS as u32);
        assert_eq!(run(&[Select, Left], false).seed(), 7);
        assert_eq!(Screen::new(u32::MAX, None).apply(Select, false).seed(), 7);
    }

    #[test]
    fn class_keys_need_a_conditional_blob() {
        use Key::*;
        assert_eq!(run(&[Up, Up, Down], false), Screen::START);
        assert_eq!(run(&[Up], true).class(), Some(0));
        assert_eq!(run(&[Up, Up, Up], true).class(), Some(2));
        assert_eq!(run(&[Down], true).class(), Some(9));
        assert_eq!(run(&[Down, Up], true).class(), None);
        // Eleven steps go round: none, 0..=9, none.
        assert_eq!(run(&[Up; 11], true), Screen::START);
        assert_eq!(run(&[Down; 11], true), Screen::START);
        assert_eq!(run(&[Up, Select], true), Screen::new(8, Some(0)));
    }

    #[test]
    fn new_rejects_classes_above_nine_and_digit_seeds_wrap() {
        assert_eq!(Screen::new(3, Some(10)).class(), None);
        assert_eq!(Screen::new(3, Some(9)).class(), Some(9));
        assert_eq!(Screen::new(u32::MAX - 1, None).digit_seed(3), 1);
    }
}
