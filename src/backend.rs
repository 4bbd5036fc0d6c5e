//! Choosing the Burn device at run time.
//!
//! Burn 0.22 picks the backend from the [`Device`] value, so the same invsom code runs on every
//! backend compiled in. Once `wgpu` is compiled in, `Device::default()` becomes wgpu: invsom
//! always names the CPU device explicitly instead.

use burn::prelude::Device;

use crate::error::{Error, Result};

/// The backends invsom can run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// Burn's pure-Rust CPU backend (gemm, SIMD, rayon). Always compiled in.
    Flex,
    /// wgpu (Vulkan, Metal, DX12; Mesa's lavapipe on machines without a GPU). Cargo feature `wgpu`.
    Wgpu,
}

impl BackendKind {
    /// Every backend compiled into this build.
    pub fn compiled() -> Vec<BackendKind> {
        let mut kinds = vec![BackendKind::Flex];
        if cfg!(feature = "wgpu") {
            kinds.push(BackendKind::Wgpu);
        }
        kinds
    }

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Flex => "flex",
            BackendKind::Wgpu => "wgpu",
        }
    }

    /// The device of this backend, or an error that says how to get it.
    ///
    /// # Errors
    /// [`Error::Device`] when the backend is not compiled in, or no adapter answers.
    pub fn device(self) -> Result<Device> {
        match self {
            BackendKind::Flex => Ok(Device::flex()),
            BackendKind::Wgpu => wgpu_device(),
        }
    }
}

impl std::str::FromStr for BackendKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "flex" | "cpu" => Ok(BackendKind::Flex),
            "wgpu" | "gpu" => Ok(BackendKind::Wgpu),
            other => Err(Error::Device(format!(
                "unknown backend '{other}'. Fix: use one of {}",
                BackendKind::compiled()
                    .iter()
                    .map(|k| k.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The wgpu device for tests that compare it with the CPU: `None`, with a "skipped" line, when no
/// adapter answers; a panic instead when `INVSOM_REQUIRE_WGPU` is set (as in CI), so a missing
/// driver cannot make those tests pass silently.
#[doc(hidden)]
pub fn wgpu_for_tests() -> Option<Device> {
    match BackendKind::Wgpu.device() {
        Ok(device) => Some(device),
        Err(e) if std::env::var_os("INVSOM_REQUIRE_WGPU").is_none() => {
            eprintln!("skipped: {e}");
            None
        }
        Err(e) => panic!("INVSOM_REQUIRE_WGPU is set but wgpu is not available: {e}"),
    }
}

#[cfg(feature = "wgpu")]
fn wgpu_device() -> Result<Device> {
    use burn::prelude::{DeviceKind, Tensor};
    // Device creation is lazy in Burn; a tiny round trip proves an adapter answers, and a
    // panic inside the runtime (no adapter, no Vulkan loader) becomes an error, not a crash.
    let probe = std::panic::catch_unwind(|| {
        let device = Device::wgpu(DeviceKind::DefaultDevice);
        let t = Tensor::<1>::from_floats([1.0, 2.0], &device);
        let sum = t.sum().into_scalar::<f32>();
        (device, sum)
    });
    match probe {
        Ok((device, 3.0)) => Ok(device),
        Ok(_) => Err(Error::Device(
            "the wgpu adapter returned wrong results. Fix: use --backend flex".into(),
        )),
        Err(_) => Err(Error::Device(
            "no wgpu adapter could be opened. Fix: install a Vulkan driver (on Debian: \
             apt-get install mesa-vulkan-drivers libvulkan1) or use --backend flex"
                .into(),
        )),
    }
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_device() -> Result<Device> {
    Err(Error::Device(
        "wgpu is not compiled into this build. Fix: rebuild with `cargo build --release --features wgpu`, or use --backend flex".into(),
    ))
}
