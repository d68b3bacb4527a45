//! Traits and value types shared by the meshmon engine and its providers.
//! Nothing here talks to a cloud: a provider crate depends on this one and on
//! its own SDK, and the engine depends on this one and on every provider.

pub mod attrs;
pub mod compare;
pub mod current;
pub mod declared;
pub mod error;
pub mod lint;
pub mod lookup;
pub mod path;
pub mod resource;
pub mod schema;
pub mod sorted_map;
pub mod testing;
pub mod value;
pub mod wait;

pub use async_trait::async_trait;
pub use attrs::Attrs;
pub use declared::{
    Declaration, Declared, DeclaredOutputs, Inputs, NoUpdates, TypeEntry, Types, UpdateGroup,
};
pub use error::ProviderError;
pub use lint::{Facts, Finding, WarningCode, Written};
pub use lookup::DeclaredLookup;
pub use path::{AttrPath, PathError};
pub use resource::{
    ADDRESS_TAG, Configured, Current, Intent, LINEAGE_TAG, Lookup, OWNERSHIP_TAG_PREFIX, OpContext,
    PlanAdvice, Provider, Resource, TOKEN_TAG, Traffic,
};
pub use schema::{AttrType, Attribute, BlockCheck, Check, InputsCheck, Schema};
pub use sorted_map::SortedMap;
pub use value::{Map, PathSegment, Value, format_path};
