//! Binding a nullable `DOUBLE PRECISION` through `sqlx::Any`.
//!
//! sqlx 0.9.0's PostgreSQL side of `Any` sends a NULL `f64` (`Option::<f64>::None`) as
//! a NULL *`float4`* (its Real/Double arms are swapped). PostgreSQL then prepares the
//! statement with a `float4` parameter, the connection caches it, and the next run of
//! the same SQL with a value fails: "incorrect binary data format in bind parameter".
//! [`OptF64`] sends NULL as the kind that maps to `float8` (a NULL `f32`'s); SQLite
//! stores either NULL alike. The store tests on PostgreSQL insert a video with NULL
//! floats and then one with values on one connection, so a sqlx that fixes the swap
//! (and makes this send `float4` again) fails them.

use sqlx::Database;
use sqlx::any::{Any, AnyTypeInfo};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;

type Buffer = <Any as Database>::ArgumentBuffer;

/// An `Option<f64>` to bind into a nullable `DOUBLE PRECISION` column.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct OptF64(pub Option<f64>);

impl sqlx::Type<Any> for OptF64 {
    fn type_info() -> AnyTypeInfo {
        <f64 as sqlx::Type<Any>>::type_info()
    }
}

impl sqlx::Encode<'_, Any> for OptF64 {
    fn encode_by_ref(&self, buf: &mut Buffer) -> Result<IsNull, BoxDynError> {
        match self.0 {
            Some(v) => <f64 as sqlx::Encode<Any>>::encode_by_ref(&v, buf),
            None => <Option<f32> as sqlx::Encode<Any>>::encode_by_ref(&None, buf),
        }
    }
}
