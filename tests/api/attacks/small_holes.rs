//! Attacks: small_holes (issue 15).
