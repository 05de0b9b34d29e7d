//! The audit's view of exceptions: for each exempt container, which entry exempts it, who owns
//! it and until when; and `audit --exceptions`, every exception of the policy with how many
//! containers it exempts now — what a compliance review of the allowlist asks for.

use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::authz::policy::{AllowLabel, Policy};
use crate::engine::audit::{Row, Verdict};

/// A reason longer than this is cut in reports (it is the policy's prose, not a log field).
pub const REASON_MAX: usize = 200;

/// The exception that exempts one container (the JSON row's `exception`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExceptionRef {
    pub id: String,
    pub owner: Option<String>,
    /// `YYYY-MM-DD` (end of that day, UTC) or a UTC date-time; `None`: no expiry.
    pub expires: Option<String>,
}

impl ExceptionRef {
    pub fn of(entry: &AllowLabel) -> ExceptionRef {
        ExceptionRef {
            id: entry.id(),
            owner: entry.owner.clone(),
            expires: entry.expires.map(|e| e.display()),
        }
    }

    /// The table cell: `id`, with the expiry when there is one.
    pub fn cell(&self) -> String {
        match &self.expires {
            Some(when) => format!("{} (until {when})", self.id),
            None => self.id.clone(),
        }
    }
}

/// Where an exception stands at the audit's instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExceptionStatus {
    Active,
    /// Active, but expiring within the warning window.
    Expiring,
    Expired,
}

/// One exception of the policy (`audit --exceptions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExceptionRow {
    pub id: String,
    /// `KEY=VALUE`.
    pub label: String,
    pub users: Vec<String>,
    pub images: Vec<String>,
    pub owner: Option<String>,
    pub ticket: Option<String>,
    pub reason: Option<String>,
    pub expires: Option<String>,
    pub status: ExceptionStatus,
    /// Containers of this audit it exempts now.
    pub containers: usize,
}

/// Every exception of `policy` at `now`, with the containers of `rows` each exempts.
pub fn exception_rows(
    policy: &Policy,
    rows: &[Row],
    now: SystemTime,
    warn_within: Duration,
) -> Vec<ExceptionRow> {
    policy
        .allow_labels
        .iter()
        .map(|e| {
            let id = e.id();
            let status = match e.expires {
                Some(_) if e.is_expired(now) => ExceptionStatus::Expired,
                Some(x) if x.instant() <= now + warn_within => ExceptionStatus::Expiring,
                _ => ExceptionStatus::Active,
            };
            ExceptionRow {
                containers: rows
                    .iter()
                    .filter(|r| {
                        r.verdict == Verdict::Exempt
                            && r.exception.as_ref().is_some_and(|x| x.id == id)
                    })
                    .count(),
                id,
                label: e.to_string(),
                users: e.users.clone(),
                images: e.images.clone(),
                owner: e.owner.clone(),
                ticket: e.ticket.clone(),
                reason: e.reason.as_deref().map(cap_reason),
                expires: e.expires.map(|x| x.display()),
                status,
            }
        })
        .collect()
}

fn cap_reason(r: &str) -> String {
    if r.chars().count() <= REASON_MAX {
        return r.to_owned();
    }
    let mut cut: String = r.chars().take(REASON_MAX - 1).collect();
    cut.push('…');
    cut
}

/// The exceptions as a table for people.
pub fn exceptions_table(rows: &[ExceptionRow]) -> String {
    let headers = [
        "ID",
        "LABEL",
        "OWNER",
        "TICKET",
        "EXPIRES",
        "STATUS",
        "CONTAINERS",
    ];
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_owned());
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            [
                r.id.clone(),
                r.label.clone(),
                dash(&r.owner),
                dash(&r.ticket),
                r.expires.clone().unwrap_or_else(|| "never".to_owned()),
                match r.status {
                    ExceptionStatus::Active => "active",
                    ExceptionStatus::Expiring => "expiring",
                    ExceptionStatus::Expired => "expired",
                }
                .to_owned(),
                r.containers.to_string(),
            ]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |fields: &[String]| {
        let padded: Vec<String> = fields
            .iter()
            .zip(widths)
            .map(|(f, w)| format!("{f:<w$}"))
            .collect();
        out.push_str(padded.join("  ").trim_end());
        out.push('\n');
    };
    line(&headers.map(str::to_owned));
    for row in &cells {
        line(row);
    }
    let expired = rows
        .iter()
        .filter(|r| r.status == ExceptionStatus::Expired)
        .count();
    out.push_str(&format!(
        "{} exception{}: {} expired, {} containers exempt\n",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" },
        expired,
        rows.iter().map(|r| r.containers).sum::<usize>()
    ));
    out
}
