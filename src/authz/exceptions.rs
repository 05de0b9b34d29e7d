//! Exceptions operators can govern: the allowlist entries of a policy, each with an optional
//! stable `id`, `reason`, `owner`, `ticket` and `expires`, and the index that finds the entry
//! exempting a container without scanning thousands of entries per request.
//!
//! An entry whose `expires` has passed exempts nothing, wherever it is consulted (enforcement,
//! `check`, `audit`, `watch`, `advise`): they all go through [`ExceptionIndex::find`], and the
//! instant is one value the caller passes in — the decision core reads no clock of its own.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use patricia_tree::StringPatriciaMap;
use serde::{Deserialize, Serialize};

use crate::authz::model::Labels;

/// A container label that exempts a container from the read-only rules, optionally only for
/// some users and images (so on a shared host the label is not a self-service exemption), with
/// who granted it, why, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowLabel {
    /// Stable name of the exception, used in logs, metrics and reports. Default: derived from
    /// the entry's key, value, users and images (see [`AllowLabel::id`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Label name (case-sensitive, as Docker stores it).
    #[serde(deserialize_with = "non_empty")]
    pub key: String,
    /// Exact value the label must have.
    pub value: String,
    /// If not empty, the entry applies only to requests from these users (the AuthZ `User`: the
    /// TLS client-certificate common name; unix-socket requests have no user).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
    /// If not empty, the entry applies only to these images: an exact reference as the request
    /// names it (`nginx:1.25`), or a prefix ending in `*` (`registry.example.com/team/*`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
    /// Why the exception exists (shown by `validate` and `audit`; never logged in full).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Who asked for it and answers for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The change ticket that granted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    /// When it stops exempting: an RFC 3339 date-time (`2026-11-30T18:00:00+01:00`) or a date
    /// (`2026-11-30`, meaning the end of that day in UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<Expiry>,
}

impl fmt::Display for AllowLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.key, self.value)
    }
}

impl AllowLabel {
    /// A plain entry: `key=value` for everyone, every image, forever.
    pub fn new(key: &str, value: &str) -> AllowLabel {
        AllowLabel {
            id: None,
            key: key.to_owned(),
            value: value.to_owned(),
            users: Vec::new(),
            images: Vec::new(),
            reason: None,
            owner: None,
            ticket: None,
            expires: None,
        }
    }

    /// The entry's id: the one the policy gives, else one derived from what the entry matches
    /// (so it stays the same while the entry does): `KEY=VALUE#xxxxxxxx`.
    pub fn id(&self) -> String {
        if let Some(id) = &self.id {
            return id.clone();
        }
        let mut hash: u32 = 0x811c_9dc5;
        let mut feed = |s: &str| {
            for b in s.bytes().chain([0]) {
                hash ^= u32::from(b);
                hash = hash.wrapping_mul(0x0100_0193);
            }
        };
        feed(&self.key);
        feed(&self.value);
        self.users.iter().for_each(|u| feed(u));
        feed("\u{1}");
        self.images.iter().for_each(|i| feed(i));
        format!("{}={}#{hash:08x}", self.key, self.value)
    }

    /// Whether the entry has stopped exempting at `now`.
    pub fn is_expired(&self, now: SystemTime) -> bool {
        self.expires.is_some_and(|e| now >= e.instant())
    }

    /// Whether this entry's label, users and images fit a container with these labels and
    /// image, created by `user` (`None`: the creator is unknown, as in an audit of existing
    /// containers). Expiry is not looked at here.
    pub fn matches(&self, labels: &dyn Labels, image: &str, user: Option<&str>) -> bool {
        labels.label(&self.key) == Some(self.value.as_str())
            && (self.users.is_empty() || user.is_none_or(|u| self.users.iter().any(|x| x == u)))
            && (self.images.is_empty() || self.images.iter().any(|p| image_matches(p, image)))
    }
}

/// `pattern` is an exact image reference, or a prefix when it ends in `*`.
pub fn image_matches(pattern: &str, image: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => image.starts_with(prefix),
        None => pattern == image,
    }
}

fn non_empty<'de, D: serde::Deserializer<'de>>(de: D) -> Result<String, D::Error> {
    let s = String::deserialize(de)?;
    if s.trim().is_empty() {
        return Err(serde::de::Error::custom("must not be empty"));
    }
    Ok(s)
}

/// An exception's end: the instant from which it exempts nothing, and how the policy wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    /// Seconds and nanoseconds since the Unix epoch (UTC).
    unix_nanos: i128,
    /// Written as a date (the end of that day, UTC) rather than a date-time.
    date_only: bool,
}

impl Expiry {
    /// Parses an RFC 3339 date-time (any offset) or a full date (`YYYY-MM-DD`, the end of that
    /// day in UTC).
    pub fn parse(s: &str) -> Result<Expiry, String> {
        if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(s) {
            let nanos = i128::from(dt.timestamp()) * 1_000_000_000
                + i128::from(dt.timestamp_subsec_nanos());
            return Ok(Expiry {
                unix_nanos: nanos,
                date_only: false,
            });
        }
        if s.len() == 10 {
            if let Ok(date) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                let next = date
                    .succ_opt()
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .ok_or_else(|| format!("{s:?} is out of range"))?;
                return Ok(Expiry {
                    unix_nanos: i128::from(next.and_utc().timestamp()) * 1_000_000_000,
                    date_only: true,
                });
            }
        }
        Err(format!(
            "{s:?} is not an RFC 3339 date (2026-11-30) or date-time (2026-11-30T18:00:00Z)"
        ))
    }

    /// The first instant at which the exception no longer exempts.
    pub fn instant(&self) -> SystemTime {
        let secs = self.unix_nanos.div_euclid(1_000_000_000);
        let nanos = self.unix_nanos.rem_euclid(1_000_000_000) as u32;
        match u64::try_from(secs) {
            Ok(secs) => UNIX_EPOCH + Duration::new(secs, nanos),
            // Before 1970: long past.
            Err(_) => UNIX_EPOCH,
        }
    }

    /// Unix seconds (for the expiry metric).
    pub fn unix_seconds(&self) -> f64 {
        self.unix_nanos as f64 / 1e9
    }

    /// How people read it: the date a date-only expiry names, else the UTC date-time.
    pub fn display(&self) -> String {
        let secs = i64::try_from(self.unix_nanos.div_euclid(1_000_000_000)).unwrap_or(i64::MAX);
        let Some(dt) = chrono::DateTime::from_timestamp(secs, 0) else {
            return "(out of range)".to_owned();
        };
        if self.date_only {
            // The instant is the start of the next day.
            let day = dt.date_naive().pred_opt().unwrap_or(dt.date_naive());
            day.format("%Y-%m-%d").to_string()
        } else {
            dt.format("%Y-%m-%dT%H:%M:%SZ").to_string()
        }
    }
}

impl Serialize for Expiry {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.display())
    }
}

impl<'de> Deserialize<'de> for Expiry {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let s = String::deserialize(de)?;
        Expiry::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An instant as `--now` takes it: an RFC 3339 date-time, or a date (its first instant, UTC).
pub fn parse_instant(s: &str) -> Result<SystemTime, String> {
    let e = Expiry::parse(s)?;
    Ok(if e.date_only {
        // parse() gives the end of the day; --now means its start.
        e.instant() - Duration::from_secs(86_400)
    } else {
        e.instant()
    })
}

/// What the allowlist says about one container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExceptionMatch<'a> {
    /// This entry exempts it (the first in file order that fits and has not expired).
    Exempts(&'a AllowLabel),
    /// Entries fit but all have expired; the first in file order.
    Expired(&'a AllowLabel),
    /// No entry fits.
    None,
}

/// Where an entry's candidates are filed. An entry is filed once: under its images when it
/// names any, else under its users, else as applying to every container.
#[derive(Debug, Default, Clone)]
pub struct ExceptionIndex {
    /// Entries with no images and no users.
    any: Vec<u32>,
    /// Exact image references.
    exact_image: HashMap<String, Vec<u32>>,
    /// Image prefixes (`registry/team/*` filed as `registry/team/`).
    prefix_image: StringPatriciaMap<Vec<u32>>,
    /// Image-less entries by user.
    by_user: HashMap<String, Vec<u32>>,
    /// Every image-less, user-scoped entry (an unknown creator may be any of the users).
    user_scoped: Vec<u32>,
    /// Which entries were indexed (address and count): a list that is not the one indexed
    /// (a clone, or one changed after indexing) is scanned instead, never looked up stale.
    entries_at: usize,
    len: usize,
}

impl ExceptionIndex {
    pub fn build(entries: &[AllowLabel]) -> ExceptionIndex {
        let mut index = ExceptionIndex {
            entries_at: entries.as_ptr() as usize,
            len: entries.len(),
            ..Default::default()
        };
        for (i, e) in entries.iter().enumerate() {
            let i = i as u32;
            if !e.images.is_empty() {
                for pattern in &e.images {
                    match pattern.strip_suffix('*') {
                        Some("") => index.any.push(i),
                        Some(prefix) => match index.prefix_image.get_mut(prefix) {
                            Some(list) => list.push(i),
                            None => {
                                index.prefix_image.insert(prefix, vec![i]);
                            }
                        },
                        None => index
                            .exact_image
                            .entry(pattern.clone())
                            .or_default()
                            .push(i),
                    }
                }
            } else if !e.users.is_empty() {
                for u in &e.users {
                    index.by_user.entry(u.clone()).or_default().push(i);
                }
                index.user_scoped.push(i);
            } else {
                index.any.push(i);
            }
        }
        for list in [&mut index.any, &mut index.user_scoped] {
            list.sort_unstable();
            list.dedup();
        }
        index
    }

    /// The entry that decides whether a container with these labels and image, created by
    /// `user`, is exempt at `now`: the first entry in file order that fits and has not expired,
    /// else the first that fits but has expired.
    pub fn find<'a>(
        &self,
        entries: &'a [AllowLabel],
        labels: &dyn Labels,
        image: &str,
        user: Option<&str>,
        now: SystemTime,
    ) -> ExceptionMatch<'a> {
        let mut best: Option<u32> = None;
        let mut best_expired: Option<u32> = None;
        let mut consider = |i: u32| {
            if best.is_some_and(|b| b <= i) {
                return;
            }
            let Some(e) = entries.get(i as usize) else {
                return;
            };
            if !e.matches(labels, image, user) {
                return;
            }
            if e.is_expired(now) {
                if best_expired.is_none_or(|b| i < b) {
                    best_expired = Some(i);
                }
            } else {
                best = Some(i);
            }
        };
        if self.len != entries.len() || self.entries_at != entries.as_ptr() as usize {
            (0..entries.len() as u32).for_each(&mut consider);
        } else {
            self.any.iter().copied().for_each(&mut consider);
            if let Some(list) = self.exact_image.get(image) {
                list.iter().copied().for_each(&mut consider);
            }
            for list in self.prefix_image.common_prefix_values(image) {
                list.iter().copied().for_each(&mut consider);
            }
            match user {
                Some(u) => {
                    if let Some(list) = self.by_user.get(u) {
                        list.iter().copied().for_each(&mut consider);
                    }
                }
                None => self.user_scoped.iter().copied().for_each(&mut consider),
            }
        }
        match (best, best_expired) {
            (Some(i), _) => ExceptionMatch::Exempts(&entries[i as usize]),
            (None, Some(i)) => ExceptionMatch::Expired(&entries[i as usize]),
            (None, None) => ExceptionMatch::None,
        }
    }
}

/// The index of a policy's entries, built on first use. Equal whatever its state, so policies
/// compare by content.
#[derive(Default, Clone)]
pub struct LazyIndex(OnceLock<ExceptionIndex>);

impl LazyIndex {
    pub fn get(&self, entries: &[AllowLabel]) -> &ExceptionIndex {
        self.0.get_or_init(|| ExceptionIndex::build(entries))
    }
}

impl PartialEq for LazyIndex {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for LazyIndex {}

impl fmt::Debug for LazyIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LazyIndex")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn at(s: &str) -> SystemTime {
        Expiry::parse(s).unwrap().instant()
    }

    #[test]
    fn expiry_dates_and_date_times() {
        // A date means the end of that day, UTC.
        let e = Expiry::parse("2026-11-30").unwrap();
        assert_eq!(e.instant(), at("2026-12-01T00:00:00Z"));
        assert_eq!(e.display(), "2026-11-30");
        // Offsets in the input are honoured.
        assert_eq!(at("2026-11-30T18:00:00+01:00"), at("2026-11-30T17:00:00Z"));
        assert_eq!(at("2026-11-30T18:00:00-05:30"), at("2026-11-30T23:30:00Z"));
        assert_eq!(
            Expiry::parse("2026-11-30T18:00:00+01:00")
                .unwrap()
                .display(),
            "2026-11-30T17:00:00Z"
        );
        assert_eq!(
            at("2026-11-30T17:00:00.5Z"),
            at("2026-11-30T17:00:00Z") + Duration::from_millis(500)
        );
        for bad in [
            "2026-11-31",
            "2026-13-01",
            "30.11.2026",
            "2026-11-30T18:00:00",
            "2026-11-30 18:00",
            "tomorrow",
            "",
            "2026-1-3",
        ] {
            assert!(Expiry::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn before_at_and_after_expiry() {
        let mut e = AllowLabel::new("rootfs-guard.allow-writable", "true");
        e.expires = Some(Expiry::parse("2026-11-30T12:00:00Z").unwrap());
        let t = at("2026-11-30T12:00:00Z");
        assert!(!e.is_expired(t - Duration::from_nanos(1)));
        assert!(e.is_expired(t), "expired at the instant itself");
        assert!(e.is_expired(t + Duration::from_secs(1)));
        let mut day = AllowLabel::new("k", "v");
        day.expires = Some(Expiry::parse("2026-11-30").unwrap());
        assert!(!day.is_expired(at("2026-11-30T23:59:59.999Z")));
        assert!(day.is_expired(at("2026-12-01T00:00:00Z")));
        assert!(!AllowLabel::new("k", "v").is_expired(at("2999-01-01")));
    }

    #[test]
    fn ids_are_given_or_derived_and_stable() {
        let mut e = AllowLabel::new("k", "v");
        let derived = e.id();
        assert!(derived.starts_with("k=v#"), "{derived}");
        assert_eq!(derived, AllowLabel::new("k", "v").id());
        e.images = vec!["a/*".into()];
        assert_ne!(e.id(), derived, "what the entry matches changes its id");
        e.reason = Some("why".into());
        e.expires = Some(Expiry::parse("2030-01-01").unwrap());
        let scoped = e.id();
        assert_eq!(e.id(), scoped, "reason and expiry do not");
        e.id = Some("legacy-billing".into());
        assert_eq!(e.id(), "legacy-billing");
    }

    fn entry(images: &[&str], users: &[&str], expires: Option<&str>) -> AllowLabel {
        let mut e = AllowLabel::new("allow", "yes");
        e.images = images.iter().map(|s| s.to_string()).collect();
        e.users = users.iter().map(|s| s.to_string()).collect();
        e.expires = expires.map(|s| Expiry::parse(s).unwrap());
        e
    }

    #[test]
    fn the_index_finds_what_a_scan_finds() {
        let entries = vec![
            entry(&["reg/legacy/*"], &[], Some("2026-11-30")),
            entry(&["reg/legacy/billing:1"], &[], None),
            entry(&[], &["ci"], None),
            entry(&["reg/*", "other:1"], &["ops"], None),
            entry(&["*"], &[], Some("2026-01-01")),
            entry(&[], &[], Some("2027-01-01")),
        ];
        let index = ExceptionIndex::build(&entries);
        let labels = BTreeMap::from([("allow".to_string(), "yes".to_string())]);
        let other = BTreeMap::from([("allow".to_string(), "no".to_string())]);
        let now = at("2026-12-02T00:00:00Z");
        let scan = |labels: &BTreeMap<String, String>, image: &str, user: Option<&str>| {
            let fit: Vec<_> = entries
                .iter()
                .filter(|e| e.matches(labels, image, user))
                .collect();
            match (
                fit.iter().find(|e| !e.is_expired(now)),
                fit.iter().find(|e| e.is_expired(now)),
            ) {
                (Some(e), _) => ExceptionMatch::Exempts(e),
                (None, Some(e)) => ExceptionMatch::Expired(e),
                _ => ExceptionMatch::None,
            }
        };
        for image in [
            "reg/legacy/billing:1",
            "reg/legacy/x",
            "reg/team/app",
            "other:1",
            "nginx",
            "",
        ] {
            for user in [None, Some(""), Some("ci"), Some("ops"), Some("eve")] {
                for l in [&labels, &other] {
                    assert_eq!(
                        index.find(&entries, l, image, user, now),
                        scan(l, image, user),
                        "{image} {user:?}"
                    );
                }
            }
        }
        // First valid entry in file order wins; an expired one does not block a later one.
        assert_eq!(
            index.find(&entries, &labels, "reg/legacy/billing:1", Some(""), now),
            ExceptionMatch::Exempts(&entries[1])
        );
        // Only expired entries fit: reported as such, for the message.
        let only = vec![entry(&["reg/legacy/*"], &[], Some("2026-11-30"))];
        let idx = ExceptionIndex::build(&only);
        assert_eq!(
            idx.find(&only, &labels, "reg/legacy/x", Some(""), now),
            ExceptionMatch::Expired(&only[0])
        );
        assert_eq!(
            idx.find(
                &only,
                &labels,
                "reg/legacy/x",
                Some(""),
                at("2026-11-30T10:00:00Z")
            ),
            ExceptionMatch::Exempts(&only[0])
        );
    }
}
