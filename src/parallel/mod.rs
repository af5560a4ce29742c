//! The only room that names MPI: a small communicator facade with a single-process implementation.
