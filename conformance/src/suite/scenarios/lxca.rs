//! Scenarios for lxca (being written).

use super::Scenario;

pub fn scenarios() -> Vec<Scenario> {
    Vec::new()
}
