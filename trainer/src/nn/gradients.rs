//! Which gradients a layer computes, and its gradient buffers borrowed from dfdx's store.
//!
//! * [`freeze_parameters`] / [`data_input`]: guards that tell the layers recorded on this thread
//!   to skip their parameters' gradients (a generator step through the discriminator) or their
//!   input's (a discriminator step on images); the layers ask [`parameter_grads_wanted`] and
//!   [`input_grad_wanted`] when they record.
//! * [`TakenGrads`] with [`take_grads!`] / [`put_grads!`]: a backward pass moves the buffers it
//!   needs out of the store and back, without copies.

thread_local! {
    /// How many [`FrozenParameters`] guards are alive on this thread.
    static FROZEN: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// While a value of this type lives, the layers of this module that are run on this thread record
/// no gradients for their parameters: their backward passes still compute the gradient of their
/// input (so gradients reach whatever came before), but skip the weight and bias gradients and
/// leave them out of the gradient store. Made by [`freeze_parameters`].
///
/// For a GAN's generator step, where the discriminator only passes gradients through to the
/// generator and its own parameter gradients would be thrown away. It is the layer's *forward*
/// pass that looks at the guard (what it records then holds for its backward pass).
#[derive(Debug)]
#[must_use = "parameters are frozen only while the guard lives"]
pub struct FrozenParameters {
    // Thread-bound: the count is per thread.
    _not_send: std::marker::PhantomData<*const ()>,
}

/// Freezes the parameters of this module's layers run on this thread until the guard is dropped
/// (see [`FrozenParameters`]).
pub fn freeze_parameters() -> FrozenParameters {
    FROZEN.with(|f| f.set(f.get() + 1));
    FrozenParameters {
        _not_send: std::marker::PhantomData,
    }
}

impl Drop for FrozenParameters {
    fn drop(&mut self) {
        FROZEN.with(|f| f.set(f.get() - 1));
    }
}

/// Whether a layer recording its backward pass now should compute its parameters' gradients.
pub(crate) fn parameter_grads_wanted() -> bool {
    FROZEN.with(|f| f.get() == 0)
}

thread_local! {
    /// Whether the next layer recorded on this thread gets data as input (see [`data_input`]).
    static DATA_INPUT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// While a value of this type lives, the *next* layer of this module that records a backward pass
/// on this thread treats its input as data: it computes no gradient for it (its parameters'
/// gradients are unchanged). Made by [`data_input`].
///
/// For a discriminator step on a batch of images: nothing needs the gradient with respect to the
/// images, and for the first convolution it is a matrix product and a col2im per batch. Every
/// layer of this module takes the mark when it records (those with a cheap input gradient then
/// simply ignore it), so it can only ever reach the first of them; whatever runs before that layer
/// must not need gradients either (dfdx's parameter-free ops such as reshapes are fine). Dropping
/// the guard clears an unused mark.
#[derive(Debug)]
#[must_use = "the input counts as data only while the guard lives"]
pub struct DataInput {
    _not_send: std::marker::PhantomData<*const ()>,
}

/// Marks the input of the next layer recorded on this thread as data (see [`DataInput`]).
pub fn data_input() -> DataInput {
    DATA_INPUT.with(|f| f.set(true));
    DataInput {
        _not_send: std::marker::PhantomData,
    }
}

impl Drop for DataInput {
    fn drop(&mut self) {
        DATA_INPUT.with(|f| f.set(false));
    }
}

/// Whether a layer recording its backward pass now should compute its input's gradient; takes
/// the [`data_input`] mark (every layer of this module calls it once when it records).
pub(crate) fn input_grad_wanted() -> bool {
    !DATA_INPUT.with(|f| f.replace(false))
}

/// This thread's [`freeze_parameters`] and [`data_input`] state, set aside (cleared) while a value
/// of this type lives and put back when it drops. Made by [`isolate_guards`].
///
/// For work that may start on a thread in the middle of other work: a rayon worker waiting inside
/// one training step can run another step (of another run in the same process), and that step
/// must not see the first one's guards. Rayon runs such work to its end on the waiting thread's
/// stack, so setting aside and putting back nest correctly.
#[derive(Debug)]
#[must_use = "the guards are set aside only while the value lives"]
pub(crate) struct IsolatedGuards {
    frozen: usize,
    data_input: bool,
    _not_send: std::marker::PhantomData<*const ()>,
}

/// Clears this thread's layer guards until the returned value drops (see [`IsolatedGuards`]).
pub(crate) fn isolate_guards() -> IsolatedGuards {
    IsolatedGuards {
        frozen: FROZEN.with(|f| f.replace(0)),
        data_input: DATA_INPUT.with(|f| f.replace(false)),
        _not_send: std::marker::PhantomData,
    }
}

impl Drop for IsolatedGuards {
    fn drop(&mut self) {
        FROZEN.with(|f| f.set(self.frozen));
        DATA_INPUT.with(|f| f.set(self.data_input));
    }
}

/// The gradient buffers of a weight layer's backward pass, moved out of dfdx's gradient store
/// ([`take_grads!`]) so that the output gradient can be read while the input's and the
/// parameters' are written, and put back afterwards ([`put_grads!`]). No copies.
pub(crate) struct TakenGrads<E> {
    /// The output's gradient.
    pub out: Vec<E>,
    /// The input's, unless the input is data.
    pub input: Option<Vec<E>>,
    /// The weight's and the bias's, unless the parameters are frozen.
    pub params: Option<(Vec<E>, Vec<E>)>,
}

impl<E> TakenGrads<E> {
    /// The output gradient to read, and the input and parameter gradients to accumulate into.
    #[allow(clippy::type_complexity)]
    pub fn split(&mut self) -> (&[E], Option<&mut [E]>, Option<(&mut [E], &mut [E])>) {
        (
            &self.out,
            self.input.as_deref_mut(),
            self.params.as_mut().map(|(w, b)| (&mut w[..], &mut b[..])),
        )
    }
}

// Macros, not functions, because dfdx's ghost tensors and the trait `get_or_alloc_mut` takes are
// crate-private: a function could not name them. Each `?`s the store's errors out of the backward
// op it is used in.

/// `take_grad!(grads, D, &ghost)`: moves one tensor's gradient buffer out of the store (a zeroed
/// one is allocated first if it has none).
macro_rules! take_grad {
    ($grads:expr, $D:ty, $tensor:expr) => {
        std::mem::take(<$D>::host_vec_mut($grads.get_or_alloc_mut($tensor)?))
    };
}
pub(crate) use take_grad;

/// `take_grads!(grads, D, &out, input.then_some(&x), params.then_some((&w, &b)))`: a
/// [`TakenGrads`] of the output's gradient and, where asked for, the input's and the parameters'.
macro_rules! take_grads {
    ($grads:expr, $D:ty, $out:expr, $input:expr, $params:expr) => {
        $crate::nn::gradients::TakenGrads {
            out: $crate::nn::gradients::take_grad!($grads, $D, $out),
            input: match $input {
                Some(x) => Some($crate::nn::gradients::take_grad!($grads, $D, x)),
                None => None,
            },
            params: match $params {
                Some((w, b)) => Some((
                    $crate::nn::gradients::take_grad!($grads, $D, w),
                    $crate::nn::gradients::take_grad!($grads, $D, b),
                )),
                None => None,
            },
        }
    };
}
pub(crate) use take_grads;

/// `put_grads!(grads, D, taken, &out, &x, (&w, &b))`: puts the buffers of a [`TakenGrads`] back
/// (only those that were taken).
macro_rules! put_grads {
    ($grads:expr, $D:ty, $taken:expr, $out:expr, $input:expr, ($w:expr, $b:expr)) => {{
        let taken: $crate::nn::gradients::TakenGrads<_> = $taken;
        *<$D>::host_vec_mut($grads.get_or_alloc_mut($out)?) = taken.out;
        if let Some(x) = taken.input {
            *<$D>::host_vec_mut($grads.get_or_alloc_mut($input)?) = x;
        }
        if let Some((w, b)) = taken.params {
            *<$D>::host_vec_mut($grads.get_or_alloc_mut($w)?) = w;
            *<$D>::host_vec_mut($grads.get_or_alloc_mut($b)?) = b;
        }
    }};
}
pub(crate) use put_grads;
