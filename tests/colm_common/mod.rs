//! What the CoLM tests share: the xz-compressed CSV tables of the Bondville reference and
//! its forcing.
#![allow(dead_code)]

use std::io::Read;

/// A CSV table (header and numeric rows; the two date columns are skipped).
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<f64>>,
}

impl Table {
    /// `file` in the test-data directory `rel`; `None` (test skipped) without the data.
    pub fn read(rel: &str, file: &str) -> Option<Table> {
        let dir = landcycle::testdata::require(rel)?;
        let f = std::fs::File::open(dir.join(file)).unwrap();
        let mut s = String::new();
        xz2::read::XzDecoder::new(f).read_to_string(&mut s).unwrap();
        let mut lines = s.lines();
        let header = lines.next().unwrap().split(',').map(String::from).collect();
        let rows = lines
            .map(|l| {
                l.split(',')
                    .skip(2)
                    .map(|x| x.trim().parse::<f64>().unwrap())
                    .collect()
            })
            .collect();
        Some(Table { header, rows })
    }

    /// Index of column `name` in the numeric rows.
    pub fn col(&self, name: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
            - 2
    }
}

/// Deterministic pseudo-random numbers in [0, 1) (a 64-bit LCG, top 53 bits).
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [a, b).
    pub fn range(&mut self, a: f64, b: f64) -> f64 {
        a + (b - a) * self.next()
    }
}

/// Max (with its row) and sum of squares of an error series.
#[derive(Default, Clone, Copy)]
pub struct Stat {
    pub max: f64,
    pub ss: f64,
    pub n: usize,
    pub at: usize,
}

impl Stat {
    pub fn add(&mut self, e: f64, row: usize) {
        if e.abs() > self.max {
            self.max = e.abs();
            self.at = row;
        }
        self.ss += e * e;
        self.n += 1;
    }

    pub fn rms(&self) -> f64 {
        (self.ss / self.n.max(1) as f64).sqrt()
    }
}
