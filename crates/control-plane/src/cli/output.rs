//! Human output: aligned tables and `name  value` blocks. `--json` bypasses all of this.

use serde_json::Value;
use std::fmt::Display;
use std::io::Write as _;

/// Writes one line to stdout. A reader that went away (`keybrake audit --json | head -1`) ends
/// the command quietly with status 0, as Unix tools do; any other write error ends it with
/// status 1 and says so on stderr. (`println!` would panic on the first.)
pub fn line(text: impl Display) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{text}").and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        // Best effort: stderr may be gone too.
        let _ = writeln!(std::io::stderr(), "error: cannot write to stdout: {e}");
        std::process::exit(1);
    }
}

/// Prints `rows` under `headers`, each column as wide as its widest cell.
pub fn table(headers: &[&str], rows: &[Vec<String>]) {
    Table::print(headers, rows);
}

/// A table printed in parts (`--follow`): later rows keep the columns at least as wide as the
/// first part made them.
#[derive(Debug)]
pub struct Table {
    widths: Vec<usize>,
}

impl Table {
    /// Prints the header and `rows`; the returned table prints more rows aligned with them.
    pub fn print(headers: &[&str], rows: &[Vec<String>]) -> Self {
        let mut t = Self {
            widths: headers.iter().map(|h| h.chars().count()).collect(),
        };
        t.widen(rows);
        t.line(headers.iter().map(|h| (*h).to_owned()).collect());
        t.more(rows);
        t
    }

    /// Prints more rows.
    pub fn more(&mut self, rows: &[Vec<String>]) {
        self.widen(rows);
        for row in rows {
            self.line(row.clone());
        }
    }

    fn widen(&mut self, rows: &[Vec<String>]) {
        for row in rows {
            for (w, cell) in self.widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }

    fn line(&self, cells: Vec<String>) {
        let padded: Vec<String> = cells
            .iter()
            .zip(&self.widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        line(padded.join("  ").trim_end());
    }
}

/// Prints `name  value` lines, names aligned.
pub fn fields(pairs: &[(&str, String)]) {
    let width = pairs.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    for (name, value) in pairs {
        line(format_args!("{name:<width$}  {value}"));
    }
}

/// Pretty JSON for `--json`.
pub fn json(value: &Value) -> anyhow::Result<()> {
    line(serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Dollars for tables: cents unless the value needs more.
pub fn usd(v: f64) -> String {
    let cents = format!("{v:.2}");
    if (cents.parse::<f64>().unwrap_or(v) - v).abs() < 1e-9 {
        cents
    } else {
        format!("{v}")
    }
}
