//! The names strun accepts for a pipeline or step: its `class_alias` (`calwebb_detector1`,
//! `jump`), optionally scoped (`jwst::calwebb_detector1`), its fully qualified class name
//! (`jwst.pipeline.calwebb_detector1.Detector1Pipeline`, or the re-export
//! `jwst.pipeline.Detector1Pipeline`) and, as a sloper convenience, the bare class name
//! (`Detector1Pipeline`). The table holds jwst 3.0.0's names for the three pipelines sloper
//! implements and their steps (read from `step_defs` and `class_alias` in the oracle venv).

/// What a name designates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// One of sloper's pipelines: the sloper subcommand that runs it.
    Pipeline(PipelineKind),
    /// A step of those pipelines; sloper runs steps only inside their pipeline.
    Step {
        alias: &'static str,
        pipeline: PipelineKind,
    },
}

/// The pipelines sloper implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PipelineKind {
    Detector1,
    Image2,
    Tso3,
}

impl PipelineKind {
    /// The official `class_alias`.
    pub fn alias(self) -> &'static str {
        match self {
            PipelineKind::Detector1 => "calwebb_detector1",
            PipelineKind::Image2 => "calwebb_image2",
            PipelineKind::Tso3 => "calwebb_tso3",
        }
    }
    /// The fully qualified class name written in parameter files.
    pub fn qualified_class(self) -> &'static str {
        match self {
            PipelineKind::Detector1 => "jwst.pipeline.calwebb_detector1.Detector1Pipeline",
            PipelineKind::Image2 => "jwst.pipeline.calwebb_image2.Image2Pipeline",
            PipelineKind::Tso3 => "jwst.pipeline.calwebb_tso3.Tso3Pipeline",
        }
    }
    /// sloper's own subcommand.
    pub fn subcommand(self) -> &'static str {
        match self {
            PipelineKind::Detector1 => "detector1",
            PipelineKind::Image2 => "image2",
            PipelineKind::Tso3 => "tso3",
        }
    }
    fn short_class(self) -> &'static str {
        short(self.qualified_class())
    }
}

const PIPELINES: [PipelineKind; 3] = [
    PipelineKind::Detector1,
    PipelineKind::Image2,
    PipelineKind::Tso3,
];

/// (step alias, fully qualified class, pipeline) for every step of the three pipelines.
/// `photom` is in both image2 and tso3; the first (image2) wins for a bare step name.
pub const STEP_CLASSES: &[(&str, &str, PipelineKind)] = {
    use PipelineKind::*;
    &[
        (
            "group_scale",
            "jwst.group_scale.group_scale_step.GroupScaleStep",
            Detector1,
        ),
        ("dq_init", "jwst.dq_init.dq_init_step.DQInitStep", Detector1),
        (
            "emicorr",
            "jwst.emicorr.emicorr_step.EmiCorrStep",
            Detector1,
        ),
        (
            "saturation",
            "jwst.saturation.saturation_step.SaturationStep",
            Detector1,
        ),
        ("ipc", "jwst.ipc.ipc_step.IPCStep", Detector1),
        (
            "superbias",
            "jwst.superbias.superbias_step.SuperBiasStep",
            Detector1,
        ),
        ("refpix", "jwst.refpix.refpix_step.RefPixStep", Detector1),
        ("rscd", "jwst.rscd.rscd_step.RscdStep", Detector1),
        (
            "firstframe",
            "jwst.firstframe.firstframe_step.FirstFrameStep",
            Detector1,
        ),
        (
            "lastframe",
            "jwst.lastframe.lastframe_step.LastFrameStep",
            Detector1,
        ),
        (
            "linearity",
            "jwst.linearity.linearity_step.LinearityStep",
            Detector1,
        ),
        (
            "dark_current",
            "jwst.dark_current.dark_current_step.DarkCurrentStep",
            Detector1,
        ),
        ("reset", "jwst.reset.reset_step.ResetStep", Detector1),
        (
            "persistence",
            "jwst.persistence.persistence_step.PersistenceStep",
            Detector1,
        ),
        (
            "charge_migration",
            "jwst.charge_migration.charge_migration_step.ChargeMigrationStep",
            Detector1,
        ),
        ("jump", "jwst.jump.jump_step.JumpStep", Detector1),
        (
            "picture_frame",
            "jwst.picture_frame.picture_frame_step.PictureFrameStep",
            Detector1,
        ),
        (
            "clean_flicker_noise",
            "jwst.clean_flicker_noise.clean_flicker_noise_step.CleanFlickerNoiseStep",
            Detector1,
        ),
        (
            "ramp_fit",
            "jwst.ramp_fitting.ramp_fit_step.RampFitStep",
            Detector1,
        ),
        (
            "gain_scale",
            "jwst.gain_scale.gain_scale_step.GainScaleStep",
            Detector1,
        ),
        (
            "bkg_subtract",
            "jwst.background.background_step.BackgroundStep",
            Image2,
        ),
        (
            "assign_wcs",
            "jwst.assign_wcs.assign_wcs_step.AssignWcsStep",
            Image2,
        ),
        (
            "flat_field",
            "jwst.flatfield.flat_field_step.FlatFieldStep",
            Image2,
        ),
        ("photom", "jwst.photom.photom_step.PhotomStep", Image2),
        (
            "resample",
            "jwst.resample.resample_step.ResampleStep",
            Image2,
        ),
        (
            "outlier_detection",
            "jwst.outlier_detection.outlier_detection_step.OutlierDetectionStep",
            Tso3,
        ),
        (
            "tso_photometry",
            "jwst.tso_photometry.tso_photometry_step.TSOPhotometryStep",
            Tso3,
        ),
        (
            "adaptive_trace_model",
            "jwst.adaptive_trace_model.adaptive_trace_model_step.AdaptiveTraceModelStep",
            Tso3,
        ),
        (
            "pixel_replace",
            "jwst.pixel_replace.pixel_replace_step.PixelReplaceStep",
            Tso3,
        ),
        (
            "extract_1d",
            "jwst.extract_1d.extract_1d_step.Extract1dStep",
            Tso3,
        ),
        (
            "white_light",
            "jwst.white_light.white_light_step.WhiteLightStep",
            Tso3,
        ),
    ]
};

fn short(qualified: &str) -> &str {
    qualified.rsplit('.').next().unwrap_or(qualified)
}

/// Resolve a name as strun's first argument (or a parameter file's `class`) is resolved.
pub fn resolve(name: &str) -> Option<Target> {
    let name = name.strip_prefix("jwst::").unwrap_or(name);
    for p in PIPELINES {
        let q = p.qualified_class();
        if name == p.alias()
            || name == q
            || name == p.short_class()
            || name == format!("jwst.pipeline.{}", p.short_class())
        {
            return Some(Target::Pipeline(p));
        }
    }
    for &(alias, q, pipeline) in STEP_CLASSES {
        let module = q.rsplit_once('.').map_or("", |(m, _)| m);
        let package = module.rsplit_once('.').map_or("", |(p, _)| p);
        if name == alias
            || name == q
            || name == short(q)
            || name == format!("{package}.{}", short(q))
        {
            return Some(Target::Step { alias, pipeline });
        }
    }
    None
}

/// The fully qualified class of a step alias (for parameter files).
pub fn step_class(alias: &str) -> Option<&'static str> {
    STEP_CLASSES
        .iter()
        .find(|(a, _, _)| *a == alias)
        .map(|(_, q, _)| *q)
}

/// The fully qualified class of a pipeline or step class name (`Detector1Pipeline`,
/// `JumpStep`); returns the input when it is not known (it may already be qualified).
pub fn qualified_class(class_name: &str) -> String {
    for p in PIPELINES {
        if p.short_class() == class_name {
            return p.qualified_class().to_string();
        }
    }
    STEP_CLASSES
        .iter()
        .find(|(_, q, _)| short(q) == class_name)
        .map_or_else(|| class_name.to_string(), |(_, q, _)| q.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn official_names_resolve() {
        use PipelineKind::*;
        for (name, kind) in [
            ("calwebb_detector1", Detector1),
            ("jwst::calwebb_detector1", Detector1),
            ("Detector1Pipeline", Detector1),
            ("jwst.pipeline.Detector1Pipeline", Detector1),
            (
                "jwst.pipeline.calwebb_detector1.Detector1Pipeline",
                Detector1,
            ),
            ("calwebb_image2", Image2),
            ("Image2Pipeline", Image2),
            ("calwebb_tso3", Tso3),
            ("jwst.pipeline.calwebb_tso3.Tso3Pipeline", Tso3),
        ] {
            assert_eq!(resolve(name), Some(Target::Pipeline(kind)), "{name}");
        }
        assert_eq!(
            resolve("jwst.jump.JumpStep"),
            Some(Target::Step {
                alias: "jump",
                pipeline: Detector1
            })
        );
        assert_eq!(
            resolve("tso_photometry"),
            Some(Target::Step {
                alias: "tso_photometry",
                pipeline: Tso3
            })
        );
        assert_eq!(resolve("calwebb_spec2"), None);
        assert_eq!(resolve("detector1pipeline"), None);
        assert_eq!(
            qualified_class("Detector1Pipeline"),
            "jwst.pipeline.calwebb_detector1.Detector1Pipeline"
        );
        assert_eq!(
            step_class("ramp_fit"),
            Some("jwst.ramp_fitting.ramp_fit_step.RampFitStep")
        );
    }
}
