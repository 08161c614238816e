//! An exponential moving average of the generator's tensors (Yazici et al., "The Unusual
//! Effectiveness of Averaging in GAN Training", ICLR 2019): the averaged weights are free at
//! inference and smooth out the oscillation of the adversarial game, so the averaged generator,
//! not the raw one, is what the grids, the scores and the export use.
//!
//! Every tensor is averaged, the BatchNorm running statistics included, so the exported
//! normalisation follows the averaged weights (Yazici et al. average all of the generator's state
//! the same way).

use super::params::{collect, restore, TensorList};
use dfdx::nn::modules::TensorCollection;
use dfdx::prelude::*;

/// The averaged tensors and how many updates made them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Ema {
    /// The averages, in the model's tensor order.
    pub tensors: TensorList,
    /// Updates so far (the warm-up depends on it).
    pub updates: u64,
}

impl Ema {
    /// An average that starts at `model`'s tensors.
    pub fn new<M: TensorCollection<f32, Cpu>>(model: &M) -> Self {
        Ema {
            tensors: collect(model),
            updates: 0,
        }
    }

    /// The weight of the old average in update number `updates` (0-based): `decay`, but less
    /// while few updates were made, so the average does not hold on to the random
    /// initialisation (the warm-up of TensorFlow's `ExponentialMovingAverage`).
    pub fn effective_decay(decay: f32, updates: u64) -> f32 {
        let warm = (1.0 + updates as f64) / (10.0 + updates as f64);
        decay.min(warm as f32)
    }

    /// Moves the average towards `model`'s tensors now.
    pub fn update<M: TensorCollection<f32, Cpu>>(&mut self, model: &M, decay: f32) {
        let beta = Self::effective_decay(decay, self.updates);
        let now = collect(model);
        for (average, current) in self.tensors.tensors.iter_mut().zip(&now.tensors) {
            for (a, &c) in average.iter_mut().zip(current) {
                *a = beta * *a + (1.0 - beta) * c;
            }
        }
        self.updates += 1;
    }

    /// A model holding the averaged tensors; an error if they do not fit `M`.
    pub fn model<M: TensorCollection<f32, Cpu> + BuildModule<Cpu, f32>>(
        &self,
        dev: &Cpu,
    ) -> Result<M, String> {
        let mut m = M::build(dev);
        restore(&mut m, &self.tensors)?;
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Net = Linear<2, 1>;

    #[test]
    fn the_average_follows_the_weights_with_warm_up() {
        let dev = Cpu::seed_from_u64(0);
        let mut net = dev.build_module::<Net, f32>();
        let start = collect(&net);
        let mut ema = Ema::new(&net);
        assert_eq!(ema.tensors, start);
        // Constant weights: the average does not move (but for rounding).
        ema.update(&net, 0.999);
        let near = |a: &TensorList, b: &TensorList| {
            a.tensors
                .iter()
                .flatten()
                .zip(b.tensors.iter().flatten())
                .all(|(x, y)| (x - y).abs() < 1e-6)
        };
        assert!(near(&ema.tensors, &start));

        // Weights set to 1: the second update keeps 2/11 of the old average (warm-up).
        net.weight = dev.ones();
        net.bias = dev.ones();
        ema.update(&net, 0.999);
        assert_eq!(Ema::effective_decay(0.999, 1), 2.0 / 11.0);
        for (&a, &w) in ema.tensors.tensors[0].iter().zip(&start.tensors[0]) {
            assert!(
                (a - (2.0 / 11.0 * w + 9.0 / 11.0)).abs() < 1e-6,
                "{a} from {w}"
            );
        }
        assert_eq!(ema.updates, 2);

        // Late updates use the full decay.
        assert_eq!(Ema::effective_decay(0.999, 100_000), 0.999);
        let back: <Net as BuildOnDevice<Cpu, f32>>::Built = ema.model(&dev).unwrap();
        assert_eq!(collect(&back), ema.tensors);
    }
}
