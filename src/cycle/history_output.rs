//! The history output stage: on the history interval, every cell's record (ensemble mean and
//! spread, or every member) goes to the rank encoding its rows, and the root writes one
//! CF/ALMA file from the compressed chunks (`history_par`), committed through the run's
//! output policy. An output: it only reads the ensemble.

use std::path::Path;
use std::sync::Arc;

use chrono::NaiveDateTime;

use super::ensemble::CellEnsemble;
use super::error::CycleError;
use super::history_par::{field_slots, write_chunked, Records};
use super::history_select::{select, Selected};
use super::history_vars::{record_width, HistoryVar, Sampling};
use crate::config::{Config, HistoryNaming, StaticFormat};
use crate::grid::wps_domain::WpsDomain;
use crate::grid::Grid;
use crate::io::history::{
    Compression, EnsembleStat, GridMapping, HistoryField, HistoryGrid, HistoryMetadata,
    HistoryTime, HistoryWrite, Layout, TimeMethod, TimeUnits,
};
use crate::io::writer::Output;
use crate::lsm::LandModel;
use crate::parallel::Communicator;
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

    /// Write one history file from every rank's per-cell records (collective; `history_par`).
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
        let t0 = std::time::Instant::now();
        let n_blocks = if self.ctx.members { n_members } else { 2 };
        let (fields, slots) = field_slots(&self.ctx, nl, n_blocks);
        let mut rec = Records::new(ens.ids(), slots, w);
        if self.ctx.members {
            ens.member_records(model, |r| rec.push_cell(r));
        } else {
            ens.mean_spread_records(model, |r| rec.push_cell(r));
        }
        tracing::debug!(
            "history records built in {:.3} s",
            t0.elapsed().as_secs_f64()
        );
        let metadata = self.ctx.metadata(n_members);
        let write = self.ctx.header(valid, &fields, &metadata);
        let n = if self.ctx.members { n_members } else { 0 };
        write_chunked(comm, (&self.ctx, rec), (&write, n), (path, output))
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
