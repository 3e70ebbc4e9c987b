use super::checkpoint::{refuse_lazy, CriuArgs};
use crate::container::{self, Context, RestoreOptions};
use crate::criu;
use anyhow::Result;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub criu: CriuArgs,
    /// Path to an AF_UNIX socket which will receive the pty master
    #[arg(long = "console-socket", value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Path to the root of the bundle directory
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    /// Detach from the container's process
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// File to write the process id to
    #[arg(long = "pid-file", value_name = "PATH")]
    pub pid_file: Option<PathBuf>,
    /// Disable the use of the subreaper used to reap reparented processes
    #[arg(long = "no-subreaper")]
    pub no_subreaper: bool,
    /// Accepted for runc compatibility: CRIU rebuilds the mount tree itself (no pivot_root)
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// LSM profile to restore with, as TYPE:NAME
    #[arg(long = "lsm-profile", value_name = "TYPE:NAME")]
    pub lsm_profile: Option<String>,
    /// LSM mount context to restore with
    #[arg(long = "lsm-mount-context", value_name = "CONTEXT")]
    pub lsm_mount_context: Option<String>,
    pub id: String,
}

pub fn run(ctx: &Context, criu_bin: Option<&str>, a: Args) -> Result<i32> {
    refuse_lazy(a.criu.lazy_pages, None)?;
    let opts = RestoreOptions {
        criu: criu::binary(criu_bin)?,
        bundle: a.bundle,
        images: a.criu.image_path()?,
        work: a.criu.work_path.clone(),
        console_socket: a.console_socket,
        pid_file: a.pid_file,
        detach: a.detach,
        no_subreaper: a.no_subreaper,
        common: a.criu.common()?,
        lsm_profile: a.lsm_profile,
        lsm_mount_context: a.lsm_mount_context,
    };
    container::restore(ctx, &a.id, &opts)
}
