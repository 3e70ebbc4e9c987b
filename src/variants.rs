//! Complete lists of oci-spec enum variants, for `rt features`: oci-spec derives no iterator, and
//! a hand-written list would silently fall behind when a new spec version adds a value.

/// `all_variants!(Type: A, B)` is `[Type::A, Type::B]`. An exhaustive `match` over the same names
/// makes a variant missing from the list a compile error, so the list cannot drift.
macro_rules! all_variants {
    ($ty:ident: $($v:ident),+ $(,)?) => {{
        const fn _exhaustive(x: $ty) {
            match x {
                $($ty::$v)|+ => {}
            }
        }
        [$($ty::$v),+]
    }};
}

pub(crate) use all_variants;

/// The spec's JSON string for an enum value, e.g. "SCMP_ACT_ERRNO" or "network".
pub fn spec_name<T: serde::Serialize + std::fmt::Debug>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{v:?}"))
}
