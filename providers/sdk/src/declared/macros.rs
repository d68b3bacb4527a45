//! The `declare!` macro and the attribute constructors its blocks name.

/// The attribute constructors a `declare!` block names, each taking the
/// attribute's name first.
pub mod attr {
    pub use crate::schema::AttrType;
    use crate::schema::Attribute;

    /// An attribute the user must set.
    pub fn required(name: &'static str, ty: AttrType) -> Attribute {
        Attribute::required(name, ty)
    }

    /// An attribute the user may set.
    pub fn optional(name: &'static str, ty: AttrType) -> Attribute {
        Attribute::optional(name, ty)
    }

    /// An attribute only the provider sets.
    pub fn computed(name: &'static str, ty: AttrType) -> Attribute {
        Attribute::computed(name, ty)
    }
}

/// An attribute's name from its field's (`r#type` is `type`).
pub fn field_name(field: &'static str) -> &'static str {
    field.strip_prefix("r#").unwrap_or(field)
}

/// Declares a resource type's inputs, outputs and schema at once:
///
/// ```
/// use meshmon_provider_sdk::declare;
///
/// declare! {
///     /// What a topic is made from.
///     pub struct TopicIn for "example_topic" ("A topic.") {
///         name: String = required(AttrType::String).force_new();
///         display_name: Option<String> = optional(AttrType::String)
///             .describe("Changed in place.");
///         region: Option<String> = optional(AttrType::String).and_computed();
///     }
///     outputs TopicOut {
///         id: String = computed(AttrType::String).describe("The topic's ID.");
///         endpoint: Option<String> = computed(AttrType::String);
///         // An input the provider computes when it is left out.
///         region: Option<String>;
///     }
/// }
/// ```
///
/// Each input is a field of the inputs struct and an attribute of the
/// schema, in order. Each output is a field of the outputs struct (with
/// the same visibility) and, when it has a constructor, an attribute after
/// the inputs; one without names an input the provider also computes
/// (`and_computed`). An attribute is made by a constructor that takes its
/// name first (`required`, `optional`, `computed`, or any function in
/// scope with that shape) and the builder calls that follow. Field
/// attributes (`#[serde(default)]`, doc comments) pass through.
///
/// Checks of several inputs together go in a `checks` block between the
/// inputs and the outputs, each a function in scope
/// ([`InputsCheck`](crate::schema::InputsCheck)) with the attributes it
/// reads: `checks { one_source: ["config_json", "gnet_id"]; }`.
///
/// A provider configuration block is declared the same way, without
/// outputs. A type whose outputs stay an untyped `Map` lists them as
/// schema attributes only: `outputs { id = computed(AttrType::String); }`.
#[macro_export]
macro_rules! declare {
    (
        $(#[$meta:meta])*
        $vis:vis struct $inputs:ident for $type_name:literal ($description:expr) {
            $(
                $(#[$fmeta:meta])*
                $field:ident : $fty:ty = $ctor:ident ( $($carg:expr),* $(,)? )
                    $( . $m:ident ( $($marg:expr),* $(,)? ) )* ;
            )*
        }
        $( checks {
            $( $check:ident : [ $($reads:literal),* $(,)? ] ; )*
        } )?
        $( outputs $outputs:ident {
            $(
                $(#[$ofmeta:meta])*
                $out:ident : $oty:ty $( = $octor:ident ( $($oarg:expr),* $(,)? )
                    $( . $om:ident ( $($omarg:expr),* $(,)? ) )* )? ;
            )*
        } )?
        $( outputs {
            $(
                $uout:ident = $uctor:ident ( $($uarg:expr),* $(,)? )
                    $( . $uom:ident ( $($uomarg:expr),* $(,)? ) )* ;
            )*
        } )?
    ) => {
        $(#[$meta])*
        #[derive(::serde::Deserialize)]
        $vis struct $inputs {
            $( $(#[$fmeta])* pub $field: $fty, )*
        }

        impl $crate::declared::Declaration for $inputs {
            const TYPE_NAME: &'static str = $type_name;

            fn schema() -> $crate::Schema {
                #[allow(unused_imports)]
                use $crate::declared::attr::*;
                $crate::Schema::new($type_name, $description)
                    $(
                        .attr(
                            $ctor($crate::declared::field_name(stringify!($field)), $($carg),*)
                                $( .$m($($marg),*) )*
                        )
                    )*
                    $($($(
                        .attr(
                            $octor($crate::declared::field_name(stringify!($out)), $($oarg),*)
                                $( .$om($($omarg),*) )*
                        )
                    )?)*)?
                    $($(
                        .attr(
                            $uctor($crate::declared::field_name(stringify!($uout)), $($uarg),*)
                                $( .$uom($($uomarg),*) )*
                        )
                    )*)?
                    $($( .checked(&[$($reads),*], $check) )*)?
            }
        }

        $(
            #[derive(Debug, Clone, PartialEq, ::serde::Deserialize)]
            $vis struct $outputs {
                $( $(#[$ofmeta])* pub $out: $oty, )*
            }

            impl $crate::declared::DeclaredOutputs for $outputs {
                fn fields() -> Option<Vec<&'static str>> {
                    Some(vec![$( $crate::declared::field_name(stringify!($out)) ),*])
                }

                fn into_map(self) -> $crate::Map {
                    #[allow(unused_mut)]
                    let mut m = $crate::Map::new();
                    $(
                        if let Some(v) = $crate::declared::OutputValue::into_value(self.$out) {
                            m.insert(
                                $crate::declared::field_name(stringify!($out)).to_string(),
                                v,
                            );
                        }
                    )*
                    m
                }
            }
        )?
    };
}
