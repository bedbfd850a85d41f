//! API tokens: a name, a role and the SHA-256 of the token. The token itself
//! is shown once, when it is made, and never kept: a copy of state.db gives
//! nobody access. A token is 32 random bytes, so a plain hash is enough (no
//! salt or slow hash is needed against guessing).

use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{State, StateError, now_unix, who};

/// What a token may do; each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads.
    Viewer,
    /// Runs pipelines, deploys, rolls back, backs up, checks, approves.
    Operator,
    /// Manages tokens, plugins and locks.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        [Role::Viewer, Role::Operator, Role::Admin].into_iter().find(|r| r.as_str() == text)
    }
}

/// A token as listed: never the token itself.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TokenRecord {
    pub name: String,
    pub role: Role,
    pub created_at: i64,
    pub created_by: String,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

/// The prefix of every token, so a leaked one is recognisable (and scanners can find it).
pub const TOKEN_PREFIX: &str = "bosun_";

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl State {
    /// Makes token `name` with `role`; the token, to show once. None when the
    /// name is taken.
    pub fn create_token(&self, name: &str, role: Role, expires_at: Option<i64>) -> Result<Option<String>, StateError> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| StateError::Random(e.to_string()))?;
        let token = format!("{TOKEN_PREFIX}{}", hex::encode(secret));
        let inserted = self.conn().execute(
            "INSERT INTO tokens (name, role, hash, created_at, created_by, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(name) DO NOTHING",
            params![name, role.as_str(), hash(&token), now_unix(), who(), expires_at],
        )?;
        Ok((inserted == 1).then_some(token))
    }

    /// The live token `token` is, if it is one: not revoked, not expired.
    /// Found by its hash (an index lookup); the stored hash is compared in
    /// constant time as well.
    pub fn token(&self, token: &str) -> Result<Option<TokenRecord>, StateError> {
        let wanted = hash(token);
        let found = self
            .conn()
            .query_row(
                "SELECT name, role, created_at, created_by, expires_at, revoked_at, last_used_at, hash FROM tokens WHERE hash = ?1",
                [&wanted],
                |row| Ok((record(row)?, row.get::<_, String>(7)?)),
            )
            .optional()?;
        let now = now_unix();
        Ok(found.filter(|(record, stored)| {
            use subtle::ConstantTimeEq;
            bool::from(stored.as_bytes().ct_eq(wanted.as_bytes())) && record.revoked_at.is_none() && record.expires_at.is_none_or(|at| at > now)
        })
        .map(|(record, _)| record))
    }

    /// Token `name` while it is live (not revoked, not expired): a dashboard
    /// session made with it ends when it does.
    pub fn live_token(&self, name: &str) -> Result<Option<TokenRecord>, StateError> {
        let found = self
            .conn()
            .query_row("SELECT name, role, created_at, created_by, expires_at, revoked_at, last_used_at FROM tokens WHERE name = ?1", [name], record)
            .optional()?;
        let now = now_unix();
        Ok(found.filter(|t| t.revoked_at.is_none() && t.expires_at.is_none_or(|at| at > now)))
    }

    /// Notes that token `name` was used now.
    pub fn token_used(&self, name: &str) -> Result<(), StateError> {
        self.conn().execute("UPDATE tokens SET last_used_at = ?2 WHERE name = ?1", params![name, now_unix()])?;
        Ok(())
    }

    pub fn tokens(&self) -> Result<Vec<TokenRecord>, StateError> {
        let conn = self.conn();
        let mut statement = conn.prepare("SELECT name, role, created_at, created_by, expires_at, revoked_at, last_used_at FROM tokens ORDER BY name")?;
        let rows = statement.query_map([], record)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Revokes token `name`; false when there is no live token of that name.
    pub fn revoke_token(&self, name: &str) -> Result<bool, StateError> {
        Ok(self.conn().execute("UPDATE tokens SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL", params![name, now_unix()])? == 1)
    }
}

fn record(row: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRecord> {
    Ok(TokenRecord {
        name: row.get(0)?,
        role: Role::parse(&row.get::<_, String>(1)?).unwrap_or(Role::Viewer),
        created_at: row.get(2)?,
        created_by: row.get(3)?,
        expires_at: row.get(4)?,
        revoked_at: row.get(5)?,
        last_used_at: row.get(6)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_hash_is_kept_and_revoked_or_expired_tokens_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(dir.path()).unwrap();
        let token = state.create_token("ci", Role::Operator, None).unwrap().unwrap();
        assert!(token.starts_with(TOKEN_PREFIX) && token.len() == TOKEN_PREFIX.len() + 64);
        assert!(state.create_token("ci", Role::Admin, None).unwrap().is_none(), "names are unique");
        assert_eq!(state.token(&token).unwrap().unwrap().role, Role::Operator);
        assert!(state.token("bosun_guess").unwrap().is_none());
        let bytes = std::fs::read(dir.path().join(super::super::FILE_NAME)).unwrap();
        let wal = std::fs::read(dir.path().join(format!("{}-wal", super::super::FILE_NAME))).unwrap_or_default();
        let needle = token.as_bytes();
        assert!(![bytes, wal].iter().any(|b| b.windows(needle.len()).any(|w| w == needle)), "the token is not in the state store");
        assert!(state.revoke_token("ci").unwrap());
        assert!(state.token(&token).unwrap().is_none(), "revoked");
        let old = state.create_token("old", Role::Viewer, Some(now_unix() - 1)).unwrap().unwrap();
        assert!(state.token(&old).unwrap().is_none(), "expired");
    }
}
