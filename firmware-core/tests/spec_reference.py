#!/usr/bin/env python3
"""Independent transcription of firmware-core's documented format and arithmetic, written from the
docs (src/blob.rs: format, validation and semantics; src/latent.rs: seeds, latents and classes;
src/requant.rs: rounding) rather than from the Rust code, and run against what firmware-core did.

    cargo run -p firmware-core --example spec_vectors -- DIR
    python3 firmware-core/tests/spec_reference.py DIR

DIR/vectors.txt (see examples/spec_vectors.rs) lists blobs with the pixels firmware-core drew from
them, or the error it refused them with. For every line this script parses and validates the blob
itself, recomputes the pixels (or the error) from the spec, and compares. Any difference is printed
and the exit status is 1. Standard library only.
"""
import operator
import struct
import sys
import zlib
from pathlib import Path

M32 = 0xFFFFFFFF

# --- src/arch.rs: the compiled-in network ------------------------------------------------------
LATENT_DIM, CLASSES = 32, 10
FC_CHANNELS, FC_SIDE = 64, 7
UP1_CHANNELS, UP1_SIDE = 32, 14
OUT_SIDE = 28
KERNEL, STRIDE, PADDING = 4, 2, 1


def expected_descriptor(conditional):
    """ModelDescriptor::MCU, or MCU_CONDITIONAL (same network, 22 noise values)."""
    conv1 = [FC_CHANNELS, UP1_CHANNELS, FC_SIDE, UP1_SIDE, KERNEL, STRIDE, PADDING]
    conv2 = [UP1_CHANNELS, 1, UP1_SIDE, OUT_SIDE, KERNEL, STRIDE, PADDING]
    conv_names = ["in_channels", "out_channels", "in_side", "out_side", "kernel", "stride",
                  "padding"]
    return ([("preset", 1), ("conditional", int(conditional)),
             ("latent_dim", LATENT_DIM - CLASSES if conditional else LATENT_DIM),
             ("fc.in_features", LATENT_DIM), ("fc.out_channels", FC_CHANNELS),
             ("fc.out_side", FC_SIDE)]
            + [("up1." + n, v) for n, v in zip(conv_names, conv1)]
            + [("up2." + n, v) for n, v in zip(conv_names, conv2)])


# --- src/blob.rs: the byte format ---------------------------------------------------------------
class Rejected(Exception):
    """A blob the spec refuses; str() is the error in firmware-core's `Debug` form."""


class Reader:
    """postcard: unsigned integers as LEB128 varints, bool one byte, f32 4 bytes LE, byte arrays
    as a varint length and the bytes."""

    def __init__(self, data):
        self.data, self.at = data, 0

    def varint(self, bits):
        value, shift = 0, 0
        for _ in range((bits + 6) // 7):
            if self.at >= len(self.data):
                raise Rejected("Decode")
            byte = self.data[self.at]
            self.at += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                if value >> bits:
                    raise Rejected("Decode")
                return value
        raise Rejected("Decode")  # too many continuation bytes

    def bool(self):
        value = self.take(1)[0]
        if value > 1:
            raise Rejected("Decode")
        return value

    def f32_bits(self):
        return struct.unpack("<I", self.take(4))[0]

    def take(self, n):
        if n > len(self.data) - self.at:
            raise Rejected("Decode")
        out = self.data[self.at:self.at + n]
        self.at += n
        return out

    def bytes(self):
        return self.take(self.varint(64))


def parse_and_validate(blob):
    """Every check of the blob docs' "Validation" section, in its order; returns the model."""
    if len(blob) < 6 + 4:
        raise Rejected(f"Truncated {{ len: {len(blob)}, min: 10 }}")
    stored = struct.unpack("<I", blob[-4:])[0]
    computed = zlib.crc32(blob[:-4])  # CRC-32/ISO-HDLC
    if stored != computed:
        raise Rejected(f"BadCrc {{ stored: {stored}, computed: {computed} }}")
    if blob[:4] != b"MGEN":
        raise Rejected(f"BadMagic {{ found: {list(blob[:4])} }}")
    version = struct.unpack("<H", blob[4:6])[0]
    if version != 1:
        raise Rejected(f"UnsupportedVersion {{ found: {version}, supported: 1 }}")
    r = Reader(blob[6:-4])
    preset = r.varint(16)
    conditional = r.bool()
    descriptor = [preset, conditional] + [r.varint(32) for _ in range(1 + 3 + 7 + 7)]
    scales = [r.f32_bits() for _ in range(4)]
    layers = [[r.bytes() for _ in range(4)] for _ in range(3)]
    lut = r.bytes()
    if r.at != len(r.data):
        raise Rejected(f"TrailingBytes {{ count: {len(r.data) - r.at} }}")
    for (field, want), got in zip(expected_descriptor(conditional), descriptor):
        if want != got:
            raise Rejected(f'ArchitectureMismatch {{ field: "{field}", expected: {want}, '
                           f'found: {got} }}')
    for name, bits in zip(["latent", "fc", "up1", "pre_tanh"], scales):
        if not 1 <= bits < 0x7F800000:  # positive, finite (sign clear, exponent not all ones)
            raise Rejected(f'BadScale {{ field: "scales.{name}" }}')
    names = ["fc", "up1", "up2"]
    shapes = {  # weights, outputs (biases), requantisation channels
        "fc": (FC_SIDE * FC_SIDE * FC_CHANNELS * LATENT_DIM, FC_SIDE * FC_SIDE * FC_CHANNELS,
               FC_CHANNELS),
        "up1": (KERNEL * KERNEL * UP1_CHANNELS * FC_CHANNELS, UP1_CHANNELS, UP1_CHANNELS),
        "up2": (KERNEL * KERNEL * 1 * UP1_CHANNELS, 1, 1),
    }
    for name, arrays in zip(names, layers):
        weights, outputs, channels = shapes[name]
        for field, want, got in zip(["weights", "bias", "multiplier", "shift"],
                                    [weights, 4 * outputs, 4 * channels, channels], arrays):
            if len(got) != want:
                raise Rejected(f'BadLength {{ field: "{name}.{field}", expected: {want}, '
                               f'found: {len(got)} }}')
    if len(lut) != 256:
        raise Rejected(f'BadLength {{ field: "tanh_lut", expected: 256, found: {len(lut)} }}')
    model = {}
    for name, (w, b, m, s) in zip(names, layers):
        model[name] = (
            [v - 256 if v >= 128 else v for v in w],
            list(struct.unpack(f"<{len(b) // 4}i", b)),
            list(struct.unpack(f"<{len(m) // 4}i", m)),
            list(s),
        )
    for name in names:
        for channel, (m, n) in enumerate(zip(model[name][2], model[name][3])):
            if not (m >= 0 and 1 <= n <= 62):
                raise Rejected(f'BadRequant {{ layer: "{name}", channel: {channel} }}')
    for name in names:
        for index, b in enumerate(model[name][1]):
            if abs(b) > 1 << 30:  # BIAS_LIMIT
                raise Rejected(f'BiasOutOfRange {{ layer: "{name}", index: {index} }}')
    return bool(conditional), model, list(lut)


# --- src/latent.rs: seed → int8 input ----------------------------------------------------------
def splitmix32(seed):
    state = seed
    while True:
        state = (state + 0x9E3779B9) & M32
        z = state
        z = ((z ^ (z >> 16)) * 0x85EBCA6B) & M32
        z = ((z ^ (z >> 13)) * 0xC2B2AE35) & M32
        yield z ^ (z >> 16)


def latent_from_seed(seed):
    rng = splitmix32(seed)
    out = []
    for _ in range(LATENT_DIM):
        s = 6  # twelve ½ offsets
        for _ in range(6):
            r = next(rng)
            s += (r >> 16) + (r & 0xFFFF)
        q = (s - 6 * 65536 + 1024) >> 11  # Python's >> floors, like an arithmetic shift
        out.append(max(-127, min(127, q)))
    return out


def class_from_seed(seed):
    return (next(splitmix32(seed ^ 0x5EEDC1A5)) * CLASSES) >> 32


def generator_input(seed, conditional, klass):
    z = latent_from_seed(seed)
    if not conditional:
        return z
    if klass is None:
        klass = class_from_seed(seed)
    noise = LATENT_DIM - CLASSES
    return z[:noise] + [32 if i == klass else 0 for i in range(CLASSES)]  # ONE_HOT = 1.0 at 2⁻⁵


# --- src/blob.rs "Semantics" and src/requant.rs --------------------------------------------------
class SpecViolation(Exception):
    pass


def requant(acc, m, n, lo, hi):
    if not -(1 << 31) <= acc < 1 << 31:
        raise SpecViolation(f"accumulator {acc} does not fit the device's i32")
    return max(lo, min(hi, (acc * m + (1 << (n - 1))) >> n))  # round half up, then clamp


def linear(x, layer):
    """fc: row (y·7 + x)·64 + c of the weights is output (y, x, c), HWC."""
    w, b, m, s = layer
    out = []
    for j, bias in enumerate(b):
        acc = bias + sum(map(operator.mul, w[j * LATENT_DIM:(j + 1) * LATENT_DIM], x))
        c = j % FC_CHANNELS
        out.append(requant(acc, m[c], s[c], 0, 127))
    return out


def conv_transpose(x, layer, cin, cout, in_side, lo, hi):
    """ConvTranspose2d(4, 2, 1) in its scatter form: input pixel (iy, ix) with tap (ky, kx) adds
    to output (iy·2 − 1 + ky, ix·2 − 1 + kx). Activations HWC, weights [ky][kx][co][ci]."""
    w, b, m, s = layer
    out_side = (in_side - 1) * STRIDE + KERNEL - 2 * PADDING
    acc = [b[i % cout] for i in range(out_side * out_side * cout)]
    for iy in range(in_side):
        for ix in range(in_side):
            xs = x[(iy * in_side + ix) * cin:(iy * in_side + ix + 1) * cin]
            for ky in range(KERNEL):
                oy = iy * STRIDE - PADDING + ky
                if not 0 <= oy < out_side:
                    continue
                for kx in range(KERNEL):
                    ox = ix * STRIDE - PADDING + kx
                    if not 0 <= ox < out_side:
                        continue
                    for co in range(cout):
                        base = ((ky * KERNEL + kx) * cout + co) * cin
                        acc[(oy * out_side + ox) * cout + co] += sum(
                            map(operator.mul, w[base:base + cin], xs))
    return [requant(a, m[i % cout], s[i % cout], lo, hi) for i, a in enumerate(acc)]


def pixels(model, lut, x):
    h = linear(x, model["fc"])
    h = conv_transpose(h, model["up1"], FC_CHANNELS, UP1_CHANNELS, FC_SIDE, 0, 127)
    q = conv_transpose(h, model["up2"], UP1_CHANNELS, 1, UP1_SIDE, -128, 127)
    return bytes(lut[v + 128] for v in q)


# --- the comparison ------------------------------------------------------------------------------
def signed(byte):
    return byte - 256 if byte >= 128 else byte


def check(directory):
    lines = (directory / "vectors.txt").read_text().splitlines()
    if not lines:
        raise SystemExit(f"spec_reference: {directory}/vectors.txt lists nothing")
    cache, failures, counts = {}, [], {"draw": 0, "latent": 0, "reject": 0}
    for number, line in enumerate(lines, 1):
        kind, name, rest = line.split(" ", 2)
        where = f"vectors.txt:{number} ({kind} {name})"
        if name not in cache:
            try:
                cache[name] = parse_and_validate((directory / name).read_bytes())
            except Rejected as e:
                cache[name] = e
        loaded = cache[name]
        counts[kind] += 1
        if kind == "reject":
            got = str(loaded) if isinstance(loaded, Rejected) else "accepted"
            if got != rest:
                failures.append(f"{where}: firmware-core says {rest}, the spec says {got}")
            continue
        if isinstance(loaded, Rejected):
            failures.append(f"{where}: firmware-core drew from it, the spec rejects it: {loaded}")
            continue
        conditional, model, lut = loaded
        if kind == "draw":
            seed_field, class_field, want_hex = rest.split(" ")
            seed = int(seed_field.removeprefix("seed="))
            klass = class_field.removeprefix("class=")
            x = generator_input(seed, conditional, None if klass == "-" else int(klass))
        elif kind == "latent":
            latent_field, want_hex = rest.split(" ")
            x = [signed(v) for v in bytes.fromhex(latent_field.removeprefix("latent="))]
        else:
            raise SystemExit(f"spec_reference: {where}: unknown kind")
        want = bytes.fromhex(want_hex)
        try:
            got = pixels(model, lut, x)
        except SpecViolation as e:
            failures.append(f"{where}: {e}")
            continue
        if got != want:
            first = next(i for i in range(len(got)) if got[i] != want[i])
            differ = sum(a != b for a, b in zip(got, want))
            failures.append(
                f"{where}: {differ} pixels differ; first at (x {first % 28}, y {first // 28}): "
                f"firmware-core {want[first]}, spec {got[first]}")
    summary = ", ".join(f"{n} {k}" for k, n in counts.items())
    if failures:
        print(f"spec_reference: MISMATCH between firmware-core and the spec ({summary}):",
              file=sys.stderr)
        for f in failures:
            print("  " + f, file=sys.stderr)
        return 1
    print(f"spec_reference: firmware-core agrees with the spec on {len(lines)} vectors "
          f"({summary}); blobs: {', '.join(sorted(cache))}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    sys.exit(check(Path(sys.argv[1])))
