//! `check`: SQLite's own integrity checks (on SQLite), then the invariants the schema lets us check
//! (SPEC §2: one administrator per student, no student without contacts, the contact cap;
//! well-formed ids; the removal lists; both keyrings present; the migrations applied).

use crate::args;
use crate::db::DbResult;
use crate::schema;
use crate::sql::{Dialect, Row, Sql};
use campus_voip::ids::{OpenId, UserId};
use campus_voip::registry::MAX_REMOVALS;
use campus_voip::storage::HARD_MAX_CONTACTS;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Broken invariants (`check` fails).
    pub problems: Vec<String>,
    /// Worth knowing, not broken (a student over today's `--max-contacts`, set lower later).
    pub warnings: Vec<String>,
    pub students: u64,
    pub contacts: u64,
    pub consents: u64,
    pub devices: u64,
}

impl CheckReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

fn strings(conn: &dyn Sql, sql: &str) -> DbResult<Vec<String>> {
    conn.rows(sql, &[])?
        .iter()
        .map(|r| r.text(0).map(str::to_owned))
        .collect()
}

/// Each row as a sentence made by `f`.
fn sentences(
    conn: &dyn Sql,
    sql: &str,
    f: impl Fn(&Row) -> DbResult<String>,
) -> DbResult<Vec<String>> {
    conn.rows(sql, &[])?.iter().map(f).collect()
}

fn count(conn: &dyn Sql, table: &str) -> DbResult<u64> {
    conn.one(&format!("SELECT COUNT(*) FROM {table}"), &[])?
        .uint(0)
}

/// A value as SQL writes it (`'it''s'`), as the reports always showed ids.
fn sq(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

const SHOWN: usize = 20;

fn report_each(problems: &mut Vec<String>, rows: Vec<String>, what: &str) {
    for r in rows.iter().take(SHOWN) {
        problems.push(format!("{what}: {r}"));
    }
    if rows.len() > SHOWN {
        problems.push(format!("{what}: … and {} more", rows.len() - SHOWN));
    }
}

/// Checks the database on `conn` (read only).
pub fn check(conn: &dyn Sql, max_contacts: u32) -> DbResult<CheckReport> {
    let mut r = CheckReport::default();
    if conn.dialect() == Dialect::Sqlite {
        let integrity = strings(conn, "PRAGMA integrity_check")?;
        if integrity != ["ok"] {
            report_each(&mut r.problems, integrity, "integrity_check");
            // The rest reads the damaged file; stop here.
            return Ok(r);
        }
        let fk = sentences(conn, "PRAGMA foreign_key_check", |row| {
            Ok(format!(
                "a row of {} points at a missing {}",
                row.text(0)?,
                row.text(2)?
            ))
        })?;
        report_each(&mut r.problems, fk, "foreign_key_check");
    }

    let version = schema::current_version(conn)?;
    if version != schema::latest() {
        r.problems.push(format!(
            "schema version {version}, this binary's is {}",
            schema::latest()
        ));
        return Ok(r);
    }
    for m in schema::MIGRATIONS {
        let stored = conn
            .one(
                "SELECT checksum FROM schema_migrations WHERE version = ?1",
                args![m.version],
            )?
            .text(0)?
            .to_owned();
        if stored != schema::checksum(m.sql(conn.dialect())) {
            r.warnings.push(format!(
                "migration {} was applied from a different text than this binary's",
                m.version
            ));
        }
    }

    report_each(
        &mut r.problems,
        sentences(
            conn,
            "SELECT user_id FROM students s
             WHERE NOT EXISTS (SELECT 1 FROM contacts c WHERE c.user_id = s.user_id)",
            |row| Ok(sq(row.text(0)?)),
        )?,
        "student without contacts",
    );
    report_each(
        &mut r.problems,
        sentences(
            conn,
            "SELECT s.user_id, (SELECT COUNT(*) FROM contacts c
                 WHERE c.user_id = s.user_id AND c.role = 1)
             FROM students s
             WHERE (SELECT COUNT(*) FROM contacts c WHERE c.user_id = s.user_id AND c.role = 1) != 1",
            |row| Ok(format!("{} has {} administrators", sq(row.text(0)?), row.int(1)?)),
        )?,
        "student",
    );
    report_each(
        &mut r.problems,
        sentences(
            conn,
            &format!(
                "SELECT user_id, COUNT(*) FROM contacts
                 GROUP BY user_id HAVING COUNT(*) > {HARD_MAX_CONTACTS}"
            ),
            |row| Ok(format!("{} has {} contacts", sq(row.text(0)?), row.int(1)?)),
        )?,
        "over the hard cap",
    );
    let over = sentences(
        conn,
        &format!(
            "SELECT user_id, COUNT(*) FROM contacts
             GROUP BY user_id HAVING COUNT(*) > {max_contacts}"
        ),
        |row| Ok(format!("{} has {} contacts", sq(row.text(0)?), row.int(1)?)),
    )?;
    report_each(&mut r.warnings, over, "over --max-contacts");
    report_each(
        &mut r.problems,
        sentences(
            conn,
            &format!(
                "SELECT user_id, COUNT(*) FROM removals
                 GROUP BY user_id HAVING COUNT(*) > {MAX_REMOVALS}"
            ),
            |row| Ok(format!("{} has {} removals", sq(row.text(0)?), row.int(1)?)),
        )?,
        "removal list",
    );
    report_each(
        &mut r.problems,
        sentences(
            conn,
            "SELECT r.user_id, r.open_id
             FROM removals r JOIN contacts c ON c.user_id = r.user_id AND c.open_id = r.open_id",
            |row| {
                Ok(format!(
                    "{} lists {} as removed and as a contact",
                    sq(row.text(0)?),
                    sq(row.text(1)?)
                ))
            },
        )?,
        "removal list",
    );

    let bad_user_ids: Vec<String> = strings(conn, "SELECT user_id FROM students")?
        .into_iter()
        .filter(|u| UserId::parse("userId", u).is_err())
        .map(|u| campus_voip::input::quote(&u))
        .collect();
    report_each(&mut r.problems, bad_user_ids, "malformed userId");
    let bad_open_ids: Vec<String> = strings(
        conn,
        "SELECT open_id FROM contacts UNION SELECT open_id FROM removals
         UNION SELECT open_id FROM consents",
    )?
    .into_iter()
    .filter(|o| OpenId::parse("openId", o).is_err())
    .map(|o| campus_voip::input::quote(&o))
    .collect();
    report_each(&mut r.problems, bad_open_ids, "malformed openId");
    let bad_devices: Vec<String> = strings(conn, "SELECT name FROM devices")?
        .into_iter()
        .filter(|n| crate::devices::check_name(n).is_err())
        .collect();
    report_each(&mut r.problems, bad_devices, "malformed device name");

    if let Err(e) = schema::load_keys(conn) {
        r.problems.push(e.to_string());
    }

    // Every record as the operations read it (`SqlRepo`), through the core's own load check.
    let mut unreadable = Vec::new();
    for id in strings(conn, "SELECT user_id FROM students ORDER BY user_id")? {
        let Ok(uid) = UserId::parse("userId", &id) else {
            continue; // reported above as a malformed userId
        };
        match crate::repo::load_student(conn, &uid) {
            Ok(Some(rec)) => {
                if let Err(m) = rec.check(HARD_MAX_CONTACTS) {
                    unreadable.push(m);
                }
            }
            Ok(None) => {}
            Err(e) => unreadable.push(e.message),
        }
    }
    report_each(&mut r.problems, unreadable, "record refused by the core");

    r.students = count(conn, "students")?;
    r.contacts = count(conn, "contacts")?;
    r.consents = count(conn, "consents")?;
    r.devices = count(conn, "devices WHERE revoked_at IS NULL")?;
    Ok(r)
}
