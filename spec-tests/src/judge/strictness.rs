//! How closely an outcome is compared: what every comparison in `judge/` takes (a leaf, so
//! the comparisons need nothing from `judge/mod.rs`).

/// How closely to compare: the reference names the requirement behind each rejection;
/// foreign implementations are only held to *which* items they rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strictness {
    WithRequirementIds,
    ItemsOnly,
}
