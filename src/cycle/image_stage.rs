//! The image-analysis stage (docs/image.md, IMAGE.md §5–§7): at the window end the root
//! reads the observation image; the surface layer(s) of every member are gathered by
//! global id; the root analyses (variational or EnKF-like, `da::image`); the increments go
//! back to the owning ranks and enter each member through the model's increment (bounds
//! kept). No image, or too little of it, skips the analysis and leaves the state untouched.
//! An analysis: it changes the ensemble, and it is collective.

use chrono::NaiveDateTime;

use super::analysis_1d::AcceptedRetrieval;
use super::ensemble::CellEnsemble;
use super::error::{agree, CycleError};
use super::image_analysis::{
    differences, enkf_config, enkf_report, finish_deep_layers, ImageReport, Increments,
    RootAnalysis,
};
use super::image_diag::{diag_content, DiagInput};
use super::image_exchange::{gather, increment_blocks, scatter_apply, GatheredFields};
use super::image_obs::{ImageSource, ObservedImage};
use super::image_retrievals::RetrievalImage;
use super::image_spread::{enkf_like_spread, RootEnsemble};
use super::perturber::grid_correlation;
use crate::config::{ImageConfig, ImageDeepLayers, ImageMethod};
use crate::da::image::{
    depth_taper, given_deep_factors, EnkfLikeFields, ImageOptions, ImagePlan, Workspace,
};
use crate::grid::Grid;
use crate::io::image_diag::ImageDiagContent;
use crate::lsm::LandModel;
use crate::parallel::Communicator;
use crate::perturb::{FieldScratch, GaussianFieldPlan};

/// What the root keeps between analyses.
struct Root {
    /// The gridded product (`None` with `source = 'retrievals'`).
    source: Option<ImageSource>,
    analysis: RootAnalysis,
    land: Vec<bool>,
    lat: Vec<f64>,
    lon: Vec<f64>,
}

/// The stage: settings on every rank, the plan and reader on the root.
pub struct ImageStage {
    cfg: ImageConfig,
    /// Layers the image analyses (those the sensing depth overlaps), from the top.
    n_analysed: usize,
    /// Layers gathered: the analysed ones, or all with `deep_layers` 'ensemble' or
    /// 'regression'.
    n_gather: usize,
    layer_thickness: Vec<f64>,
    root: Option<Root>,
    /// Plan and workspace of a non-root rank that transforms its share of the members
    /// (EnKF-like on more than one rank).
    members: Option<(ImagePlan, Workspace)>,
    /// This rank's accepted retrievals (`source = 'retrievals'`).
    retrievals: Option<RetrievalImage>,
}

/// The plan options of the namelist's `&image` on `grid`.
fn image_options(cfg: &ImageConfig, grid: &Grid) -> ImageOptions {
    ImageOptions {
        periodic_lon: grid.is_periodic(),
        keep_fraction: cfg.keep_fraction,
        ..ImageOptions::default()
    }
}

/// Factor per soil layer on the image's deep update: `deep_factors` as given, or the taper
/// of `deep_localization_m` (1 everywhere without either).
fn deep_factors(
    cfg: &ImageConfig,
    thickness: &[f64],
    n_analysed: usize,
) -> Result<Vec<f64>, CycleError> {
    match &cfg.deep_factors {
        Some(f) => given_deep_factors(f, thickness.len(), n_analysed)
            .map_err(|e| CycleError::Invalid(format!("image:deep_factors: {e}"))),
        None => depth_taper(thickness, cfg.sensing_depth_m, cfg.deep_localization_m)
            .map_err(|e| CycleError::Invalid(format!("image:deep_localization_m: {e}"))),
    }
}

/// Broadcast the root's yes/no to every rank.
fn broadcast_flag(comm: &dyn Communicator, flag: bool) -> bool {
    let mut b = vec![u8::from(flag)];
    comm.broadcast_bytes(&mut b, 0);
    b.first() == Some(&1)
}

impl ImageStage {
    /// Set up the stage (plan and image reader on the root only); `retrievals` makes the
    /// images of the 1-D EnKF's accepted retrievals instead of reading a gridded product.
    pub fn new<M: LandModel>(
        cfg: &ImageConfig,
        grid: &Grid,
        model: &M,
        (seed, retrievals): (u64, Option<RetrievalImage>),
        (rank, n_ranks): (usize, usize),
    ) -> Result<Self, CycleError> {
        let is_root = rank == 0;
        let (Some(lat), Some(lon)) = (grid.lat_1d(), grid.lon_1d()) else {
            return Err(CycleError::Invalid(
                "image:enabled needs a regular latitude-longitude grid (the image analysis \
                 on curvilinear grids is not built yet)"
                    .into(),
            ));
        };
        let weights = model.surface_weights(cfg.sensing_depth_m);
        let n_analysed = weights.iter().take_while(|&&w| w > 0.0).count().max(1);
        let n_gather = match cfg.deep_layers {
            ImageDeepLayers::Model => n_analysed,
            ImageDeepLayers::Ensemble | ImageDeepLayers::Regression => model.n_soil_layers(),
        };
        let gridded = retrievals.is_none();
        let thickness = model.soil_layer_thickness();
        let deep_factors = deep_factors(cfg, thickness, n_analysed)?;
        let root = is_root
            .then(|| Self::root_part(cfg, grid, (lat, lon), (seed, gridded), deep_factors))
            .transpose()?;
        let spread = cfg.method == ImageMethod::EnkfLike && n_ranks > 1;
        let members = (spread && !is_root)
            .then(|| {
                let plan = ImagePlan::new(grid.dims().0, grid.dims().1, &image_options(cfg, grid))
                    .map_err(|e| CycleError::Invalid(format!("image analysis plan: {e}")))?;
                Ok::<_, CycleError>((plan.new_workspace(), plan))
            })
            .transpose()?
            .map(|(ws, plan)| (plan, ws));
        Ok(ImageStage {
            cfg: cfg.clone(),
            n_analysed,
            n_gather,
            layer_thickness: model.soil_layer_thickness().to_vec(),
            root,
            members,
            retrievals,
        })
    }

    fn root_part(
        cfg: &ImageConfig,
        grid: &Grid,
        (lat, lon): (&[f64], &[f64]),
        (seed, gridded): (u64, bool),
        deep_factors: Vec<f64>,
    ) -> Result<Root, CycleError> {
        let (ny, nx) = grid.dims();
        let plan = ImagePlan::new(ny, nx, &image_options(cfg, grid))
            .map_err(|e| CycleError::Invalid(format!("image analysis plan: {e}")))?;
        let noise = if cfg.error_corr_km > 0.0 {
            let spec = grid_correlation(grid, cfg.error_corr_km, "image:error_corr_km")?;
            Some(GaussianFieldPlan::new(&spec)?)
        } else {
            None
        };
        Ok(Root {
            source: gridded.then(|| ImageSource::new(cfg, grid)),
            analysis: RootAnalysis {
                ws: plan.new_workspace(),
                plan,
                noise,
                scratch: FieldScratch::default(),
                seed,
                deep_factors,
            },
            land: grid.land_mask().to_vec(),
            lat: lat.to_vec(),
            lon: lon.to_vec(),
        })
    }

    /// Whether the image analysis runs before the 1-D analysis of the window end.
    pub fn before_1d(&self) -> bool {
        self.cfg.image_order == crate::config::ImageOrder::Before1d
    }

    /// Keep this rank's retrievals accepted by the 1-D EnKF at `t` (retrievals images only).
    pub fn note_retrievals(&mut self, t: NaiveDateTime, accepted: &[AcceptedRetrieval]) {
        if let Some(r) = self.retrievals.as_mut() {
            r.note(t, accepted);
        }
    }

    /// The observation image at `t` on the root: read from the gridded product, or made of
    /// the accepted retrievals (collective). `None` (with a warning) when there is none.
    fn observed_image(
        &mut self,
        comm: &dyn Communicator,
        t: NaiveDateTime,
    ) -> Result<Option<ObservedImage>, CycleError> {
        let n_grid = self.root.as_ref().map_or(0, |r| r.land.len());
        if let Some(r) = self.retrievals.as_mut() {
            let values = r.gather(comm, t, n_grid);
            return Ok(values.map(|values| ObservedImage {
                path: "accepted retrievals".into(),
                values,
            }));
        }
        let image = self.root.as_ref().map(|r| read_image(r, t)).transpose();
        Ok(agree(comm, image)?.flatten())
    }

    /// Run the analysis valid at `t`. Collective. Returns the diagnostics of the root when
    /// an analysis was made and diagnostics are on.
    pub fn run<M: LandModel>(
        &mut self,
        comm: &dyn Communicator,
        (model, ens): (&M, &mut CellEnsemble<M>),
        t: NaiveDateTime,
    ) -> Result<Option<ImageDiagContent>, CycleError> {
        let image = self.observed_image(comm, t)?;
        if !broadcast_flag(comm, image.is_some()) {
            return Ok(None);
        }
        let n_grid = self.root.as_ref().map_or(0, |r| r.land.len());
        let gathered = gather(comm, (model, &*ens), self.n_gather, t, n_grid);
        let spread = self.cfg.method == ImageMethod::EnkfLike && comm.size() > 1;
        let analysed = if spread {
            self.analyse_spread(comm, gathered.as_ref(), image.as_ref(), t)?
        } else {
            let r = match (self.root.as_mut(), gathered.as_ref(), image.as_ref()) {
                (Some(root), Some(g), Some(img)) => {
                    analyse_on_root(root, &self.cfg, self.n_analysed, g, img, t)
                }
                _ => Ok(None),
            };
            agree(comm, r.map_err(CycleError::Invalid))?
        };
        let result = match (self.root.as_ref(), gathered, image, analysed) {
            (Some(root), Some(g), Some(img), Some((inc, report))) => {
                let blocks = increment_blocks(&g.rank_ids, &inc);
                let diag = self.cfg.diagnostics.then(|| {
                    diag_content(&DiagInput {
                        cfg: &self.cfg,
                        t,
                        image: &img,
                        gathered: &g,
                        inc: &inc,
                        report: &report,
                        grid: (&root.lat, &root.lon, &root.land),
                        layer_thickness: &self.layer_thickness,
                    })
                });
                Some((blocks, diag))
            }
            _ => None,
        };
        if !broadcast_flag(comm, result.is_some()) {
            return Ok(None);
        }
        let (blocks, diag) = match result {
            Some((b, d)) => (Some(b), d),
            None => (None, None),
        };
        let r = scatter_apply(comm, (model, ens), blocks.as_deref(), self.n_gather);
        agree(comm, r)?;
        Ok(diag)
    }
}

impl ImageStage {
    /// The EnKF-like analysis with the members spread over the ranks (`image_spread`).
    /// Collective; `Some` on the root when an analysis was made.
    fn analyse_spread(
        &mut self,
        comm: &dyn Communicator,
        g: Option<&GatheredFields>,
        img: Option<&ObservedImage>,
        t: NaiveDateTime,
    ) -> Result<Option<(Increments, ImageReport)>, CycleError> {
        let prep = match (self.root.as_mut(), g, img) {
            (Some(root), Some(g), Some(img)) if covered(&self.cfg, g, img, t) => root
                .analysis
                .perturbed(&self.cfg, &img.values, g.layers[0].len(), t)
                .map(|p| Some((p, root.land.clone()))),
            _ => Ok(None),
        };
        let prep = agree(comm, prep.map_err(CycleError::Invalid))?;
        if !broadcast_flag(comm, prep.is_some()) {
            return Ok(None);
        }
        let ec = enkf_config(&self.cfg);
        let (plan, ws) = match (self.root.as_mut(), self.members.as_mut()) {
            (Some(r), _) => (&r.analysis.plan, &mut r.analysis.ws),
            (None, Some((p, w))) => (&*p, w),
            _ => {
                return Err(CycleError::Invalid(
                    "image analysis: no plan on this rank".into(),
                ))
            }
        };
        let mut updated = Vec::new();
        let mut top = None;
        for l in 0..self.n_analysed {
            let mut members = g.map(|g| g.layers[l].clone()).unwrap_or_default();
            let root_ens = match (g, img, prep.as_ref()) {
                (Some(g), Some(img), Some((pert, land))) => Some(RootEnsemble {
                    fields: EnkfLikeFields {
                        observed: &img.values,
                        land,
                        analysed: &g.qc_ok,
                    },
                    members: &mut members,
                    perturbed: pert,
                }),
                _ => None,
            };
            let (gain, report) = enkf_like_spread(comm, plan, ws, root_ens, &ec)?;
            if l == 0 {
                top = Some((gain, report));
            }
            updated.push(members);
        }
        let out = match (self.root.as_mut(), g, img, prep, top) {
            (Some(root), Some(g), Some(img), Some((pert, _)), Some((gain, Some(report)))) => root
                .analysis
                .deep_increments(&self.cfg, &gain, g, &img.values, &pert, self.n_analysed)
                .and_then(|mut inc| {
                    for (l, members) in updated.iter().enumerate() {
                        inc[l] = differences(members, &g.layers[l]);
                    }
                    let factors = &root.analysis.deep_factors;
                    finish_deep_layers(&self.cfg, g, &mut inc, (self.n_analysed, factors))?;
                    Ok(Some((inc, enkf_report(report))))
                }),
            _ => Ok(None),
        };
        agree(comm, out.map_err(CycleError::Invalid))
    }
}

/// Whether the image covers enough analysed land (`min_coverage`); warns when not.
fn covered(cfg: &ImageConfig, g: &GatheredFields, img: &ObservedImage, t: NaiveDateTime) -> bool {
    let analysed = g.qc_ok.iter().filter(|&&q| q).count();
    let observed = g
        .qc_ok
        .iter()
        .zip(&img.values)
        .filter(|(&q, v)| q && v.is_finite())
        .count();
    let coverage = if analysed == 0 {
        0.0
    } else {
        observed as f64 / analysed as f64
    };
    if coverage < cfg.min_coverage || observed == 0 {
        tracing::warn!(
            "image analysis at {t} skipped: {} covers {observed} of {analysed} land cells \
             passing model QC ({:.1} % < image:min_coverage {:.1} %)",
            img.path.display(),
            100.0 * coverage,
            100.0 * cfg.min_coverage
        );
        return false;
    }
    true
}

/// The image at `t` on the root, `None` (with a warning) when there is none.
fn read_image(root: &Root, t: NaiveDateTime) -> Result<Option<ObservedImage>, CycleError> {
    let Some(source) = root.source.as_ref() else {
        return Ok(None);
    };
    match source.read(t).map_err(|e| {
        CycleError::Invalid(format!("image analysis at {t}: observation image: {e}"))
    })? {
        Ok(img) => Ok(Some(img)),
        Err(why) => {
            tracing::warn!("image analysis at {t} skipped: {why}");
            Ok(None)
        }
    }
}

/// Coverage check, then the analysis; `Ok(None)` when skipped for too little coverage.
fn analyse_on_root(
    root: &mut Root,
    cfg: &ImageConfig,
    n_analysed: usize,
    g: &GatheredFields,
    img: &ObservedImage,
    t: NaiveDateTime,
) -> Result<Option<(Increments, ImageReport)>, String> {
    if !covered(cfg, g, img, t) {
        return Ok(None);
    }
    let land = root.land.clone();
    let r = root
        .analysis
        .analyse(cfg, g, &img.values, (&land, n_analysed), t)
        .map_err(|e| format!("image analysis at {t}: {e}"))?;
    Ok(Some(r))
}
