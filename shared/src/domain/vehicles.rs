//! Vehicles drivers register, in the shapes the vehicle functions answer with.
