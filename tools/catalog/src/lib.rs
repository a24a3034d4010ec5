//! Every function crate but `docs` (which documents this list). The docs
//! function's tests fail when this list and `functions/` disagree.

use shared::function::Function;

/// Every function but `docs`, in a stable order.
pub fn functions() -> Vec<Function> {
    vec![
        root::function(),
        health::function(),
        cities_list::function(),
        city_attractions::function(),
        attractions_get::function(),
        attractions_search::function(),
        attractions_nearby::function(),
    ]
}
