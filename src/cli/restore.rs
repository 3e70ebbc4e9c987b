use super::checkpoint::{common, image_path, refuse_lazy};
use crate::container::{self, Context, RestoreOptions};
use crate::criu;
use anyhow::Result;
use std::path::PathBuf;

/// Restore a container from a previous checkpoint (CRIU)
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Path to an AF_UNIX socket which will receive the pty master
    #[arg(long = "console-socket", value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Path to criu image files for restoring [default: ./checkpoint]
    #[arg(long = "image-path", value_name = "PATH")]
    pub image_path: Option<PathBuf>,
    /// Path for saving work files and logs [default: the image path]
    #[arg(long = "work-path", value_name = "PATH")]
    pub work_path: Option<PathBuf>,
    /// Allow open tcp connections
    #[arg(long = "tcp-established")]
    pub tcp_established: bool,
    /// Allow external unix sockets
    #[arg(long = "ext-unix-sk")]
    pub ext_unix_sk: bool,
    /// Allow shell jobs
    #[arg(long = "shell-job")]
    pub shell_job: bool,
    /// Handle file locks, for safety
    #[arg(long = "file-locks")]
    pub file_locks: bool,
    /// Cgroups mode: soft (default), full, strict or ignore
    #[arg(long = "manage-cgroups-mode", value_name = "MODE")]
    pub manage_cgroups_mode: Option<String>,
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
    /// Create a namespace, but don't restore its properties (network)
    #[arg(long = "empty-ns", value_name = "NS")]
    pub empty_ns: Vec<String>,
    /// Enable auto deduplication of memory images
    #[arg(long = "auto-dedup")]
    pub auto_dedup: bool,
    /// Use userfaultfd to lazily restore memory pages (not supported by rt)
    #[arg(long = "lazy-pages")]
    pub lazy_pages: bool,
    /// LSM profile to restore with, as TYPE:NAME
    #[arg(long = "lsm-profile", value_name = "TYPE:NAME")]
    pub lsm_profile: Option<String>,
    /// LSM mount context to restore with
    #[arg(long = "lsm-mount-context", value_name = "CONTEXT")]
    pub lsm_mount_context: Option<String>,
    pub id: String,
}

pub fn run(ctx: &Context, criu_bin: Option<&str>, a: Args) -> Result<i32> {
    refuse_lazy(a.lazy_pages, None)?;
    let common = common(
        a.shell_job,
        a.tcp_established,
        a.ext_unix_sk,
        a.file_locks,
        a.auto_dedup,
        a.manage_cgroups_mode.as_deref(),
        &a.empty_ns,
    )?;
    let opts = RestoreOptions {
        criu: criu::binary(criu_bin)?,
        bundle: a.bundle,
        images: image_path(a.image_path)?,
        work: a.work_path,
        console_socket: a.console_socket,
        pid_file: a.pid_file,
        detach: a.detach,
        no_subreaper: a.no_subreaper,
        common,
        lsm_profile: a.lsm_profile,
        lsm_mount_context: a.lsm_mount_context,
    };
    container::restore(ctx, &a.id, &opts)
}
