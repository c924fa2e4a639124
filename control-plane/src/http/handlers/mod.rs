//! One module per resource; each handler parses, authorizes, calls one service function
//! and maps the result.

pub mod graphs;
pub mod health;
pub mod internal;
