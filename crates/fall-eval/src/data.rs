//! Reads a SisFall-layout directory: `<SUBJECT>/<ACTIVITY>_<SUBJECT>_R<NN>.txt`, plus labels.
//!
//! Raw rows are 9 comma-separated integers ending in `;`. Only the ADXL345 columns (1–3,
//! `g = AD / 256`) are used; pairs of 200 Hz rows are averaged into the device's 100 Hz.
//! Label files hold one integer per raw row (0 background, 1 alert, 2 fall); a few differ
//! from their raw file by one row, so they are aligned by row index.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// One trial, at 100 Hz.
#[derive(Clone, Debug)]
pub struct Trial {
    /// File stem, e.g. `F01_SA01_R01`.
    pub name: String,
    pub subject: String,
    /// Activity code, e.g. `F01` or `D07`.
    pub activity: String,
    pub is_fall: bool,
    /// Acceleration in g, 100 Hz.
    pub acc: Vec<[f32; 3]>,
    /// Angular rate in °/s (ITG3200 columns 4–6, `RD · 4000 / 65536`), 100 Hz, same length as `acc`.
    pub gyro: Vec<[f32; 3]>,
    /// Label per 100 Hz tick (max of the two raw rows), when a label file was found.
    pub labels: Option<Vec<u8>>,
}

/// A file that could not be used, and why.
#[derive(Clone, Debug)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

/// Loads every trial under `raw` (and its labels under `labels`); bad files are skipped and listed.
pub fn load(raw: &Path, labels: Option<&Path>) -> Result<(Vec<Trial>, Vec<Skipped>)> {
    let mut trials = Vec::new();
    let mut skipped = Vec::new();
    let mut subjects: Vec<PathBuf> = fs::read_dir(raw)
        .with_context(|| format!("reading SisFall directory {}", raw.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    subjects.sort();
    for dir in subjects {
        let subject = dir.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let mut files: Vec<PathBuf> = fs::read_dir(&dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "txt"))
            .collect();
        files.sort();
        for path in files {
            let name = path.file_stem().unwrap_or_default().to_string_lossy().into_owned();
            let Some(activity) = parse_name(&name, &subject) else {
                skipped.push(Skipped { path, reason: "name is not <ACTIVITY>_<SUBJECT>_R<NN>".into() });
                continue;
            };
            let (acc, gyro) =
                match fs::read_to_string(&path).map_err(|e| e.to_string()).and_then(|s| parse_rows(&s)) {
                    Ok(a) => a,
                    Err(reason) => {
                        skipped.push(Skipped { path, reason });
                        continue;
                    }
                };
            let labels = labels.and_then(|l| {
                let p = l.join(&subject).join(path.file_name()?);
                let text = fs::read_to_string(&p).ok()?;
                match parse_labels(&text, acc.len()) {
                    Ok(v) => Some(v),
                    Err(reason) => {
                        skipped.push(Skipped { path: p, reason: format!("labels ignored: {reason}") });
                        None
                    }
                }
            });
            trials.push(Trial {
                is_fall: activity.starts_with('F'),
                name,
                subject: subject.clone(),
                activity,
                acc,
                gyro,
                labels,
            });
        }
    }
    if trials.is_empty() {
        bail!("no trials found under {}", raw.display());
    }
    Ok((trials, skipped))
}

/// `F01_SA01_R01` in folder `SA01` → `F01`.
fn parse_name(stem: &str, subject: &str) -> Option<String> {
    let mut parts = stem.split('_');
    let (act, subj, rep) = (parts.next()?, parts.next()?, parts.next()?);
    let ok = parts.next().is_none()
        && subj == subject
        && act.len() == 3
        && (act.starts_with('D') || act.starts_with('F'))
        && act[1..].bytes().all(|b| b.is_ascii_digit())
        && rep.starts_with('R');
    ok.then(|| act.to_owned())
}

/// Parses raw rows into 100 Hz acceleration in g (pairs of rows averaged).
pub fn parse_raw(text: &str) -> Result<Vec<[f32; 3]>, String> {
    parse_rows(text).map(|(acc, _)| acc)
}

/// 100 Hz acceleration (g) and angular rate (°/s) of one trial.
pub type Motion = (Vec<[f32; 3]>, Vec<[f32; 3]>);

/// Parses raw rows into 100 Hz acceleration in g and angular rate in °/s (pairs of rows averaged).
pub fn parse_rows(text: &str) -> Result<Motion, String> {
    let mut rows: Vec<[i32; 6]> = Vec::with_capacity(text.len() / 45);
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let line = line.strip_suffix(';').unwrap_or(line);
        let mut v = [0i32; 9];
        let mut n = 0;
        for field in line.split(',') {
            if n == 9 {
                return Err(format!("line {}: more than 9 columns", i + 1));
            }
            v[n] = field
                .trim()
                .parse()
                .map_err(|_| format!("line {}: non-numeric column {}: {:?}", i + 1, n + 1, field.trim()))?;
            n += 1;
        }
        if n < 9 {
            return Err(format!("line {}: short row ({n} of 9 columns)", i + 1));
        }
        rows.push([v[0], v[1], v[2], v[3], v[4], v[5]]);
    }
    if rows.len() < 2 {
        return Err("fewer than 2 rows".into());
    }
    let acc = rows
        .chunks_exact(2)
        .map(|p| std::array::from_fn(|j| (p[0][j] + p[1][j]) as f32 / 2.0 / 256.0))
        .collect();
    let gyro = rows
        .chunks_exact(2)
        .map(|p| std::array::from_fn(|j| (p[0][j + 3] + p[1][j + 3]) as f32 / 2.0 * 4000.0 / 65536.0))
        .collect();
    Ok((acc, gyro))
}

/// Parses a label file into one label per 100 Hz tick (`ticks` of them; missing rows are 0).
pub fn parse_labels(text: &str, ticks: usize) -> Result<Vec<u8>, String> {
    let mut out = vec![0u8; ticks];
    for (i, tok) in text.split_whitespace().enumerate() {
        let v: u8 = tok.parse().map_err(|_| format!("row {}: not a label: {tok:?}", i + 1))?;
        if let Some(slot) = out.get_mut(i / 2) {
            *slot = (*slot).max(v);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rows_and_rejects_bad_ones() {
        let ok = "  -9,-257, -25,  84, 247,  27,-120,-987,  63;\r\n  -3,-263, -23,  99, 258,  35,-110,-1016,  68;\r\n";
        let v = parse_raw(ok).expect("valid");
        assert_eq!(v.len(), 1);
        assert!((v[0][1] - (-260.0 / 256.0)).abs() < 1e-6);
        assert!(parse_raw("1,2,3;\n4,5,6;\n").unwrap_err().contains("short row"));
        assert!(parse_raw("1,2,x,4,5,6,7,8,9;\n1,2,3,4,5,6,7,8,9;\n").unwrap_err().contains("non-numeric"));
        assert!(parse_raw("").is_err());
    }

    #[test]
    fn names_and_labels() {
        assert_eq!(parse_name("F01_SA01_R01", "SA01").as_deref(), Some("F01"));
        assert_eq!(parse_name("F01_SA02_R01", "SA01"), None);
        assert_eq!(parse_name("Readme", "SA01"), None);
        assert_eq!(parse_labels("0\n1\n2\n0\n0\n", 2).expect("labels"), vec![1, 2]);
        assert!(parse_labels("0\nz\n", 2).is_err());
    }
}
