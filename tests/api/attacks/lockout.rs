//! Attacks: lockout (issue 15).
