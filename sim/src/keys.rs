//! Key bindings of the window: keys → [`Action`]s, and their help text.

use crate::state::Action;
use minifb::Key;

/// Keys, their description, and the action; one table drives both mapping and help.
const BINDINGS: &[(&[Key], &str, &str, Action)] = &[
    (
        &[Key::Space, Key::R, Key::Enter],
        "space r enter",
        "new seeds",
        Action::Regenerate,
    ),
    (
        &[Key::Right, Key::N],
        "right n",
        "next seed (+1)",
        Action::Step(1),
    ),
    (
        &[Key::Left, Key::P],
        "left p",
        "previous seed (-1)",
        Action::Step(-1),
    ),
    (
        &[Key::Down, Key::PageDown],
        "down pgdn",
        "next screenful of seeds",
        Action::Page(true),
    ),
    (
        &[Key::Up, Key::PageUp],
        "up pgup",
        "previous screenful of seeds",
        Action::Page(false),
    ),
    (
        &[Key::T],
        "t",
        "toggle shading: dithered / threshold (/ smooth)",
        Action::ToggleShading,
    ),
    (
        &[Key::RightBracket, Key::Equal, Key::NumPadPlus],
        "] +",
        "threshold +16",
        Action::AdjustThreshold(true),
    ),
    (
        &[Key::LeftBracket, Key::Minus, Key::NumPadMinus],
        "[ -",
        "threshold -16",
        Action::AdjustThreshold(false),
    ),
    (
        &[Key::D, Key::Tab],
        "d tab",
        "next display",
        Action::NextDisplay,
    ),
    (&[Key::Q, Key::Escape], "q esc", "quit", Action::Quit),
];

/// Number row and keypad digits, in value order.
const DIGIT_KEYS: [[Key; 2]; 10] = [
    [Key::Key0, Key::NumPad0],
    [Key::Key1, Key::NumPad1],
    [Key::Key2, Key::NumPad2],
    [Key::Key3, Key::NumPad3],
    [Key::Key4, Key::NumPad4],
    [Key::Key5, Key::NumPad5],
    [Key::Key6, Key::NumPad6],
    [Key::Key7, Key::NumPad7],
    [Key::Key8, Key::NumPad8],
    [Key::Key9, Key::NumPad9],
];

/// The action bound to `key`, if any.
pub fn action_for(key: Key) -> Option<Action> {
    if let Some(digit) = DIGIT_KEYS.iter().position(|keys| keys.contains(&key)) {
        return Some(Action::PickClass(digit as u8));
    }
    BINDINGS
        .iter()
        .find(|(keys, ..)| keys.contains(&key))
        .map(|&(.., action)| action)
}

/// One line per binding, for the terminal.
pub fn help() -> String {
    let mut text = String::from("keys:\n");
    for (_, keys, what, _) in BINDINGS {
        text += &format!("  {keys:<14} {what}\n");
    }
    text += &format!(
        "  {:<14} {}\n",
        "0-9", "choose the digit (class-conditional models)"
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_actions() {
        assert_eq!(action_for(Key::Space), Some(Action::Regenerate));
        assert_eq!(action_for(Key::Right), Some(Action::Step(1)));
        assert_eq!(action_for(Key::Left), Some(Action::Step(-1)));
        assert_eq!(action_for(Key::PageDown), Some(Action::Page(true)));
        assert_eq!(action_for(Key::T), Some(Action::ToggleShading));
        assert_eq!(action_for(Key::D), Some(Action::NextDisplay));
        assert_eq!(action_for(Key::Q), Some(Action::Quit));
        assert_eq!(action_for(Key::Key7), Some(Action::PickClass(7)));
        assert_eq!(action_for(Key::NumPad0), Some(Action::PickClass(0)));
        assert_eq!(action_for(Key::Z), None);
    }

    #[test]
    fn no_key_is_bound_twice() {
        let mut all: Vec<Key> = BINDINGS
            .iter()
            .flat_map(|(k, ..)| k.iter().copied())
            .collect();
        all.extend(DIGIT_KEYS.iter().flatten());
        let count = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), count);
        assert!(help().contains("next display"));
    }
}
