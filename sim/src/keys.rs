//! Key bindings of the window: keys → [`Action`]s, and their help text.

use crate::display::DisplayKind;
use crate::state::Action;
use minifb::Key;
use oled_screen::Key as Button;

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

/// On `--display ssd0323` these keys are the board's gamepad (QEMU wires the same keys to it;
/// select is ctrl there), ahead of the bindings above.
const GAMEPAD: &[(&[Key], Button)] = &[
    (&[Key::Up], Button::Up),
    (&[Key::Down], Button::Down),
    (&[Key::Left], Button::Left),
    (&[Key::Right], Button::Right),
    (
        &[Key::LeftCtrl, Key::RightCtrl, Key::Enter, Key::Space],
        Button::Select,
    ),
];

/// The action bound to `key` on `display`, if any.
pub fn action_for(key: Key, display: DisplayKind) -> Option<Action> {
    if display == DisplayKind::Ssd0323 {
        if let Some(&(_, button)) = GAMEPAD.iter().find(|(keys, _)| keys.contains(&key)) {
            return Some(Action::Gamepad(button));
        }
    }
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
    text += "on the ssd0323 display, the board's gamepad instead:\n";
    text += "  up down        class (class-conditional models)\n";
    text += "  left right     seed -1 / +1\n";
    text += "  ctrl enter spc select: the next eight seeds\n";
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_actions() {
        let oled = DisplayKind::Oled;
        assert_eq!(action_for(Key::Space, oled), Some(Action::Regenerate));
        assert_eq!(action_for(Key::Right, oled), Some(Action::Step(1)));
        assert_eq!(action_for(Key::Left, oled), Some(Action::Step(-1)));
        assert_eq!(action_for(Key::PageDown, oled), Some(Action::Page(true)));
        assert_eq!(action_for(Key::T, oled), Some(Action::ToggleShading));
        assert_eq!(action_for(Key::D, oled), Some(Action::NextDisplay));
        assert_eq!(action_for(Key::Q, oled), Some(Action::Quit));
        assert_eq!(action_for(Key::Key7, oled), Some(Action::PickClass(7)));
        assert_eq!(action_for(Key::NumPad0, oled), Some(Action::PickClass(0)));
        assert_eq!(action_for(Key::Z, oled), None);
        assert_eq!(action_for(Key::LeftCtrl, oled), None);
    }

    #[test]
    fn the_ssd0323_display_takes_the_gamepad_keys() {
        let board = DisplayKind::Ssd0323;
        let pad = |b| Some(Action::Gamepad(b));
        assert_eq!(action_for(Key::Up, board), pad(Button::Up));
        assert_eq!(action_for(Key::Down, board), pad(Button::Down));
        assert_eq!(action_for(Key::Left, board), pad(Button::Left));
        assert_eq!(action_for(Key::Right, board), pad(Button::Right));
        assert_eq!(action_for(Key::LeftCtrl, board), pad(Button::Select));
        assert_eq!(action_for(Key::Space, board), pad(Button::Select));
        // The rest of the window's keys still work there.
        assert_eq!(action_for(Key::D, board), Some(Action::NextDisplay));
        assert_eq!(action_for(Key::Q, board), Some(Action::Quit));
        assert_eq!(action_for(Key::Z, board), None);
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
