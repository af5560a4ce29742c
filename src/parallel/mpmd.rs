//! MPMD coupling: two applications started by one launcher
//! (`mpirun -n 2 a : -n 1 b`) share `MPI_COMM_WORLD`. Each gets its own communicator,
//! split by the `MPI_APPNUM` attribute, and the two application roots talk through a
//! [`Peer`].

use std::marker::PhantomData;
use std::time::{Duration, Instant};

use mpi::point_to_point::{Destination, MatchedReceiveVec, Source};
use mpi::topology::{Color, SimpleCommunicator};
use mpi::traits::{Communicator as _, CommunicatorCollectives};
use mpi::Tag;

use super::peer_record::{PeerChannel, PeerError, PeerRecord};
use super::{Communicator, MpiComm, ParallelError};

/// Tag of root-to-root coupling messages on `MPI_COMM_WORLD`. Nothing else in landcycle
/// sends point-to-point on WORLD, so any fixed tag is unambiguous.
const PEER_TAG: Tag = 0x4c43;

/// Where this process sits in an MPMD launch, decided identically on every rank from the
/// gathered application numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct AppLayout {
    pub appnum: usize,
    pub app_count: usize,
    /// World rank of the other application's root (its lowest world rank), if there is one.
    pub peer_root: Option<usize>,
}

impl AppLayout {
    /// Layout for `world_rank` given every world rank's application number.
    pub fn from_appnums(appnums: &[i32], world_rank: usize) -> Result<AppLayout, ParallelError> {
        if let Some((r, &a)) = appnums.iter().enumerate().find(|(_, &a)| a < 0) {
            return Err(ParallelError::NegativeAppnum {
                world_rank: r,
                appnum: a,
            });
        }
        let mut apps = appnums.to_vec();
        apps.sort_unstable();
        apps.dedup();
        if apps.len() > 2 {
            return Err(ParallelError::TooManyApps { count: apps.len() });
        }
        let mine = appnums[world_rank];
        Ok(AppLayout {
            appnum: mine as usize,
            app_count: apps.len(),
            peer_root: appnums.iter().position(|&a| a != mine),
        })
    }
}

impl MpiComm {
    /// Initialise MPI and split `MPI_COMM_WORLD` by `MPI_APPNUM` (0 when the launcher does
    /// not set it, i.e. a single application): the result is this application's
    /// communicator, ranked in world order, and it owns the universe. At most two
    /// applications are supported; every rank returns the same error otherwise.
    pub fn init_split_by_appnum() -> Result<MpiComm, ParallelError> {
        let universe = mpi::initialize().ok_or(ParallelError::AlreadyInitialised)?;
        let world = universe.world();
        let appnum = universe.appnum().map_or(0, |a| a as i32);
        let mut all = vec![0i32; world.size() as usize];
        world.all_gather_into(&appnum, &mut all[..]);
        // Every rank decides from the same gathered list, so all return early together.
        let layout = AppLayout::from_appnums(&all, world.rank() as usize)?;
        let app = world
            .split_by_color_with_key(Color::with_value(appnum), world.rank())
            .expect("MPI_Comm_split with a defined colour returns a communicator");
        Ok(MpiComm::owning(app, universe, Some(layout)))
    }

    /// Application number in the MPMD launch (0 unless made by `init_split_by_appnum`).
    pub fn appnum(&self) -> usize {
        self.layout.as_ref().map_or(0, |l| l.appnum)
    }

    /// Number of applications in the launch (1 unless made by `init_split_by_appnum`).
    pub fn app_count(&self) -> usize {
        self.layout.as_ref().map_or(1, |l| l.app_count)
    }

    /// The other application's root, seen from this application's root; `None` on other
    /// ranks and when there is no other application. Borrowing `self` keeps the peer from
    /// outliving MPI.
    pub fn peer(&self) -> Option<Peer<'_>> {
        let root = self.layout.as_ref()?.peer_root?;
        self.is_root().then_some(Peer {
            world_rank: root,
            _app: PhantomData,
        })
    }
}

/// Root-to-root byte channel to the other application of an MPMD launch. Sends are
/// blocking (`MPI_Send`): the two roots must alternate, one receiving while the other
/// sends, never both sending large messages first.
#[derive(Debug)]
pub struct Peer<'a> {
    world_rank: usize,
    _app: PhantomData<&'a MpiComm>,
}

impl Peer<'_> {
    /// World rank of the other application's root.
    pub fn world_rank(&self) -> usize {
        self.world_rank
    }

    /// Send one message (its length travels with it).
    pub fn send_bytes(&self, msg: &[u8]) {
        let world = SimpleCommunicator::world();
        world
            .process_at_rank(self.world_rank as i32)
            .send_with_tag(msg, PEER_TAG);
    }

    /// Receive the next message from the peer, whatever its length.
    pub fn recv_bytes(&self) -> Vec<u8> {
        let world = SimpleCommunicator::world();
        let (msg, _status) = world
            .process_at_rank(self.world_rank as i32)
            .receive_vec_with_tag::<u8>(PEER_TAG);
        msg
    }

    /// The next message from the peer if one arrives within `deadline`: nonblocking probes
    /// every `poll`, so a peer that stopped or hangs gives an error, not a hang. `None`
    /// after the deadline.
    pub fn recv_bytes_within(&self, deadline: Duration, poll: Duration) -> Option<Vec<u8>> {
        let world = SimpleCommunicator::world();
        let from = world.process_at_rank(self.world_rank as i32);
        let t0 = Instant::now();
        // Naps from 0.1 ms growing to `poll`: a prompt answer is taken at once, a long wait
        // (the other side's whole window) costs no CPU, unlike a blocking receive, which
        // Open MPI implements by polling.
        let mut nap = Duration::from_micros(100);
        loop {
            if let Some(matched) = from.immediate_matched_probe_with_tag(PEER_TAG) {
                return Some(matched.matched_receive_vec::<u8>().0);
            }
            if t0.elapsed() >= deadline {
                return None;
            }
            std::thread::sleep(nap.min(poll).min(deadline.saturating_sub(t0.elapsed())));
            nap = nap.saturating_mul(2);
        }
    }
}

impl PeerChannel for Peer<'_> {
    fn peer_rank(&self) -> usize {
        self.world_rank
    }

    fn send(&self, rec: &PeerRecord) {
        self.send_bytes(&rec.encode());
    }

    fn recv(
        &self,
        what: &str,
        deadline: Duration,
        poll: Duration,
    ) -> Result<PeerRecord, PeerError> {
        let t0 = Instant::now();
        let bytes = self
            .recv_bytes_within(deadline, poll)
            .ok_or_else(|| PeerError::Timeout {
                peer: self.world_rank,
                what: what.to_string(),
                waited_s: t0.elapsed().as_secs(),
            })?;
        PeerRecord::decode(&bytes).map_err(|msg| PeerError::Malformed {
            peer: self.world_rank,
            msg,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_of_two_apps_points_at_the_other_root() {
        let apps = [0, 0, 1];
        let l = AppLayout::from_appnums(&apps, 1).unwrap();
        assert_eq!((l.appnum, l.app_count, l.peer_root), (0, 2, Some(2)));
        let l = AppLayout::from_appnums(&apps, 2).unwrap();
        assert_eq!((l.appnum, l.app_count, l.peer_root), (1, 2, Some(0)));
        let l = AppLayout::from_appnums(&[0, 0], 0).unwrap();
        assert_eq!((l.app_count, l.peer_root), (1, None));
    }

    #[test]
    fn layout_rejects_three_apps_and_negative_numbers() {
        assert_eq!(
            AppLayout::from_appnums(&[0, 1, 2], 0),
            Err(ParallelError::TooManyApps { count: 3 })
        );
        assert_eq!(
            AppLayout::from_appnums(&[0, -1], 0),
            Err(ParallelError::NegativeAppnum {
                world_rank: 1,
                appnum: -1
            })
        );
    }
}
