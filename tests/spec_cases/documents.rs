//! The source documents' own implementations, restated on purpose: the notebooks' loops and
//! hand-rolled versions, including the one whose author marked it wrong. A case names them in
//! `agrees_with` (they must give the library call's result) or `differs_from` (they must not
//! reproduce the case's expected value). They are the only second copies of a formula in this
//! crate, and they exist to show that a document's formula and the library agree, or where a
//! document's code goes wrong. Each computes in the run's dtype (the notebooks' PyTorch tensors were
//! float32; 000's NumPy loops ran in float64): the `identity` tolerance absorbs the difference.

use ndarray::{Array2, ArrayD, Axis, Ix1, Ix2, Ix3, Ix4};

use cross_entropy_spec::conformance::Request;
use cross_entropy_spec::eval::Tensors;
use cross_entropy_spec::reference::{self, Real};
use cross_entropy_spec::spec::Attrs;
use cross_entropy_spec::tensor::Tensor;
use cross_entropy_spec::vocab::{Dtype, Role};

/// One restated implementation.
struct DocImpl {
    name: &'static str,
    /// The document (file name) and cell it comes from.
    source: &'static str,
    run: fn(&Tensors) -> Result<Tensor, String>,
}

/// Runs a generic implementation in the dtype of the case's input.
macro_rules! in_input_dtype {
    ($f:ident) => {
        |t: &Tensors| match t.get(&Role::Input).map(Tensor::dtype) {
            Some(Dtype::Float64) => $f::<f64>(t).map(Tensor::from_real),
            _ => $f::<f32>(t).map(Tensor::from_real),
        }
    };
}

/// Every restated implementation, by the name cases use.
static REGISTRY: &[DocImpl] = &[
    DocImpl {
        name: "doc000.loops",
        source: "000_27d978d29909bd65.txt, In [5]: per-sample loops over classes, then np.mean",
        run: in_input_dtype!(loops_2d),
    },
    DocImpl {
        name: "doc000.pixel_loops",
        source: "000_27d978d29909bd65.txt, In [8]: loops over batch, rows, columns and classes",
        run: in_input_dtype!(pixel_loops),
    },
    DocImpl {
        name: "doc002.by_hand",
        source: "002_f6634e5dba301c05.txt, the hand-rolled version: exp / sum, log, gather, mean",
        run: in_input_dtype!(gather_by_hand),
    },
    DocImpl {
        name: "doc003.information_theory",
        source: "003_0000eef0f73501b5.txt, In [104]: -sum(p * log(softmax(logits))) / batch",
        run: in_input_dtype!(information_theory),
    },
    DocImpl {
        name: "doc003.my_ce",
        source: "003_0000eef0f73501b5.txt, In [105]: sum(lse - sum(y * labels)) / batch",
        run: in_input_dtype!(my_ce),
    },
    DocImpl {
        name: "doc003.new1",
        source: "003_0000eef0f73501b5.txt, In [106]: -sum(labels * (y - lse)) / batch",
        run: in_input_dtype!(new1),
    },
    DocImpl {
        name: "doc003.new2",
        source: "003_0000eef0f73501b5.txt, In [107], the line marked right: \
                 sum(sum(lse * labels, dim=1, keepdim=True) - zy) / batch",
        run: in_input_dtype!(new2),
    },
    DocImpl {
        name: "doc003.new2_alternative",
        source: "003_0000eef0f73501b5.txt, In [107], the other line marked right: \
                 sum((lse - y) * labels) / batch",
        run: in_input_dtype!(new2_alternative),
    },
    DocImpl {
        name: "doc003.new2_broadcast_bug",
        source: "003_0000eef0f73501b5.txt, In [107], the line its author marked wrong: \
                 sum(lse * labels - zy) / batch",
        run: in_input_dtype!(new2_broadcast_bug),
    },
];

/// Looks a restated implementation up by name.
fn lookup(name: &str) -> Option<&'static DocImpl> {
    REGISTRY.iter().find(|d| d.name == name)
}

/// Runs the restated implementation `name` on a request's tensors.
pub fn run(request: &Request, name: &str) -> Result<Tensor, String> {
    let doc = lookup(name).ok_or_else(|| {
        let known: Vec<&str> = REGISTRY.iter().map(|d| d.name).collect();
        format!(
            "the case names `{name}`, which is not a restated document implementation (known: {})",
            known.join(", ")
        )
    })?;
    if !supports(&request.tensors, &request.attrs) {
        return Err(format!(
            "`{name}` is the document's code, which has no options: the case must use the defaults"
        ));
    }
    (doc.run)(&request.tensors).map_err(|e| format!("`{name}` ({}) failed: {e}", doc.source))
}

/// The documents' code only ever uses the defaults (mean, no weight, no ignore_index).
fn supports(tensors: &Tensors, attrs: &Attrs) -> bool {
    !tensors.contains_key(&Role::Weight) && *attrs == Attrs::default()
}

fn input<T: Real>(t: &Tensors) -> Result<ArrayD<T>, String> {
    t.get(&Role::Input)
        .map(Tensor::float_array)
        .ok_or_else(|| "no input".to_string())
}

fn class_indices(t: &Tensors, classes: usize) -> Result<ArrayD<usize>, String> {
    match t.get(&Role::Target) {
        Some(Tensor::Int64(a)) => a
            .iter()
            .map(|&c| {
                usize::try_from(c)
                    .ok()
                    .filter(|&c| c < classes)
                    .ok_or_else(|| format!("class {c} is not in 0..{classes}"))
            })
            .collect::<Result<Vec<_>, _>>()
            .and_then(|v| ArrayD::from_shape_vec(a.raw_dim(), v).map_err(|e| e.to_string())),
        _ => Err("the document's code takes class indices".into()),
    }
}

fn scalar<T: Real>(v: T) -> ArrayD<T> {
    ArrayD::from_elem(ndarray::IxDyn(&[]), v)
}

fn mean<T: Real>(values: &[T]) -> T {
    values.iter().copied().sum::<T>() / T::from_f64(values.len() as f64)
}

/// `000_27d978d29909bd65.txt` In [5]: `-x[class] + log(sum_j exp(x[j]))` per sample, then the
/// mean. No max-subtraction, exactly as the notebook wrote it.
fn loops_2d<T: Real>(t: &Tensors) -> Result<ArrayD<T>, String> {
    let x = input::<T>(t)?
        .into_dimensionality::<Ix2>()
        .map_err(|e| e.to_string())?;
    let (n, c) = x.dim();
    let target = class_indices(t, c)?
        .into_dimensionality::<Ix1>()
        .map_err(|e| e.to_string())?;
    let mut losses = Vec::with_capacity(n);
    for i in 0..n {
        let first = -x[[i, target[i]]];
        let mut second = T::zero();
        for j in 0..c {
            second = second + x[[i, j]].exp();
        }
        losses.push(first + second.ln());
    }
    Ok(scalar(mean(&losses)))
}

/// `000_27d978d29909bd65.txt` In [8]: the same per pixel of an `N x C x H x W` batch, whose
/// target the notebook indexes as `target[epoch, 0, r, c]` (the case squeezes that 1 away).
fn pixel_loops<T: Real>(t: &Tensors) -> Result<ArrayD<T>, String> {
    let x = input::<T>(t)?
        .into_dimensionality::<Ix4>()
        .map_err(|e| e.to_string())?;
    let (n, c, h, w) = x.dim();
    let target = class_indices(t, c)?
        .into_dimensionality::<Ix3>()
        .map_err(|e| e.to_string())?;
    let mut losses = Vec::with_capacity(n * h * w);
    for epoch in 0..n {
        for r in 0..h {
            for col in 0..w {
                let first = -x[[epoch, target[[epoch, r, col]], r, col]];
                let mut second = T::zero();
                for class in 0..c {
                    second = second + x[[epoch, class, r, col]].exp();
                }
                losses.push(first + second.ln());
            }
        }
    }
    Ok(scalar(mean(&losses)))
}

/// `002_f6634e5dba301c05.txt`, by hand: `exp(x) / sum(exp(x), dim=1)`, `log`, `gather` at the
/// labels, negate, mean.
fn gather_by_hand<T: Real>(t: &Tensors) -> Result<ArrayD<T>, String> {
    let x = input::<T>(t)?
        .into_dimensionality::<Ix2>()
        .map_err(|e| e.to_string())?;
    let target = class_indices(t, x.ncols())?
        .into_dimensionality::<Ix1>()
        .map_err(|e| e.to_string())?;
    let e = x.mapv(T::exp);
    let sums = e.sum_axis(Axis(1)).insert_axis(Axis(1));
    let log_p = (&e / &sums).mapv(T::ln);
    let gathered: Vec<T> = target
        .iter()
        .enumerate()
        .map(|(i, &c)| -log_p[[i, c]])
        .collect();
    Ok(scalar(mean(&gathered)))
}

fn soft_inputs<T: Real>(t: &Tensors) -> Result<(Array2<T>, Array2<T>), String> {
    let x = input::<T>(t)?
        .into_dimensionality::<Ix2>()
        .map_err(|e| e.to_string())?;
    let labels = match t.get(&Role::Target) {
        Some(l) if l.dtype().is_float() => l.float_array::<T>(),
        _ => return Err("the soft-label implementations take class probabilities".into()),
    };
    let labels = labels
        .into_dimensionality::<Ix2>()
        .map_err(|e| e.to_string())?;
    if labels.dim() != x.dim() {
        return Err("labels and logits differ in shape".into());
    }
    Ok((x, labels))
}

/// `y = x - max(x)` per row and `lse = log(sum(exp(y)))` per row (shape `[B, 1]`), the
/// max-subtracted pieces every soft-label version of `003_0000eef0f73501b5.txt` starts from.
fn shifted<T: Real>(x: &Array2<T>) -> (Array2<T>, Array2<T>) {
    let max = x
        .map_axis(Axis(1), |row| row.fold(T::neg_infinity(), |m, &v| m.max(v)))
        .insert_axis(Axis(1));
    let y = x - &max;
    let lse = y
        .mapv(T::exp)
        .sum_axis(Axis(1))
        .mapv(T::ln)
        .insert_axis(Axis(1));
    (y, lse)
}

fn per_batch<T: Real>(total: T, batch: usize) -> ArrayD<T> {
    scalar(total / T::from_f64(batch as f64))
}

/// In [104]: `-sum(p * log(softmax(logits))) / batch`, the information-theoretic formula.
fn information_theory<T: Real>(t: &Tensors) -> Result<ArrayD<T>, String> {
    let (x, p) = soft_inputs::<T>(t)?;
    let q = reference::softmax(&x.clone().into_dyn(), 1).map_err(|e| e.to_string())?;
    let q = q.into_dimensionality::<Ix2>().map_err(|e| e.to_string())?;
    Ok(per_batch(-(&p * &q.mapv(T::ln)).sum(), x.nrows()))
}

/// In [105]: `sum(lse - zy) / batch` with `zy = sum(y * labels, dim=1)`; right only when every
/// row of labels sums to one.
fn my_ce<T: Real>(t: &Tensors) -> Result<ArrayD<T>, String> {
    let (x, labels) = soft_inputs::<T>(t)?;
    let (y, lse) = shifted(&x);
    let zy = (&y * &labels).sum_axis(Axis(1)).insert_axis(Axis(1));
    Ok(per_batch((&lse - &zy).sum(), x.nrows()))
}

/// In [106]: `-sum(labels * (y - lse)) / batch`.
fn new1<T: Real>(t: &Tensors) -> Result<ArrayD<T>, String> {
    let (x, labels) = soft_inputs::<T>(t)?;
    let (y, lse) = shifted(&x);
    Ok(per_batch(-(&labels * &(&y - &lse)).sum(), x.nrows()))
}

/// In [107], marked right: `sum(sum(lse * labels, dim=1, keepdim=True) - zy) / batch`.
fn new2<T: Real>(t: &Tensors) -> Result<ArrayD<T>, String> {
    let (x, labels) = soft_inputs::<T>(t)?;
    let (y, lse) = shifted(&x);
    let zy = (&y * &labels).sum_axis(Axis(1)).insert_axis(Axis(1));
    let weighted_lse = (&labels * &lse).sum_axis(Axis(1)).insert_axis(Axis(1));
    Ok(per_batch((&weighted_lse - &zy).sum(), x.nrows()))
}

/// In [107], also marked right: `sum((lse - y) * labels) / batch`.
fn new2_alternative<T: Real>(t: &Tensors) -> Result<ArrayD<T>, String> {
    let (x, labels) = soft_inputs::<T>(t)?;
    let (y, lse) = shifted(&x);
    Ok(per_batch(((&lse - &y) * &labels).sum(), x.nrows()))
}

/// In [107], the line its author marked wrong: `sum(lse * labels - zy) / batch`. `lse * labels`
/// is `[B, C]` and `zy` is `[B, 1]`, so broadcasting subtracts `zy` from every one of the `C`
/// columns: the sum is `sum_b (lse_b * sum_c labels_bc - C * zy_b)`, not the loss.
fn new2_broadcast_bug<T: Real>(t: &Tensors) -> Result<ArrayD<T>, String> {
    let (x, labels) = soft_inputs::<T>(t)?;
    let (y, lse) = shifted(&x);
    let zy = (&y * &labels).sum_axis(Axis(1)).insert_axis(Axis(1));
    Ok(per_batch((&(&labels * &lse) - &zy).sum(), x.nrows()))
}
