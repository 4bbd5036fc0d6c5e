//! The map as a Burn module: a codebook parameter (no gradients) plus its lattice and metadata.

use burn::module::{Module, Param};
use burn::prelude::{Device, Tensor};

use crate::data::Scaling;
use crate::error::{Error, Result};
use crate::som::config::SomConfig;
use crate::topology::Lattice;

/// A Self-Organizing Map.
///
/// The codebook is a `Param` (so it is saved in records and moved by `to_device`) that never
/// requires gradients: SOM updates are not gradient steps. Because `Som` is a Burn `Module`, it
/// can sit inside a larger model, and its queries work on autodiff tensors as well.
#[derive(Module, Debug)]
pub struct Som {
    /// Prototypes, `K x D`.
    pub codebook: Param<Tensor<2>>,
    #[module(skip)]
    pub(crate) config: SomConfig,
    #[module(skip)]
    pub(crate) lattice: Lattice,
    #[module(skip)]
    pub(crate) meta: SomMeta,
}

/// What a map knows besides its prototypes; saved in the record's metadata.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SomMeta {
    /// Epochs trained so far (the schedules resume from here).
    pub epochs_done: usize,
    /// Online mini-batch steps done so far.
    pub steps_done: usize,
    /// `[rows, cols]` when the inputs are images.
    pub image_shape: Option<[usize; 2]>,
    /// How raw inputs were scaled before training.
    pub scaling: Option<Scaling>,
    /// Majority-vote class of each unit (`None` for units no labelled sample hit).
    pub unit_labels: Option<Vec<Option<u8>>>,
}

impl Som {
    /// A map from an explicit codebook (`K x D`, matching the config).
    ///
    /// # Errors
    /// [`Error::Shape`] when the codebook does not match the config, [`Error::NonFinite`] for NaN.
    pub fn from_codebook(config: SomConfig, codebook: Tensor<2>) -> Result<Som> {
        let lattice = config.lattice()?;
        let [k, d] = codebook.dims();
        if k != lattice.n_units() || d != config.d_input {
            return Err(Error::Shape {
                op: "Som::from_codebook",
                expected: format!("{} x {}", lattice.n_units(), config.d_input),
                got: format!("{k} x {d}"),
                fix: "give one prototype per unit with d_input values each",
            });
        }
        crate::tensor::check_finite_tensor(&codebook, "codebook", "Fix: retrain the map")?;
        Ok(Som {
            codebook: Param::from_tensor(codebook).set_require_grad(false),
            config,
            lattice,
            meta: SomMeta::default(),
        })
    }

    /// The prototypes, `K x D`.
    pub fn codebook(&self) -> Tensor<2> {
        self.codebook.val()
    }

    /// Replaces the prototypes, keeping the parameter's id.
    pub(crate) fn set_codebook(&mut self, w: Tensor<2>) {
        let param = std::mem::replace(
            &mut self.codebook,
            Param::from_tensor(w.clone()).set_require_grad(false),
        );
        self.codebook = param.map(|_| w);
    }

    /// Transforms the prototypes with `f`, which receives the only handle to them (when no
    /// clone of the map shares them), so that Burn's in-place paths can reuse their memory.
    pub(crate) fn update_codebook(&mut self, f: impl FnOnce(Tensor<2>) -> Tensor<2>) {
        let placeholder = Tensor::<2>::zeros([1, 1], &self.device());
        let param = std::mem::replace(
            &mut self.codebook,
            Param::from_tensor(placeholder).set_require_grad(false),
        );
        self.codebook = param.map(f);
    }

    /// The configuration the map was built with.
    pub fn config(&self) -> &SomConfig {
        &self.config
    }
    /// The lattice.
    pub fn lattice(&self) -> &Lattice {
        &self.lattice
    }
    /// Number of units K.
    pub fn n_units(&self) -> usize {
        self.lattice.n_units()
    }
    /// Input dimension D.
    pub fn d_input(&self) -> usize {
        self.config.d_input
    }
    /// The device holding the codebook.
    pub fn device(&self) -> Device {
        self.codebook.val().device()
    }
    /// Metadata: epochs done, image shape, scaling, unit labels.
    pub fn meta(&self) -> &SomMeta {
        &self.meta
    }
    /// Mutable metadata.
    pub fn meta_mut(&mut self) -> &mut SomMeta {
        &mut self.meta
    }
    /// Majority-vote class of each unit, when the map was labelled.
    pub fn unit_labels(&self) -> Option<&[Option<u8>]> {
        self.meta.unit_labels.as_deref()
    }
    /// The map on another device (same codebook values).
    pub fn moved_to(self, device: &Device) -> Som {
        self.to_device(device)
    }

    /// Checks that `x` has this map's input dimension.
    pub(crate) fn check_input(&self, x: &Tensor<2>, op: &'static str) -> Result<()> {
        let d = x.dims()[1];
        if d != self.d_input() {
            return Err(Error::Shape {
                op,
                expected: format!("{} features per sample", self.d_input()),
                got: format!("{d}"),
                fix: "use data of the kind the map was trained on (same image size and features)",
            });
        }
        Ok(())
    }
}
