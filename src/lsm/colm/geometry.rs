//! The fixed 10-layer soil geometry of CoLM (Dai et al. 2003; the layering of CLM 3.0,
//! Oleson et al. 2004 eqs. 6.5–6.7); the role of the layer set-up in `initialize.F90`.
//!
//! Node depths grow exponentially, z_j = 0.025 (exp(0.5 (j − 0.5)) − 1) m, j = 1..10;
//! thicknesses dz_1 = ½(z_1 + z_2), dz_j = ½(z_{j+1} − z_{j−1}), dz_10 = z_10 − z_9;
//! interfaces zi_j = ½(z_j + z_{j+1}) below node j, zi_10 = z_10 + ½ dz_10 (3.433 m).

use super::constants::NSOIL;

/// Depths (m, positive downward) of the soil nodes, layer thicknesses and the bottom
/// interface of each layer (the top interface of layer 1 is the surface, 0 m).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SoilGeometry {
    /// Node depth (m).
    pub z: [f64; NSOIL],
    /// Layer thickness (m).
    pub dz: [f64; NSOIL],
    /// Depth of the interface below each node (m).
    pub zi: [f64; NSOIL],
}

impl SoilGeometry {
    /// CoLM's standard layering.
    pub fn standard() -> Self {
        let mut z = [0.0; NSOIL];
        for (j, zj) in z.iter_mut().enumerate() {
            // 1-based layer number j + 1 in the published formula.
            *zj = 0.025 * ((0.5 * (j as f64 + 1.0 - 0.5)).exp() - 1.0);
        }
        let mut dz = [0.0; NSOIL];
        dz[0] = 0.5 * (z[0] + z[1]);
        for j in 1..NSOIL - 1 {
            dz[j] = 0.5 * (z[j + 1] - z[j - 1]);
        }
        dz[NSOIL - 1] = z[NSOIL - 1] - z[NSOIL - 2];
        let mut zi = [0.0; NSOIL];
        for j in 0..NSOIL - 1 {
            zi[j] = 0.5 * (z[j] + z[j + 1]);
        }
        zi[NSOIL - 1] = z[NSOIL - 1] + 0.5 * dz[NSOIL - 1];
        Self { z, dz, zi }
    }

    /// Depth of the top interface of layer `j` (0-based) (m).
    pub fn top(&self, j: usize) -> f64 {
        if j == 0 {
            0.0
        } else {
            self.zi[j - 1]
        }
    }

    /// Total depth of the soil column (m).
    pub fn depth(&self) -> f64 {
        self.zi[NSOIL - 1]
    }
}

impl Default for SoilGeometry {
    fn default() -> Self {
        Self::standard()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_and_interfaces_match_the_published_numbers() {
        let g = SoilGeometry::standard();
        // COLM.md §3, cm, printed to 3–4 significant digits.
        let z_cm = [
            0.710, 2.79, 6.23, 11.89, 21.22, 36.61, 61.98, 103.8, 172.8, 286.5,
        ];
        let zi_cm = [
            1.75, 4.51, 9.06, 16.55, 28.91, 49.29, 82.89, 138.3, 229.6, 343.3,
        ];
        for j in 0..NSOIL {
            assert!(
                (g.z[j] * 100.0 - z_cm[j]).abs() < 0.006 * z_cm[j].max(1.0),
                "z{j}"
            );
            assert!(
                (g.zi[j] * 100.0 - zi_cm[j]).abs() < 0.003 * zi_cm[j],
                "zi{j}"
            );
        }
        // The layers tile the column: thicknesses sum to the bottom interface.
        let sum: f64 = g.dz.iter().sum();
        assert!((sum - g.depth()).abs() < 1e-14);
        for j in 0..NSOIL {
            assert!((g.zi[j] - g.top(j) - g.dz[j]).abs() < 1e-14, "layer {j}");
        }
    }
}
