//! The generic check every [`LandModel`] must pass (docs/bucket.md, ARCHITECTURE §6).
//!
//! [`check_land_model`] holds a model to the trait's promises that the driver, the EnKF
//! and the restart files rely on without knowing the model: restarts round-trip bit for
//! bit, `step_members` is a loop of `step`, increments stay inside the per-layer bounds
//! and report what they did, the control vector has one value per layer, surface weights
//! sum to one, and the same inputs give the same bits. It returns the first broken promise
//! as a message naming the cell, step and layer, so a test can `unwrap_or_else(panic)`.

use crate::lsm::{Forcing, LandModel, StepOutput};
use chrono::{Duration, NaiveDateTime};

/// Sensing depths (m) at which the surface weights are checked: inside a thin top layer,
/// SMAP's ~5 cm, a root zone, and below any column.
pub const SENSING_DEPTHS: [f64; 5] = [0.0, 0.01, 0.05, 0.3, 10.0];

/// Members derived from each given state: the state itself and three increments of the
/// kind an analysis makes (all wetter, all drier, alternating by layer), in m3 m-3.
const MEMBER_INCREMENTS: [f64; 3] = [0.03, -0.03, 0.02];

/// Runs every check on each cell `params[i]` with its state `states[i]` over the steps of
/// `forcing` (length `dt` seconds, the first ending at `start + dt`). Each cell's ensemble
/// is its state plus the three member increments, each member with its own scaling of
/// precipitation and shortwave so members differ.
pub fn check_land_model<M: LandModel>(
    model: &M,
    params: &[M::CellParams],
    states: &[M::State],
    forcing: &[Forcing],
    start: NaiveDateTime,
    dt: f64,
) -> Result<(), String> {
    check_layout(model)?;
    if params.len() != states.len() || params.is_empty() {
        return Err(format!(
            "{} cell parameters for {} states: give one state per cell",
            params.len(),
            states.len()
        ));
    }
    for (i, (p, s)) in params.iter().zip(states).enumerate() {
        let at = |m: String| format!("{}: cell {i}: {m}", model.name());
        check_views(model, p, s, start).map_err(at)?;
        check_restart(model, s).map_err(at)?;
        let members = members_of(model, p, s).map_err(at)?;
        for (m, st) in members.iter().enumerate() {
            check_increments(model, p, st).map_err(|e| at(format!("member {m}: {e}")))?;
        }
        let run = Run {
            model,
            params: p,
            forcing,
            start,
            dt,
        };
        run.check(&members).map_err(at)?;
    }
    Ok(())
}

/// Layering, surface weights and restart layout, which do not depend on a cell.
fn check_layout<M: LandModel>(model: &M) -> Result<(), String> {
    let n = model.n_soil_layers();
    let dz = model.soil_layer_thickness();
    if n == 0 || dz.len() != n {
        return Err(format!(
            "n_soil_layers() = {n}, soil_layer_thickness() has {}",
            dz.len()
        ));
    }
    if let Some(k) = dz.iter().position(|d| !(d.is_finite() && *d > 0.0)) {
        return Err(format!("layer {} has thickness {} m", k + 1, dz[k]));
    }
    for d in SENSING_DEPTHS {
        let w = model.surface_weights(d);
        let sum: f64 = w.iter().sum();
        if w.len() != n || (sum - 1.0).abs() > 1e-12 || w.iter().any(|x| x.is_nan() || *x < 0.0) {
            return Err(format!(
                "surface_weights({d} m) = {w:?}: want {n} non-negative weights summing to 1 (sum {sum})"
            ));
        }
    }
    let fields = model.restart_fields();
    if fields.is_empty() || fields.iter().any(|f| f.len == 0 || f.name.is_empty()) {
        return Err(format!("restart fields {fields:?}: empty field or name"));
    }
    Ok(())
}

/// Lengths of the per-layer views and the QC and hydraulics views of one cell.
fn check_views<M: LandModel>(
    model: &M,
    p: &M::CellParams,
    s: &M::State,
    t: NaiveDateTime,
) -> Result<(), String> {
    let n = model.n_soil_layers();
    let lens = [
        ("soil_moisture", model.soil_moisture(s).len()),
        ("soil_temperature", model.soil_temperature(s).len()),
        ("soil_moisture_bounds", model.soil_moisture_bounds(p).len()),
        (
            "qc_state().frozen",
            model.qc_state(p, std::slice::from_ref(s), t).frozen.len(),
        ),
    ];
    if let Some((what, len)) = lens.iter().find(|(_, len)| *len != n) {
        return Err(format!("{what} has {len} values for {n} soil layers"));
    }
    let mut extended = Vec::new();
    model.extend_soil_moisture(s, &mut extended);
    model.extend_soil_temperature(s, &mut extended);
    let direct = [model.soil_moisture(s), model.soil_temperature(s)].concat();
    if bits(&extended) != bits(&direct) {
        return Err(
            "extend_soil_moisture/temperature differ from soil_moisture/temperature".into(),
        );
    }
    for (k, (lo, hi)) in model.soil_moisture_bounds(p).into_iter().enumerate() {
        if !(lo.is_finite() && hi.is_finite() && 0.0 <= lo && lo < hi && hi <= 1.0) {
            return Err(format!("layer {}: bounds ({lo}, {hi})", k + 1));
        }
    }
    let (wilt, porosity) = model.surface_hydraulics(p);
    if !(wilt.is_finite() && porosity.is_finite() && 0.0 <= wilt && wilt < porosity) {
        return Err(format!(
            "surface_hydraulics: wilting point {wilt}, porosity {porosity}"
        ));
    }
    Ok(())
}

/// pack → unpack → pack is bit-exact and the packed length is the sum of the field lengths.
fn check_restart<M: LandModel>(model: &M, s: &M::State) -> Result<(), String> {
    let want: usize = model.restart_fields().iter().map(|f| f.len).sum();
    let mut a = Vec::new();
    model.pack_state(s, &mut a);
    if a.len() != want {
        return Err(format!(
            "pack_state wrote {} values, restart_fields sum to {want}",
            a.len()
        ));
    }
    let back = model
        .unpack_state(&a)
        .map_err(|e| format!("unpack_state of a packed state: {e}"))?;
    let b = packed(model, &back);
    if let Some(k) = first_difference(&a, &b) {
        return Err(format!(
            "restart round trip changed value {k}: {} -> {}",
            a[k], b[k]
        ));
    }
    // pack → unpack → pack alone passes a pack that loses precision consistently; the
    // state read back must also show the same quantities as the original.
    if let Some(k) = first_difference(&views(model, s), &views(model, &back)) {
        return Err(format!(
            "restart round trip changed viewed quantity {k} (soil moisture, soil temperature, \
             skin, SWE, snow depth, canopy water in that order)"
        ));
    }
    // Appending keeps what is already there (the driver packs many columns into one vector).
    let mut c = vec![f64::NAN];
    model.pack_state(s, &mut c);
    if c.len() != want + 1 || bits(&c[1..]) != bits(&a) {
        return Err("pack_state does not append to the output vector".into());
    }
    if model.unpack_state(&a[1..]).is_ok() {
        return Err("unpack_state accepted a vector one value short".into());
    }
    Ok(())
}

/// The cell's ensemble: `s` and `s` plus each of [`MEMBER_INCREMENTS`] (the last one with
/// alternating sign by layer). `apply_increment` and `apply_increment_in_place` must agree.
fn members_of<M: LandModel>(
    model: &M,
    p: &M::CellParams,
    s: &M::State,
) -> Result<Vec<M::State>, String> {
    let n = model.n_soil_layers();
    let mut members = vec![s.clone()];
    for (m, &d) in MEMBER_INCREMENTS.iter().enumerate() {
        let inc: Vec<f64> = (0..n)
            .map(|k| if m == 2 && k % 2 == 1 { -d } else { d })
            .collect();
        let mut a = s.clone();
        let mut b = s.clone();
        model.apply_increment(p, &mut a, &inc);
        model.apply_increment_in_place(p, &mut b, &inc);
        if let Some(k) = first_difference(&packed(model, &a), &packed(model, &b)) {
            return Err(format!(
                "apply_increment and apply_increment_in_place differ in restart value {k}"
            ));
        }
        members.push(a);
    }
    Ok(members)
}

/// Large positive, negative and mixed increments: every layer ends inside its bounds and
/// the returned increment is exactly the change of soil moisture.
fn check_increments<M: LandModel>(
    model: &M,
    p: &M::CellParams,
    s: &M::State,
) -> Result<(), String> {
    let n = model.n_soil_layers();
    let bounds = model.soil_moisture_bounds(p);
    let alternating: Vec<f64> = (0..n)
        .map(|k| if k % 2 == 0 { 2.0 } else { -2.0 })
        .collect();
    for inc in [vec![1.0; n], vec![-1.0; n], alternating, vec![0.001; n]] {
        let mut st = s.clone();
        let before = model.soil_moisture(&st);
        let applied = model.apply_increment(p, &mut st, &inc);
        let after = model.soil_moisture(&st);
        if applied.len() != n {
            return Err(format!("apply_increment returned {} values", applied.len()));
        }
        for k in 0..n {
            let (lo, hi) = bounds[k];
            if !(lo <= after[k] && after[k] <= hi) {
                return Err(format!(
                    "increment {}: layer {} at {} outside bounds ({lo}, {hi})",
                    inc[k],
                    k + 1,
                    after[k]
                ));
            }
            let change = after[k] - before[k];
            if applied[k].to_bits() != change.to_bits() {
                return Err(format!(
                    "increment {}: layer {} reported {} applied, state changed by {change}",
                    inc[k],
                    k + 1,
                    applied[k]
                ));
            }
        }
    }
    Ok(())
}

/// One cell's forcing sequence.
struct Run<'a, M: LandModel> {
    model: &'a M,
    params: &'a M::CellParams,
    forcing: &'a [Forcing],
    start: NaiveDateTime,
    dt: f64,
}

/// States after every step and the outputs of every step, as bits.
#[derive(PartialEq)]
struct Trace {
    states: Vec<Vec<u64>>,
    outputs: Vec<Vec<u64>>,
}

impl<M: LandModel> Run<'_, M> {
    /// `step_members` against a loop of `step`, and a repeat of `step_members`, bit for
    /// bit; restart, views and increments hold after every step.
    fn check(&self, members: &[M::State]) -> Result<(), String> {
        let together = self.trace(members, true)?;
        let one_by_one = self.trace(members, false)?;
        compare(
            &together,
            &one_by_one,
            "step_members differs from a loop of step",
        )?;
        let again = self.trace(members, true)?;
        compare(&together, &again, "the same inputs gave other bits")
    }

    fn time_end(&self, j: usize) -> NaiveDateTime {
        self.start + Duration::milliseconds((self.dt * 1000.0 * (j + 1) as f64).round() as i64)
    }

    /// Member `m`'s forcing: precipitation and shortwave scaled so members differ.
    fn member_forcing(f: &Forcing, m: usize) -> Forcing {
        Forcing {
            precipitation: (f.precipitation * (1.0 + 0.25 * m as f64)).min(0.5),
            shortwave_down: f.shortwave_down * (1.0 - 0.1 * m as f64).max(0.0),
            ..*f
        }
    }

    fn trace(&self, members: &[M::State], together: bool) -> Result<Trace, String> {
        let (model, p) = (self.model, self.params);
        let mut states = members.to_vec();
        let mut out = vec![StepOutput::default(); states.len()];
        let mut trace = Trace {
            states: Vec::new(),
            outputs: Vec::new(),
        };
        for (j, f) in self.forcing.iter().enumerate() {
            let t = self.time_end(j);
            let fs: Vec<Forcing> = (0..states.len())
                .map(|m| Self::member_forcing(f, m))
                .collect();
            self.advance(&mut states, &fs, t, &mut out, together)
                .map_err(|e| format!("step {j} ending {t}: {e}"))?;
            for (m, s) in states.iter().enumerate() {
                let at = |e: String| format!("after step {j}, member {m}: {e}");
                check_restart(model, s).map_err(at)?;
                check_views(model, p, s, t).map_err(at)?;
                check_finite(model, s).map_err(at)?;
                trace.states.push(bits(&packed(model, s)));
            }
            trace.outputs.extend(out.iter().map(output_bits));
        }
        for (m, s) in states.iter().enumerate() {
            check_increments(model, p, s).map_err(|e| format!("final member {m}: {e}"))?;
        }
        Ok(trace)
    }

    fn advance(
        &self,
        states: &mut [M::State],
        fs: &[Forcing],
        t: NaiveDateTime,
        out: &mut [StepOutput],
        together: bool,
    ) -> Result<(), String> {
        let (model, p, dt) = (self.model, self.params, self.dt);
        if together {
            return model
                .step_members(p, states, fs, t, dt, out)
                .map_err(|e| e.to_string());
        }
        for ((s, f), o) in states.iter_mut().zip(fs).zip(out.iter_mut()) {
            *o = model.step(p, s, f, t, dt).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

fn check_finite<M: LandModel>(model: &M, s: &M::State) -> Result<(), String> {
    let sm = model.soil_moisture(s);
    let st = model.soil_temperature(s);
    let scalars = [
        model.skin_temperature(s),
        model.swe(s),
        model.snow_depth(s),
        model.canopy_water(s),
    ];
    if sm.iter().chain(&st).chain(&scalars).all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(format!(
            "non-finite state: soil moisture {sm:?}, temperature {st:?}, skin/swe/snow/canopy {scalars:?}"
        ))
    }
}

fn compare(a: &Trace, b: &Trace, what: &str) -> Result<(), String> {
    if let Some(i) = (0..a.states.len()).find(|&i| a.states.get(i) != b.states.get(i)) {
        return Err(format!("{what}: state {i} (step × member) differs"));
    }
    if let Some(i) = (0..a.outputs.len()).find(|&i| a.outputs.get(i) != b.outputs.get(i)) {
        return Err(format!("{what}: output {i} (step × member) differs"));
    }
    if a.states.len() != b.states.len() || a.outputs.len() != b.outputs.len() {
        return Err(format!("{what}: different numbers of steps"));
    }
    Ok(())
}

/// Everything the trait shows of a state, flattened in a fixed order.
fn views<M: LandModel>(model: &M, s: &M::State) -> Vec<f64> {
    let mut v = model.soil_moisture(s);
    v.extend(model.soil_temperature(s));
    v.extend([
        model.skin_temperature(s),
        model.swe(s),
        model.snow_depth(s),
        model.canopy_water(s),
    ]);
    v
}

fn packed<M: LandModel>(model: &M, s: &M::State) -> Vec<f64> {
    let mut v = Vec::new();
    model.pack_state(s, &mut v);
    v
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// First index where `a` and `b` differ in bits (or in length).
fn first_difference(a: &[f64], b: &[f64]) -> Option<usize> {
    (0..a.len().max(b.len()))
        .find(|&k| a.get(k).map(|x| x.to_bits()) != b.get(k).map(|x| x.to_bits()))
}

fn output_bits(o: &StepOutput) -> Vec<u64> {
    bits(&[
        o.qh, o.qle, o.qg, o.qs, o.qsb, o.evap, o.swnet, o.lwnet, o.qsm, o.albedo, o.potevap,
    ])
}
