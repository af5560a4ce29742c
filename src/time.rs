//! Cycle windows, model steps and calendar helpers over chrono.
