//! Scenarios for ibm (being written).

use super::Scenario;

pub fn scenarios() -> Vec<Scenario> {
    Vec::new()
}
