//! `audit --format html`: the report as one page an auditor reads and files. Self-contained (the
//! style inline, the chart an inline SVG, no script and nothing fetched), and it says what an
//! auditor asks: totals per host and verdict, each violation with its remedy, each exemption with
//! the entry that granted it, which hosts could not be reached, when and against which policy
//! (fingerprint). Pure: a report in, a page out.

use std::fmt::Write;

use super::{Report, Row, Verdict};

const STYLE: &str = "body{font-family:sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #bbb;padding:4px 8px;\
text-align:left;vertical-align:top}th{background:#eee}.violation{color:#b00020;font-weight:bold}\
.exempt{color:#8a6d00}.compliant{color:#1b7f3b}.down{color:#b00020}code{font-size:90%}";

/// Colours of the verdicts in the chart (the same as the table's).
fn colour(v: Verdict) -> &'static str {
    match v {
        Verdict::Compliant => "#1b7f3b",
        Verdict::Exempt => "#e0b000",
        Verdict::Violation => "#b00020",
    }
}

/// The whole page.
pub fn render(r: &Report) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>rootfs-guard audit {}</title><style>{STYLE}</style></head><body>\n\
         <h1>Read-only root filesystems (CIS Docker 5.12): audit</h1>\n\
         <p>Made <time id=\"generated-at\">{}</time> against policy <code id=\"fingerprint\">{}\
         </code> (mode {}), {} host{}.</p>\n",
        esc(&r.generated_at),
        esc(&r.generated_at),
        esc(&r.policy.fingerprint),
        esc(&r.policy.mode),
        r.hosts.len(),
        if r.hosts.len() == 1 { "" } else { "s" },
    );
    let s = &r.summary;
    let _ = writeln!(
        o,
        "<p id=\"totals\">{} containers: <span class=\"compliant\">{} compliant</span>, \
         <span class=\"exempt\">{} exempt</span>, <span class=\"violation\">{} violation</span>.</p>",
        s.containers, s.compliant, s.exempt, s.violation
    );
    chart(&mut o, r);
    hosts(&mut o, r);
    violations(&mut o, r);
    exemptions(&mut o, r);
    if !r.errors.is_empty() {
        o.push_str("<h2>Errors (the audit is incomplete)</h2><ul>");
        for e in &r.errors {
            let _ = write!(o, "<li>{}</li>", esc(e));
        }
        o.push_str("</ul>\n");
    }
    o.push_str("</body></html>\n");
    o
}

/// Totals per host and verdict as horizontal stacked bars (inline SVG, readable without CSS).
fn chart(o: &mut String, r: &Report) {
    const BAR: f64 = 420.0;
    const LABEL: f64 = 300.0;
    let max = r
        .hosts
        .iter()
        .map(|h| h.summary.containers)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let height = 30 * r.hosts.len() + 30;
    let _ = writeln!(
        o,
        "<h2>Containers per host and verdict</h2>\n<svg id=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" \
         width=\"{}\" height=\"{height}\" role=\"img\" aria-label=\"containers per host and verdict\">",
        LABEL + BAR + 120.0
    );
    for (i, h) in r.hosts.iter().enumerate() {
        let y = 30 * i + 5;
        let _ = write!(
            o,
            "<text x=\"0\" y=\"{}\" font-size=\"12\">{}</text>",
            y + 15,
            esc(&h.host)
        );
        let mut x = LABEL;
        let parts = [
            (Verdict::Compliant, h.summary.compliant),
            (Verdict::Exempt, h.summary.exempt),
            (Verdict::Violation, h.summary.violation),
        ];
        for (v, n) in parts.into_iter().filter(|(_, n)| *n > 0) {
            let w = BAR * n as f64 / max;
            let _ = write!(
                o,
                "<rect x=\"{x:.1}\" y=\"{y}\" width=\"{w:.1}\" height=\"20\" fill=\"{}\">\
                 <title>{} {}</title></rect>",
                colour(v),
                n,
                v.as_str()
            );
            x += w;
        }
        let label = if h.reachable {
            format!(
                "{} / {} / {}",
                h.summary.compliant, h.summary.exempt, h.summary.violation
            )
        } else {
            "unreachable".to_owned()
        };
        let _ = writeln!(
            o,
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"12\">{label}</text>",
            x + 6.0,
            y + 15
        );
    }
    let y = 30 * r.hosts.len() + 20;
    let mut x = LABEL;
    for v in [Verdict::Compliant, Verdict::Exempt, Verdict::Violation] {
        let _ = write!(
            o,
            "<rect x=\"{x}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"/>\
             <text x=\"{}\" y=\"{y}\" font-size=\"12\">{}</text>",
            y - 9,
            colour(v),
            x + 14.0,
            v.as_str()
        );
        x += 100.0;
    }
    o.push_str("</svg>\n");
}

fn hosts(o: &mut String, r: &Report) {
    o.push_str(
        "<h2>Hosts</h2>\n<table id=\"hosts\"><tr><th>Host</th><th>Status</th><th>Containers</th>\
         <th>Compliant</th><th>Exempt</th><th>Violation</th><th>Error</th></tr>\n",
    );
    for h in &r.hosts {
        let status = if h.reachable {
            "<td>reached</td>".to_owned()
        } else {
            "<td class=\"down\">unreachable</td>".to_owned()
        };
        let host = match &h.context {
            Some(c) => format!("{} (context {})", esc(&h.host), esc(c)),
            None => esc(&h.host),
        };
        let _ = writeln!(
            o,
            "<tr><td>{host}</td>{status}<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            h.summary.containers,
            h.summary.compliant,
            h.summary.exempt,
            h.summary.violation,
            esc(h.error.as_deref().unwrap_or(""))
        );
    }
    o.push_str("</table>\n");
}

fn row_cells(o: &mut String, c: &Row) {
    let _ = write!(
        o,
        "<td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td>",
        esc(&c.host),
        esc(&c.name),
        esc(super::short_id(&c.id)),
        esc(&c.image)
    );
}

fn violations(o: &mut String, r: &Report) {
    let bad: Vec<&Row> = r
        .containers
        .iter()
        .filter(|c| c.verdict == Verdict::Violation)
        .collect();
    let _ = writeln!(o, "<h2>Violations ({})</h2>", bad.len());
    if bad.is_empty() {
        o.push_str("<p>None.</p>\n");
        return;
    }
    o.push_str(
        "<table id=\"violations\"><tr><th>Host</th><th>Container</th><th>ID</th><th>Image</th>\
         <th>Rule</th><th>Remedy</th></tr>\n",
    );
    for c in bad {
        o.push_str("<tr class=\"violation-row\">");
        row_cells(o, c);
        let remedy = match &c.advice {
            Some(a) => format!(
                "{}<br>Run it as: <code>{}</code>",
                esc(c.message.as_deref().unwrap_or("")),
                esc(&a.docker_run_line)
            ),
            None => esc(c.message.as_deref().unwrap_or("")),
        };
        let _ = writeln!(
            o,
            "<td class=\"violation\">{}</td><td>{remedy}</td></tr>",
            esc(c.rule.unwrap_or(""))
        );
    }
    o.push_str("</table>\n");
}

fn exemptions(o: &mut String, r: &Report) {
    let exempt: Vec<&Row> = r
        .containers
        .iter()
        .filter(|c| c.verdict == Verdict::Exempt)
        .collect();
    let _ = writeln!(o, "<h2>Exemptions ({})</h2>", exempt.len());
    if exempt.is_empty() {
        o.push_str("<p>None.</p>\n");
        return;
    }
    o.push_str(
        "<table id=\"exemptions\"><tr><th>Host</th><th>Container</th><th>ID</th><th>Image</th>\
         <th>Granted by</th><th>Exception</th><th>Owner</th><th>Expires</th></tr>\n",
    );
    for c in exempt {
        o.push_str("<tr class=\"exempt-row\">");
        row_cells(o, c);
        let (id, owner, expires) = match &c.exception {
            Some(x) => (
                x.id.as_str(),
                x.owner.as_deref().unwrap_or("-"),
                x.expires.as_deref().unwrap_or("never"),
            ),
            None => ("-", "-", "-"),
        };
        let _ = writeln!(
            o,
            "<td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(c.exemption.as_deref().unwrap_or("")),
            esc(id),
            esc(owner),
            esc(expires)
        );
    }
    o.push_str("</table>\n");
}

/// Text for HTML: the five characters that matter escaped.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn names_cannot_inject_markup() {
        assert_eq!(
            esc("<script>alert('x')</script>&"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;"
        );
    }
}
