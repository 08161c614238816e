"""The trainer's three GAN presets and its training iteration in PyTorch, timed the same way as
`cargo run -p trainer --release --example train_speed`: warm-up iterations, then the median of
timed ones, and the peak memory of the process. A benchmark reference only (bench/train-speed.sh
runs it in a throw-away virtualenv); the project never needs PyTorch.

Same as trainer/src/models/*.rs and trainer/src/train/step.rs: layers, BatchNorm placement
(eps 1e-5, momentum 0.1), LeakyReLU slope 0.2, loss = BCE with logits, non-saturating G loss,
Adam lr 2e-4 betas (0.5, 0.999) eps 1e-8, batch 64, real MNIST scaled to [-1, 1], one
discriminator step on a real and a fake batch (the fake from fresh latents, generator in training
mode, no gradient into it) then one generator step on other fresh latents. The conditional
presets (cmcu, cdcgan) append the one-hot class to z and 10 one-hot label planes to the image.

Prints one line of key=value pairs (times in milliseconds per iteration).
"""

import argparse
import gzip
import os
import resource
import statistics
import sys
import time

import torch
from torch import nn
import torch.nn.functional as F


def lrelu():
    return nn.LeakyReLU(0.2)


def conv(cin, cout):
    return nn.Conv2d(cin, cout, 4, 2, 1)


def convt(cin, cout):
    return nn.ConvTranspose2d(cin, cout, 4, 2, 1)


def presets(name):
    """(latent size, conditional, generator, discriminator); every G maps (B, input) to (B, 784)
    in [-1, 1] and every D maps (B, input) to (B, 1) logits, as in trainer/src/models."""
    if name == "mlp":
        g = nn.Sequential(
            nn.Linear(100, 256), lrelu(),
            nn.Linear(256, 512), lrelu(),
            nn.Linear(512, 784), nn.Tanh(),
        )
        d = nn.Sequential(
            nn.Linear(784, 512), lrelu(),
            nn.Linear(512, 256), lrelu(),
            nn.Linear(256, 1),
        )
        return 100, False, g, d
    # (latent, generator input, FC channels, up channels, D widths); conditional ones add classes.
    if name == "dcgan":
        z, gin, c1, c2, d1, d2 = 100, 100, 128, 64, 64, 128
    elif name == "cdcgan":
        z, gin, c1, c2, d1, d2 = 100, 110, 128, 64, 64, 128
    elif name == "mcu":
        # firmware_core::arch: LATENT_DIM 32, FC_CHANNELS 64, UP1_CHANNELS 32; D at half width.
        z, gin, c1, c2, d1, d2 = 32, 32, 64, 32, 32, 64
    elif name == "cmcu":
        z, gin, c1, c2, d1, d2 = 22, 32, 64, 32, 32, 64
    else:
        raise SystemExit(f"unknown preset {name}")
    conditional = gin != z
    planes = 11 if conditional else 1
    g = nn.Sequential(
        nn.Linear(gin, c1 * 49), nn.Unflatten(1, (c1, 7, 7)), nn.BatchNorm2d(c1), nn.ReLU(),
        convt(c1, c2), nn.BatchNorm2d(c2), nn.ReLU(),
        convt(c2, 1), nn.Tanh(), nn.Flatten(),
    )
    d = nn.Sequential(
        nn.Unflatten(1, (planes, 28, 28)), conv(planes, d1), lrelu(),
        conv(d1, d2), nn.BatchNorm2d(d2), lrelu(),
        nn.Flatten(), nn.Linear(d2 * 49, 1),
    )
    return z, conditional, g, d


def read_idx(mnist_dir, name, magic, header):
    path = os.path.join(mnist_dir, name)
    opener = open
    if not os.path.exists(path):
        path, opener = path + ".gz", gzip.open
    with opener(path, "rb") as f:
        raw = f.read()
    assert int.from_bytes(raw[:4], "big") == magic, f"{path}: not an IDX file of this kind"
    return torch.frombuffer(bytearray(raw[header:]), dtype=torch.uint8)


def load_training_set(mnist_dir):
    """The 60,000 training images as (N, 784) float32 in [-1, 1], and their labels (raw or .gz)."""
    pixels = read_idx(mnist_dir, "train-images-idx3-ubyte", 0x803, 16).reshape(-1, 784)
    labels = read_idx(mnist_dir, "train-labels-idx1-ubyte", 0x801, 8).long()
    return pixels.float() / 127.5 - 1.0, labels


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="mcu", choices=["mcu", "mlp", "dcgan", "cmcu", "cdcgan"])
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--iterations", type=int, default=50)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", default=os.environ.get("MNIST_DIR"))
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if not args.data:
        sys.exit("gan_bench.py: pass --data DIR or set MNIST_DIR")

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    images, labels = load_training_set(args.data)
    latent, conditional, g, d = presets(args.model)
    g.train()
    d.train()
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999), eps=1e-8)
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999), eps=1e-8)
    batch = args.batch
    ones = torch.ones(batch, 1)
    zeros = torch.zeros(batch, 1)
    order = torch.randperm(len(images))
    cursor = 0

    def g_input(z, classes):
        return torch.cat([z, F.one_hot(classes, 10).float()], 1) if conditional else z

    def d_input(x, classes):
        if not conditional:
            return x
        planes = F.one_hot(classes, 10).float()[:, :, None].expand(-1, -1, 784).reshape(-1, 7840)
        return torch.cat([x, planes], 1)

    def iteration():
        nonlocal order, cursor
        if cursor + batch > len(order):
            order, cursor = torch.randperm(len(images)), 0
        picked = order[cursor:cursor + batch]
        cursor += batch
        real_classes = labels[picked]
        d_classes = torch.randint(0, 10, (batch,))
        g_classes = torch.randint(0, 10, (batch,))
        real = d_input(images[picked], real_classes)
        z_d = g_input(torch.randn(batch, latent), d_classes)
        z_g = g_input(torch.randn(batch, latent), g_classes)

        # Discriminator step: real → 1, fake (no gradient into G) → 0.
        with torch.no_grad():
            fake = g(z_d)
        opt_d.zero_grad(set_to_none=True)
        real_logits = d(real)
        fake_logits = d(d_input(fake, d_classes))
        loss_real = F.binary_cross_entropy_with_logits(real_logits, ones)
        loss_fake = F.binary_cross_entropy_with_logits(fake_logits, zeros)
        (loss_real + loss_fake).backward()
        opt_d.step()
        # The statistics the trainer logs every iteration.
        with torch.no_grad():
            d_real = torch.sigmoid(real_logits).mean().item()
            d_fake = torch.sigmoid(fake_logits).mean().item()
        d_loss = loss_real.item() + loss_fake.item()

        # Generator step, non-saturating: make D call fakes real.
        opt_g.zero_grad(set_to_none=True)
        loss_g = F.binary_cross_entropy_with_logits(d(d_input(g(z_g), g_classes)), ones)
        loss_g.backward()
        opt_g.step()
        return d_loss, loss_g.item(), d_real, d_fake

    for _ in range(args.warmup):
        iteration()
    times = []
    cpu_start = time.process_time()
    for _ in range(args.iterations):
        start = time.perf_counter()
        iteration()
        times.append(time.perf_counter() - start)
    # CPU time per iteration (all threads): less sensitive to other processes than wall time.
    cpu_ms = (time.process_time() - cpu_start) * 1e3 / args.iterations
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"framework=pytorch model={args.model} batch={batch} threads={torch.get_num_threads()} "
        f"warmup={args.warmup} iterations={args.iterations} "
        f"median_ms={statistics.median(times) * 1e3:.3f} min_ms={min(times) * 1e3:.3f} "
        f"max_ms={max(times) * 1e3:.3f} cpu_ms={cpu_ms:.3f} peak_rss_mib={peak_kib / 1024:.1f} "
        f"torch={torch.__version__}"
    )


if __name__ == "__main__":
    main()
