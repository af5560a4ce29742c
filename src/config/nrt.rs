//! `&nrt` rules that involve other groups: the forcing fallback to an earlier atmosphere
//! cycle needs a forcing whose file names say which cycle issued them.

use super::{Config, ConfigError, CouplerMode, OnMissingForcing};

impl super::Loader<'_> {
    /// `on_missing_forcing = 'previous_cycle'` only with data files named by issuing cycle
    /// and lead (`{init:..}`, `{lead_h..}` in `forcing:file_template`): other sources have
    /// no earlier cycle to fall back to.
    pub(super) fn validate_forcing_fallback(&self, c: &Config) -> Result<(), ConfigError> {
        if c.nrt.on_missing_forcing != OnMissingForcing::PreviousCycle {
            return Ok(());
        }
        let t = &c.forcing.file_template;
        let names_cycle = t.contains("{init") || t.contains("{lead_h");
        if c.coupler.mode == CouplerMode::Files && names_cycle {
            return Ok(());
        }
        let why = if c.coupler.mode != CouplerMode::Files {
            format!(
                "coupler:mode = '{}' has no earlier atmosphere cycle to fall back to",
                c.coupler.mode.name()
            )
        } else {
            format!(
                "forcing:file_template '{t}' does not name the issuing cycle: a fallback \
                 needs a forecast archive ({{init:%Y%m%d%H}} and {{lead_h:03}} in the \
                 template, with coupler:source_cycle_offset_hours)"
            )
        };
        Err(self.err(
            "nrt",
            "on_missing_forcing",
            format!("'previous_cycle' is refused: {why}; use 'wait' or 'fail'"),
        ))
    }
}
