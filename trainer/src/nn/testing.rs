//! Test helpers shared by the layer tests: tolerant comparisons and a central-finite-difference
//! gradient check (f64).

use dfdx::prelude::*;
use rand::{rngs::StdRng, Rng, SeedableRng};

/// Asserts `|a − b| ≤ tol·(1 + |b|)` element-wise.
pub(crate) fn assert_close(actual: &[f64], expected: &[f64], tol: f64) {
    assert_eq!(actual.len(), expected.len(), "length");
    for (i, (a, b)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - b).abs() <= tol * (1.0 + b.abs()),
            "element {i}: {a} vs expected {b}"
        );
    }
}

type Taped<S> = Tensor<S, f64, Cpu, OwnedTape<f64, Cpu>>;

/// A fixed random weighting `r` for the scalar test loss `L(y) = Σ r ⊙ y`.
fn loss_weights(n: usize) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(99);
    (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect()
}

fn host_loss(y: &[f64], r: &[f64]) -> f64 {
    y.iter().zip(r).map(|(a, b)| a * b).sum()
}

/// Central differences of `L` with respect to each element of `v`, where `eval(v')` is `L` at `v'`.
fn numeric_grad(v: &[f64], mut eval: impl FnMut(&[f64]) -> f64) -> Vec<f64> {
    let eps = 1e-6;
    let mut v = v.to_vec();
    (0..v.len())
        .map(|i| {
            let orig = v[i];
            v[i] = orig + eps;
            let plus = eval(&v);
            v[i] = orig - eps;
            let minus = eval(&v);
            v[i] = orig;
            (plus - minus) / (2.0 * eps)
        })
        .collect()
}

/// Checks the gradient that `m`'s backward pass gives `x` against central finite differences, and
/// returns the gradient store of the traced pass (to check parameter gradients with).
pub(crate) fn gradcheck_input<M, S, O>(m: &M, x: Tensor<S, f64, Cpu>) -> Gradients<f64, Cpu>
where
    S: Shape,
    O: Shape,
    M: Module<Tensor<S, f64, Cpu>, Output = Tensor<O, f64, Cpu>>
        + Module<Taped<S>, Output = Taped<O>>,
{
    let dev = x.device().clone();
    let y = m.forward(x.leaky_trace());
    let r = loss_weights(y.shape().num_elements());
    let r_t = dev.tensor_from_vec(r.clone(), *y.shape());
    let grads = (y * r_t).sum().backward();
    let analytic = grads.get(&x).as_vec();
    let shape = *x.shape();
    let numeric = numeric_grad(&x.as_vec(), |v| {
        host_loss(
            &m.forward(dev.tensor_from_vec(v.to_vec(), shape)).as_vec(),
            &r,
        )
    });
    assert_close(&analytic, &numeric, 1e-6);
    grads
}

/// Checks the gradients of `x`, of the weight and of the bias of `m` (reached through the two
/// accessors) against central finite differences.
pub(crate) fn gradcheck<M, S, O, Sw, Sb>(
    m: &M,
    x: Tensor<S, f64, Cpu>,
    weight: impl Fn(&mut M) -> &mut Tensor<Sw, f64, Cpu>,
    bias: impl Fn(&mut M) -> &mut Tensor<Sb, f64, Cpu>,
) where
    S: Shape,
    O: Shape,
    Sw: Shape,
    Sb: Shape,
    M: Clone
        + Module<Tensor<S, f64, Cpu>, Output = Tensor<O, f64, Cpu>>
        + Module<Taped<S>, Output = Taped<O>>,
{
    let grads = gradcheck_input(m, x.clone());
    let y = m.forward(x.clone());
    let r = loss_weights(y.shape().num_elements());

    let mut mm = m.clone();
    let w = weight(&mut mm).clone();
    let numeric_w = numeric_grad(&w.as_vec(), |v| {
        let mut p = m.clone();
        let t = weight(&mut p);
        t.copy_from(v);
        host_loss(&p.forward(x.clone()).as_vec(), &r)
    });
    assert_close(&grads.get(&w).as_vec(), &numeric_w, 1e-6);

    let b = bias(&mut mm).clone();
    let numeric_b = numeric_grad(&b.as_vec(), |v| {
        let mut p = m.clone();
        bias(&mut p).copy_from(v);
        host_loss(&p.forward(x.clone()).as_vec(), &r)
    });
    assert_close(&grads.get(&b).as_vec(), &numeric_b, 1e-6);
}

/// Checks that gradients accumulate: running `m` twice on the same traced input (results added)
/// gives exactly twice the input, weight and bias gradients of one run.
pub(crate) fn check_accumulates<M, S, O, Sw, Sb>(
    m: &M,
    x: Tensor<S, f64, Cpu>,
    weight: impl Fn(&M) -> &Tensor<Sw, f64, Cpu>,
    bias: impl Fn(&M) -> &Tensor<Sb, f64, Cpu>,
) where
    S: Shape,
    O: Shape,
    Sw: Shape,
    Sb: Shape,
    M: Module<Taped<S>, Output = Taped<O>>,
{
    let once = m.forward(x.leaky_trace()).sum().backward();
    let t = x.leaky_trace();
    let twice = (m.forward(t.with_empty_tape()) + m.forward(t))
        .sum()
        .backward();
    let double = |v: Vec<f64>| v.into_iter().map(|g| 2.0 * g).collect::<Vec<_>>();
    assert_close(
        &twice.get(&x).as_vec(),
        &double(once.get(&x).as_vec()),
        1e-12,
    );
    let (w, b) = (weight(m), bias(m));
    assert_close(&twice.get(w).as_vec(), &double(once.get(w).as_vec()), 1e-12);
    assert_close(&twice.get(b).as_vec(), &double(once.get(b).as_vec()), 1e-12);
}
