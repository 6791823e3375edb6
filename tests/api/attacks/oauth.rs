//! Attacks: oauth (issue 15).
