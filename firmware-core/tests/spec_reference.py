#!/usr/bin/env python3
"""Independent transcription of the documented integer pipeline (src/latent.rs, src/blob.rs,
src/requant.rs), written from the docs rather than the Rust code. It rebuilds the synthetic blob
of tests/common/mod.rs (`Model::new(2024)`) and prints the CRC-32 of the pixels for the seeds in
tests/golden.rs. Pure Python, ~1 minute:  python3 tests/spec_reference.py
"""
import zlib

M32 = 0xFFFFFFFF


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
    for _ in range(32):
        s = 6
        for _ in range(6):
            r = next(rng)
            s += (r >> 16) + (r & 0xFFFF)
        q = (s - 6 * 65536 + 1024) >> 11  # Python >> on ints is floor division, like Rust's on i32
        out.append(max(-127, min(127, q)))
    return out


def i8(b):
    return b - 256 if b >= 128 else b


def random_layer(rng, weights, outputs, channels, bias, shift):
    w = [i8(next(rng) & 0xFF) for _ in range(weights)]
    b = [(next(rng) % (2 * bias + 1)) - bias for _ in range(outputs)]
    m = [(1 << 30) | (next(rng) >> 2) for _ in range(channels)]
    return w, b, m, [shift] * channels


def requant(acc, m, n, lo, hi):
    return max(lo, min(hi, (acc * m + (1 << (n - 1))) >> n))


def linear(x, layer, channels):
    w, b, m, s = layer
    n_in = len(x)
    out = []
    for j in range(len(b)):
        acc = b[j] + sum(w[j * n_in + i] * x[i] for i in range(n_in))
        c = j % channels
        out.append(requant(acc, m[c], s[c], 0, 127))
    return out


def conv_transpose(x, layer, cin, cout, in_side, lo, hi):
    """Scatter form of ConvTranspose2d(4, 2, 1); activations HWC, weights [ky][kx][co][ci]."""
    w, b, m, s = layer
    out_side = 2 * in_side
    acc = [b[i % cout] for i in range(out_side * out_side * cout)]
    for iy in range(in_side):
        for ix in range(in_side):
            xs = x[(iy * in_side + ix) * cin:(iy * in_side + ix + 1) * cin]
            for ky in range(4):
                oy = 2 * iy - 1 + ky
                if not 0 <= oy < out_side:
                    continue
                for kx in range(4):
                    ox = 2 * ix - 1 + kx
                    if not 0 <= ox < out_side:
                        continue
                    for co in range(cout):
                        base = ((ky * 4 + kx) * cout + co) * cin
                        acc[(oy * out_side + ox) * cout + co] += sum(
                            w[base + ci] * xs[ci] for ci in range(cin))
    return [requant(a, m[i % cout], s[i % cout], lo, hi) for i, a in enumerate(acc)]


def main():
    rng = splitmix32(2024)
    fc = random_layer(rng, 3136 * 32, 3136, 64, 8000, 39)
    up1 = random_layer(rng, 16 * 32 * 64, 32, 32, 20000, 40)
    up2 = random_layer(rng, 16 * 32, 1, 1, 10000, 38)
    lut = list(range(255, -1, -1))
    for seed in [0, 1, 2, 0xFFFFFFFF]:
        h = linear(latent_from_seed(seed), fc, 64)
        h = conv_transpose(h, up1, 64, 32, 7, 0, 127)
        q = conv_transpose(h, up2, 32, 1, 14, -128, 127)
        pixels = bytes(lut[v + 128] for v in q)
        print(f"seed {seed:#x}: pixel CRC {zlib.crc32(pixels):#010x}")


if __name__ == "__main__":
    main()
