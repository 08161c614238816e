//! The five gamepad buttons of the LM3S6965 evaluation board, and their names.

/// A gamepad button.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    /// Next digit class.
    Up,
    /// Previous digit class.
    Down,
    /// Seed − 1.
    Left,
    /// Seed + 1.
    Right,
    /// A new screen: the next [`DIGITS`](crate::DIGITS) seeds.
    Select,
}

impl Key {
    /// Every key, in the board's GPIO order (E0–E3, then F1).
    pub const ALL: [Self; 5] = [Self::Up, Self::Down, Self::Left, Self::Right, Self::Select];

    /// The name used by `--keys` (the sim and the QEMU script alike).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
            Self::Left => "left",
            Self::Right => "right",
            Self::Select => "select",
        }
    }

    /// The key called `name` (exactly as [`name`](Self::name) spells it); `None` for any other
    /// word, which callers ignore, as the board has no such button.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|key| key.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_others_are_unknown() {
        for key in Key::ALL {
            assert_eq!(Key::from_name(key.name()), Some(key));
        }
        for other in ["", "Up", "ctrl", "a", "select ", "enter"] {
            assert_eq!(Key::from_name(other), None, "{other:?}");
        }
    }
}
