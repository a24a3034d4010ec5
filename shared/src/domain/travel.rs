//! Travel: routes (daily schedules or published rides) and their dated
//! departures, in the shapes the travel functions answer with.
