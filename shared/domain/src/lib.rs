//! The business: what more than one function knows about tourism, travel,
//! bookings, tickets, vehicles and users. It uses the platform's handles
//! (`shared`: the pool, Redis through its deadline and breaker, the errors);
//! the platform knows nothing of it. Notifications are written and delivered
//! through the platform's outbox (`shared::notifications`, with its FCM
//! `push`); the business decides what they say. Functions stay thin handlers
//! over it.

pub mod bookings;
pub mod geo;
pub mod tickets;
pub mod tourism;
pub mod travel;
pub mod users;
pub mod vehicles;

pub use shared::{notifications, push};

/// The business's messages in English and French (`locales/`).
pub static MESSAGES: shared::i18n::Catalog = shared::catalog!("domain");
