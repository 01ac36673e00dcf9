//! The requirements catalogue (`fixtures/requirements.json`): one entry per normative
//! statement of STATE-PROTOCOL and the schema, plus the questions the spec leaves open.

use super::source::CorpusFile;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::LoadError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Requirement {
    pub id: String,
    pub section: String,
    /// MUST, MUST NOT, SHOULD, SHOULD NOT, MAY, or `silent` for an open question.
    pub level: String,
    pub party: String,
    pub summary: String,
    /// For open questions: the profile field that answers it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_field: Option<String>,
    /// For open questions the upstream Durable Streams client conformance suite answers: its
    /// test IDs (`packages/client-conformance-tests`). `--level upstream-client` holds
    /// implementations to them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upstream_client_tests: Vec<String>,
}

impl Requirement {
    /// MUST, MUST NOT, SHOULD and SHOULD NOT: each needs at least one case.
    pub fn needs_case(&self) -> bool {
        matches!(
            self.level.as_str(),
            "MUST" | "MUST NOT" | "SHOULD" | "SHOULD NOT"
        )
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CatalogueFile {
    requirements: Vec<Requirement>,
}

#[derive(Debug, Clone)]
pub struct Catalogue {
    by_id: BTreeMap<String, Requirement>,
    order: Vec<String>,
}

impl Catalogue {
    pub fn parse(source: &CorpusFile) -> Result<Catalogue, LoadError> {
        let path = &source.path;
        let file: CatalogueFile =
            serde_json::from_str(&source.text).map_err(|e| LoadError::json(path, e))?;
        let mut by_id = BTreeMap::new();
        let mut order = Vec::new();
        for r in file.requirements {
            order.push(r.id.clone());
            if let Some(dup) = by_id.insert(r.id.clone(), r) {
                return Err(LoadError::invalid(
                    path,
                    "/requirements",
                    format!("duplicate requirement id {}", dup.id),
                ));
            }
        }
        Ok(Catalogue { by_id, order })
    }

    pub fn get(&self, id: &str) -> Option<&Requirement> {
        self.by_id.get(id)
    }

    /// Requirements in catalogue order.
    pub fn iter(&self) -> impl Iterator<Item = &Requirement> {
        self.order.iter().map(|id| &self.by_id[id])
    }
}
