//! A recording SPI device and D/C pin that share one log (so the interleaving of D/C changes and
//! bytes is what is checked, which two independent mocks cannot do), and a model of the
//! controller that replays the log into its display RAM.

#![allow(dead_code)] // each test binary uses a different part

use std::{cell::RefCell, convert::Infallible, rc::Rc};

use embedded_hal::{
    digital::{self, OutputPin},
    spi::{self, Operation, SpiDevice},
};
use ssd0323::command;

/// Bytes sent while D/C was low or high; consecutive writes of one kind are merged, so the log
/// does not depend on how the driver splits its writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    Commands(Vec<u8>),
    Data(Vec<u8>),
}

#[derive(Debug, Default)]
struct Bus {
    data_mode: bool,
    sent: Vec<Sent>,
}

/// The shared log.
#[derive(Debug, Clone, Default)]
pub struct Log(Rc<RefCell<Bus>>);

impl Log {
    pub fn new() -> (Self, RecordingSpi, RecordingPin) {
        let log = Self::default();
        (log.clone(), RecordingSpi(log.clone()), RecordingPin(log))
    }

    /// Everything sent since the last call.
    pub fn take(&self) -> Vec<Sent> {
        std::mem::take(&mut self.0.borrow_mut().sent)
    }
}

pub struct RecordingSpi(Log);
pub struct RecordingPin(Log);

impl spi::ErrorType for RecordingSpi {
    type Error = Infallible;
}

impl SpiDevice for RecordingSpi {
    fn transaction(&mut self, operations: &mut [Operation<'_, u8>]) -> Result<(), Infallible> {
        let mut bus = self.0 .0.borrow_mut();
        for operation in operations {
            let Operation::Write(bytes) = operation else {
                panic!("the SSD0323 driver only writes, got {operation:?}");
            };
            let data_mode = bus.data_mode;
            match (bus.sent.last_mut(), data_mode) {
                (Some(Sent::Data(v)), true) | (Some(Sent::Commands(v)), false) => {
                    v.extend_from_slice(bytes)
                }
                (_, true) => bus.sent.push(Sent::Data(bytes.to_vec())),
                (_, false) => bus.sent.push(Sent::Commands(bytes.to_vec())),
            }
        }
        Ok(())
    }
}

impl digital::ErrorType for RecordingPin {
    type Error = Infallible;
}

impl OutputPin for RecordingPin {
    fn set_low(&mut self) -> Result<(), Infallible> {
        self.0 .0.borrow_mut().data_mode = false;
        Ok(())
    }
    fn set_high(&mut self) -> Result<(), Infallible> {
        self.0 .0.borrow_mut().data_mode = true;
        Ok(())
    }
}

/// The controller as the datasheet describes its RAM addressing (horizontal increment): 80 rows
/// of 64 column bytes, a column and a row window, data bytes written at the pointer, which
/// advances along the row, wraps to the next row of the window and from the last row back to
/// the first. Rows 0–63 are what the panel shows.
pub struct Controller {
    pub ram: [[u8; 64]; 80],
    columns: (usize, usize),
    rows: (usize, usize),
    pointer: (usize, usize),
    pub display_on: bool,
    pub commands_seen: Vec<u8>,
}

impl Default for Controller {
    fn default() -> Self {
        Self {
            ram: [[0; 64]; 80],
            columns: (0, 63),
            rows: (0, 79),
            pointer: (0, 0),
            display_on: false,
            commands_seen: Vec::new(),
        }
    }
}

impl Controller {
    /// Applies a log; panics on a byte that is not a known command or a command cut short.
    pub fn replay(&mut self, sent: &[Sent]) {
        for chunk in sent {
            match chunk {
                Sent::Commands(bytes) => self.commands(bytes),
                Sent::Data(bytes) => bytes.iter().for_each(|&b| self.data(b)),
            }
        }
    }

    fn commands(&mut self, mut bytes: &[u8]) {
        while let Some((&op, rest)) = bytes.split_first() {
            let n = command::parameter_count(op)
                .unwrap_or_else(|| panic!("unknown command byte {op:#04x}"));
            assert!(rest.len() >= n, "command {op:#04x} cut short: {rest:?}");
            let (params, tail) = rest.split_at(n);
            self.commands_seen.push(op);
            match op {
                command::SET_COLUMN_ADDRESS => {
                    let (a, b) = (usize::from(params[0]), usize::from(params[1]));
                    assert!(a <= b && b < 64, "column window {a}..={b}");
                    self.columns = (a, b);
                    self.pointer.0 = a;
                }
                command::SET_ROW_ADDRESS => {
                    let (a, b) = (usize::from(params[0]), usize::from(params[1]));
                    assert!(a <= b && b < 80, "row window {a}..={b}");
                    self.rows = (a, b);
                    self.pointer.1 = a;
                }
                command::SET_REMAP => assert_eq!(params[0] & 0b100, 0, "vertical increment"),
                command::DISPLAY_ON => self.display_on = true,
                command::DISPLAY_OFF => self.display_on = false,
                _ => {}
            }
            bytes = tail;
        }
    }

    fn data(&mut self, byte: u8) {
        let (column, row) = self.pointer;
        self.ram[row][column] = byte;
        self.pointer.0 += 1;
        if self.pointer.0 > self.columns.1 {
            self.pointer.0 = self.columns.0;
            self.pointer.1 += 1;
            if self.pointer.1 > self.rows.1 {
                self.pointer.1 = self.rows.0;
            }
        }
    }

    /// The 64 shown rows, flattened like the driver's frame buffer.
    pub fn shown(&self) -> Vec<u8> {
        self.ram[..64].iter().flatten().copied().collect()
    }
}
