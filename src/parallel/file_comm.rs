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
}
