//! The relay's outbox: the worker's queue (`queue.rs`: claiming due notifications, recording
//! attempts, handing leases back; `leases.rs`: who holds a lease, and the writes on leases) and
//! the operator's views (`views.rs`: listing, queue figures, a retry). Both speak of a
//! notification's `DeliveryStatus`. `upkeep.rs` keeps the relay's tables fit on PostgreSQL.

mod leases;
mod queue;
mod upkeep;
mod views;

pub use queue::{AttemptNext, AttemptRecord, ClaimedDelivery, DueWindow, ReadStart, Slot};
pub use upkeep::Analyzed;
pub use views::{AttemptView, DeliveryFilter, DeliveryView, QueueStats, RetryRequest};

use super::tx::Arg;
use serde::{Deserialize, Serialize};

/// Where a notification stands. Stored, listed and filtered on as its lowercase name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt, or in one.
    Pending,
    Delivered,
    /// Given up after its last attempt; an operator may retry it.
    Failed,
}

impl DeliveryStatus {
    /// Every status, in the order operators are told them.
    pub const ALL: [DeliveryStatus; 3] = [Self::Pending, Self::Failed, Self::Delivered];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }
}

/// A name that is no `DeliveryStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a delivery status")]
pub struct UnknownStatus;

impl std::str::FromStr for DeliveryStatus {
    type Err = UnknownStatus;

    fn from_str(name: &str) -> Result<Self, UnknownStatus> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == name)
            .ok_or(UnknownStatus)
    }
}

impl From<DeliveryStatus> for Arg<'_> {
    fn from(status: DeliveryStatus) -> Self {
        Arg::Text(status.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_reads_back_from_its_name_and_serializes_as_it() {
        for status in DeliveryStatus::ALL {
            assert_eq!(status.as_str().parse(), Ok(status));
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                serde_json::Value::from(status.as_str())
            );
        }
        assert_eq!("Pending".parse::<DeliveryStatus>(), Err(UnknownStatus));
        assert_eq!("".parse::<DeliveryStatus>(), Err(UnknownStatus));
    }
}
