//! `landcycle restart dump`: a restart file as CF NetCDF, verified against its checksum first.

use crate::io::restart::{read_restart, verify_restart};
use crate::io::restart_dump::{write_restart_netcdf, DumpSelection};
use anyhow::Context;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct DumpArgs {
    /// Restart file (LC_RST_*.h5).
    pub restart: PathBuf,
    /// Output NetCDF file (default: the restart's name with `.nc`).
    #[arg(short = 'o', long)]
    pub out: Option<PathBuf>,
    /// Members to write (0-based, comma-separated; default all).
    #[arg(long, value_delimiter = ',')]
    pub members: Vec<usize>,
    /// Fields to write (model field names, perturbation fields as `perturbation_<name>`;
    /// comma-separated; default all).
    #[arg(long, value_delimiter = ',')]
    pub fields: Vec<String>,
    /// One `member` dimension instead of one variable per member (xarray-friendly; CDO reads
    /// no member dimension).
    #[arg(long)]
    pub member_dim: bool,
}

/// Default output name: `LC_RST_...h5` → `LC_RST_...nc` beside it.
fn default_out(restart: &Path) -> PathBuf {
    restart.with_extension("nc")
}

pub fn dump(args: &DumpArgs) -> anyhow::Result<()> {
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_out(&args.restart));
    if out == args.restart {
        anyhow::bail!("output {} would overwrite the restart", out.display());
    }
    let info = verify_restart(&args.restart)?;
    let d = read_restart(&args.restart)?;
    let sel = DumpSelection {
        members: args.members.clone(),
        fields: args.fields.clone(),
        member_dim: args.member_dim,
    };
    write_restart_netcdf(&out, &d, &sel, &args.restart)
        .with_context(|| format!("dumping {}", args.restart.display()))?;
    println!(
        "restart {} (valid {}, {} cells, {} members, checksum verified) -> {}",
        args.restart.display(),
        info.valid_time,
        info.n_cells,
        info.n_members,
        out.display()
    );
    Ok(())
}
