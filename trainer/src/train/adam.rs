//! Adam (Kingma & Ba) with its state in plain vectors, so it can be checkpointed and resumed
//! exactly (dfdx's own `Adam` keeps its moments private).

use dfdx::nn::modules::{
    RecursiveWalker, TensorCollection, TensorOptions, TensorVisitor, ViewTensorMut,
};
use dfdx::prelude::*;
use trainer_kernels::Simd;

/// Adam hyper-parameters and state.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Adam {
    /// Learning rate.
    pub lr: f32,
    /// Exponential decay rates of the first and second moments.
    pub betas: [f32; 2],
    /// Denominator guard.
    pub eps: f32,
    /// Steps taken.
    pub step: u64,
    /// First moments, one vector per trainable tensor in visiting order.
    pub m: Vec<Vec<f32>>,
    /// Second moments, likewise.
    pub v: Vec<Vec<f32>>,
}

impl Adam {
    /// Fresh state.
    pub fn new(lr: f32, betas: [f32; 2], eps: f32) -> Self {
        Adam {
            lr,
            betas,
            eps,
            step: 0,
            m: Vec::new(),
            v: Vec::new(),
        }
    }

    /// One update of every trainable tensor of `model` from `grads`. Tensors the optimiser does
    /// not train (BatchNorm running statistics) are skipped.
    pub fn update<M: TensorCollection<f32, Cpu>>(
        &mut self,
        model: &mut M,
        grads: &Gradients<f32, Cpu>,
    ) {
        self.walk(model, Grads::Shared(grads));
    }

    /// [`update`](Self::update), then zeroes the gradients it used, in the same pass over them
    /// (what `update` followed by `model.zero_grads(grads)` does, without copying the gradients
    /// or walking them twice).
    pub fn update_and_zero<M: TensorCollection<f32, Cpu>>(
        &mut self,
        model: &mut M,
        grads: &mut Gradients<f32, Cpu>,
    ) {
        self.walk(model, Grads::Owned(grads));
    }

    fn walk<M: TensorCollection<f32, Cpu>>(&mut self, model: &mut M, grads: Grads<'_>) {
        self.step += 1;
        let mut visitor = Step {
            adam: self,
            grads,
            slot: 0,
            weights: Vec::new(),
        };
        // The CPU device cannot fail here.
        let _ = M::iter_tensors(&mut RecursiveWalker {
            m: model,
            f: &mut visitor,
        });
    }
}

enum Grads<'a> {
    Shared(&'a Gradients<f32, Cpu>),
    Owned(&'a mut Gradients<f32, Cpu>),
}

struct Step<'a> {
    adam: &'a mut Adam,
    grads: Grads<'a>,
    slot: usize,
    /// Scratch for one tensor's weights (dfdx lends no mutable view of a tensor's storage).
    weights: Vec<f32>,
}

impl TensorVisitor<f32, Cpu> for Step<'_> {
    type Viewer = ViewTensorMut;
    type Err = <Cpu as HasErr>::Err;
    type E2 = f32;
    type D2 = Cpu;

    fn visit<S: Shape>(
        &mut self,
        opts: TensorOptions<S, f32, Cpu>,
        p: &mut Tensor<S, f32, Cpu>,
    ) -> Result<Option<Tensor<S, f32, Cpu>>, Self::Err> {
        if !opts.do_gradient_update {
            return Ok(None);
        }
        let adam = &mut *self.adam;
        let n = p.shape().num_elements();
        if adam.m.len() == self.slot {
            adam.m.push(vec![0.0; n]);
            adam.v.push(vec![0.0; n]);
        }
        let [b1, b2] = adam.betas;
        let t = adam.step as i32;
        let c = Consts {
            lr: adam.lr,
            b1,
            b2,
            c1: 1.0 - b1.powi(t),
            c2: 1.0 - b2.powi(t),
            eps: adam.eps,
        };
        self.weights.resize(n, 0.0);
        p.copy_into(&mut self.weights);
        let (m, v) = (&mut adam.m[self.slot], &mut adam.v[self.slot]);
        match &mut self.grads {
            Grads::Shared(grads) => {
                let mut g = grads.get(p).as_vec();
                update_slices(c, &mut self.weights, &mut g, m, v, false);
            }
            Grads::Owned(grads) => {
                let g: &mut Vec<f32> = grads.get_or_alloc_mut(p)?;
                update_slices(c, &mut self.weights, g, m, v, true);
            }
        }
        p.copy_from(&self.weights);
        self.slot += 1;
        Ok(None)
    }
}

/// The per-step constants: learning rate, betas, bias corrections `1 − βᵗ`, epsilon.
#[derive(Clone, Copy)]
struct Consts {
    lr: f32,
    b1: f32,
    b2: f32,
    c1: f32,
    c2: f32,
    eps: f32,
}

/// Elements per thread task: large tensors are split over the rayon threads (every element is
/// independent, so the split cannot change any result).
const CHUNK: usize = 1 << 15;

fn update_slices(
    c: Consts,
    w: &mut [f32],
    g: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    zero: bool,
) {
    update_slices_on(Simd::detect(), c, w, g, m, v, zero);
}

/// [`update_slices`] on the `simd` path.
fn update_slices_on(
    simd: Simd,
    c: Consts,
    w: &mut [f32],
    g: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    zero: bool,
) {
    assert!(g.len() == w.len() && m.len() == w.len() && v.len() == w.len());
    if w.len() <= CHUNK {
        update_chunk(simd, c, w, g, m, v, zero);
        return;
    }
    use rayon::prelude::*;
    w.par_chunks_mut(CHUNK)
        .zip(g.par_chunks_mut(CHUNK))
        .zip(m.par_chunks_mut(CHUNK))
        .zip(v.par_chunks_mut(CHUNK))
        .for_each(|(((w, g), m), v)| update_chunk(simd, c, w, g, m, v, zero));
}

fn update_chunk(
    simd: Simd,
    c: Consts,
    w: &mut [f32],
    g: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    zero: bool,
) {
    match simd {
        #[cfg(target_arch = "x86_64")]
        Simd::Avx512(_) => {
            #[allow(unsafe_code)]
            // SAFETY: `update_avx512` needs AVX-512F, and a `Simd::Avx512` value exists only where
            // `Simd::available` found it.
            unsafe {
                update_avx512(c, w, g, m, v, zero)
            }
        }
        #[cfg(target_arch = "x86_64")]
        Simd::Avx2(_) => {
            #[allow(unsafe_code)]
            // SAFETY: `update_avx2` needs AVX2 and FMA, and a `Simd::Avx2` value exists only
            // where `Simd::available` found both.
            unsafe {
                update_avx2(c, w, g, m, v, zero)
            }
        }
        _ => update_portable(c, w, g, m, v, zero),
    }
}

/// The same loop compiled with AVX-512 enabled. Rust never fuses a multiply and an add, and
/// vector division and square root round exactly like scalar ones, so the results are
/// bit-identical to [`update_portable`]'s.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn update_avx512(
    c: Consts,
    w: &mut [f32],
    g: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    zero: bool,
) {
    update_portable(c, w, g, m, v, zero);
}

/// The same loop compiled with AVX2 and FMA enabled (8 lanes instead of SSE2's 4); bit-identical
/// to [`update_portable`]'s for the same reasons as [`update_avx512`]'s (with FMA enabled the
/// compiler still fuses nothing: only an explicit `mul_add` is fused, and this loop has none).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn update_avx2(c: Consts, w: &mut [f32], g: &mut [f32], m: &mut [f32], v: &mut [f32], zero: bool) {
    update_portable(c, w, g, m, v, zero);
}

/// Adam for one slice (and `g = 0` afterwards when `zero`).
#[inline(always)]
fn update_portable(
    c: Consts,
    w: &mut [f32],
    g: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    zero: bool,
) {
    for (((w, g), m), v) in w.iter_mut().zip(g.iter_mut()).zip(m).zip(v) {
        let gi = *g;
        *m = c.b1 * *m + (1.0 - c.b1) * gi;
        *v = c.b2 * *v + (1.0 - c.b2) * gi * gi;
        let m_hat = *m / c.c1;
        let v_hat = *v / c.c2;
        *w -= c.lr * m_hat / (v_hat.sqrt() + c.eps);
        if zero {
            *g = 0.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Adam as written in the paper (Kingma & Ba, Algorithm 1), one element at a time.
    fn reference(w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], step: i32) {
        let (lr, b1, b2, eps) = (2e-4f32, 0.5f32, 0.999f32, 1e-8f32);
        for i in 0..w.len() {
            m[i] = b1 * m[i] + (1.0 - b1) * g[i];
            v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
            let m_hat = m[i] / (1.0 - b1.powi(step));
            let v_hat = v[i] / (1.0 - b2.powi(step));
            w[i] -= lr * m_hat / (v_hat.sqrt() + eps);
        }
    }

    /// Every path this CPU runs (whatever `TRAINER_SIMD` says), against the reference.
    #[test]
    fn every_path_equals_the_reference_bit_for_bit() {
        for simd in Simd::available() {
            path_equals_the_reference_bit_for_bit(simd);
        }
    }

    fn path_equals_the_reference_bit_for_bit(simd: Simd) {
        use rand::{rngs::StdRng, Rng, SeedableRng};
        let mut rng = StdRng::seed_from_u64(1);
        // Longer than one chunk, and not a multiple of the vector width or of a chunk.
        let n = 3 * CHUNK + 37;
        let mut rand = |s: f32| -> Vec<f32> { (0..n).map(|_| rng.gen_range(-s..s)).collect() };
        let (w0, m0, v0) = (
            rand(1.0),
            rand(0.1),
            rand(0.01).iter().map(|x| x.abs()).collect::<Vec<_>>(),
        );
        let (mut w_ref, mut m_ref, mut v_ref) = (w0.clone(), m0.clone(), v0.clone());
        let (mut w, mut m, mut v) = (w0, m0, v0);
        for step in 1..=3 {
            let g = rand(0.5);
            reference(&mut w_ref, &g, &mut m_ref, &mut v_ref, step);
            let c = Consts {
                lr: 2e-4,
                b1: 0.5,
                b2: 0.999,
                c1: 1.0 - 0.5f32.powi(step),
                c2: 1.0 - 0.999f32.powi(step),
                eps: 1e-8,
            };
            let mut g_used = g.clone();
            update_slices_on(simd, c, &mut w, &mut g_used, &mut m, &mut v, true);
            assert!(g_used.iter().all(|&x| x == 0.0), "{simd}: gradients zeroed");
        }
        assert_eq!(w, w_ref, "{simd}");
        assert_eq!(m, m_ref, "{simd}");
        assert_eq!(v, v_ref, "{simd}");
    }

    #[test]
    fn update_and_zero_equals_update_then_zero_grads() {
        let dev = Cpu::seed_from_u64(2);
        type Net = (
            dfdx::nn::builders::Linear<5, 40000>,
            dfdx::nn::builders::Linear<40000, 2>,
        );
        let net = dev.build_module::<Net, f32>();
        let (mut a, mut b) = (net.clone(), net);
        let (mut opt_a, mut opt_b) = (
            Adam::new(1e-3, [0.5, 0.999], 1e-8),
            Adam::new(1e-3, [0.5, 0.999], 1e-8),
        );
        let (mut ga, mut gb) = (a.alloc_grads(), b.alloc_grads());
        for _ in 0..2 {
            let x: Tensor<Rank2<3, 5>, f32, _> = dev.sample_normal();
            ga = a.forward(x.clone().traced(ga)).square().sum().backward();
            gb = b.forward(x.traced(gb)).square().sum().backward();
            opt_a.update(&mut a, &ga);
            a.zero_grads(&mut ga);
            opt_b.update_and_zero(&mut b, &mut gb);
        }
        assert_eq!(opt_a, opt_b);
        assert_eq!(a.0.weight.as_vec(), b.0.weight.as_vec());
        assert_eq!(a.1.weight.as_vec(), b.1.weight.as_vec());
        assert_eq!(ga.get(&a.0.weight).as_vec(), gb.get(&b.0.weight).as_vec());
    }
}
