//! Shrinks a failing drawn call: fewer options, fewer rows and classes, simpler values, keeping
//! each step only if the implementation still fails the same way (the same kind of judgement).
//! Greedy, first improvement first, like QuickCheck's and Hypothesis's shrinkers: the candidates
//! of [`candidates`] are tried in order, the first that still fails becomes the call, and the
//! search starts again from it, until none does or the budget of calls is spent.

use std::mem::discriminant;

use super::block;
use super::draw::{Array, Drawn};
use super::{Finding, case_id, run_drawn};
use crate::conformance::Implementation;
use crate::conformance::render::repro::torch_line;
use crate::conformance::verdict::{Status, Verdict};
use crate::eval::Reference;
use crate::spec::Spec;
use crate::vocab::{Op, Role};

/// The most candidate calls one failure's shrinking makes.
pub const BUDGET: usize = 400;

/// Shrinks the call behind a failing verdict and writes what reproduces it. With `guard`, a
/// simpler call is kept only if the reference passes it, so that shrinking cannot wander from
/// the implementation's fault to a gap of the allowance (it does not apply to the reference).
pub fn finding(
    spec: &Spec,
    drawn: &Drawn,
    index: u64,
    failed: &Verdict,
    implementation: &mut dyn Implementation,
    guard: bool,
) -> Finding {
    let part = failed.run.part;
    let id = failed.run.id.clone();
    let kind = discriminant(&failed.judgement);
    let mut tried = 0;
    let mut still_fails = |candidate: &Drawn| -> Option<Verdict> {
        tried += 1;
        let v = run_drawn(spec, candidate, &id, part, implementation);
        let same = v.status == Status::Failed && discriminant(&v.judgement) == kind;
        let sound = !guard
            || same
                && run_drawn(spec, candidate, &id, part, &mut Reference).status == Status::Passed;
        (same && sound).then_some(v)
    };
    let (drawn, verdict) = shrink(drawn.clone(), failed.clone(), &mut still_fails);
    let shrunk_id = format!("{}.shrunk", case_id_of(&id, index));
    let request = (verdict.evidence.as_ref()).map(|e| &e.request);
    Finding {
        index,
        block: block::case_block(&drawn, &shrunk_id, &verdict, index),
        torch: request.map(torch_line).unwrap_or_default(),
        drawn,
        verdict,
        tried,
    }
}

/// `random.s<seed>.n<index>`, the id the runs of the call carry.
fn case_id_of(id: &str, index: u64) -> String {
    match id.rsplit_once(".n") {
        Some((seed, _)) => format!("{seed}.n{index}"),
        None => case_id(0, index),
    }
}

/// The greedy loop, with `still_fails` judging a candidate.
pub fn shrink(
    mut drawn: Drawn,
    mut verdict: Verdict,
    still_fails: &mut dyn FnMut(&Drawn) -> Option<Verdict>,
) -> (Drawn, Verdict) {
    let mut spent = 0;
    while spent < BUDGET {
        let found = candidates(&drawn)
            .take(BUDGET - spent)
            .inspect(|_| spent += 1)
            .find_map(|c| still_fails(&c).map(|v| (c, v)));
        match found {
            Some((c, v)) => (drawn, verdict) = (c, v),
            None => break,
        }
    }
    (drawn, verdict)
}

/// Simpler calls, the biggest simplifications first: options dropped, then halves and single
/// indices of each axis, then values made 0 or whole. Made one at a time, as the loop asks:
/// a 256,000-class row has half a million value candidates, each a copy of the call.
pub fn candidates(d: &Drawn) -> impl Iterator<Item = Drawn> + '_ {
    let shape = d.input().shape.clone();
    let cuts = shape.into_iter().enumerate().flat_map(move |(axis, n)| {
        let halves = (n > 1).then(|| [(0..n / 2).collect(), (n / 2..n).collect()]);
        let singles = (2..=8)
            .contains(&n)
            .then(|| (0..n).map(move |skip| (0..n).filter(|&i| i != skip).collect::<Vec<_>>()));
        let keeps = halves
            .into_iter()
            .flatten()
            .chain(singles.into_iter().flatten());
        keeps.filter_map(move |keep: Vec<usize>| take(d, axis, &keep))
    });
    options_dropped(d)
        .into_iter()
        .chain(cuts)
        .chain(values_simplified(d))
}

fn options_dropped(d: &Drawn) -> Vec<Drawn> {
    let mut out = Vec::new();
    for role in [Role::Weight, Role::PosWeight] {
        if d.tensors.contains_key(&role) {
            let mut c = d.clone();
            c.tensors.remove(&role);
            out.push(c);
        }
    }
    let a = &d.attrs;
    let mut edit = |f: &dyn Fn(&mut Drawn)| {
        let mut c = d.clone();
        f(&mut c);
        if c != *d {
            out.push(c);
        }
    };
    if a.label_smoothing.is_some() {
        edit(&|c| c.attrs.label_smoothing = None);
    }
    if a.ignore_index.is_some() {
        edit(&|c| c.attrs.ignore_index = None);
    }
    if a.reduction.is_some() {
        edit(&|c| c.attrs.reduction = None);
        edit(&|c| c.attrs.reduction = Some("none".into()));
    }
    out
}

/// Each floating element made 0, then whole (rounded towards zero), one at a time.
fn values_simplified(d: &Drawn) -> impl Iterator<Item = Drawn> + '_ {
    let floats = d.tensors.iter().filter(|(_, a)| !a.int);
    floats.flat_map(move |(&role, a)| {
        a.data.iter().enumerate().flat_map(move |(i, &v)| {
            [0.0, v.trunc()].into_iter().filter_map(move |simpler| {
                let same = simpler == v || (v.is_nan() && simpler.is_nan());
                (!same).then(|| {
                    let mut c = d.clone();
                    if let Some(t) = c.tensors.get_mut(&role) {
                        t.data[i] = simpler;
                    }
                    c
                })
            })
        })
    })
}

/// The call with the input's `axis` cut to the indices `keep`, and every other tensor cut to
/// match: the target along its matching axis, class weights along the class axis, class indices
/// renumbered (`None` when a kept row's target is a dropped class).
fn take(d: &Drawn, axis: usize, keep: &[usize]) -> Option<Drawn> {
    let mut c = d.clone();
    let rank = d.input().shape.len();
    let class_axis = usize::from(rank > 1);
    let classes_op = matches!(d.op, Op::CrossEntropy | Op::NllLoss);
    for (&role, a) in d.tensors.iter() {
        let cut = match (role, a.int) {
            (Role::Input, _) => Some(take_axis(a, axis, keep)),
            (Role::Target, true) if axis == class_axis => {
                let classes = d.input().shape[class_axis];
                Some(renumber(
                    a,
                    keep,
                    classes,
                    d.attrs.ignore_index.unwrap_or(-100),
                )?)
            }
            (Role::Target, true) if rank > 1 => {
                let t_axis = if axis == 0 { 0 } else { axis - 1 };
                Some(take_axis(a, t_axis, keep))
            }
            (Role::Target, true) => None,
            (Role::Target, false) => Some(take_axis(a, axis, keep)),
            (_, _) if classes_op => (axis == class_axis).then(|| take_axis(a, 0, keep)),
            (_, _) => trailing_axis(a, rank, axis).map(|t| take_axis(a, t, keep)),
        };
        if let Some(cut) = cut {
            c.tensors.insert(role, cut);
        }
    }
    Some(c)
}

/// The axis of a trailing-aligned (broadcast) tensor that matches the input's `axis`, when it
/// has one of the same size.
fn trailing_axis(a: &Array, rank: usize, axis: usize) -> Option<usize> {
    let t = (axis + a.shape.len()).checked_sub(rank)?;
    (a.shape.get(t) != Some(&1)).then_some(t)
}

/// Class indices after dropping classes: kept classes renumbered; ignored and out-of-range
/// targets unchanged; a target of a dropped class makes the cut impossible.
fn renumber(a: &Array, keep: &[usize], classes: usize, ignore: i64) -> Option<Array> {
    let data = (a.data.iter())
        .map(|&t| {
            let dropped_class = t >= 0.0 && t < classes as f64 && t as i64 != ignore;
            match keep.iter().position(|&k| k as f64 == t) {
                Some(new) if t as i64 != ignore => Some(new as f64),
                _ if dropped_class => None,
                _ => Some(t),
            }
        })
        .collect::<Option<Vec<f64>>>()?;
    Some(Array {
        shape: a.shape.clone(),
        data,
        int: true,
    })
}

/// `a` with `axis` cut to the indices `keep`.
fn take_axis(a: &Array, axis: usize, keep: &[usize]) -> Array {
    if axis >= a.shape.len() || keep.iter().any(|&k| k >= a.shape[axis]) {
        return a.clone();
    }
    let inner: usize = a.shape[axis + 1..].iter().product();
    let n = a.shape[axis];
    let mut data = Vec::new();
    for block in a.data.chunks(n * inner.max(1)).filter(|_| inner > 0) {
        for &k in keep {
            data.extend_from_slice(&block[k * inner..(k + 1) * inner]);
        }
    }
    let mut shape = a.shape.clone();
    shape[axis] = keep.len();
    Array {
        shape,
        data,
        int: a.int,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_axis_is_cut_in_every_block() {
        let a = Array {
            shape: vec![2, 3],
            data: vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
            int: false,
        };
        assert_eq!(take_axis(&a, 1, &[0, 2]).data, [0.0, 2.0, 3.0, 5.0]);
        assert_eq!(take_axis(&a, 0, &[1]).data, [3.0, 4.0, 5.0]);
        assert_eq!(take_axis(&a, 0, &[1]).shape, [1, 3]);
    }

    #[test]
    fn dropped_classes_renumber_targets() {
        let t = Array {
            shape: vec![3],
            data: vec![2.0, -100.0, 0.0],
            int: true,
        };
        assert_eq!(
            renumber(&t, &[0, 2], 3, -100).unwrap().data,
            [1.0, -100.0, 0.0]
        );
        assert!(renumber(&t, &[1, 2], 3, -100).is_none());
    }
}
