//! Adam (Kingma & Ba) with its state in plain vectors, so it can be checkpointed and resumed
//! exactly (dfdx's own `Adam` keeps its moments private).

use dfdx::nn::modules::{
    RecursiveWalker, TensorCollection, TensorOptions, TensorVisitor, ViewTensorMut,
};
use dfdx::prelude::*;

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
        self.step += 1;
        let mut visitor = Step {
            adam: self,
            grads,
            slot: 0,
        };
        // The CPU device cannot fail here.
        let _ = M::iter_tensors(&mut RecursiveWalker {
            m: model,
            f: &mut visitor,
        });
    }
}

struct Step<'a> {
    adam: &'a mut Adam,
    grads: &'a Gradients<f32, Cpu>,
    slot: usize,
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
        let g = self.grads.get(p).as_vec();
        let mut w = p.as_vec();
        let (m, v) = (&mut adam.m[self.slot], &mut adam.v[self.slot]);
        let [b1, b2] = adam.betas;
        let t = adam.step as i32;
        let (c1, c2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
        for i in 0..n {
            m[i] = b1 * m[i] + (1.0 - b1) * g[i];
            v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
            let m_hat = m[i] / c1;
            let v_hat = v[i] / c2;
            w[i] -= adam.lr * m_hat / (v_hat.sqrt() + adam.eps);
        }
        p.copy_from(&w);
        self.slot += 1;
        Ok(None)
    }
}
