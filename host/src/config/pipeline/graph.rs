//! The order steps run in: each after the steps it `needs`. Steps in one
//! wave need only steps of earlier waves, so a wave may run in parallel.

use std::collections::BTreeMap;

/// Step indices by wave: wave 0 needs nothing, wave n needs only earlier
/// waves. `needs` gives, per step, the indices of the steps it needs.
/// A cycle is returned as the ids along it, first id repeated at the end.
pub fn waves(ids: &[&str], needs: &[Vec<usize>]) -> Result<Vec<Vec<usize>>, Vec<String>> {
    let mut wave_of: Vec<Option<usize>> = vec![None; ids.len()];
    let mut waves: Vec<Vec<usize>> = Vec::new();
    let mut placed = 0;
    while placed < ids.len() {
        let ready: Vec<usize> = (0..ids.len())
            .filter(|&i| wave_of[i].is_none() && needs[i].iter().all(|&n| wave_of[n].is_some_and(|w| w < waves.len())))
            .collect();
        if ready.is_empty() {
            return Err(cycle(ids, needs, &wave_of));
        }
        for &i in &ready {
            wave_of[i] = Some(waves.len());
        }
        placed += ready.len();
        waves.push(ready);
    }
    Ok(waves)
}

/// A cycle among the steps not yet placed (each of them needs one of them).
fn cycle(ids: &[&str], needs: &[Vec<usize>], wave_of: &[Option<usize>]) -> Vec<String> {
    let unplaced = |i: &usize| wave_of[*i].is_none();
    let mut at = (0..ids.len()).find(unplaced).expect("some step is unplaced");
    let mut seen: BTreeMap<usize, usize> = BTreeMap::new();
    let mut path = Vec::new();
    while !seen.contains_key(&at) {
        seen.insert(at, path.len());
        path.push(at);
        at = *needs[at].iter().find(|n| unplaced(n)).expect("an unplaced step needs an unplaced step");
    }
    let mut cycle: Vec<String> = path[seen[&at]..].iter().map(|&i| ids[i].to_string()).collect();
    cycle.push(ids[at].to_string());
    cycle
}

/// Every step `step` needs, directly or through others.
pub fn ancestors(step: usize, needs: &[Vec<usize>]) -> Vec<usize> {
    let mut found = vec![false; needs.len()];
    let mut todo = needs[step].clone();
    while let Some(n) = todo.pop() {
        if !found[n] {
            found[n] = true;
            todo.extend(&needs[n]);
        }
    }
    (0..needs.len()).filter(|&i| found[i]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn independent_steps_share_a_wave() {
        let ids = ["backup", "pull", "deploy", "check"];
        let needs = vec![vec![], vec![], vec![0, 1], vec![2]];
        assert_eq!(waves(&ids, &needs).unwrap(), vec![vec![0, 1], vec![2], vec![3]]);
        assert_eq!(ancestors(3, &needs), vec![0, 1, 2]);
    }

    #[test]
    fn a_cycle_is_named_along_its_needs() {
        let ids = ["a", "b", "c", "d"];
        let needs = vec![vec![], vec![3], vec![1], vec![2]];
        assert_eq!(waves(&ids, &needs).unwrap_err(), vec!["b", "d", "c", "b"]);
    }
}
