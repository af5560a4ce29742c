//! The communicator facade under real MPI: allgatherv, alltoallv, split and MPMD start-up
//! on 1, 2 and 3 ranks, checked against exact expected blocks and against `SingleProcess`.
//!
//! Each test runs twice over: as the parent (nextest's process) it launches itself under
//! `mpirun` with `LANDCYCLE_PARALLEL_CHILD` set; as a child rank it runs the MPI body,
//! where any failed assertion panics, exits non-zero and so fails the parent.

use std::panic::AssertUnwindSafe;
use std::process::Command;

use landcycle::parallel::{Communicator, MpiComm, ParallelError, SingleProcess};

const CHILD_ENV: &str = "LANDCYCLE_PARALLEL_CHILD";
/// Printed by a child rank whose body passed.
const RANK_PASSED: &str = "landcycle-parallel-rank-passed";
/// mpirun's own limit, so a deadlocked collective fails the test instead of hanging it.
const TIMEOUT_S: &str = "60";

fn is_child() -> bool {
    std::env::var_os(CHILD_ENV).is_some()
}

/// Launch this test binary, filtered to `test`, under mpirun: one application per entry
/// of `apps` (its rank count), colon-separated. Asserts that every rank passed.
fn launch(test: &str, apps: &[usize]) {
    assert!(
        Command::new("mpirun").arg("--version").output().is_ok(),
        "mpirun not found on PATH: these tests need Open MPI's launcher"
    );
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new("mpirun");
    cmd.args(["--oversubscribe", "--timeout", TIMEOUT_S]);
    for (i, n) in apps.iter().enumerate() {
        if i > 0 {
            cmd.arg(":");
        }
        cmd.args(["-n", &n.to_string()]).arg(&exe);
        cmd.args(["--exact", test, "--nocapture", "--test-threads=1"]);
    }
    cmd.env(CHILD_ENV, "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_rmaps_base_oversubscribe", "1");
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "mpirun {apps:?} failed:\n{stdout}\n{stderr}"
    );
    // A misspelt test name would run zero tests and still exit 0: count the ranks' markers
    // (one write each, so mpirun's merging of the ranks' output cannot split them, as it can
    // split libtest's summary line).
    let ranks: usize = apps.iter().sum();
    let passed = stdout.matches(RANK_PASSED).count();
    assert_eq!(passed, ranks, "expected {ranks} passing ranks:\n{stdout}");
}

/// Parent: launch `test` on each rank count. Child: run `body` on the world communicator.
fn on_ranks(test: &str, rank_counts: &[usize], body: fn(&MpiComm)) {
    if is_child() {
        run_child(
            MpiComm::init().expect("MPI is initialised once per process"),
            body,
        );
    } else {
        for &n in rank_counts {
            launch(test, &[n]);
        }
    }
}

/// Parent: launch `test` as one MPMD job with `apps` rank counts. Child: run `body` on
/// this application's communicator.
fn on_apps(test: &str, apps: &[usize], body: fn(&MpiComm)) {
    if is_child() {
        run_child(MpiComm::init_split_by_appnum().unwrap(), body);
    } else {
        launch(test, apps);
    }
}

fn run_child(comm: MpiComm, body: fn(&MpiComm)) {
    let passed = std::panic::catch_unwind(AssertUnwindSafe(|| body(&comm))).is_ok();
    if !passed {
        // Exit without dropping `comm`: MPI_Finalize would wait for ranks still blocked in
        // a collective. mpirun sees the non-zero status and stops the whole job.
        std::process::exit(101);
    }
    println!("{RANK_PASSED}");
}

/// Rank-dependent block of `len` values, distinct per (rank, tag).
fn block(rank: usize, tag: usize, len: usize) -> Vec<f64> {
    (0..len)
        .map(|k| (100 * rank + 10 * tag + k) as f64 + 0.25)
        .collect()
}

/// Lengths 2, 0, 3, 2, ...: rank 1 sends an empty block.
fn f64_len(rank: usize) -> usize {
    [2, 0, 3][rank % 3]
}

/// Lengths 1, 2, 0, ...: rank 2 sends an empty block.
fn u64_block(rank: usize) -> Vec<u64> {
    (0..[1, 2, 0][rank % 3])
        .map(|k| (1000 * rank + k) as u64)
        .collect()
}

#[test]
fn allgatherv_f64_and_u64_on_1_2_3_ranks() {
    on_ranks("allgatherv_f64_and_u64_on_1_2_3_ranks", &[1, 2, 3], |c| {
        let (me, n) = (c.rank(), c.size());
        let got = c.allgatherv_f64(&block(me, 0, f64_len(me)));
        let want: Vec<_> = (0..n).map(|r| block(r, 0, f64_len(r))).collect();
        assert_eq!(got, want);
        // The flat variant: the same blocks back to back, into a reused longer buffer.
        let mut flat = vec![3.0; 40];
        let lens = c.allgatherv_flat_f64(&block(me, 0, f64_len(me)), &mut flat);
        assert_eq!(lens, want.iter().map(Vec::len).collect::<Vec<_>>());
        assert_eq!(flat, want.concat());
        let got = c.allgatherv_u64(&u64_block(me));
        assert_eq!(got, (0..n).map(u64_block).collect::<Vec<_>>());
        if n == 1 {
            let s = SingleProcess;
            assert_eq!(
                c.allgatherv_f64(&block(0, 0, 2)),
                s.allgatherv_f64(&block(0, 0, 2))
            );
            assert_eq!(c.allgatherv_u64(&[]), s.allgatherv_u64(&[]));
            let (mut a, mut b) = (vec![1.0], Vec::new());
            assert_eq!(
                c.allgatherv_flat_f64(&block(0, 0, 2), &mut a),
                s.allgatherv_flat_f64(&block(0, 0, 2), &mut b)
            );
            assert_eq!(a, b);
        }
    });
}

// Broadcasts from any root carry the root's values and length, whatever the other ranks
// held (longer, shorter or empty buffers), as doubles and as bytes.
#[test]
fn broadcast_f64_and_bytes_from_every_root_on_1_2_3_ranks() {
    on_ranks(
        "broadcast_f64_and_bytes_from_every_root_on_1_2_3_ranks",
        &[1, 2, 3],
        |c| {
            let (me, n) = (c.rank(), c.size());
            for root in 0..n {
                let want = block(root, 7, 5 + root);
                let mut buf = if me == root {
                    want.clone()
                } else {
                    vec![f64::NAN; 3 * me]
                };
                c.broadcast_f64(&mut buf, root);
                assert_eq!(buf, want);
                let bytes: Vec<u8> = (0..root as u8 + 2).collect();
                let mut got = if me == root {
                    bytes.clone()
                } else {
                    vec![9; 11]
                };
                c.broadcast_bytes(&mut got, root);
                assert_eq!(got, bytes);
            }
        },
    );
}

/// Length of the block rank `from` sends to rank `to`: zero on the diagonal of rank 0 and
/// wherever (from + 2 to) is a multiple of 3.
fn a2a_len(from: usize, to: usize) -> usize {
    (from + 2 * to) % 3
}

#[test]
fn alltoallv_with_empty_blocks_on_1_2_3_ranks() {
    on_ranks(
        "alltoallv_with_empty_blocks_on_1_2_3_ranks",
        &[1, 2, 3],
        |c| {
            let (me, n) = (c.rank(), c.size());
            let send: Vec<_> = (0..n).map(|to| block(me, to, a2a_len(me, to))).collect();
            let got = c.alltoallv_f64(&send).unwrap();
            let want: Vec<_> = (0..n)
                .map(|from| block(from, me, a2a_len(from, me)))
                .collect();
            assert_eq!(got, want);
            let all_empty = vec![Vec::new(); n];
            assert_eq!(c.alltoallv_f64(&all_empty).unwrap(), all_empty);
            if n == 1 {
                assert_eq!(Ok(got), SingleProcess.alltoallv_f64(&send));
            }
        },
    );
}

// The flat variant moves the same blocks as the block one (empty blocks included), reuses
// the receive buffer, and refuses counts that do not add up to the send length everywhere.
#[test]
fn flat_alltoallv_equals_block_alltoallv_on_1_2_3_ranks() {
    on_ranks(
        "flat_alltoallv_equals_block_alltoallv_on_1_2_3_ranks",
        &[1, 2, 3],
        |c| {
            let (me, n) = (c.rank(), c.size());
            let send: Vec<_> = (0..n).map(|to| block(me, to, a2a_len(me, to))).collect();
            let counts: Vec<usize> = send.iter().map(Vec::len).collect();
            let mut recv = vec![9.0; 50];
            let got = c
                .alltoallv_flat_f64(&send.concat(), &counts, &mut recv)
                .unwrap();
            let want = c.alltoallv_f64(&send).unwrap();
            assert_eq!(got, want.iter().map(Vec::len).collect::<Vec<_>>());
            assert_eq!(recv, want.concat());
            // Single precision moves the same blocks (the values are exact in f32).
            let send32: Vec<f32> = send.concat().iter().map(|&x| x as f32).collect();
            let mut recv32 = vec![7.0f32; 3];
            let got32 = c.alltoallv_flat_f32(&send32, &counts, &mut recv32).unwrap();
            assert_eq!(got32, got);
            let want32: Vec<f32> = want.concat().iter().map(|&x| x as f32).collect();
            assert_eq!(recv32, want32);
            if n > 1 {
                // Rank 0 (which sends 2 or 3 values) drops one: every rank fails.
                let cut = usize::from(me == 0);
                let flat = send.concat();
                assert!(c
                    .alltoallv_flat_f64(&flat[cut..], &counts, &mut recv)
                    .is_err());
                assert!(c
                    .alltoallv_flat_f32(&send32[cut..], &counts, &mut recv32)
                    .is_err());
            }
        },
    );
}

// The ranges variant moves the blocks it is pointed at inside one buffer (in any order,
// with gaps, own block left out) exactly as the block variant moves copies of them, and a
// range outside the buffer on one rank fails on every rank.
#[test]
fn ranges_alltoallv_equals_block_alltoallv_on_1_2_3_ranks() {
    on_ranks(
        "ranges_alltoallv_equals_block_alltoallv_on_1_2_3_ranks",
        &[1, 2, 3],
        |c| {
            let (me, n) = (c.rank(), c.size());
            // The blocks for ranks n-1, ..., 0 back to back after two padding values.
            let mut buf = vec![-1.0, -2.0];
            let mut ranges = vec![0..0; n];
            for to in (0..n).rev() {
                let b = block(me, to, a2a_len(me, to));
                ranges[to] = buf.len()..buf.len() + b.len();
                buf.extend(b);
            }
            let send: Vec<Vec<f64>> = ranges.iter().map(|r| buf[r.clone()].to_vec()).collect();
            let mut recv = vec![5.0; 7];
            let got = c.alltoallv_ranges_f64(&buf, &ranges, &mut recv).unwrap();
            let want = c.alltoallv_f64(&send).unwrap();
            assert_eq!(got, want.iter().map(Vec::len).collect::<Vec<_>>());
            assert_eq!(recv, want.concat());
            // Own block left out: nothing arrives from this rank itself.
            let mut skip = ranges.clone();
            skip[me] = 0..0;
            let got = c.alltoallv_ranges_f64(&buf, &skip, &mut recv).unwrap();
            assert_eq!(got[me], 0);
            let others: Vec<f64> = (0..n)
                .filter(|&r| r != me)
                .flat_map(|r| want[r].clone())
                .collect();
            assert_eq!(recv, others);
            let mut bad = ranges.clone();
            if me == 0 {
                bad[0] = buf.len() - 1..buf.len() + 1;
            }
            let err = c.alltoallv_ranges_f64(&buf, &bad, &mut recv).unwrap_err();
            if me == 0 {
                assert!(
                    matches!(err, ParallelError::BlockRange { rank: 0, .. }),
                    "{err}"
                );
            } else {
                assert_eq!(err, ParallelError::OtherRankFailed { op: "alltoallv" });
            }
        },
    );
}

#[test]
fn wrong_alltoallv_block_count_fails_on_every_rank() {
    on_ranks(
        "wrong_alltoallv_block_count_fails_on_every_rank",
        &[1, 3],
        |c| {
            let (me, n) = (c.rank(), c.size());
            // Rank 0 passes one block too many; the others are right.
            let send = vec![vec![1.0]; if me == 0 { n + 1 } else { n }];
            let err = c.alltoallv_f64(&send).unwrap_err();
            if me == 0 {
                let want = ParallelError::BlockCount {
                    op: "alltoallv",
                    rank: 0,
                    got: n + 1,
                    expected: n,
                };
                assert_eq!(err, want);
                if n == 1 {
                    assert_eq!(SingleProcess.alltoallv_f64(&send), Err(want));
                }
            } else {
                assert_eq!(err, ParallelError::OtherRankFailed { op: "alltoallv" });
            }
            // The ranks are still in step: a correct call works afterwards.
            let ok = c.alltoallv_f64(&vec![vec![me as f64]; n]).unwrap();
            assert_eq!(ok, (0..n).map(|r| vec![r as f64]).collect::<Vec<_>>());
        },
    );
}

#[test]
fn split_even_odd_with_collectives_on_1_2_3_ranks() {
    on_ranks(
        "split_even_odd_with_collectives_on_1_2_3_ranks",
        &[1, 2, 3],
        |c| {
            let (me, n) = (c.rank(), c.size());
            // Reverse key: the highest world rank of each parity becomes sub-rank 0.
            let sub = c.split((me % 2) as u32, n - me).unwrap();
            let mut members: Vec<usize> = (0..n).filter(|r| r % 2 == me % 2).collect();
            members.reverse();
            assert_eq!(sub.size(), members.len());
            assert_eq!(members[sub.rank()], me);
            let ids = sub.allgatherv_u64(&vec![me as u64; me % 2 + 1]);
            let want: Vec<_> = members.iter().map(|&r| vec![r as u64; r % 2 + 1]).collect();
            assert_eq!(ids, want);
            let sum = sub.allreduce_sum_u64(me as u64);
            assert_eq!(sum, members.iter().sum::<usize>() as u64);
            let send: Vec<_> = (0..sub.size()).map(|to| block(me, to, to)).collect();
            let got = sub.alltoallv_f64(&send).unwrap();
            let want: Vec<_> = members
                .iter()
                .map(|&r| block(r, sub.rank(), sub.rank()))
                .collect();
            assert_eq!(got, want);
            // Split again: every rank alone.
            let single = sub.split(sub.rank() as u32, 0).unwrap();
            assert_eq!((single.rank(), single.size()), (0, 1));
            assert_eq!(single.allgatherv_f64(&[2.5]), vec![vec![2.5]]);
            drop(single);
            drop(sub);
            // World collectives still work after the sub-communicators are freed.
            assert_eq!(c.allreduce_sum_u64(1), n as u64);
        },
    );
}

#[test]
fn split_with_out_of_range_colour_fails_on_every_rank() {
    on_ranks(
        "split_with_out_of_range_colour_fails_on_every_rank",
        &[1, 2],
        |c| {
            let color = if c.is_root() { u32::MAX } else { 0 };
            let err = c.split(color, 0).err().expect("split must fail");
            if c.is_root() {
                assert!(matches!(
                    err,
                    ParallelError::ColorOutOfRange {
                        color: u32::MAX,
                        ..
                    }
                ));
            } else {
                assert_eq!(err, ParallelError::OtherRankFailed { op: "split" });
            }
            assert_eq!(c.allreduce_sum_u64(1), c.size() as u64);
        },
    );
}

#[test]
fn single_process_matches_the_collective_contract() {
    let c = SingleProcess;
    assert_eq!(c.allgatherv_f64(&block(0, 0, 3)), vec![block(0, 0, 3)]);
    assert_eq!(c.allgatherv_u64(&u64_block(0)), vec![u64_block(0)]);
    assert_eq!(c.alltoallv_f64(&[vec![]]), Ok(vec![vec![]]));
    assert!(c.alltoallv_f64(&[]).is_err());
    let sub = c.split(1, 5).unwrap();
    assert_eq!((sub.rank(), sub.size()), (0, 1));
    assert_eq!(sub.allgatherv_f64(&[1.0]), vec![vec![1.0]]);
}

/// Checks of an application communicator from `init_split_by_appnum` in a launch of
/// `app_sizes` ranks per application.
fn check_app_layout(app: &MpiComm, app_sizes: &[usize]) {
    assert_eq!(app.world_size(), app_sizes.iter().sum::<usize>());
    assert_eq!(app.app_count(), app_sizes.len());
    assert_eq!(app.size(), app_sizes[app.appnum()]);
    // Ranks of an application keep world order: its world ranks start after earlier apps.
    let first = app_sizes[..app.appnum()].iter().sum::<usize>();
    assert_eq!(app.world_rank(), first + app.rank());
    // Collectives stay inside the application.
    let ids = app.allgatherv_u64(&[app.world_rank() as u64]);
    let want: Vec<_> = (0..app.size()).map(|r| vec![(first + r) as u64]).collect();
    assert_eq!(ids, want);
}

#[test]
fn mpmd_two_apps_get_own_communicators_and_roots_exchange_bytes() {
    on_apps(
        "mpmd_two_apps_get_own_communicators_and_roots_exchange_bytes",
        &[2, 1],
        |app| {
            check_app_layout(app, &[2, 1]);
            let Some(peer) = app.peer() else {
                assert!(!app.is_root(), "every application root has a peer");
                return;
            };
            if app.appnum() == 0 {
                assert_eq!(peer.world_rank(), 2);
                peer.send_bytes(b"state from app 0");
                assert_eq!(peer.recv_bytes(), b"ack from app 1");
                assert_eq!(peer.recv_bytes(), Vec::<u8>::new());
            } else {
                assert_eq!(peer.world_rank(), 0);
                assert_eq!(peer.recv_bytes(), b"state from app 0");
                peer.send_bytes(b"ack from app 1");
                peer.send_bytes(&[]);
            }
        },
    );
}

#[test]
fn appnum_split_of_a_single_app_is_the_whole_world() {
    on_apps(
        "appnum_split_of_a_single_app_is_the_whole_world",
        &[2],
        |app| {
            check_app_layout(app, &[2]);
            assert_eq!(app.appnum(), 0);
            assert!(app.peer().is_none());
        },
    );
}
