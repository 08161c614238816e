//! Key bindings of the window: SDL keycodes → [`Action`]s, and their help text.

use crate::state::Action;
use embedded_graphics_simulator::sdl2::Keycode;

/// Keys, their description, and the action; one table drives both mapping and help.
const BINDINGS: &[(&[Keycode], &str, &str, Action)] = &[
    (
        &[Keycode::SPACE, Keycode::R, Keycode::RETURN],
        "space r enter",
        "new seeds",
        Action::Regenerate,
    ),
    (
        &[Keycode::RIGHT, Keycode::N],
        "right n",
        "next seed (+1)",
        Action::Step(1),
    ),
    (
        &[Keycode::LEFT, Keycode::P],
        "left p",
        "previous seed (-1)",
        Action::Step(-1),
    ),
    (
        &[Keycode::DOWN, Keycode::PAGEDOWN],
        "down pgdn",
        "next screenful of seeds",
        Action::Page(true),
    ),
    (
        &[Keycode::UP, Keycode::PAGEUP],
        "up pgup",
        "previous screenful of seeds",
        Action::Page(false),
    ),
    (
        &[Keycode::T],
        "t",
        "toggle shading: dithered / threshold (/ smooth)",
        Action::ToggleShading,
    ),
    (
        &[Keycode::RIGHTBRACKET, Keycode::EQUALS, Keycode::KP_PLUS],
        "] +",
        "threshold +16",
        Action::AdjustThreshold(true),
    ),
    (
        &[Keycode::LEFTBRACKET, Keycode::MINUS, Keycode::KP_MINUS],
        "[ -",
        "threshold -16",
        Action::AdjustThreshold(false),
    ),
    (
        &[Keycode::D, Keycode::TAB],
        "d tab",
        "next display",
        Action::NextDisplay,
    ),
    (
        &[Keycode::Q, Keycode::ESCAPE],
        "q esc",
        "quit",
        Action::Quit,
    ),
];

/// Number row and keypad digits, in value order.
const DIGIT_KEYS: [[Keycode; 2]; 10] = [
    [Keycode::NUM_0, Keycode::KP_0],
    [Keycode::NUM_1, Keycode::KP_1],
    [Keycode::NUM_2, Keycode::KP_2],
    [Keycode::NUM_3, Keycode::KP_3],
    [Keycode::NUM_4, Keycode::KP_4],
    [Keycode::NUM_5, Keycode::KP_5],
    [Keycode::NUM_6, Keycode::KP_6],
    [Keycode::NUM_7, Keycode::KP_7],
    [Keycode::NUM_8, Keycode::KP_8],
    [Keycode::NUM_9, Keycode::KP_9],
];

/// The action bound to `key`, if any.
pub fn action_for(key: Keycode) -> Option<Action> {
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
        assert_eq!(action_for(Keycode::SPACE), Some(Action::Regenerate));
        assert_eq!(action_for(Keycode::RIGHT), Some(Action::Step(1)));
        assert_eq!(action_for(Keycode::LEFT), Some(Action::Step(-1)));
        assert_eq!(action_for(Keycode::PAGEDOWN), Some(Action::Page(true)));
        assert_eq!(action_for(Keycode::T), Some(Action::ToggleShading));
        assert_eq!(action_for(Keycode::D), Some(Action::NextDisplay));
        assert_eq!(action_for(Keycode::Q), Some(Action::Quit));
        assert_eq!(action_for(Keycode::NUM_7), Some(Action::PickClass(7)));
        assert_eq!(action_for(Keycode::KP_0), Some(Action::PickClass(0)));
        assert_eq!(action_for(Keycode::Z), None);
    }

    #[test]
    fn no_key_is_bound_twice() {
        let mut all: Vec<Keycode> = BINDINGS
            .iter()
            .flat_map(|(k, ..)| k.iter().copied())
            .collect();
        all.extend(DIGIT_KEYS.iter().flatten());
        let count = all.len();
        all.sort_by_key(|k| k.into_i32());
        all.dedup();
        assert_eq!(all.len(), count);
        assert!(help().contains("next display"));
    }
}
