//! The evaluation board's wiring, through the LM3S6965 PAC: the OLED on SSI0 with D/C on PC7,
//! and the five-button gamepad on PE0–PE3 and PF1 (active low).
//!
//! Each step a real chip needs is done even where QEMU ignores it (clock gating, pin functions,
//! clock prescaler), and commented. Chip select is the SSI's own frame signal (PA3) on the board;
//! QEMU instead selects the OLED with GPIO PD0, which it raises at reset: PD0 is left alone,
//! as toggling it deselects the OLED there.

use core::convert::Infallible;

use embedded_hal::{
    digital::{self, OutputPin},
    spi::{self, Operation, SpiDevice},
};

/// PC7: SSD0323 D/C (low: command, high: data).
const DC_PIN: u32 = 1 << 7;
/// PA2 (SSI0Clk), PA3 (SSI0Fss), PA5 (SSI0Tx).
const SSI_PINS: u32 = (1 << 2) | (1 << 3) | (1 << 5);
/// PE0–PE3: up, down, left, right.
pub const PAD_PINS_E: u32 = 0x0F;
/// PF1: select.
pub const PAD_PIN_F: u32 = 1 << 1;

/// SSI0 as an embedded-hal SPI device: master, Freescale SPI mode 2 (clock idles high, as the
/// panel's vendor driver sets it), 8-bit frames, about 2 MHz.
pub struct Ssi0 {
    ssi: pac::SSI0,
}

impl Ssi0 {
    /// Clocks SSI0 and GPIO A, gives PA2/PA3/PA5 to the SSI and enables it.
    pub fn new(ssi: pac::SSI0, sysctl: &pac::SYSCTL, gpioa: &pac::GPIO_PORTA) -> Self {
        sysctl.rcgc1.modify(|_, w| w.sysctl_rcgc1_ssi0().set_bit());
        sysctl.rcgc2.modify(|_, w| w.sysctl_rcgc2_gpioa().set_bit());
        // The datasheet asks for a few clocks between enabling a peripheral and touching it.
        cortex_m::asm::delay(3);
        // SAFETY (all `bits` writes here): plain configuration registers of peripherals this
        // firmware owns; every bit pattern is allowed by the hardware.
        gpioa
            .afsel
            .modify(|r, w| unsafe { w.bits(r.bits() | SSI_PINS) });
        gpioa
            .den
            .modify(|r, w| unsafe { w.bits(r.bits() | SSI_PINS) });
        // Disabled while configuring; master mode.
        ssi.cr1.write(|w| unsafe { w.bits(0) });
        // 8-bit frames: QEMU passes other frame sizes on as 0x00 bytes.
        ssi.cr0.write(|w| unsafe {
            w.ssi_cr0_dss()
                .bits(0x7)
                .ssi_cr0_frf()
                .bits(0)
                .ssi_cr0_spo()
                .set_bit()
                .ssi_cr0_sph()
                .clear_bit()
                .ssi_cr0_scr()
                .bits(2)
        });
        // Bit rate = system clock / (CPSR · (1 + SCR)) = 12 MHz internal oscillator / 6 after
        // reset, under the controller's 4 MHz limit.
        ssi.cpsr.write(|w| unsafe { w.bits(2) });
        ssi.cr1.write(|w| w.ssi_cr1_sse().set_bit());
        let mut ssi = Self { ssi };
        ssi.drain();
        ssi
    }

    /// Sends one byte and returns the byte clocked in meanwhile. Waiting for it also means the
    /// byte has left the wire, so D/C may change afterwards; and the receive FIFO never fills
    /// (QEMU stops sending once it holds 8 entries).
    fn exchange(&mut self, byte: u8) -> u8 {
        while self.ssi.sr.read().ssi_sr_tnf().bit_is_clear() {}
        // SAFETY: the data register takes any 8-bit frame.
        self.ssi.dr.write(|w| unsafe { w.bits(u32::from(byte)) });
        while self.ssi.sr.read().ssi_sr_rne().bit_is_clear() {}
        self.ssi.dr.read().bits() as u8
    }

    fn drain(&mut self) {
        while self.ssi.sr.read().ssi_sr_rne().bit_is_set() {
            let _ = self.ssi.dr.read().bits();
        }
    }
}

impl spi::ErrorType for Ssi0 {
    type Error = Infallible;
}

impl SpiDevice for Ssi0 {
    fn transaction(&mut self, operations: &mut [Operation<'_, u8>]) -> Result<(), Infallible> {
        for operation in operations {
            match operation {
                Operation::Write(bytes) => bytes.iter().for_each(|&b| {
                    self.exchange(b);
                }),
                Operation::Read(buffer) => buffer.iter_mut().for_each(|b| *b = self.exchange(0)),
                Operation::Transfer(read, write) => {
                    let pairs = write.iter().copied().chain(core::iter::repeat(0));
                    let count = read.len().max(write.len());
                    let mut read = read.iter_mut();
                    for byte in pairs.take(count) {
                        let got = self.exchange(byte);
                        if let Some(slot) = read.next() {
                            *slot = got;
                        }
                    }
                }
                Operation::TransferInPlace(buffer) => {
                    buffer.iter_mut().for_each(|b| *b = self.exchange(*b))
                }
                // At most 50 MHz: 50 cycles per microsecond is never too short.
                Operation::DelayNs(ns) => cortex_m::asm::delay(ns.div_ceil(20)),
            }
        }
        Ok(())
    }
}

/// PC7 as the D/C output.
pub struct DcPin {
    gpioc: pac::GPIO_PORTC,
}

impl DcPin {
    /// Clocks GPIO C and makes PC7 a digital output, high (data).
    pub fn new(gpioc: pac::GPIO_PORTC, sysctl: &pac::SYSCTL) -> Self {
        sysctl.rcgc2.modify(|_, w| w.sysctl_rcgc2_gpioc().set_bit());
        cortex_m::asm::delay(3);
        // SAFETY: configuration registers of a port this firmware owns.
        gpioc
            .dir
            .modify(|r, w| unsafe { w.bits(r.bits() | DC_PIN) });
        gpioc
            .den
            .modify(|r, w| unsafe { w.bits(r.bits() | DC_PIN) });
        let mut pin = Self { gpioc };
        let Ok(()) = pin.set_high();
        pin
    }

    fn write(&mut self, high: bool) {
        // SAFETY: only PC7 is an output on port C; the other bits are inputs and ignore writes.
        self.gpioc.data.modify(|r, w| unsafe {
            w.bits(if high {
                r.bits() | DC_PIN
            } else {
                r.bits() & !DC_PIN
            })
        });
    }
}

impl digital::ErrorType for DcPin {
    type Error = Infallible;
}

impl OutputPin for DcPin {
    fn set_low(&mut self) -> Result<(), Infallible> {
        self.write(false);
        Ok(())
    }
    fn set_high(&mut self) -> Result<(), Infallible> {
        self.write(true);
        Ok(())
    }
}

/// Makes the gamepad pins pulled-up digital inputs that interrupt on the rising edge: a button
/// acts when it is released.
///
/// Why release: QEMU's pins read 0 ("pressed") until a button is first pressed, so its first press
/// makes no falling edge; every release, the first included, makes a rising one, on the real
/// board too.
pub fn init_gamepad(gpioe: &pac::GPIO_PORTE, gpiof: &pac::GPIO_PORTF, sysctl: &pac::SYSCTL) {
    sysctl.rcgc2.modify(|_, w| {
        w.sysctl_rcgc2_gpioe()
            .set_bit()
            .sysctl_rcgc2_gpiof()
            .set_bit()
    });
    cortex_m::asm::delay(3);
    edge_inputs(gpioe, PAD_PINS_E);
    edge_inputs(gpiof, PAD_PIN_F);
}

fn edge_inputs(port: &pac::gpio_porta::RegisterBlock, pins: u32) {
    // SAFETY: configuration registers of ports this firmware owns; the interrupt is unmasked in
    // the NVIC only after this.
    unsafe {
        port.dir.modify(|r, w| w.bits(r.bits() & !pins));
        port.den.modify(|r, w| w.bits(r.bits() | pins));
        port.pur.modify(|r, w| w.bits(r.bits() | pins));
        port.is.modify(|r, w| w.bits(r.bits() & !pins));
        port.ibe.modify(|r, w| w.bits(r.bits() & !pins));
        port.iev.modify(|r, w| w.bits(r.bits() | pins));
        port.icr.write(|w| w.bits(pins));
        port.im.modify(|r, w| w.bits(r.bits() | pins));
    }
}
