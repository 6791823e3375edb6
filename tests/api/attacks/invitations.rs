//! Attacks: invitations (issue 15).
