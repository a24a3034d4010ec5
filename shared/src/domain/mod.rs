//! The business: what more than one function knows about tourism, travel,
//! bookings, vehicles and notifications. Functions stay thin handlers over it.

pub mod bookings;
pub mod geo;
pub mod notifications;
pub mod push;
pub mod tickets;
pub mod tourism;
pub mod travel;
pub mod users;
pub mod vehicles;
