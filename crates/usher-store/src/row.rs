//! Reading typed columns out of `AnyRow`s, turning shape problems into `Corrupt`.

use std::str::FromStr;

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::{Result, StoreError};

pub(crate) fn get<'r, T>(row: &'r AnyRow, col: &str) -> Result<T>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    Ok(row.try_get::<T, _>(col)?)
}

pub(crate) fn parse<T: FromStr>(row: &AnyRow, col: &str) -> Result<T> {
    let s: String = get(row, col)?;
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("column {col} holds {s:?}")))
}

pub(crate) fn flag(row: &AnyRow, col: &str) -> Result<bool> {
    Ok(get::<i64>(row, col)? != 0)
}
