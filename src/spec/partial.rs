//! A spec read as far as it can be trusted.
//!
//! Stage: parse, for validate. When the structural pass finds problems, the
//! spec cannot be read as a whole, but most of it usually can: every section,
//! every resource and every field that is structurally sound is read on its
//! own, so that the semantic checks whose inputs are sound still run and
//! "all errors of a file in one run" holds. A part is `None` when it has a
//! structural problem, or when it is absent and might have been meant by a
//! misspelt key next to it; a check that needs a `None` part does not run,
//! so no semantic error is ever a consequence of a structural one.

use indexmap::IndexMap;

use super::{
    Access, Auth, Cors, Database, Field, Limits, OperationRates, Owner, Resource, Service, Spec,
    Throttle,
};

/// The trusted parts of a spec. For optional sections, `Some(None)` means
/// "known to be absent" and `None` "unknown".
#[derive(Debug, Clone, Default)]
pub struct PartialSpec {
    pub palisade: Option<u32>,
    pub service: Option<Service>,
    pub auth: Option<Auth>,
    pub roles: Option<Vec<String>>,
    pub cors: Option<Option<Cors>>,
    pub throttle: Option<Option<Throttle>>,
    pub limits: Option<Option<Limits>>,
    pub database: Option<Option<Database>>,
    /// Every resource by name (names are known even when a resource is
    /// broken); `None` when `resources` itself is unsound.
    pub resources: Option<IndexMap<String, PartialResource>>,
}

/// The trusted parts of one resource.
#[derive(Debug, Clone, Default)]
pub struct PartialResource {
    pub plural: Option<Option<String>>,
    pub owner: Option<Owner>,
    /// Every field by name; `None` for a field that is not sound.
    pub fields: Option<IndexMap<String, Option<Field>>>,
    pub access: Option<Option<Access>>,
    pub hide: Option<IndexMap<String, Vec<String>>>,
    pub filters: Option<Vec<String>>,
    pub sort: Option<Vec<String>>,
    pub throttle: Option<Option<OperationRates>>,
    pub renamed_from: Option<Option<String>>,
}

impl PartialSpec {
    /// Every part of a spec that was read whole.
    pub fn complete(spec: &Spec) -> PartialSpec {
        PartialSpec {
            palisade: Some(spec.palisade),
            service: Some(spec.service.clone()),
            auth: Some(spec.auth.clone()),
            roles: Some(spec.roles.clone()),
            cors: Some(spec.cors.clone()),
            throttle: Some(spec.throttle.clone()),
            limits: Some(spec.limits.clone()),
            database: Some(spec.database.clone()),
            resources: Some(
                spec.resources
                    .iter()
                    .map(|(name, r)| (name.clone(), PartialResource::complete(r)))
                    .collect(),
            ),
        }
    }
}

impl PartialResource {
    pub fn complete(resource: &Resource) -> PartialResource {
        PartialResource {
            plural: Some(resource.plural.clone()),
            owner: Some(resource.owner.clone()),
            fields: Some(
                resource
                    .fields
                    .iter()
                    .map(|(name, f)| (name.clone(), Some(f.clone())))
                    .collect(),
            ),
            access: Some(resource.access.clone()),
            hide: Some(resource.hide.clone()),
            filters: Some(resource.filters.clone()),
            sort: Some(resource.sort.clone()),
            throttle: Some(resource.throttle.clone()),
            renamed_from: Some(resource.renamed_from.clone()),
        }
    }

    /// Every part is trusted.
    pub fn is_complete(&self) -> bool {
        self.plural.is_some()
            && self.owner.is_some()
            && self
                .fields
                .as_ref()
                .is_some_and(|f| f.values().all(Option::is_some))
            && self.access.is_some()
            && self.hide.is_some()
            && self.filters.is_some()
            && self.sort.is_some()
            && self.throttle.is_some()
    }
}
