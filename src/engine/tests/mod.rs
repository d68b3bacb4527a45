//! The engine driven in-process against the fake provider of `testing`:
//! the apply protocol (`apply`), refresh and drift (`refresh`), what a
//! kill or a lost answer leaves for the next run (`crash`), and the walk's
//! ordering on its own (`schedule`).

mod apply;
mod crash;
mod refresh;
mod schedule;
