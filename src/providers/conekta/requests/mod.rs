//! One request type per Conekta action: every field read from the storefront's JSON object
//! once, checked, and every bad field named at once (`parse`); what makes two requests the same
//! (`identity`); and the conversion into Conekta's wire shapes. The action modules above are
//! flows only. Nothing here calls Conekta or the store.

pub mod charge;
pub mod checkout;
pub mod common;
pub mod create;
pub mod order;
pub mod reference;
pub mod refund;
pub mod save_card;
pub mod split;

pub use charge::ChargeRequest;
pub use create::CreateRequest;
pub use order::{CaptureRequest, OrderRequest};
pub use reference::ReferenceRequest;
pub use refund::RefundRequest;
pub use save_card::{CardOwner, SaveCardRequest};
pub use split::SplitRequest;
