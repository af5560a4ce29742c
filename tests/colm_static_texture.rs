//! Texture fields in the landcycle static file (`PCT_SAND`, `PCT_CLAY`): written and read
//! back bit for bit (also through the per-rank cell reader), used by CoLM instead of the
//! soil-class lookup, ignored where absent, and bad values refused with the file, variable
//! and cell named.

use landcycle::grid::static_texture::SoilTextureFields;
use landcycle::grid::statics::StaticFields;
use landcycle::lsm::colm::land_model::cell::{cell_texture, ColmCell};
use landcycle::lsm::colm::pedotransfer::soil_params_from_texture;
use landcycle::lsm::colm::soil_class_texture::{mineral_texture, texture_of_soil_class};
use landcycle::lsm::colm::{SoilGeometry, Tunables};
use landcycle::synth::statics::synth_statics;

/// A sandy-to-clayey gradient west to east, as a texture map would give.
fn with_texture(mut s: StaticFields) -> StaticFields {
    let (ny, nx) = (s.ny(), s.nx());
    let sand: Vec<f64> = (0..ny * nx)
        .map(|k| 85.0 - 70.0 * (k % nx) as f64 / (nx - 1) as f64)
        .collect();
    let clay: Vec<f64> = sand.iter().map(|&s| 0.5 * (100.0 - s)).collect();
    s.soil_texture = Some(SoilTextureFields { sand, clay });
    s
}

#[test]
fn texture_fields_round_trip_and_drive_colm_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("static.nc");
    let s = with_texture(synth_statics(8, 6, 40.0, -95.0, 0.25, 7));
    s.write_landcycle(&path).unwrap();
    let back = StaticFields::read_landcycle(&path).unwrap();
    assert_eq!(back.soil_texture, s.soil_texture);
    let nc = netcdf::open(&path).unwrap();
    for name in ["PCT_SAND", "PCT_CLAY"] {
        let v = nc.variable(name).unwrap();
        let units: String = v
            .attribute_value("units")
            .unwrap()
            .unwrap()
            .try_into()
            .unwrap();
        assert_eq!(units, "%");
    }

    let ids = back.land_cells();
    let cells = StaticFields::read_landcycle_cells(&path, &ids).unwrap();
    let geometry = SoilGeometry::standard();
    let tun = Tunables::default();
    let mut differs_from_class = 0;
    for (&id, c) in ids.iter().zip(&cells) {
        let t = c.soil_texture.expect("texture of a land cell");
        let k = id as usize;
        assert_eq!(
            (t.sand, t.clay),
            (
                s.soil_texture.as_ref().unwrap().sand[k],
                0.5 * (100.0 - t.sand)
            )
        );
        let tex = cell_texture(c).unwrap();
        assert_eq!(tex, mineral_texture(t.sand, t.clay));
        let cell = ColmCell::from_statics(c, &geometry, &tun).unwrap();
        let expect = soil_params_from_texture(&[tex; 8], &geometry).unwrap();
        assert_eq!(cell.soil, expect);
        let by_class = soil_params_from_texture(
            &[texture_of_soil_class(c.soil_class).unwrap(); 8],
            &geometry,
        )
        .unwrap();
        if by_class != cell.soil {
            differs_from_class += 1;
        }
    }
    assert!(
        differs_from_class > ids.len() / 2,
        "{differs_from_class} of {}",
        ids.len()
    );

    // Without the fields the class lookup decides, as before.
    let plain = dir.path().join("plain.nc");
    synth_statics(8, 6, 40.0, -95.0, 0.25, 7)
        .write_landcycle(&plain)
        .unwrap();
    let cells = StaticFields::read_landcycle_cells(&plain, &ids).unwrap();
    for c in &cells {
        assert_eq!(c.soil_texture, None);
        assert_eq!(
            cell_texture(c).unwrap(),
            texture_of_soil_class(c.soil_class).unwrap()
        );
    }
}

/// Rewrite one variable of a written static file.
fn overwrite(path: &std::path::Path, name: &str, k: usize, value: f64) {
    let mut f = netcdf::append(path).unwrap();
    let mut v = f.variable_mut(name).unwrap();
    let mut all = v.get_values::<f64, _>(..).unwrap();
    all[k] = value;
    v.put_values(&all, ..).unwrap();
}

#[test]
fn bad_texture_values_name_the_file_variable_and_cell() {
    let dir = tempfile::tempdir().unwrap();
    let s = with_texture(synth_statics(8, 6, 40.0, -95.0, 0.25, 7));
    let k = s.land_cells()[0] as usize;
    let (j, i) = (k / s.nx(), k % s.nx());
    let cases = [
        ("PCT_SAND", -1.0, "PCT_SAND"),
        ("PCT_CLAY", 120.0, "PCT_CLAY"),
        ("PCT_SAND", f64::NAN, "PCT_SAND"),
        // sand 85 at the west edge: clay 20 puts the sum over 100.
        ("PCT_CLAY", 99.0, "at most 100 - PCT_SAND"),
    ];
    for (n, (var, value, expect)) in cases.into_iter().enumerate() {
        let path = dir.path().join(format!("bad{n}.nc"));
        s.write_landcycle(&path).unwrap();
        overwrite(&path, var, k, value);
        let e = StaticFields::read_landcycle(&path).unwrap_err().to_string();
        assert!(e.contains(path.to_str().unwrap()), "{e}");
        assert!(e.contains(var) && e.contains(expect), "{e}");
        assert!(e.contains(&format!("(j={j}, i={i})")), "{e}");
    }
    // One of the two alone.
    let path = dir.path().join("sand_only.nc");
    let mut only = s.clone();
    only.soil_texture = None;
    only.write_landcycle(&path).unwrap();
    {
        let mut f = netcdf::append(&path).unwrap();
        let dims: Vec<String> = f
            .variable("soil_class")
            .unwrap()
            .dimensions()
            .iter()
            .map(|d| d.name())
            .collect();
        let dims: Vec<&str> = dims.iter().map(|d| d.as_str()).collect();
        let mut v = f.add_variable::<f64>("PCT_SAND", &dims).unwrap();
        v.put_values(&vec![40.0; s.ny() * s.nx()], ..).unwrap();
    }
    let e = StaticFields::read_landcycle(&path).unwrap_err().to_string();
    assert!(
        e.contains(path.to_str().unwrap()) && e.contains("PCT_CLAY"),
        "{e}"
    );
}
