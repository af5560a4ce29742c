//! `landcycle point` on a `&colm_point` namelist: the Bondville 1998 case with the listed
//! per-layer parameters (`params_file`) and from the texture (pedotransfer rules), each
//! against the CoLM2014 reference read back from the written CSV with the issue's
//! acceptance; the NetCDF passes cfcheck; namelist and forcing errors name file and line.

mod colm_common;
use colm_common::{Stat, Table};

use landcycle::point::colm::ColmCase;
use landcycle::point::colm_run::{fortran_es3, run_colm_case, COLM_COLUMNS};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The case namelist with absolute data paths; `params` adds `params_file`.
fn namelist(dir: &Path, out: &str, params: bool, extra: &str) -> PathBuf {
    let data = landcycle::testdata::require("colm-bondville").unwrap();
    let forcing = landcycle::testdata::require("noah-bondville")
        .unwrap()
        .join("forcing_as_used.csv.xz");
    let text = std::fs::read_to_string(data.join("case_bondville.nml")).unwrap();
    let mut lines: Vec<String> = Vec::new();
    for l in text.lines() {
        let k = l.trim_start();
        if k.starts_with("forcing_file") {
            lines.push(format!(" forcing_file = \"{}\"", forcing.display()));
        } else if k.starts_with("output_file") {
            lines.push(format!(" output_file = \"{out}\""));
        } else if k.starts_with("params_file") {
            if params {
                lines.push(format!(
                    " params_file = \"{}\"",
                    data.join("params_bondville.txt").display()
                ));
            }
        } else if k.starts_with('/') {
            lines.push(extra.to_string());
            lines.push(l.to_string());
        } else {
            lines.push(l.to_string());
        }
    }
    let p = dir.join(format!("{out}.nml"));
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    p
}

fn read_csv(p: &Path) -> (Vec<String>, Vec<Vec<f64>>, Vec<String>) {
    let mut s = String::new();
    std::fs::File::open(p)
        .unwrap()
        .read_to_string(&mut s)
        .unwrap();
    let mut lines = s.lines();
    let header = lines.next().unwrap().split(',').map(String::from).collect();
    let (mut rows, mut dates) = (Vec::new(), Vec::new());
    for l in lines {
        let cells: Vec<&str> = l.split(',').collect();
        dates.push(cells[1].to_string());
        rows.push(
            cells[2..]
                .iter()
                .map(|x| x.trim().parse().unwrap())
                .collect(),
        );
    }
    (header, rows, dates)
}

/// The acceptance of issue 13 on one run; prints the table lines of docs/colm.md.
fn check_against_reference(csv: &Path, r: &Table, label: &str) {
    let (header, rows, _) = read_csv(csv);
    let (ref_header, ref_dates) = reference_header_dates();
    assert_eq!(header, ref_header, "CSV header");
    assert_eq!(rows.len(), r.rows.len());
    let c = |n: &str| r.col(n);
    let ours = |n: &str| COLM_COLUMNS.iter().position(|x| *x == n).unwrap();
    let group = |names: &[String]| {
        let mut s = Stat::default();
        for (k, row) in rows.iter().enumerate() {
            for n in names {
                s.add(row[ours(n)] - r.rows[k][c(n)], k + 1);
            }
        }
        s
    };
    let names = |f: &dyn Fn(usize) -> String| (1..=10).map(f).collect::<Vec<_>>();
    let one = |n: &str| vec![n.to_string()];
    let t_surf = group(&["t_grnd_K", "trad_K", "tlsun_K", "tlsha_K"].map(String::from));
    let tsoi = group(&names(&|j| format!("tsoi{j}_K")));
    let h2o = group(&names(&|j| format!("h2osoi{j}")));
    let wliq = group(&names(&|j| format!("wliq{j}")));
    let wice = group(&names(&|j| format!("wice{j}")));
    let (h, le, g) = (
        group(&one("fsena_W_m2")),
        group(&one("lfevpa_W_m2")),
        group(&one("fgrnd_W_m2")),
    );
    let swe = group(&one("scv_mm"));
    let total = |v: &dyn Fn(usize) -> f64| (0..rows.len()).map(v).sum::<f64>() * 1800.0;
    let et = total(&|k| rows[k][ours("fevpa_mm_s")]);
    let et_ref = total(&|k| r.rows[k][c("fevpa_mm_s")]);
    let ro = total(&|k| rows[k][ours("rnof_mm_s")]);
    let ro_ref = total(&|k| r.rows[k][c("rnof_mm_s")]);
    let (mut we, mut ww) = (0.0f64, 0.0f64);
    for row in &rows {
        we = we.max(row[ours("zerr_W_m2")].abs());
        ww = ww.max(row[ours("xerr_mm_s")].abs());
    }
    let (_, _, dates) = read_csv(csv);
    assert_eq!(dates, ref_dates, "dates");
    for (n, s) in [
        ("T ground/rad/leaves", &t_surf),
        ("soil T", &tsoi),
        ("H", &h),
        ("LE", &le),
        ("G", &g),
        ("h2osoi", &h2o),
        ("wliq", &wliq),
        ("wice", &wice),
        ("SWE", &swe),
    ] {
        eprintln!(
            "  {label} | {n} | {:.2e} (row {}) | {:.2e}",
            s.max,
            s.at,
            s.rms()
        );
    }
    eprintln!(
        "  {label} | ET {et:.4} mm (ref {et_ref:.4}), runoff {ro:.4} mm (ref {ro_ref:.4}) | \
         residuals {we:.1e} W m-2, {ww:.1e} mm s-1"
    );
    assert!(t_surf.max < 0.1 && tsoi.max < 0.1 && tsoi.rms() < 1e-3);
    for s in [&h, &le, &g] {
        assert!(s.max < 2.0 && s.rms() < 0.03, "{} {}", s.max, s.rms());
    }
    assert!(h2o.max < 1e-4 && h2o.rms() < 5e-6);
    assert!(wliq.max < 1e-2 && wice.max < 1e-2 && wliq.rms() < 2e-3 && wice.rms() < 2e-3);
    assert!(swe.max < 1e-3);
    assert!((et - et_ref).abs() < 1e-3 * et_ref && (ro - ro_ref).abs() < 1e-3 * ro_ref);
    // The CSV prints 9 significant digits, so the residual columns are as written.
    assert!(we < 1e-6 && ww < 1e-9);
}

fn reference_header_dates() -> (Vec<String>, Vec<String>) {
    let dir = landcycle::testdata::require("colm-bondville").unwrap();
    let f = std::fs::File::open(dir.join("colm_ref_bondville_1998.csv.xz")).unwrap();
    let mut s = String::new();
    xz2::read::XzDecoder::new(f).read_to_string(&mut s).unwrap();
    let mut lines = s.lines();
    let header = lines.next().unwrap().split(',').map(String::from).collect();
    let dates = lines
        .map(|l| l.split(',').nth(1).unwrap().to_string())
        .collect();
    (header, dates)
}

fn cfcheck(nc: &Path) {
    let tool = Path::new("/work/shared/tools/cf/cfcheck");
    if !tool.exists() {
        eprintln!("cfcheck not found; NetCDF not checked");
        return;
    }
    let out = std::process::Command::new(tool).arg(nc).output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "cfcheck: {text}");
    assert!(text.contains("ERRORS detected: 0"), "cfcheck: {text}");
}

#[test]
fn bondville_point_runs_match_the_reference_with_and_without_params_file() {
    let Some(r) = Table::read("colm-bondville", "colm_ref_bondville_1998.csv.xz") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    for (params, out, label) in [
        (true, "with_params.csv", "params_file"),
        (false, "texture.csv", "from texture"),
    ] {
        let nml = namelist(tmp.path(), out, params, "");
        let case = ColmCase::from_namelist(&nml).unwrap();
        assert_eq!(case.soil_from_file, params);
        let run = run_colm_case(&case).unwrap();
        check_against_reference(&run.csv_path, &r, label);
        cfcheck(&run.netcdf_path);
    }
    // The first row as the reference writes it (the same 9-digit ES16.8E3 fields).
    let first = std::fs::read_to_string(tmp.path().join("texture.csv")).unwrap();
    let line = first.lines().nth(1).unwrap();
    assert!(line.starts_with("1,199801010630, 2.655"), "{line}");
    assert_eq!(fortran_es3(-56.725782), "-5.67257820E+001");
    assert_eq!(fortran_es3(0.0), " 0.00000000E+000");
}

#[test]
fn namelist_and_forcing_errors_name_file_and_line() {
    if landcycle::testdata::require("colm-bondville").is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let err = |extra: &str| {
        let nml = namelist(tmp.path(), "bad.csv", false, extra);
        let e = ColmCase::from_namelist(&nml).and_then(|c| run_colm_case(&c).map(|_| ()));
        (nml, format!("{}", e.unwrap_err()))
    };
    // An unknown key, a short texture array (on its own line), a bad class.
    let (nml, e) = err(" sandd = 3.0");
    assert!(
        e.contains(&format!("{}:", nml.display())) && e.contains("sandd"),
        "{e}"
    );
    let (nml, e) = err(" gravel(9) = 1.0");
    let text = std::fs::read_to_string(&nml).unwrap();
    let line = text.lines().position(|l| l.contains("gravel(9)")).unwrap() + 1;
    assert!(e.contains(&format!("{}:{line}:", nml.display())), "{e}");
    assert!(e.contains("9 values given, 8 needed"), "{e}");
    let (_, e) = err(" ivt = 0");
    assert!(e.contains("ivt"), "{e}");
    let (_, e) = err(" hgt_q = 10.0");
    assert!(e.contains("hgt_u"), "{e}");
    // A forcing file with a bad value names its line.
    let f = tmp.path().join("forcing.csv");
    std::fs::write(
        &f,
        "step,date,SFCSPD_m_s,SFCTMP_K,RH_frac,Q2_kg_kg,SFCPRS_Pa,SOLDN_W_m2,LWDOWN_W_m2,PRCP_kg_m2_s\n\
         1,199801010630,5.6,263.9,0.86,1.6E-03,1.002E+05,0,281,0\n\
         2,199801010700,5.6,263.9,0.86,1.6E-03,1.002E+05,0,-281,0\n",
    )
    .unwrap();
    let (_, e) = err(&format!(" forcing_file = \"{}\"", f.display()));
    assert!(
        e.contains(&format!("{}:3:", f.display())) && e.contains("LWDOWN"),
        "{e}"
    );
}
