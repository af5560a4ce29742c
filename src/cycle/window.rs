//! The window runner: one window of the cycle as a fixed sequence of stages.
//!
//! ```text
//! open the cycle directory
//! 1 observations of the window            (ObsWindow; none → open loop)
//! 2 each model step (t0, t1]:
//!     a perturb   forcing and state perturbations at t0
//!     b forcing   this rank's cells, next step's file read ahead
//!     c advance   every member of every cell
//!     d analyse   the 1-D EnKF at analysis times            (an analysis: changes the state)
//!     e image     at the window end, the image analysis of the whole surface field,
//!                 after (or, with image_order = 'before_1d', before) that step's 1-D analysis
//!     f output    history on its interval                    (an output: reads the state)
//!     g export    at the export time, the ensemble mean to the atmosphere (&coupler)
//! 3 restart and cycle record
//! ```
//! The restart of the window end is begun before that step's history (its rows exchanged
//! and queued to its I/O thread) and finished after the step: the state no longer changes,
//! and the restart's writes go to the device while the main thread writes the history.
//! Each stage runs inside one `tracing` span of its name, which also times it. Stages are
//! plain fields of the runner: the loop knows what runs when, not how.

use chrono::{Duration, NaiveDateTime};

use super::analysis_1d::Assimilation;
use super::ensemble::CellEnsemble;
use super::error::{agree, CycleError};
use super::export_stage::ExportStage;
use super::forcing_stage::ForcingStage;
use super::history_output::HistoryOutput;
use super::image_diag::diag_job;
use super::image_stage::ImageStage;
use super::obs_window::{FrozenObsFiles, WindowObs};
use super::perturber::Perturber;
use super::restart_output::{CycleCommit, PendingRestart, RestartOutput};
use super::rundir::RunDir;
use super::timing::{stage, StageClock};
use crate::io::diag::diag_file_name;
use crate::io::history::history_file_name;
use crate::io::image_diag::image_diag_file_name;
use crate::io::writer::Output;
use crate::lsm::{Forcing, LandModel};
use crate::parallel::Communicator;
use crate::time::Window;

/// The forcing and soil-moisture perturbers of a run (either may be off).
pub(super) struct Perturbers {
    pub forcing: Option<Perturber>,
    pub soil_moisture: Option<Perturber>,
}

/// Everything a run needs to run windows, built once by [`WindowRunner::setup`].
pub struct WindowRunner<'c, M: LandModel> {
    pub(super) comm: &'c dyn Communicator,
    pub(super) model: M,
    pub(super) ens: CellEnsemble<M>,
    pub(super) perturbers: Perturbers,
    pub(super) forcing: ForcingStage,
    pub(super) export: ExportStage,
    pub(super) assim: Option<Assimilation>,
    pub(super) image: Option<ImageStage>,
    pub(super) history: HistoryOutput,
    pub(super) restart: RestartOutput,
    /// The root's output policy (background writer or synchronous); `None` on other ranks.
    pub(super) output: Option<Output<CycleError>>,
    pub(super) rundir: RunDir,
    /// Model time step (s).
    pub(super) dt: i64,
    /// Valid time of the initial state.
    pub(super) start: NaiveDateTime,
    /// End of the last window to run: nothing is read or computed ahead beyond it.
    pub(super) horizon: NaiveDateTime,
    pub(super) n_land: usize,
    pub(super) clock: StageClock,
    /// Observation files to read instead of discovering them (`landcycle nrt`).
    pub(super) frozen_obs: Option<FrozenObsFiles>,
}

impl<M: LandModel> WindowRunner<'_, M> {
    /// Valid time of the initial state (the start of the first window).
    pub fn start(&self) -> NaiveDateTime {
        self.start
    }

    /// Land cells of the whole domain.
    pub fn n_land_cells(&self) -> usize {
        self.n_land
    }

    /// End of the last window that will run: nothing is read or computed ahead beyond it.
    pub fn set_horizon(&mut self, end: NaiveDateTime) {
        self.horizon = end;
        let p = &mut self.perturbers;
        for pert in [p.forcing.as_mut(), p.soil_moisture.as_mut()]
            .into_iter()
            .flatten()
        {
            pert.set_horizon(end);
        }
    }

    /// Read exactly these observation files in the next windows (the same on every rank),
    /// or discover them (`None`, the default).
    pub fn set_observation_files(&mut self, files: Option<FrozenObsFiles>) {
        self.frozen_obs = files;
    }

    /// Read the forcing of the next windows from the atmosphere cycle that forces land
    /// cycle `cycle` (an earlier one: `nrt:on_missing_forcing = 'previous_cycle'`), or the
    /// window's own (`None`, the default). Only for forecast-archive file templates.
    pub fn set_forcing_cycle(&mut self, cycle: Option<NaiveDateTime>) {
        self.forcing.set_issuing_cycle(cycle);
    }

    /// Run `hook(cycle)` on the root after each restart is committed and before
    /// `state.json` records it (the cycle record of `landcycle nrt`); `None` by default.
    pub fn set_cycle_commit(&mut self, hook: Option<CycleCommit>) {
        self.restart.set_cycle_commit(hook);
    }

    /// Run window `w`: the stages in their fixed order. Collective.
    pub fn run_window(&mut self, w: &Window) -> Result<(), CycleError> {
        let _window = tracing::info_span!("window", cycle = %w.label()).entered();
        self.open_cycle(w)?;
        self.begin_forcing(w)?;
        let obs = self.observations(w)?;
        let mut restart = None;
        for t1 in w.step_ends(self.dt) {
            let t0 = t1 - Duration::seconds(self.dt);
            self.perturb(t0)?;
            let base = self.read_forcing(t0, t1)?;
            self.advance(base.as_deref(), t1)?;
            let (end, first) = (
                t1 == w.end,
                self.image.as_ref().is_some_and(|i| i.before_1d()),
            );
            if end && first {
                self.image_analysis(w)?;
            }
            self.analyse(obs.as_ref(), w, t1, base.as_deref())?;
            if end && !first {
                self.image_analysis(w)?;
            }
            if end {
                restart = Some(self.begin_restart(w)?);
            }
            self.write_history(w, t1)?;
            self.export_state(w, t1)?;
        }
        let pending = match restart {
            Some(p) => p,
            None => self.begin_restart(w)?,
        };
        self.finish_restart(pending)
    }

    /// The window's forcing source turns to this cycle (mode 'exchange': the root waits
    /// for and verifies the atmosphere's delivery).
    fn begin_forcing(&mut self, w: &Window) -> Result<(), CycleError> {
        let _s = self.clock.start(stage::FORCING);
        self.forcing.begin_window(self.comm, w.end)
    }

    /// Create the cycle's directories (root) before any rank writes into them.
    fn open_cycle(&self, w: &Window) -> Result<(), CycleError> {
        let r = if self.comm.rank() == 0 {
            self.rundir.create_cycle(w.end).map_err(CycleError::from)
        } else {
            Ok(())
        };
        agree(self.comm, r)
    }

    /// Stage 1: the window's observations (each file read on one rank; every rank gets
    /// its own cells' observations and the same analysis times). Collective.
    fn observations(&self, w: &Window) -> Result<Option<WindowObs>, CycleError> {
        let _s = self.clock.start(stage::OBSERVATIONS);
        let frozen = self.frozen_obs.as_ref();
        let Some(a) = self.assim.as_ref() else {
            return Ok(None);
        };
        let wo = a.obs.prepare_window_routed(self.comm, w, frozen);
        let wo = wo.map_err(|source| CycleError::ObsRoute {
            window: w.label(),
            source,
        });
        agree(self.comm, wo).map(Some)
    }

    /// Stage a: perturbation clocks advance on every rank (also without cells), so the
    /// time index written to the restart never depends on the decomposition. Both groups
    /// advance even when the first fails: a spatially correlated group's advance is
    /// collective.
    fn perturb(&mut self, t0: NaiveDateTime) -> Result<(), CycleError> {
        let _s = self.clock.start(stage::PERTURBATION);
        let (comm, p) = (self.comm, &mut self.perturbers);
        let forcing = p
            .forcing
            .as_mut()
            .map_or(Ok(false), |f| f.advance(t0, comm));
        let r = p
            .soil_moisture
            .as_mut()
            .map_or(Ok(()), |s| match s.advance(t0, comm) {
                Ok(true) => {
                    let r = s.perturb_state(&self.model, &mut self.ens);
                    // Applied once per perturbation time: not held through the physics.
                    s.release_values();
                    r
                }
                other => other.map(|_| ()),
            });
        agree(comm, forcing.and(r))
    }

    /// Stage b: the step's unperturbed forcing of this rank's cells.
    fn read_forcing(
        &mut self,
        t0: NaiveDateTime,
        t1: NaiveDateTime,
    ) -> Result<Option<Vec<Forcing>>, CycleError> {
        let _s = self.clock.start(stage::FORCING);
        let next = (t1 < self.horizon).then(|| (t1, t1 + Duration::seconds(self.dt)));
        let r = self.forcing.forcing((t0, t1), next);
        agree(self.comm, r)
    }

    /// Stage c: every member of every cell, with its forcing perturbation.
    fn advance(&mut self, base: Option<&[Forcing]>, t1: NaiveDateTime) -> Result<(), CycleError> {
        let _s = self.clock.start(stage::PHYSICS);
        let r = match base {
            None => Ok(()),
            Some(base) => {
                let dt = self.dt as f64;
                let (model, ens) = (&self.model, &mut self.ens);
                match self.perturbers.forcing.as_ref() {
                    Some(p) => {
                        let vars = p.gen.resolved_vars();
                        let perturb = |c: usize, fs: &mut [Forcing]| {
                            crate::perturb::apply_forcing_perturbation_members(
                                vars,
                                p.cell_values(c),
                                fs,
                            )
                        };
                        ens.step(model, base, perturb, t1, dt)
                    }
                    None => ens.step(model, base, |_, _| {}, t1, dt),
                }
                .map_err(CycleError::from)
            }
        };
        agree(self.comm, r)
    }

    /// Stage d: the per-cell EnKF when `t1` is an analysis time, and its diagnostics file.
    fn analyse(
        &mut self,
        obs: Option<&WindowObs>,
        w: &Window,
        t1: NaiveDateTime,
        base: Option<&[Forcing]>,
    ) -> Result<(), CycleError> {
        let (Some(a), Some(obs)) = (self.assim.as_ref(), obs) else {
            return Ok(());
        };
        let _s = self.clock.start(stage::ANALYSIS);
        let me = (&self.model, &mut self.ens);
        let Some(result) = a.analysis.analyse_step(self.comm, obs, t1, me, base)? else {
            return Ok(());
        };
        if let Some(image) = self.image.as_mut() {
            image.note_retrievals(t1, &result.retrievals);
        }
        let r = match (result.diagnostics, self.output.as_ref()) {
            (Some(d), Some(out)) => {
                let path = self
                    .rundir
                    .cycle_dir(w.end, "diag")
                    .join(diag_file_name(t1));
                out.submit(d.job(path))
            }
            _ => Ok(()),
        };
        agree(self.comm, r)
    }

    /// Stage f: a history file when one is due at `t1`.
    fn write_history(&mut self, w: &Window, t1: NaiveDateTime) -> Result<(), CycleError> {
        if !self.history.due(t1) {
            return Ok(());
        }
        let _s = self.clock.start(stage::HISTORY);
        let path = self
            .rundir
            .cycle_dir(w.end, "output")
            .join(history_file_name(t1));
        let me = (&self.model, &self.ens);
        let r = self
            .history
            .write(self.comm, me, t1, &path, self.output.as_ref());
        self.ens.reset_accumulators();
        agree(self.comm, r)
    }

    /// Stage e: the image analysis of the whole surface field at the window end, and its
    /// diagnostics file.
    fn image_analysis(&mut self, w: &Window) -> Result<(), CycleError> {
        let Some(image) = self.image.as_mut() else {
            return Ok(());
        };
        let _s = self.clock.start(stage::IMAGE);
        let me = (&self.model, &mut self.ens);
        // Only the root holds diagnostics: every rank still joins the agreement.
        let diag = image.run(self.comm, me, w.end)?;
        let r = match (diag, self.output.as_ref()) {
            (Some(diag), Some(out)) => {
                let dir = self.rundir.cycle_dir(w.end, "diag");
                out.submit(diag_job(diag, dir.join(image_diag_file_name(w.end))))
            }
            _ => Ok(()),
        };
        agree(self.comm, r)
    }

    /// Stage 3, first part: the restart of the window's end begun (rows exchanged, queued
    /// for writing).
    fn begin_restart(&mut self, w: &Window) -> Result<PendingRestart, CycleError> {
        let _s = self.clock.start(stage::RESTART);
        let p = &self.perturbers;
        let perturbers = [p.forcing.as_ref(), p.soil_moisture.as_ref()];
        let me = (&self.model, &self.ens);
        let r = self.restart.begin(self.comm, me, perturbers, w.end);
        agree(self.comm, r)
    }

    /// Stage 3, second part: the restart completed, then the cycle record queued.
    fn finish_restart(&mut self, pending: PendingRestart) -> Result<(), CycleError> {
        let _s = self.clock.start(stage::RESTART);
        let r = self
            .restart
            .finish(self.comm, pending, self.output.as_ref());
        agree(self.comm, r)
    }

    /// Stage g: the ensemble-mean land state for the atmosphere at the export time.
    fn export_state(&mut self, w: &Window, t1: NaiveDateTime) -> Result<(), CycleError> {
        if !self.export.due(w.end, t1) {
            return Ok(());
        }
        let _s = self.clock.start(stage::EXPORT);
        let me = (&self.model, &self.ens);
        let r = self.export.run(self.comm, me, t1, self.output.as_ref());
        agree(self.comm, r)
    }
}
