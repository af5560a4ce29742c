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
}
