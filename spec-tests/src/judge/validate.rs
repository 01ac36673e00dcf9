//! Judging a validate outcome: valid or not as the case expects under the profile, and (for
//! the reference's own run) for the requirement it names.

use state_reference::Profile;

use super::outcome::Validated;
use super::strictness::Strictness;
use crate::corpus::case::Case;

/// How `validated` differs from the case's expectation under `profile`, in words, into `out`.
pub(super) fn differences(
    case: &Case,
    profile: &Profile,
    Validated {
        valid,
        requirement,
        reason,
    }: &Validated,
    strictness: Strictness,
    out: &mut Vec<String>,
) {
    let expected = case.validate_expectation(&profile.name);
    if expected.valid != *valid {
        let said = if *valid {
            "valid".to_owned()
        } else {
            format!("invalid ({})", reason.as_deref().unwrap_or("no reason"))
        };
        out.push(format!(
            "expected {}, observed {said}",
            if expected.valid { "valid" } else { "invalid" }
        ));
    } else if strictness == Strictness::WithRequirementIds
        && !expected.valid
        && expected.requirement.is_some()
        && expected.requirement != *requirement
    {
        out.push(format!(
            "rejected for {}, expected {}",
            requirement.as_deref().unwrap_or("no requirement"),
            expected.requirement.as_deref().unwrap_or_default()
        ));
    }
}
