//! Whole-model tests: a DCGAN generator and discriminator built from these layers and dfdx's,
//! trained for a step with Adam, saved and loaded by visiting tensors, and timed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use dfdx::nn::tensor_collection::{
    RecursiveWalker, TensorCollection, TensorOptions, TensorVisitor, ViewTensorMut, ViewTensorName,
    ViewTensorRef,
};
use dfdx::optim::Adam;
use dfdx::prelude::*;

// Named imports win over the prelude glob (which has dfdx's own, slower, LeakyReLU).
use super::{Conv2D, ConvTrans2D, Flatten, LeakyReLU, Unflatten};

type Generator = (
    (Linear<32, 3136>, Unflatten<64, 7, 7>, BatchNorm2D<64>, ReLU),
    (ConvTrans2D<64, 32, 4, 2, 1>, BatchNorm2D<32>, ReLU),
    (ConvTrans2D<32, 1, 4, 2, 1>, Tanh),
);
type Discriminator = (
    (Conv2D<1, 64, 4, 2, 1>, LeakyReLU),
    (Conv2D<64, 128, 4, 2, 1>, BatchNorm2D<128>, LeakyReLU),
    (Flatten, Linear<6272, 1>),
);
type G = <Generator as BuildOnDevice<Cpu, f32>>::Built;
type D = <Discriminator as BuildOnDevice<Cpu, f32>>::Built;

fn adam<M: TensorCollection<f32, Cpu>>(m: &M) -> Adam<M, f32, Cpu> {
    Adam::new(
        m,
        AdamConfig {
            lr: 2e-4,
            betas: [0.5, 0.999],
            ..Default::default()
        },
    )
}

fn all_finite(v: &[f32]) -> bool {
    v.iter().all(|x| x.is_finite())
}

/// One discriminator step and one generator step of a DCGAN at batch size `B`, checking shapes,
/// gradients and that Adam moved every layer's parameters. Returns the step times.
fn gan_step<const B: usize>() -> (Duration, Duration) {
    let dev = Cpu::seed_from_u64(0);
    let mut g: G = dev.build_module::<Generator, f32>();
    let mut d: D = dev.build_module::<Discriminator, f32>();
    let (mut g_opt, mut d_opt) = (adam(&g), adam(&d));
    let mut g_grads = g.alloc_grads();
    let mut d_grads = d.alloc_grads();

    let real: Tensor<Rank4<B, 1, 28, 28>, f32, _> =
        dev.sample_uniform::<Rank4<B, 1, 28, 28>>() * 2.0 - 1.0;
    let z: Tensor<Rank2<B, 32>, f32, _> = dev.sample_normal();
    let ones: Tensor<Rank2<B, 1>, f32, _> = dev.ones();
    let zeros: Tensor<Rank2<B, 1>, f32, _> = dev.zeros();

    let d_before = (
        d.0 .0.weight.as_vec(),
        d.1 .0.weight.as_vec(),
        d.1 .0.bias.as_vec(),
    );
    let g_before = (
        g.1 .0.weight.as_vec(),
        g.2 .0.weight.as_vec(),
        g.2 .0.bias.as_vec(),
    );

    // Discriminator step: real → 1, fake (detached) → 0.
    let t0 = Instant::now();
    let fake = g.forward_mut(z.leaky_trace()).retaped::<NoneTape>();
    let real_logits = d.forward_mut(real.trace(d_grads));
    let loss_real = binary_cross_entropy_with_logits_loss(real_logits, ones.clone());
    let fake_logits = d.forward_mut(fake.traced(loss_real.backward()));
    let loss_fake = binary_cross_entropy_with_logits_loss(fake_logits, zeros);
    let d_loss = loss_fake.array();
    d_grads = loss_fake.backward();
    for (name, grad) in [
        ("D conv1 weight", d_grads.get(&d.0 .0.weight).as_vec()),
        ("D conv1 bias", d_grads.get(&d.0 .0.bias).as_vec()),
        ("D conv2 weight", d_grads.get(&d.1 .0.weight).as_vec()),
        ("D conv2 bias", d_grads.get(&d.1 .0.bias).as_vec()),
    ] {
        assert!(all_finite(&grad), "{name}: non-finite gradient");
        assert!(grad.iter().any(|&v| v != 0.0), "{name}: zero gradient");
    }
    d_opt
        .update(&mut d, &d_grads)
        .expect("all D parameters have gradients");
    d.zero_grads(&mut d_grads);
    let d_time = t0.elapsed();

    // Generator step: make D call fakes real.
    let t0 = Instant::now();
    let fake = g.forward_mut(z.clone().trace(g_grads));
    assert!(all_finite(&fake.as_vec()));
    let g_loss_t = binary_cross_entropy_with_logits_loss(d.forward_mut(fake), ones);
    let g_loss = g_loss_t.array();
    g_grads = g_loss_t.backward();
    for (name, grad) in [
        ("G convT1 weight", g_grads.get(&g.1 .0.weight).as_vec()),
        ("G convT1 bias", g_grads.get(&g.1 .0.bias).as_vec()),
        ("G convT2 weight", g_grads.get(&g.2 .0.weight).as_vec()),
        ("G convT2 bias", g_grads.get(&g.2 .0.bias).as_vec()),
        ("G linear weight", g_grads.get(&g.0 .0.weight).as_vec()),
    ] {
        assert!(all_finite(&grad), "{name}: non-finite gradient");
        assert!(grad.iter().any(|&v| v != 0.0), "{name}: zero gradient");
    }
    g_opt
        .update(&mut g, &g_grads)
        .expect("all G parameters have gradients");
    g.zero_grads(&mut g_grads);
    let g_time = t0.elapsed();

    assert!(
        d_loss.is_finite() && g_loss.is_finite(),
        "losses {d_loss} {g_loss}"
    );
    assert_ne!(d.0 .0.weight.as_vec(), d_before.0, "Adam updated D conv1");
    assert_ne!(d.1 .0.weight.as_vec(), d_before.1, "Adam updated D conv2");
    assert_ne!(
        d.1 .0.bias.as_vec(),
        d_before.2,
        "Adam updated D conv2 bias"
    );
    assert_ne!(g.1 .0.weight.as_vec(), g_before.0, "Adam updated G convT1");
    assert_ne!(g.2 .0.weight.as_vec(), g_before.1, "Adam updated G convT2");
    assert_ne!(
        g.2 .0.bias.as_vec(),
        g_before.2,
        "Adam updated G convT2 bias"
    );

    // Inference (NoneTape, running statistics).
    let images: Tensor<Rank4<B, 1, 28, 28>, f32, _> = g.forward(z);
    assert!(images.as_vec().iter().all(|v| (-1.0..=1.0).contains(v)));
    let logits: Tensor<Rank2<B, 1>, f32, _> = d.forward(images);
    assert!(all_finite(&logits.as_vec()));
    (d_time, g_time)
}

#[test]
fn dcgan_train_step_batch_4() {
    gan_step::<4>();
}

#[test]
fn dcgan_train_step_batch_64() {
    let (d, g) = gan_step::<64>();
    println!("DCGAN batch 64, first (cold) steps: D step {d:.1?}, G step {g:.1?}");
}

#[test]
fn runtime_batch_size_and_f64() {
    let dev: Cpu = Default::default();
    let g = dev.build_module::<Generator, f64>();
    let d = dev.build_module::<Discriminator, f64>();
    let z = dev.sample_normal_like(&(3usize, Const::<32>));
    let images = g.forward(z);
    assert_eq!(images.shape().0, 3);
    let logits: Tensor<(usize, Const<1>), f64, _> = d.forward(images);
    assert_eq!(logits.shape().0, 3);
}

#[test]
fn to_dtype_keeps_the_function() {
    // `TensorCollection::To` lets dfdx convert whole models (here f32 → f64).
    let dev = Cpu::seed_from_u64(5);
    let d = dev.build_module::<Discriminator, f32>();
    let d64 = d.to_dtype::<f64>();
    let x: Tensor<Rank4<2, 1, 28, 28>, f32, _> = dev.sample_normal();
    let y32 = d.forward(x.clone()).as_vec();
    let y64 = d64.forward(x.to_dtype::<f64>()).as_vec();
    for (a, b) in y32.iter().zip(&y64) {
        assert!(
            (f64::from(*a) - b).abs() < 1e-3 * (1.0 + b.abs()),
            "{a} vs {b}"
        );
    }
}

/// Collects every tensor by its path ("0.0.weight", …).
struct Save(BTreeMap<String, Vec<f32>>);
impl TensorVisitor<f32, Cpu> for Save {
    type Viewer = (ViewTensorRef, ViewTensorName);
    type Err = std::convert::Infallible;
    type E2 = f32;
    type D2 = Cpu;
    fn visit<S: Shape>(
        &mut self,
        _: TensorOptions<S, f32, Cpu>,
        (t, name): (&Tensor<S, f32, Cpu>, String),
    ) -> Result<Option<Tensor<S, f32, Cpu>>, Self::Err> {
        self.0.insert(name, t.as_vec());
        Ok(None)
    }
}

/// Writes every tensor back from a `Save`d map.
struct Load(BTreeMap<String, Vec<f32>>);
impl TensorVisitor<f32, Cpu> for Load {
    type Viewer = (ViewTensorMut, ViewTensorName);
    type Err = String;
    type E2 = f32;
    type D2 = Cpu;
    fn visit<S: Shape>(
        &mut self,
        _: TensorOptions<S, f32, Cpu>,
        (t, name): (&mut Tensor<S, f32, Cpu>, String),
    ) -> Result<Option<Tensor<S, f32, Cpu>>, Self::Err> {
        let v = self.0.get(&name).ok_or_else(|| format!("missing {name}"))?;
        t.copy_from(v);
        Ok(None)
    }
}

fn save<M: TensorCollection<f32, Cpu>>(m: &M) -> BTreeMap<String, Vec<f32>> {
    let mut s = Save(BTreeMap::new());
    let Ok(_) = M::iter_tensors(&mut RecursiveWalker {
        m: (m, String::new()),
        f: &mut s,
    });
    s.0
}

fn load<M: TensorCollection<f32, Cpu>>(m: &mut M, tensors: BTreeMap<String, Vec<f32>>) {
    M::iter_tensors(&mut RecursiveWalker {
        m: (m, String::new()),
        f: &mut Load(tensors),
    })
    .unwrap();
}

#[test]
fn save_and_load_by_visiting_tensors() {
    let dev = Cpu::seed_from_u64(1);
    let g = dev.build_module::<Generator, f32>();
    let d = dev.build_module::<Discriminator, f32>();
    let (gs, ds) = (save(&g), save(&d));
    for key in ["1.0.weight", "1.0.bias", "2.0.weight", "2.0.bias"] {
        assert!(gs.contains_key(key), "G has {key}: {:?}", gs.keys());
    }
    for key in [
        "0.0.weight",
        "0.0.bias",
        "1.0.weight",
        "1.0.bias",
        "2.1.weight",
    ] {
        assert!(ds.contains_key(key), "D has {key}: {:?}", ds.keys());
    }
    assert_eq!(ds["1.0.weight"].len(), 128 * 64 * 4 * 4);
    assert_eq!(gs["1.0.weight"].len(), 64 * 32 * 4 * 4);

    // A differently seeded model takes on the saved parameters and then computes the same thing.
    let dev2 = Cpu::seed_from_u64(2);
    let mut g2 = dev2.build_module::<Generator, f32>();
    let mut d2 = dev2.build_module::<Discriminator, f32>();
    let z: Tensor<Rank2<2, 32>, f32, _> = dev.sample_normal();
    assert_ne!(
        g2.forward(z.clone()).as_vec(),
        g.forward(z.clone()).as_vec()
    );
    load(&mut g2, gs);
    load(&mut d2, ds);
    assert_eq!(
        g2.forward(z.clone()).as_vec(),
        g.forward(z.clone()).as_vec()
    );
    let x = g.forward(z);
    assert_eq!(d2.forward(x.clone()).as_vec(), d.forward(x).as_vec());
    assert_eq!(d.num_trainable_params(), d2.num_trainable_params());
}

#[test]
fn default_init_bounds_follow_pytorch() {
    let dev = Cpu::seed_from_u64(3);
    let c = dev.build_module::<Conv2D<64, 128, 4, 2, 1>, f32>();
    let bound = 1.0 / ((64 * 16) as f32).sqrt();
    let w = c.weight.as_vec();
    assert!(w.iter().all(|v| v.abs() <= bound));
    assert!(
        w.iter().any(|v| v.abs() > 0.9 * bound),
        "uses the whole range"
    );
    assert!(c.bias.as_vec().iter().all(|v| v.abs() <= bound));
    let t = dev.build_module::<ConvTrans2D<64, 32, 4, 2, 1>, f32>();
    let bound = 1.0 / ((32 * 16) as f32).sqrt(); // PyTorch's fan-in for ConvTranspose2d: OUT·K·K
    let w = t.weight.as_vec();
    assert!(w.iter().all(|v| v.abs() <= bound));
    assert!(w.iter().any(|v| v.abs() > 0.9 * bound));
}

/// Median wall time of `f` over `runs` runs, after one warm-up run.
fn median_time(runs: usize, mut f: impl FnMut()) -> Duration {
    f();
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

/// Forward + backward of one layer at batch 64 (input traced, loss = sum of outputs).
fn time_layer<M, I: Shape, O: Shape>(m: &M, x: &Tensor<I, f32, Cpu>) -> (Duration, Duration)
where
    M: Module<Tensor<I, f32, Cpu>, Output = Tensor<O, f32, Cpu>>
        + Module<
            Tensor<I, f32, Cpu, OwnedTape<f32, Cpu>>,
            Output = Tensor<O, f32, Cpu, OwnedTape<f32, Cpu>>,
        >,
{
    let fwd = median_time(5, || drop(m.forward(x.clone())));
    let fwd_bwd = median_time(5, || drop(m.forward(x.leaky_trace()).sum().backward()));
    (fwd, fwd_bwd)
}

#[test]
fn timing_batch_64() {
    // Not asserted; run with `-- --nocapture` to see. Times depend on the machine and its load.
    let dev = Cpu::seed_from_u64(4);
    let mut report = Vec::new();

    let conv = dev.build_module::<Conv2D<64, 128, 4, 2, 1>, f32>();
    let x: Tensor<Rank4<64, 64, 14, 14>, f32, _> = dev.sample_normal();
    report.push(("D Conv2D 64→128, 14×14 → 7×7", time_layer(&conv, &x)));

    let conv1 = dev.build_module::<Conv2D<1, 64, 4, 2, 1>, f32>();
    let x1: Tensor<Rank4<64, 1, 28, 28>, f32, _> = dev.sample_normal();
    report.push(("D Conv2D 1→64, 28×28 → 14×14", time_layer(&conv1, &x1)));

    let up = dev.build_module::<ConvTrans2D<64, 32, 4, 2, 1>, f32>();
    let x: Tensor<Rank4<64, 64, 7, 7>, f32, _> = dev.sample_normal();
    report.push(("G ConvTrans2D 64→32, 7×7 → 14×14", time_layer(&up, &x)));

    let up = dev.build_module::<ConvTrans2D<128, 64, 4, 2, 1>, f32>();
    let x: Tensor<Rank4<64, 128, 7, 7>, f32, _> = dev.sample_normal();
    report.push(("G ConvTrans2D 128→64, 7×7 → 14×14", time_layer(&up, &x)));

    let up2 = dev.build_module::<ConvTrans2D<32, 1, 4, 2, 1>, f32>();
    let x: Tensor<Rank4<64, 32, 14, 14>, f32, _> = dev.sample_normal();
    report.push(("G ConvTrans2D 32→1, 14×14 → 28×28", time_layer(&up2, &x)));

    let x: Tensor<Rank4<64, 64, 14, 14>, f32, _> = dev.sample_normal();
    report.push((
        "LeakyReLU (fused), 64×64×14×14",
        time_layer(&LeakyReLU::<200>, &x),
    ));
    report.push((
        "dfdx LeakyReLU, 64×64×14×14",
        time_layer(&dfdx::nn::modules::LeakyReLU(0.2f32), &x),
    ));
    report.push(("dfdx ReLU, 64×64×14×14", time_layer(&ReLU, &x)));

    println!("batch 64, f32, {} threads, median of 5:", rayon_threads());
    for (name, (fwd, fwd_bwd)) in report {
        println!("  {name:<36} forward {fwd:>9.2?}   forward+backward {fwd_bwd:>9.2?}");
    }
    let (d_step, g_step) = dcgan_steps_batch_64();
    println!(
        "  whole DCGAN (G 100→128·7·7→ConvT 64→ConvT 1, D Conv 64→Conv 128+BN→Linear), Adam, median \
         of 3 steps: D step {d_step:.1?}, G step {g_step:.1?}, together {:.1?}",
        d_step + g_step
    );
}

/// The DCGAN of the project notes (to compare with their table; G ends in `Flatten`, D starts with
/// `Unflatten`, as in the trainer's `dcgan` preset), Adam, batch 64: median D-step and
/// G-step times over 3 steps after one warm-up step.
fn dcgan_steps_batch_64() -> (Duration, Duration) {
    type Gen = (
        (
            Linear<100, 6272>,
            Unflatten<128, 7, 7>,
            BatchNorm2D<128>,
            ReLU,
        ),
        (ConvTrans2D<128, 64, 4, 2, 1>, BatchNorm2D<64>, ReLU),
        (ConvTrans2D<64, 1, 4, 2, 1>, Tanh, Flatten),
    );
    type Disc = (
        (Unflatten<1, 28, 28>, Conv2D<1, 64, 4, 2, 1>, LeakyReLU),
        (Conv2D<64, 128, 4, 2, 1>, BatchNorm2D<128>, LeakyReLU),
        (Flatten, Linear<6272, 1>),
    );
    let dev = Cpu::seed_from_u64(6);
    let mut g = dev.build_module::<Gen, f32>();
    let mut d = dev.build_module::<Disc, f32>();
    let (mut g_opt, mut d_opt) = (adam(&g), adam(&d));
    let mut g_grads = g.alloc_grads();
    let mut d_grads = d.alloc_grads();
    // Images travel flattened, (64, 784), as in the trainer's presets.
    let real: Tensor<Rank2<64, 784>, f32, _> = dev.sample_uniform::<Rank2<64, 784>>() * 2.0 - 1.0;
    let ones: Tensor<Rank2<64, 1>, f32, _> = dev.ones();
    let zeros: Tensor<Rank2<64, 1>, f32, _> = dev.zeros();
    let bce = binary_cross_entropy_with_logits_loss;
    let mut times = Vec::new();
    for _ in 0..4 {
        let z: Tensor<Rank2<64, 100>, f32, _> = dev.sample_normal();
        let t0 = Instant::now();
        let fake = g.forward_mut(z.leaky_trace()).retaped::<NoneTape>();
        let loss = bce(d.forward_mut(real.clone().trace(d_grads)), ones.clone());
        let loss = bce(d.forward_mut(fake.traced(loss.backward())), zeros.clone());
        d_grads = loss.backward();
        d_opt.update(&mut d, &d_grads).unwrap();
        d.zero_grads(&mut d_grads);
        let t1 = Instant::now();
        let loss = bce(d.forward_mut(g.forward_mut(z.trace(g_grads))), ones.clone());
        g_grads = loss.backward();
        g_opt.update(&mut g, &g_grads).unwrap();
        g.zero_grads(&mut g_grads);
        times.push((t1 - t0, t1.elapsed()));
    }
    let mut d_times: Vec<Duration> = times[1..].iter().map(|t| t.0).collect();
    let mut g_times: Vec<Duration> = times[1..].iter().map(|t| t.1).collect();
    d_times.sort();
    g_times.sort();
    (d_times[1], g_times[1])
}

fn rayon_threads() -> String {
    std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| {
        std::thread::available_parallelism().map_or("?".into(), |n| n.to_string())
    })
}

/// Under [`super::freeze_parameters`] every layer kind still passes exactly the same gradient to
/// its input, but records none for its parameters; the guard ends with its scope.
#[test]
fn frozen_parameters_pass_input_gradients_and_record_none() {
    use super::{freeze_parameters, gradients::parameter_grads_wanted, LabelConv2D};
    type Model = (
        super::Linear<44, 44>,
        LabelConv2D<3, 2, 4, 4, 2, 1, 6, 7>,
        super::BatchNorm2D<4>,
        LeakyReLU,
        Conv2D<4, 2, 3, 1, 1>,
        ConvTrans2D<2, 3, 4, 2, 1>,
    );
    let dev = Cpu::seed_from_u64(5);
    let mut m = dev.build_module::<Model, f64>();
    let mut frozen_m = m.clone();
    let x: Tensor<Rank2<2, 44>, f64, _> = dev.sample_normal();

    let free = m.forward_mut(x.leaky_trace()).square().sum().backward();
    assert!(parameter_grads_wanted());
    let y = {
        let _frozen = freeze_parameters();
        assert!(!parameter_grads_wanted());
        frozen_m.forward_mut(x.leaky_trace())
    };
    assert!(parameter_grads_wanted());
    let frozen = y.square().sum().backward();
    assert_eq!(frozen.get(&x).as_vec(), free.get(&x).as_vec());

    let missing = |f: &dyn Fn()| std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_err();
    // The unfrozen pass has every parameter gradient; the frozen one none.
    let fm = &frozen_m;
    let _ = free.get(&m.0.weight);
    let _ = free.get(&m.5.bias);
    assert!(missing(&|| drop(frozen.get(&fm.0.weight))));
    assert!(missing(&|| drop(frozen.get(&fm.0.bias))));
    assert!(missing(&|| drop(frozen.get(&fm.1.weight))));
    assert!(missing(&|| drop(frozen.get(&fm.1.bias))));
    assert!(missing(&|| drop(frozen.get(&fm.2.scale))));
    assert!(missing(&|| drop(frozen.get(&fm.2.bias))));
    assert!(missing(&|| drop(frozen.get(&fm.4.weight))));
    assert!(missing(&|| drop(frozen.get(&fm.4.bias))));
    assert!(missing(&|| drop(frozen.get(&fm.5.weight))));
    assert!(missing(&|| drop(frozen.get(&fm.5.bias))));
}

/// Under [`super::data_input`] the first layer computes no input gradient but the same parameter
/// gradients; the mark goes to the first layer of this module only, whatever its kind.
#[test]
fn data_input_skips_only_the_first_layers_input_gradient() {
    use super::{data_input, BatchNorm2D, LabelConv2D, Linear as OwnLinear};
    let missing = |f: &dyn Fn()| std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_err();
    let dev = Cpu::seed_from_u64(6);

    // Runs `m` on `x` with and without the mark; returns both gradient stores.
    macro_rules! both {
        ($m:expr, $x:expr) => {{
            let mut a = $m.clone();
            let mut b = $m.clone();
            let free = a.forward_mut($x.leaky_trace()).square().sum().backward();
            let y = {
                let _data = data_input();
                b.forward_mut($x.leaky_trace())
            };
            (free, y.square().sum().backward())
        }};
    }

    // A label convolution first: no input gradient, the same parameter gradients.
    let m = dev.build_module::<(
        LabelConv2D<3, 2, 4, 4, 2, 1, 6, 7>,
        LeakyReLU,
        Conv2D<4, 2, 3, 1, 1>,
    ), f64>();
    let x: Tensor<Rank2<2, 44>, f64, _> = dev.sample_normal();
    let (free, data) = both!(m, x);
    assert!(missing(&|| drop(data.get(&x))));
    let _ = free.get(&x);
    assert_eq!(
        free.get(&m.0.weight).as_vec(),
        data.get(&m.0.weight).as_vec()
    );
    assert_eq!(
        free.get(&m.2.weight).as_vec(),
        data.get(&m.2.weight).as_vec()
    );
    assert_eq!(free.get(&m.0.bias).as_vec(), data.get(&m.0.bias).as_vec());

    // A convolution first.
    let m = dev.build_module::<(Conv2D<3, 4, 4, 2, 1>, BatchNorm2D<4>, LeakyReLU), f64>();
    let x: Tensor<Rank4<2, 3, 6, 7>, f64, _> = dev.sample_normal();
    let (free, data) = both!(m, x);
    assert!(missing(&|| drop(data.get(&x))));
    assert_eq!(
        free.get(&m.0.weight).as_vec(),
        data.get(&m.0.weight).as_vec()
    );
    assert_eq!(free.get(&m.1.scale).as_vec(), data.get(&m.1.scale).as_vec());

    // A linear layer first.
    let m = dev.build_module::<(OwnLinear<44, 8>, LeakyReLU, OwnLinear<8, 3>), f64>();
    let x: Tensor<Rank2<2, 44>, f64, _> = dev.sample_normal();
    let (free, data) = both!(m, x);
    assert!(missing(&|| drop(data.get(&x))));
    assert_eq!(
        free.get(&m.0.weight).as_vec(),
        data.get(&m.0.weight).as_vec()
    );
    assert_eq!(
        free.get(&m.2.weight).as_vec(),
        data.get(&m.2.weight).as_vec()
    );

    // A layer that ignores the mark still takes it: the convolution after it is unaffected.
    let m = dev.build_module::<(BatchNorm2D<3>, Conv2D<3, 4, 4, 2, 1>), f64>();
    let x: Tensor<Rank4<2, 3, 6, 7>, f64, _> = dev.sample_normal();
    let (free, data) = both!(m, x);
    assert_eq!(free.get(&x).as_vec(), data.get(&x).as_vec());

    // An unused mark ends with its guard.
    drop(data_input());
    let m = dev.build_module::<Conv2D<3, 4, 4, 2, 1>, f64>();
    let g = m.forward(x.leaky_trace()).sum().backward();
    let _ = g.get(&x);
}
