//! `check`: SQLite's own integrity checks, then the invariants the schema lets us check
//! (SPEC §2: one administrator per student, no student without contacts, the contact cap;
//! well-formed ids; the removal lists; both keyrings present; the migrations applied).

use crate::db::DbResult;
use crate::schema;
use campus_voip::ids::{OpenId, UserId};
use campus_voip::registry::MAX_REMOVALS;
use campus_voip::storage::HARD_MAX_CONTACTS;
use rusqlite::Connection;

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

fn strings(conn: &Connection, sql: &str) -> DbResult<Vec<String>> {
    let mut st = conn.prepare(sql)?;
    let rows = st.query_map([], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn count(conn: &Connection, table: &str) -> DbResult<u64> {
    Ok(
        conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| {
            r.get::<_, i64>(0)
        })? as u64,
    )
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
pub fn check(conn: &Connection, max_contacts: u32) -> DbResult<CheckReport> {
    let mut r = CheckReport::default();
    let integrity = strings(conn, "PRAGMA integrity_check")?;
    if integrity != ["ok"] {
        report_each(&mut r.problems, integrity, "integrity_check");
        // The rest reads the damaged file; stop here.
        return Ok(r);
    }
    let mut st = conn.prepare("PRAGMA foreign_key_check")?;
    let fk: Vec<String> = st
        .query_map([], |row| {
            Ok(format!(
                "a row of {} points at a missing {}",
                row.get::<_, String>(0)?,
                row.get::<_, String>(2)?
            ))
        })?
        .collect::<Result<_, _>>()?;
    report_each(&mut r.problems, fk, "foreign_key_check");

    let version = schema::current_version(conn)?;
    if version != schema::latest() {
        r.problems.push(format!(
            "schema version {version}, this binary's is {}",
            schema::latest()
        ));
        return Ok(r);
    }
    for m in schema::MIGRATIONS {
        let stored: String = conn.query_row(
            "SELECT checksum FROM schema_migrations WHERE version = ?1",
            [m.version],
            |row| row.get(0),
        )?;
        if stored != schema::checksum(m.sql) {
            r.warnings.push(format!(
                "migration {} was applied from a different text than this binary's",
                m.version
            ));
        }
    }

    report_each(
        &mut r.problems,
        strings(
            conn,
            "SELECT quote(user_id) FROM students s
             WHERE NOT EXISTS (SELECT 1 FROM contacts c WHERE c.user_id = s.user_id)",
        )?,
        "student without contacts",
    );
    report_each(
        &mut r.problems,
        strings(
            conn,
            "SELECT quote(s.user_id) || ' has ' || (SELECT COUNT(*) FROM contacts c
                 WHERE c.user_id = s.user_id AND c.role = 1) || ' administrators'
             FROM students s
             WHERE (SELECT COUNT(*) FROM contacts c WHERE c.user_id = s.user_id AND c.role = 1) != 1",
        )?,
        "student",
    );
    report_each(
        &mut r.problems,
        strings(
            conn,
            &format!(
                "SELECT quote(user_id) || ' has ' || COUNT(*) || ' contacts' FROM contacts
                 GROUP BY user_id HAVING COUNT(*) > {HARD_MAX_CONTACTS}"
            ),
        )?,
        "over the hard cap",
    );
    let over = strings(
        conn,
        &format!(
            "SELECT quote(user_id) || ' has ' || COUNT(*) || ' contacts' FROM contacts
             GROUP BY user_id HAVING COUNT(*) > {max_contacts}"
        ),
    )?;
    report_each(&mut r.warnings, over, "over --max-contacts");
    report_each(
        &mut r.problems,
        strings(
            conn,
            &format!(
                "SELECT quote(user_id) || ' has ' || COUNT(*) || ' removals' FROM removals
                 GROUP BY user_id HAVING COUNT(*) > {MAX_REMOVALS}"
            ),
        )?,
        "removal list",
    );
    report_each(
        &mut r.problems,
        strings(
            conn,
            "SELECT quote(r.user_id) || ' lists ' || quote(r.open_id) || ' as removed and as a contact'
             FROM removals r JOIN contacts c ON c.user_id = r.user_id AND c.open_id = r.open_id",
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
