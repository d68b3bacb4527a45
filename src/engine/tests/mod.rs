//! The engine driven in-process against the fake provider of `testing`:
//! the apply protocol (`apply`), refresh and drift (`refresh`), and what a
//! kill or a lost answer leaves for the next run (`crash`).

mod apply;
mod crash;
mod refresh;
