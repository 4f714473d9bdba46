//! Augmented views of a task: the eight dihedral transforms times colour permutations
//! that keep the background colour, deduplicated by the task they produce, each with
//! its exact inverse (answers found in a view are mapped back through it).

use std::collections::HashSet;

use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::grid::{ColourPerm, Dihedral, Grid};
use crate::task::Task;

/// One view: transform the grids, then permute their colours.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct View {
    pub transform: Dihedral,
    pub colours: ColourPerm,
}

impl View {
    pub fn identity() -> View {
        View { transform: Dihedral::Identity, colours: ColourPerm::identity() }
    }

    pub fn apply(&self, g: &Grid) -> Grid {
        g.transform(self.transform).permute_colours(&self.colours)
    }

    /// Undoes `apply`: `invert(apply(g)) == g` for every grid.
    pub fn invert(&self, g: &Grid) -> Grid {
        g.permute_colours(&self.colours.inverse()).transform(self.transform.inverse())
    }

    pub fn apply_task(&self, t: &Task) -> Task {
        t.augment(self.transform, &self.colours)
    }
}

/// The most common colour over all of a task's grids (ties: the lowest).
pub fn background(t: &Task) -> u8 {
    let mut counts = [0usize; 10];
    let grids = t.train.iter().flat_map(|e| [&e.input, &e.output]).chain(t.test.iter().map(|p| &p.input));
    for g in grids {
        for (c, n) in g.histogram().iter().enumerate() {
            counts[c] += n;
        }
    }
    (0..10).max_by_key(|&c| (counts[c], std::cmp::Reverse(c))).unwrap_or(0) as u8
}

/// Up to `n` distinct views of `t`: the identity first, then the other transforms with
/// the identity colours, then random background-keeping colour permutations for each
/// transform in turn (seeded). Views giving a task identical to an earlier one's are
/// dropped, so a symmetric task gets fewer.
pub fn views(t: &Task, n: usize, seed: u64) -> Vec<View> {
    let bg = background(t);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let key = |v: &View| {
        let a = v.apply_task(t);
        let grids: Vec<&Grid> =
            a.train.iter().flat_map(|e| [&e.input, &e.output]).chain(a.test.iter().map(|p| &p.input)).collect();
        grids.iter().map(|g| g.fingerprint()).collect::<Vec<u64>>()
    };
    let mut push = |v: View, out: &mut Vec<View>| {
        if out.len() < n && seen.insert(key(&v)) {
            out.push(v);
        }
    };
    for d in Dihedral::ALL {
        push(View { transform: d, colours: ColourPerm::identity() }, &mut out);
    }
    // Enough tries to fill n views unless the task has fewer distinct ones.
    for round in 0..(4 * n) {
        if out.len() >= n {
            break;
        }
        let mut others: Vec<u8> = (0..10).filter(|&c| c != bg).collect();
        others.shuffle(&mut rng);
        let mut map = [0u8; 10];
        let mut it = others.into_iter();
        for (c, slot) in map.iter_mut().enumerate() {
            *slot = if c as u8 == bg { bg } else { it.next().expect("nine colours for nine slots") };
        }
        let colours = ColourPerm::new(map).expect("a permutation");
        push(View { transform: Dihedral::ALL[round % 8], colours }, &mut out);
    }
    out
}

/// Training orders: `k` permutations of `0..pairs` (the first is the given order),
/// distinct where possible.
pub fn pair_orders(pairs: usize, k: usize, seed: u64) -> Vec<Vec<usize>> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut out: Vec<Vec<usize>> = vec![(0..pairs).collect()];
    for _ in 0..(8 * k) {
        if out.len() >= k {
            break;
        }
        let mut o: Vec<usize> = (0..pairs).collect();
        o.shuffle(&mut rng);
        if !out.contains(&o) {
            out.push(o);
        }
    }
    while out.len() < k {
        out.push(out[out.len() % pairs.max(1)].clone());
    }
    out.truncate(k.max(1));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::{Example, TestPair};
    use proptest::prelude::*;

    fn grid() -> impl Strategy<Value = Grid> {
        (1usize..6, 1usize..6).prop_flat_map(|(r, c)| {
            proptest::collection::vec(0u8..10, r * c).prop_map(move |cells| Grid::from_cells(r, c, cells).unwrap())
        })
    }

    proptest! {
        #[test]
        fn every_view_maps_back_exactly(g in grid(), t in 0usize..8, perm in Just((0u8..10).collect::<Vec<u8>>()).prop_shuffle()) {
            let map: [u8; 10] = perm.try_into().unwrap();
            let v = View { transform: Dihedral::ALL[t], colours: ColourPerm::new(map).unwrap() };
            prop_assert_eq!(v.invert(&v.apply(&g)), g.clone());
            prop_assert_eq!(v.apply(&v.invert(&g)), g);
        }
    }

    #[test]
    fn views_are_distinct_and_keep_the_background() {
        let g = Grid::from_text("001\n020").unwrap();
        let t = Task {
            id: "t".into(),
            train: vec![Example { input: g.clone(), output: g.transform(Dihedral::FlipH) }],
            test: vec![TestPair { input: g, output: None }],
        };
        let vs = views(&t, 16, 7);
        assert_eq!(vs.len(), 16);
        assert_eq!(vs[0], View::identity());
        assert!(vs.iter().all(|v| v.colours.0[0] == 0));
        let tasks: HashSet<String> = vs.iter().map(|v| format!("{:?}", v.apply_task(&t).train)).collect();
        assert_eq!(tasks.len(), 16);
        // A grid of one colour has a single view.
        let one = Grid::filled(2, 2, 0).unwrap();
        let t1 = Task {
            id: "u".into(),
            train: vec![Example { input: one.clone(), output: one.clone() }],
            test: vec![TestPair { input: one, output: None }],
        };
        assert_eq!(views(&t1, 8, 1).len(), 1);
    }

    #[test]
    fn pair_orders_start_with_the_given_order() {
        let o = pair_orders(3, 4, 1);
        assert_eq!(o.len(), 4);
        assert_eq!(o[0], [0, 1, 2]);
        assert_eq!(o.iter().collect::<HashSet<_>>().len(), 4);
    }
}
