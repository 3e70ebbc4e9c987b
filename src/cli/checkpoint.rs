use crate::container::{self, CheckpointOptions, Context};
use crate::criu::{self, Common};
use anyhow::{bail, Result};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub criu: CriuArgs,
    /// Path for previous criu image files in pre-dump (relative to the image path)
    #[arg(long = "parent-path", value_name = "PATH")]
    pub parent_path: Option<String>,
    /// Leave the process running after checkpointing
    #[arg(long = "leave-running")]
    pub leave_running: bool,
    /// Criu writes \0 to this FD once lazy-pages is ready (with --lazy-pages only)
    #[arg(long = "status-fd", value_name = "FD", default_value_t = -1, allow_hyphen_values = true)]
    pub status_fd: i32,
    /// ADDRESS:PORT of the page server (not supported by rt)
    #[arg(long = "page-server", value_name = "ADDRESS:PORT")]
    pub page_server: Option<String>,
    /// Dump container's memory information only, leave the container running after this
    #[arg(long = "pre-dump")]
    pub pre_dump: bool,
    pub id: String,
}

// The flags `checkpoint` and `restore` share, as runc's.
#[derive(clap::Args, Debug)]
pub struct CriuArgs {
    /// Path to the criu image files [default: ./checkpoint]
    #[arg(long = "image-path", value_name = "PATH")]
    pub image_path: Option<PathBuf>,
    /// Path for work files and logs [default: the image path]
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
    /// Create a namespace, but don't restore its properties (network)
    #[arg(long = "empty-ns", value_name = "NS")]
    pub empty_ns: Vec<String>,
    /// Enable auto deduplication of memory images
    #[arg(long = "auto-dedup")]
    pub auto_dedup: bool,
    /// Use userfaultfd to lazily restore memory pages (not supported by rt)
    #[arg(long = "lazy-pages")]
    pub lazy_pages: bool,
}

impl CriuArgs {
    /// The CRIU options both requests carry.
    pub fn common(&self) -> Result<Common> {
        Ok(Common {
            shell_job: self.shell_job,
            tcp_established: self.tcp_established,
            ext_unix_sk: self.ext_unix_sk,
            file_locks: self.file_locks,
            auto_dedup: self.auto_dedup,
            cgroups_mode: self
                .manage_cgroups_mode
                .as_deref()
                .map(criu::options::cgroups_mode)
                .transpose()?,
            empty_ns: criu::options::empty_ns(&self.empty_ns)?,
            config_file: None,
        })
    }

    /// runc's default image directory: `checkpoint` in the working directory.
    pub fn image_path(&self) -> Result<PathBuf> {
        let p = self
            .image_path
            .clone()
            .unwrap_or_else(|| PathBuf::from("checkpoint"));
        if p.is_absolute() {
            return Ok(p);
        }
        Ok(std::env::current_dir()?.join(p))
    }
}

/// What rt cannot do with CRIU, said before anything is touched.
pub fn refuse_lazy(lazy_pages: bool, page_server: Option<&str>) -> Result<()> {
    if lazy_pages {
        bail!("--lazy-pages: not supported by rt (it needs CRIU's lazy-pages daemon and a page server on the restoring side); checkpoint without it");
    }
    if let Some(ps) = page_server {
        bail!("--page-server {ps}: not supported by rt (images are written to --image-path only)");
    }
    Ok(())
}

pub fn run(ctx: &Context, criu_bin: Option<&str>, a: Args) -> Result<i32> {
    refuse_lazy(a.criu.lazy_pages, a.page_server.as_deref())?;
    let opts = CheckpointOptions {
        criu: criu::binary(criu_bin)?,
        images: a.criu.image_path()?,
        work: a.criu.work_path.clone(),
        parent: a.parent_path,
        leave_running: a.leave_running,
        pre_dump: a.pre_dump,
        common: a.criu.common()?,
    };
    container::checkpoint(ctx, &a.id, &opts)?;
    Ok(0)
}
