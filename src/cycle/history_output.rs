//! The history output stage: on the history interval, gather every cell's record (ensemble
//! mean and spread, or every member) to the root, order it by global id and write one
//! CF/ALMA file through the run's output policy; with `LANDCYCLE_PARALLEL_HISTORY=1` under
//! MPI every rank writes its rows instead (`history_par`, experimental). An output: it only
//! reads the ensemble.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDateTime;

use super::ensemble::CellEnsemble;
use super::error::CycleError;
use super::history_par::{field_slots, write_parallel, Records};
use super::history_select::{select, Selected};
use super::history_vars::{all_vars, record_width, HistoryVar, Sampling};
use crate::config::{Config, HistoryNaming, StaticFormat};
use crate::grid::wps_domain::WpsDomain;
use crate::grid::Grid;
use crate::io::history::{
    write_history_deferred, Compression, EnsembleStat, GridMapping, HistoryField, HistoryGrid,
    HistoryMetadata, HistoryTime, HistoryWrite, Layout, TimeMethod, TimeUnits,
};
use crate::io::writer::{CommitJob, Output, WriteJob};
use crate::lsm::LandModel;
use crate::parallel::{order_by_id, Communicator};
use crate::time::on_interval;

/// Everything the root rank needs to write history files.
pub(super) struct HistoryContext {
    pub(super) grid: HistoryGrid,
    metadata: HistoryMetadata,
    compression: Compression,
    layer_thickness: Vec<f64>,
    reference: NaiveDateTime,
    interval_seconds: i64,
    pub(super) members: bool,
    /// The variables written, in output order.
    pub(super) selected: Vec<Selected>,
}

impl HistoryContext {
    /// The global attributes of a file with `n_members` members behind it.
    fn metadata(&self, n_members: usize) -> HistoryMetadata {
        let mut metadata = self.metadata.clone();
        if self.members {
            metadata.ensemble_size = n_members;
        }
        metadata
    }

    /// Everything of the file valid at `valid` but the data.
    fn header<'a>(
        &'a self,
        valid: NaiveDateTime,
        fields: &'a [HistoryField<'a>],
        metadata: &'a HistoryMetadata,
    ) -> HistoryWrite<'a> {
        HistoryWrite {
            grid: &self.grid,
            time: HistoryTime {
                reference: self.reference,
                start: valid - chrono::Duration::seconds(self.interval_seconds),
                end: valid,
                units: TimeUnits::Hours,
            },
            soil_layer_thickness: &self.layer_thickness,
            fields,
            metadata,
            compression: self.compression,
        }
    }
}

/// The history output stage.
pub(super) struct HistoryOutput {
    ctx: Arc<HistoryContext>,
}

/// The history grid: regular, or curvilinear with, on a WPS domain whose projection CF
/// describes, the grid mapping, projection x/y and cell corners.
fn history_grid(grid: &Grid, domain: Option<&WpsDomain>) -> HistoryGrid {
    let mask = grid.land_mask().to_vec();
    match (grid.lat_1d(), grid.lon_1d()) {
        (Some(lat), Some(lon)) => HistoryGrid::regular(lat.to_vec(), lon.to_vec(), mask),
        _ => {
            let (ny, nx) = grid.dims();
            let mut lat = Vec::with_capacity(ny * nx);
            let mut lon = Vec::with_capacity(ny * nx);
            for j in 0..ny {
                for i in 0..nx {
                    lat.push(grid.lat(j, i));
                    lon.push(grid.lon(j, i));
                }
            }
            let curvilinear = HistoryGrid::curvilinear(ny, nx, lat, lon, mask);
            match domain {
                Some(d) if d.x.len() == nx && d.y.len() == ny => {
                    let (name, parameters) = d.projection.cf(d.radius);
                    let mapping = GridMapping {
                        grid_mapping_name: name.to_string(),
                        parameters,
                    };
                    curvilinear.with_projection(mapping, (d.x.clone(), d.y.clone()), d.corners())
                }
                _ => curvilinear,
            }
        }
    }
}

/// The projection of the run's WPS domain (`None` for a landcycle static file).
fn wps_domain(cfg: &Config) -> Result<Option<WpsDomain>, CycleError> {
    match cfg.domain.static_format {
        StaticFormat::GeoEm => Ok(WpsDomain::read_geo_em(&cfg.domain.static_file)?),
        StaticFormat::Landcycle => Ok(None),
    }
}

impl HistoryOutput {
    pub(super) fn new(
        cfg: &Config,
        grid: &Grid,
        model_name: &str,
        layers: &[f64],
    ) -> Result<Self, CycleError> {
        let version = env!("CARGO_PKG_VERSION");
        let selected = select(cfg.run.history_naming, cfg.run.history_variables.as_deref())
            .map_err(|e| CycleError::Invalid(format!("run:history_variables: {e}")))?;
        let layout = match cfg.run.history_naming {
            HistoryNaming::Alma => Layout::Cf,
            HistoryNaming::Lis => Layout::Lis,
        };
        let ctx = HistoryContext {
            selected,
            grid: history_grid(grid, wps_domain(cfg)?.as_ref()).with_layout(layout),
            metadata: HistoryMetadata {
                title: "landcycle land ensemble history".into(),
                institution: "landcycle".into(),
                source: format!("landcycle {version} ({model_name})"),
                history: format!("landcycle {version} run"),
                namelist: cfg.namelist_text.clone(),
                ensemble_size: cfg.run.ensemble_size as usize,
                extra: vec![("config_fingerprint".into(), cfg.fingerprint().to_string())],
            },
            compression: Compression {
                deflate_level: cfg.run.history_compression.min(9) as u8,
                shuffle: true,
            },
            layer_thickness: layers.to_vec(),
            reference: cfg.run.start,
            interval_seconds: i64::from(cfg.run.history_interval_hours) * 3600,
            members: cfg.run.history_members,
        };
        Ok(HistoryOutput { ctx: Arc::new(ctx) })
    }

    /// True when a history file is due at `t`.
    pub(super) fn due(&self, t: NaiveDateTime) -> bool {
        on_interval(t, self.ctx.interval_seconds)
    }

    /// Gather per-cell records to the root and write one history file there, or every rank
    /// its rows (`LANDCYCLE_PARALLEL_HISTORY=1` under MPI) (collective).
    pub(super) fn write<M: LandModel>(
        &self,
        comm: &dyn Communicator,
        (model, ens): (&M, &CellEnsemble<M>),
        valid: NaiveDateTime,
        path: &Path,
        output: Option<&Output<CycleError>>,
    ) -> Result<(), CycleError> {
        let nl = model.n_soil_layers();
        let w = record_width(nl);
        let n_members = ens.n_members();
        let (records, per_cell) = if self.ctx.members {
            (ens.member_records(model), w * n_members)
        } else {
            (ens.mean_spread_records(model), 2 * w)
        };
        if let Some(fc) = comm.file_comm().filter(|_| parallel_history_requested()) {
            let n_blocks = per_cell / w;
            let rec = Records {
                ids: ens.ids(),
                values: records,
                per_cell,
                n_blocks,
            };
            let (fields, slots) = field_slots(&self.ctx, nl, n_blocks);
            let metadata = self.ctx.metadata(n_members);
            let write = self.ctx.header(valid, &fields, &metadata);
            let n = if self.ctx.members { n_members } else { 0 };
            return write_parallel(
                comm,
                fc,
                (&self.ctx, &rec),
                (&write, n, &slots),
                (path, output),
            );
        }
        let ids = comm.gatherv_u64(ens.ids(), 0);
        let vals = comm.gatherv_f64_owned(records, 0);
        let (Some(ids), Some(vals), Some(output)) = (ids, vals, output) else {
            return Ok(());
        };
        let job = HistoryJob {
            ctx: Arc::clone(&self.ctx),
            nl,
            n_members,
            ids,
            vals,
            per_cell,
            valid,
            path: path.to_path_buf(),
        };
        let job: WriteJob<CycleError> = Box::new(move || {
            let pending = job.write()?;
            let commit: CommitJob<CycleError> = Box::new(move || Ok(pending.commit()?));
            Ok(commit)
        });
        output.submit(job)
    }
}

/// `LANDCYCLE_PARALLEL_HISTORY=1`: every rank writes its rows of the history files (off by
/// default: the files then hold the same content on any rank count but not the same bytes,
/// HDF5's parallel metadata cache places metadata by rank count; docs/io.md).
fn parallel_history_requested() -> bool {
    std::env::var("LANDCYCLE_PARALLEL_HISTORY").is_ok_and(|v| v.trim() == "1")
}

/// One history file's gathered records (root rank, possibly on the writer thread).
struct HistoryJob {
    ctx: Arc<HistoryContext>,
    nl: usize,
    n_members: usize,
    ids: Vec<Vec<u64>>,
    vals: Vec<Vec<f64>>,
    /// Values per cell in a rank's block.
    per_cell: usize,
    valid: NaiveDateTime,
    path: PathBuf,
}

/// (variable index, block, offset in the record, layers) of each land array.
type Slot = (usize, usize, usize, usize);

impl HistoryJob {
    /// Build the full-grid fields from the records (cells taken in global id order) and
    /// write the file under its temporary name.
    fn write(&self) -> Result<crate::io::PendingFile, CycleError> {
        self.check_blocks()?;
        let vars = all_vars();
        let owned = self.full_grid_arrays(&vars)?;
        let member_data = self.member_arrays(&vars, &owned);
        let fields = self.fields(&vars, &owned, &member_data);
        let metadata = self.ctx.metadata(self.n_members);
        let write = self.ctx.header(self.valid, &fields, &metadata);
        Ok(write_history_deferred(&self.path, &write)?)
    }

    fn check_blocks(&self) -> Result<(), CycleError> {
        let per_cell = self.per_cell;
        for (r, (rank_ids, block)) in self.ids.iter().zip(&self.vals).enumerate() {
            if block.len() != rank_ids.len() * per_cell {
                return Err(CycleError::Invalid(format!(
                    "history: rank {r} sent {} values for {} cells × {per_cell}",
                    block.len(),
                    rank_ids.len()
                )));
            }
        }
        Ok(())
    }

    /// Slots of every variable and statistic, variables outer, blocks inner.
    fn slots(&self, vars: &[HistoryVar]) -> Vec<Slot> {
        let w = record_width(self.nl);
        let n_blocks = if self.ctx.members { self.n_members } else { 2 };
        let mut slots = Vec::new();
        let mut offset = 0;
        for (vi, v) in vars.iter().enumerate() {
            let layers = if v.layered { self.nl } else { 1 };
            if self.ctx.selected.iter().any(|s| s.index == vi) {
                for b in 0..n_blocks {
                    slots.push((vi, b, b * w + offset, layers));
                }
            }
            offset += layers;
        }
        slots
    }

    /// (variable index, block, full-grid data) per slot.
    fn full_grid_arrays(
        &self,
        vars: &[HistoryVar],
    ) -> Result<Vec<(usize, usize, Vec<f64>)>, CycleError> {
        let per_cell = self.per_cell;
        // Each cell's record, in global id order.
        let merged: Vec<&[f64]> = order_by_id(&self.ids)
            .into_iter()
            .map(|(_, r, k)| &self.vals[r][k * per_cell..(k + 1) * per_cell])
            .collect();
        let n_land = merged.len();
        let slots = self.slots(vars);
        // One pass over the records fills every land array (layer-major, cells in id order).
        let mut land: Vec<Vec<f64>> = slots
            .iter()
            .map(|&(_, _, _, layers)| vec![0.0; n_land * layers])
            .collect();
        for (c, rec) in merged.iter().enumerate() {
            for (dst, &(_, _, o, layers)) in land.iter_mut().zip(&slots) {
                for l in 0..layers {
                    dst[l * n_land + c] = rec[o + l];
                }
            }
        }
        let mut owned = Vec::with_capacity(slots.len());
        for (data, &(vi, b, _, layers)) in land.iter().zip(&slots) {
            let full = self.ctx.grid.expand_land(data, layers).ok_or_else(|| {
                CycleError::Invalid(format!(
                    "history: {n_land} land cells gathered, grid mask has a different count"
                ))
            })?;
            owned.push((vi, b, full));
        }
        Ok(owned)
    }

    /// With members: `[member][layer][y][x]` per variable.
    fn member_arrays(
        &self,
        vars: &[HistoryVar],
        owned: &[(usize, usize, Vec<f64>)],
    ) -> Vec<(usize, Vec<f64>)> {
        if !self.ctx.members {
            return Vec::new();
        }
        let mut member_data = Vec::with_capacity(vars.len());
        for vi in self.ctx.selected.iter().map(|s| s.index) {
            let mut d = Vec::new();
            for (v2, _, full) in owned {
                if *v2 == vi {
                    d.extend_from_slice(full);
                }
            }
            member_data.push((vi, d));
        }
        member_data
    }

    fn fields<'a>(
        &self,
        vars: &'a [HistoryVar],
        owned: &'a [(usize, usize, Vec<f64>)],
        member_data: &'a [(usize, Vec<f64>)],
    ) -> Vec<HistoryField<'a>> {
        let named = |vi: usize| {
            let s = self.ctx.selected.iter().find(|s| s.index == vi);
            (&vars[vi], s.expect("slots hold selected variables only"))
        };
        if self.ctx.members {
            return member_data
                .iter()
                .map(|(vi, d)| field_of(named(*vi), EnsembleStat::Members, d))
                .collect();
        }
        owned
            .iter()
            .map(|(vi, b, full)| {
                let stat = if *b == 0 {
                    EnsembleStat::Mean
                } else {
                    EnsembleStat::Spread
                };
                field_of(named(*vi), stat, full)
            })
            .collect()
    }
}

pub(super) fn field_of<'a>(
    (v, s): (&HistoryVar, &Selected),
    stat: EnsembleStat,
    data: &'a [f64],
) -> HistoryField<'a> {
    HistoryField {
        name: s.name.to_string(),
        long_name: v.long_name.to_string(),
        units: s.units.to_string(),
        standard_name: v.standard_name.map(str::to_string),
        time_method: match v.sampling {
            Sampling::Point => TimeMethod::Point,
            Sampling::Mean => TimeMethod::Mean,
        },
        layered: v.layered,
        stat,
        data,
    }
}
