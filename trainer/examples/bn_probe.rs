use dfdx::prelude::*;
use trainer::data::{load_split, Split, PIXELS};
use trainer::eval::{Evaluator, EVAL_SAMPLES};
use trainer::models::{generator_input, Cmcu, Mcu, ModelKind, Preset, Rows};
use trainer::train::batches::{normal_noise, stream, Purpose};
use trainer::train::params::restore;
use trainer::train::{
    balanced_classes, evaluation_latents, generate_with, validation_split, Checkpoint,
};

fn stats(v: &[f32], n: usize, c: usize, hw: usize, sum: &mut [f64], sq: &mut [f64]) {
    for b in 0..n {
        for ch in 0..c {
            for p in 0..hw {
                let x = v[(b * c + ch) * hw + p] as f64;
                sum[ch] += x;
                sq[ch] += x * x;
            }
        }
    }
}

fn main() {
    let run = std::env::args().nth(1).unwrap();
    let dir = std::path::PathBuf::from(std::env::var("MNIST_DIR").unwrap());
    let train = load_split(&dir, Split::Train).unwrap();
    let test = load_split(&dir, Split::Test).unwrap();
    let ck = Checkpoint::load(&std::path::Path::new(&run).join("checkpoint.bin")).unwrap();
    let (_, val) = validation_split(&train, ck.config.holdout);
    let e =
        Evaluator::prepare(&train, &test, &val, EVAL_SAMPLES, &mut |l| eprintln!("{l}")).unwrap();
    let dev = Cpu::default();
    let cond = ck.config.model == ModelKind::Cmcu;
    let mut g = <Mcu as Preset>::G::build(&dev);
    restore(&mut g, ck.inference_generator()).unwrap();
    let latent = ck.config.model.latent_dim();
    let lat = evaluation_latents(latent, EVAL_SAMPLES);
    let classes = balanced_classes(EVAL_SAMPLES);
    let score = |g: &<Mcu as Preset>::G, name: &str| {
        let px: Vec<u8> = if cond {
            generate_with::<Cmcu>(g, &dev, &lat, &classes)
        } else {
            generate_with::<Mcu>(g, &dev, &lat, &[])
        }
        .into_iter()
        .map(trainer::artifacts::grid::to_pixel)
        .collect();
        let q = e.score(&px, cond.then_some(&classes[..])).unwrap();
        println!(
            "{name:12} FID {:.3} P {:.3} R {:.3} min share {:.3} max {:.3} asked {:?}",
            q.fid,
            q.precision.unwrap(),
            q.recall.unwrap(),
            q.min_class_share,
            q.max_class_share,
            q.conditional_accuracy
        );
    };
    score(&g, "averaged");
    // Exact statistics over 10,000 fresh inputs.
    let n = 10_000;
    let z = normal_noise(&mut stream(99, Purpose::Sampling, 0), n, latent);
    let cls = balanced_classes(n);
    let input = if cond {
        generator_input::<Cmcu>(&z, &cls)
    } else {
        generator_input::<Mcu>(&z, &[])
    };
    let x: Rows<Const<32>> = dev.tensor_from_vec(input, (n, Const));
    let h1 = g.0 .1.forward(g.0 .0.forward(x.clone()));
    let (mut s, mut q) = (vec![0f64; 64], vec![0f64; 64]);
    stats(&h1.as_vec(), n, 64, 49, &mut s, &mut q);
    let m = (n * 49) as f64;
    let mean: Vec<f32> = s.iter().map(|v| (v / m) as f32).collect();
    let var: Vec<f32> = s
        .iter()
        .zip(&q)
        .map(|(a, b)| ((b - a * a / m) / (m - 1.0)) as f32)
        .collect();
    let before = g.0 .2.running_var.as_vec();
    println!("bn1 var averaged {:?} exact {:?}", &before[..4], &var[..4]);
    g.0 .2.running_mean.copy_from(&mean);
    g.0 .2.running_var.copy_from(&var);
    let h = g.0.forward(x);
    let h2 = g.1 .0.forward(h);
    let (mut s, mut q) = (vec![0f64; 32], vec![0f64; 32]);
    stats(&h2.as_vec(), n, 32, 196, &mut s, &mut q);
    let m = (n * 196) as f64;
    let mean: Vec<f32> = s.iter().map(|v| (v / m) as f32).collect();
    let var: Vec<f32> = s
        .iter()
        .zip(&q)
        .map(|(a, b)| ((b - a * a / m) / (m - 1.0)) as f32)
        .collect();
    println!(
        "bn2 var averaged {:?} exact {:?}",
        &g.1 .1.running_var.as_vec()[..4],
        &var[..4]
    );
    g.1 .1.running_mean.copy_from(&mean);
    g.1 .1.running_var.copy_from(&var);
    score(&g, "recomputed");
    let _ = PIXELS;
}
