//! Human output: aligned tables and `name  value` blocks. `--json` bypasses all of this.

use serde_json::Value;

/// Prints `rows` under `headers`, each column as wide as its widest cell.
pub fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(headers.iter().map(|h| (*h).to_owned()).collect());
    for row in rows {
        line(row.clone());
    }
}

/// Prints `name  value` lines, names aligned.
pub fn fields(pairs: &[(&str, String)]) {
    let width = pairs.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    for (name, value) in pairs {
        println!("{name:<width$}  {value}");
    }
}

/// Pretty JSON for `--json`.
pub fn json(value: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
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
