//! Reading and writing every tensor of a dfdx model (parameters and BatchNorm running statistics)
//! as flat `f32` vectors in a fixed visiting order, for checkpoints and export.

use dfdx::nn::modules::{
    RecursiveWalker, TensorCollection, TensorOptions, TensorVisitor, ViewTensorMut, ViewTensorRef,
};
use dfdx::prelude::*;

/// Every tensor of a model, in `TensorCollection` visiting order.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TensorList {
    /// Tensor contents, each with its own length.
    pub tensors: Vec<Vec<f32>>,
}

struct Collect(Vec<Vec<f32>>);

impl TensorVisitor<f32, Cpu> for Collect {
    type Viewer = ViewTensorRef;
    type Err = <Cpu as HasErr>::Err;
    type E2 = f32;
    type D2 = Cpu;

    fn visit<S: Shape>(
        &mut self,
        _: TensorOptions<S, f32, Cpu>,
        t: &Tensor<S, f32, Cpu>,
    ) -> Result<Option<Tensor<S, f32, Cpu>>, Self::Err> {
        self.0.push(t.as_vec());
        Ok(None)
    }
}

struct Restore<'a> {
    source: std::slice::Iter<'a, Vec<f32>>,
    error: Option<String>,
    index: usize,
}

impl TensorVisitor<f32, Cpu> for Restore<'_> {
    type Viewer = ViewTensorMut;
    type Err = <Cpu as HasErr>::Err;
    type E2 = f32;
    type D2 = Cpu;

    fn visit<S: Shape>(
        &mut self,
        _: TensorOptions<S, f32, Cpu>,
        t: &mut Tensor<S, f32, Cpu>,
    ) -> Result<Option<Tensor<S, f32, Cpu>>, Self::Err> {
        let index = self.index;
        self.index += 1;
        if self.error.is_some() {
            return Ok(None);
        }
        match self.source.next() {
            Some(values) if values.len() == t.shape().num_elements() => t.copy_from(values),
            Some(values) => {
                self.error = Some(format!(
                    "tensor #{index} has {} values, the model expects {}",
                    values.len(),
                    t.shape().num_elements()
                ))
            }
            None => self.error = Some(format!("only {index} tensors stored, the model has more")),
        }
        Ok(None)
    }
}

/// Copies every tensor of `model`.
pub fn collect<M: TensorCollection<f32, Cpu>>(model: &M) -> TensorList {
    let mut visitor = Collect(Vec::new());
    // The CPU device cannot fail to read a tensor.
    let _ = M::iter_tensors(&mut RecursiveWalker {
        m: model,
        f: &mut visitor,
    });
    TensorList { tensors: visitor.0 }
}

/// Overwrites every tensor of `model`, checking count and sizes first-to-last; on error the
/// model may be partly overwritten, so callers load into a fresh model.
pub fn restore<M: TensorCollection<f32, Cpu>>(
    model: &mut M,
    list: &TensorList,
) -> Result<(), String> {
    let mut visitor = Restore {
        source: list.tensors.iter(),
        error: None,
        index: 0,
    };
    let _ = M::iter_tensors(&mut RecursiveWalker {
        m: model,
        f: &mut visitor,
    });
    if let Some(e) = visitor.error {
        return Err(e);
    }
    let extra = visitor.source.len();
    if extra > 0 {
        return Err(format!("{extra} more tensors stored than the model has"));
    }
    Ok(())
}
