//! SSD0323 command bytes (sent with D/C low; parameters follow their command, also with D/C low)
//! and the power-on sequence of a 128 × 64 panel.
//!
//! Values are from the Solomon Systech SSD0323 datasheet and OSRAM's application note AN018 for
//! the Pictiva 128 × 64 panel (OS128064PK16MY0A01), the panel of the Stellaris LM3S6965
//! evaluation board that QEMU's `lm3s6965evb` emulates.

/// Column window: start and end column *byte* (0–63; two pixels per byte).
pub const SET_COLUMN_ADDRESS: u8 = 0x15;
/// Row window: start and end row (0–79).
pub const SET_ROW_ADDRESS: u8 = 0x75;
/// Contrast current (+1 byte, 0–127).
pub const SET_CONTRAST: u8 = 0x81;
/// Half of the full segment current range.
pub const CURRENT_RANGE_HALF: u8 = 0x85;
/// RAM-to-panel remap and address increment (+1 byte, see [`REMAP`]).
pub const SET_REMAP: u8 = 0xA0;
/// First RAM row shown (+1 byte).
pub const SET_START_LINE: u8 = 0xA1;
/// Vertical offset of the COM outputs (+1 byte).
pub const SET_DISPLAY_OFFSET: u8 = 0xA2;
/// Show RAM contents (not all-on, all-off or inverted).
pub const NORMAL_DISPLAY: u8 = 0xA4;
/// Multiplex ratio: rows driven − 1 (+1 byte).
pub const SET_MULTIPLEX_RATIO: u8 = 0xA8;
/// Master configuration: on-chip DC-DC converter (+1 byte).
pub const SET_MASTER_CONFIG: u8 = 0xAD;
/// Panel off (sleep).
pub const DISPLAY_OFF: u8 = 0xAE;
/// Panel on.
pub const DISPLAY_ON: u8 = 0xAF;
/// Reset/precharge phase lengths (+1 byte).
pub const SET_PHASE_LENGTH: u8 = 0xB1;
/// Row period in display clocks (+1 byte).
pub const SET_ROW_PERIOD: u8 = 0xB2;
/// Display clock divider and oscillator frequency (+1 byte).
pub const SET_CLOCK_DIVIDER: u8 = 0xB3;
/// Grey-scale pulse widths of levels 1–15 (+8 bytes).
pub const SET_GRAY_SCALE_TABLE: u8 = 0xB8;
/// Precharge voltage (+1 byte).
pub const SET_PRECHARGE_VOLTAGE: u8 = 0xBC;
/// COM deselect voltage VCOMH (+1 byte).
pub const SET_VCOMH: u8 = 0xBE;
/// Segment low voltage VSL (+1 byte).
pub const SET_VSL: u8 = 0xBF;

/// [`SET_REMAP`] parameter for this panel: horizontal address increment (bit 2 clear, which
/// [`flush`](crate::Ssd0323::flush) relies on), nibble remap (bit 1: the left pixel of a byte
/// is its high nibble), COM remap (bit 4) and odd/even COM split (bit 6), as the panel's rows are
/// wired.
pub const REMAP: u8 = 0b0101_0010;

/// Sent once after power-up, before the first frame: display off, the panel's drive settings,
/// and the DC-DC converter on. [`Ssd0323::init`](crate::Ssd0323::init) then writes the whole
/// frame and sends [`DISPLAY_ON`], so no stale RAM contents ever light up.
pub const INIT_SEQUENCE: &[u8] = &[
    DISPLAY_OFF,
    SET_CONTRAST,
    50,
    CURRENT_RANGE_HALF,
    SET_REMAP,
    REMAP,
    SET_START_LINE,
    0,
    // The panel's row 0 is wired to COM 76 of the controller's 80.
    SET_DISPLAY_OFFSET,
    76,
    NORMAL_DISPLAY,
    SET_MULTIPLEX_RATIO,
    63,
    SET_PHASE_LENGTH,
    0x22,
    SET_ROW_PERIOD,
    70,
    SET_CLOCK_DIVIDER,
    0xF1,
    SET_VSL,
    0x0D,
    SET_VCOMH,
    0x02,
    SET_PRECHARGE_VOLTAGE,
    0x10,
    // Pulse widths for grey levels 1–15, two 4-bit entries per byte (AN018's gamma).
    SET_GRAY_SCALE_TABLE,
    0x01,
    0x11,
    0x22,
    0x32,
    0x43,
    0x54,
    0x65,
    0x76,
    SET_MASTER_CONFIG,
    0x03,
];

/// How many parameter bytes follow `command`, for the commands this crate sends; `None` for any
/// other byte. Lets tests (and anyone decoding a captured byte stream) split it into commands.
pub const fn parameter_count(command: u8) -> Option<usize> {
    match command {
        SET_COLUMN_ADDRESS | SET_ROW_ADDRESS => Some(2),
        SET_CONTRAST
        | SET_REMAP
        | SET_START_LINE
        | SET_DISPLAY_OFFSET
        | SET_MULTIPLEX_RATIO
        | SET_MASTER_CONFIG
        | SET_PHASE_LENGTH
        | SET_ROW_PERIOD
        | SET_CLOCK_DIVIDER
        | SET_PRECHARGE_VOLTAGE
        | SET_VCOMH
        | SET_VSL => Some(1),
        SET_GRAY_SCALE_TABLE => Some(8),
        CURRENT_RANGE_HALF | NORMAL_DISPLAY | DISPLAY_OFF | DISPLAY_ON => Some(0),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_sequence_splits_into_known_commands() {
        let mut rest = INIT_SEQUENCE;
        let mut commands = 0;
        while let Some((&command, tail)) = rest.split_first() {
            let n = parameter_count(command)
                .unwrap_or_else(|| panic!("unknown command {command:#04x} in INIT_SEQUENCE"));
            assert!(tail.len() >= n, "{command:#04x} lacks parameters");
            rest = &tail[n..];
            commands += 1;
        }
        assert_eq!(commands, 16);
    }

    #[test]
    fn remap_keeps_horizontal_increment() {
        assert_eq!(REMAP & 0b100, 0);
    }
}
