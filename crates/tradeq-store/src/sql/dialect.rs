//! What differs between the SQL of the two backends in the statements they share.

/// The SQL dialect a statement is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// Placeholder `n` (1-based).
    pub(crate) fn placeholder(self, n: usize) -> String {
        match self {
            Dialect::Sqlite => format!("?{n}"),
            Dialect::Postgres => format!("${n}"),
        }
    }

    /// A document field as the expression the listing indexes were built on.
    pub(crate) fn field(self, name: &str) -> String {
        match self {
            Dialect::Sqlite => format!("json_extract(doc, '$.{name}')"),
            Dialect::Postgres => format!("(doc ->> '{name}')"),
        }
    }

    /// A statement written in PostgreSQL's spelling, in this dialect. SQLite numbers its
    /// placeholders `?N` and keeps every document as text, so there `$N` becomes `?N` and the
    /// casts (`::jsonb`, `::text`) go.
    pub(crate) fn sql(self, postgres: &str) -> String {
        match self {
            Dialect::Postgres => postgres.to_string(),
            Dialect::Sqlite => {
                let mut out = String::with_capacity(postgres.len());
                let mut chars = postgres.chars().peekable();
                while let Some(c) = chars.next() {
                    match c {
                        '$' if chars.peek().is_some_and(char::is_ascii_digit) => out.push('?'),
                        ':' if chars.peek() == Some(&':') => {
                            chars.next();
                            while chars
                                .peek()
                                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
                            {
                                chars.next();
                            }
                        }
                        _ => out.push(c),
                    }
                }
                out
            }
        }
    }

    /// `audit_log.at` as epoch milliseconds.
    pub(crate) fn audit_at(self) -> &'static str {
        match self {
            Dialect::Sqlite => "at",
            Dialect::Postgres => "(EXTRACT(EPOCH FROM at) * 1000)::bigint",
        }
    }

    /// Deletes at most `$2` nonces expired at `$1`, to keep the write lock short.
    pub(crate) fn purge_nonces(self) -> &'static str {
        match self {
            Dialect::Sqlite => {
                "DELETE FROM used_nonce WHERE rowid IN \
                 (SELECT rowid FROM used_nonce WHERE expires_at <= ?1 LIMIT ?2)"
            }
            Dialect::Postgres => {
                "DELETE FROM used_nonce WHERE ctid = ANY(ARRAY(\
                 SELECT ctid FROM used_nonce WHERE expires_at <= $1 LIMIT $2))"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Dialect;

    #[test]
    fn sqlite_numbers_placeholders_with_a_question_mark_and_drops_casts() {
        let pg = "INSERT INTO t (a, doc) VALUES ($1, $12::jsonb) RETURNING doc::text, '$.x'";
        assert_eq!(Dialect::Postgres.sql(pg), pg);
        assert_eq!(
            Dialect::Sqlite.sql(pg),
            "INSERT INTO t (a, doc) VALUES (?1, ?12) RETURNING doc, '$.x'"
        );
    }
}
