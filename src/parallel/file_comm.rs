//! The communicator handle that parallel file libraries (HDF5's MPI-IO driver, netCDF-4's
//! parallel mode) take, so the `io` room can open one shared file on every rank without
//! naming MPI itself.

/// A borrowed MPI communicator for collective file access. Valid while the
/// [`super::Communicator`] it came from lives.
#[derive(Clone, Copy)]
pub struct FileComm {
    raw: mpi::ffi::MPI_Comm,
}

impl FileComm {
    pub(super) fn new(raw: mpi::ffi::MPI_Comm) -> Self {
        FileComm { raw }
    }

    /// The raw handle, for the libraries' MPI-IO entry points.
    pub fn raw(&self) -> mpi::ffi::MPI_Comm {
        self.raw
    }

    /// This process's rank in the communicator (e.g. to let one rank write data every rank
    /// would write alike).
    pub fn rank(&self) -> usize {
        let mut r: std::os::raw::c_int = 0;
        // SAFETY: a valid communicator (see the type's doc) and a valid out pointer.
        unsafe {
            mpi::ffi::MPI_Comm_rank(self.raw, &mut r);
        }
        r.max(0) as usize
    }

    /// `MPI_INFO_NULL`, for the libraries' entry points that take hints.
    pub fn info_null(&self) -> mpi::ffi::MPI_Info {
        // SAFETY: a constant initialised by the MPI library.
        unsafe { mpi::ffi::RSMPI_INFO_NULL }
    }

    /// True on every rank when `ok` is true on every rank (collective), so a writer in the
    /// `io` room can agree on a local failure before its next collective file call.
    pub fn all_ok(&self, ok: bool) -> bool {
        let local: i32 = i32::from(ok);
        let mut all: i32 = 0;
        // SAFETY: one i32 each way on a valid communicator; every rank calls this in order.
        let rc = unsafe {
            mpi::ffi::MPI_Allreduce(
                (&local as *const i32).cast(),
                (&mut all as *mut i32).cast(),
                1,
                mpi::ffi::RSMPI_INT32_T,
                mpi::ffi::RSMPI_LAND,
                self.raw,
            )
        };
        rc == 0 && all != 0
    }
}
