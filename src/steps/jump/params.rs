//! JumpStep parameters: the official names and code defaults of jwst 3.0.0 `JumpStep.spec`
//! (spec §11.1; where the docs and the code disagree, the code wins, e.g.
//! `max_jump_to_flag_neighbors` is 1000, not 200).

use thiserror::Error;

/// A parameter set (or exposure geometry) the jump kernel cannot honour.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum JumpError {
    /// A value the official step would refuse too (negative threshold, zero group time, ...).
    #[error("jump: parameter {name} = {value}: {problem}")]
    InvalidParameter {
        name: &'static str,
        value: String,
        problem: &'static str,
    },
    /// A feature of the official step that sloper does not implement.
    #[error("jump: {0} is not supported by sloper")]
    Unsupported(&'static str),
    /// Arrays whose sizes disagree with the exposure geometry.
    #[error("jump: {0}")]
    Shape(String),
}

/// Every `JumpStep` parameter, with the official names and defaults.
///
/// Notes on parameters that are accepted but have no effect on the result:
/// - `maximum_cores`: the official step slices rows across processes; sloper always produces the
///   serial (`maximum_cores = '1'`) result.
/// - `minimum_groups`: serial stcal overrides it with 3 before detection (`find_crs` is called
///   with `twopt_params.minimum_groups = 3` when there is one slice), so 3 is always used.
/// - `use_ellipses` is deprecated upstream and ignored; `max_shower_amplitude` is ignored upstream
///   (the shower code multiplies its own default by TGROUP).
/// - The shower parameters only matter with `find_showers`, which is refused.
#[derive(Debug, Clone, PartialEq)]
pub struct JumpParams {
    pub rejection_threshold: f64,
    pub three_group_rejection_threshold: f64,
    pub four_group_rejection_threshold: f64,
    pub maximum_cores: String,
    pub flag_4_neighbors: bool,
    pub max_jump_to_flag_neighbors: f64,
    pub min_jump_to_flag_neighbors: f64,
    pub after_jump_flag_dn1: f64,
    pub after_jump_flag_time1: f64,
    pub after_jump_flag_dn2: f64,
    pub after_jump_flag_time2: f64,
    pub expand_large_events: bool,
    pub min_sat_area: f64,
    pub min_jump_area: f64,
    pub expand_factor: f64,
    pub use_ellipses: bool,
    pub sat_required_snowball: bool,
    pub min_sat_radius_extend: f64,
    pub sat_expand: i64,
    pub edge_size: i64,
    pub mask_snowball_core_next_int: bool,
    pub snowball_time_masked_next_int: i64,
    pub find_showers: bool,
    pub max_shower_amplitude: f64,
    pub extend_snr_threshold: f64,
    pub extend_min_area: i64,
    pub extend_inner_radius: f64,
    pub extend_outer_radius: f64,
    pub extend_ellipse_expand_ratio: f64,
    pub time_masked_after_shower: f64,
    pub min_diffs_single_pass: i64,
    pub max_extended_radius: i64,
    pub minimum_groups: i64,
    pub minimum_sigclip_groups: i64,
    pub only_use_ints: bool,
}

impl Default for JumpParams {
    fn default() -> Self {
        JumpParams {
            rejection_threshold: 4.0,
            three_group_rejection_threshold: 6.0,
            four_group_rejection_threshold: 5.0,
            maximum_cores: "1".to_string(),
            flag_4_neighbors: true,
            max_jump_to_flag_neighbors: 1000.0,
            min_jump_to_flag_neighbors: 10.0,
            after_jump_flag_dn1: 0.0,
            after_jump_flag_time1: 0.0,
            after_jump_flag_dn2: 0.0,
            after_jump_flag_time2: 0.0,
            expand_large_events: false,
            min_sat_area: 1.0,
            min_jump_area: 5.0,
            expand_factor: 2.0,
            use_ellipses: false,
            sat_required_snowball: true,
            min_sat_radius_extend: 2.5,
            sat_expand: 2,
            edge_size: 25,
            mask_snowball_core_next_int: true,
            snowball_time_masked_next_int: 4000,
            find_showers: false,
            max_shower_amplitude: 4.0,
            extend_snr_threshold: 1.2,
            extend_min_area: 90,
            extend_inner_radius: 1.0,
            extend_outer_radius: 2.6,
            extend_ellipse_expand_ratio: 1.1,
            time_masked_after_shower: 15.0,
            min_diffs_single_pass: 10,
            max_extended_radius: 200,
            minimum_groups: 3,
            minimum_sigclip_groups: 100,
            only_use_ints: true,
        }
    }
}

impl JumpParams {
    /// Refuse what the official step refuses (`min=0` on the three thresholds, bad
    /// `maximum_cores` strings) and what sloper does not implement (`find_showers`).
    pub fn validate(&self) -> Result<(), JumpError> {
        if self.find_showers {
            return Err(JumpError::Unsupported(
                "find_showers = True (MIRI shower flagging)",
            ));
        }
        for (name, value) in [
            ("rejection_threshold", self.rejection_threshold),
            (
                "three_group_rejection_threshold",
                self.three_group_rejection_threshold,
            ),
            (
                "four_group_rejection_threshold",
                self.four_group_rejection_threshold,
            ),
        ] {
            if value.is_nan() || value < 0.0 {
                return Err(JumpError::InvalidParameter {
                    name,
                    value: value.to_string(),
                    problem: "must be a number >= 0",
                });
            }
        }
        let cores = self.maximum_cores.trim();
        let named = ["none", "quarter", "half", "all"].contains(&cores);
        if !named && cores.parse::<u32>().map_or(true, |n| n == 0) {
            return Err(JumpError::InvalidParameter {
                name: "maximum_cores",
                value: self.maximum_cores.clone(),
                problem: "must be a positive integer, 'none', 'quarter', 'half' or 'all'",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_official_ones() {
        let p = JumpParams::default();
        assert_eq!(p.max_jump_to_flag_neighbors, 1000.0);
        assert_eq!(p.min_diffs_single_pass, 10);
        assert_eq!(p.extend_ellipse_expand_ratio, 1.1);
        assert!(!p.expand_large_events && !p.find_showers && p.only_use_ints);
        assert!(p.validate().is_ok());
    }

    #[test]
    fn refuses_showers_and_bad_values() {
        let p = JumpParams {
            find_showers: true,
            ..Default::default()
        };
        assert!(matches!(p.validate(), Err(JumpError::Unsupported(_))));
        let p = JumpParams {
            rejection_threshold: -1.0,
            ..Default::default()
        };
        assert!(p.validate().is_err());
        let p = JumpParams {
            maximum_cores: "two".into(),
            ..Default::default()
        };
        assert!(p.validate().is_err());
        let p = JumpParams {
            maximum_cores: "half".into(),
            ..Default::default()
        };
        assert!(p.validate().is_ok());
    }
}
