//! One crash test: set up the tree, then cycles of load → SIGKILL → offline inspect →
//! restart → checks, all on one data directory, then a clean restart, a graceful stop and
//! an offline `corral data dump` compared with the model.

use std::time::{Duration, Instant};

use corral_client::Client;
use corral_proto::consts::{perms, CreateMode};
use corral_proto::response::Response;
use corral_proto::Acl;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::model::{Key, Model, Op, KEYS_DIR, MULTI_DIR, PLAIN_DIR, ROOT, SEQ_DIR, SEQ_PREFIX};
use crate::support::{self, bounded, call, corral_data, leftovers, Node};
use crate::workload::{self, KillAt, Outcome, Profile};
use crate::{tear, verify};

/// Start-up kills land at a random point of this many first milliseconds.
const STARTUP_KILL_MS_MAX: u64 = 300;

/// `corral data inspect` on the node's directories.
fn inspect(node: &Node) -> std::process::Output {
    let mut args = vec!["inspect".to_string()];
    args.extend(node.data_args());
    corral_data(&args)
}

/// Whether `corral data inspect` sees a torn tail.
fn has_torn_tail(node: &Node) -> bool {
    let inspect = inspect(node);
    String::from_utf8_lossy(&inspect.stdout).contains("torn tail at byte offset")
}

/// Everything a failure message needs to be replayed and understood.
struct Failure<'a> {
    profile: &'a Profile,
    seed: u64,
}

impl Failure<'_> {
    fn fail(&self, cycle: u64, node: &Node, what: &str) -> ! {
        panic!(
            "{}: cycle {cycle}: {what}\nreplay: CRASH_SEED={} cargo test -p corral --test crash \
             {}\n--- log of the killed server ---\n{}\n--- log of the current server ---\n{}",
            self.profile.name,
            self.seed,
            self.profile.name,
            node.previous_log,
            node.log_tail(40)
        )
    }
}

fn open_acl() -> Vec<Acl> {
    vec![Acl::new(perms::ALL, "world", "anyone")]
}

/// Creates the directories and counter keys (acknowledged one by one).
async fn setup(addr: &str, profile: &Profile, model: &mut Model) -> Result<(), String> {
    let client: Client = bounded("connect", support::connect(addr))
        .await?
        .map_err(|e| format!("connect: {e}"))?;
    for dir in [ROOT, PLAIN_DIR, SEQ_DIR, MULTI_DIR, KEYS_DIR] {
        let reply = call(
            &format!("create {dir}"),
            client.create(dir, b"", open_acl(), CreateMode::Persistent),
        )
        .await?;
        if reply.code() != corral_proto::ErrorCode::Ok {
            return Err(format!("create {dir}: {:?}", reply.result));
        }
    }
    for index in 0..profile.key_count() {
        let key = Key {
            index,
            version: 0,
            data: format!("k{index} v0").into_bytes(),
        };
        let reply = call(
            &format!("create {}", key.path()),
            client.create(&key.path(), &key.data, open_acl(), CreateMode::Persistent),
        )
        .await?;
        if reply.code() != corral_proto::ErrorCode::Ok {
            return Err(format!("create {}: {:?}", key.path(), reply.result));
        }
        model.zxid_acked_max = model.zxid_acked_max.max(reply.zxid);
        model.keys.push(key);
    }
    let _ = bounded("close", client.close()).await;
    Ok(())
}

/// Takes a cycle's acknowledged writes into the model, checking each reply.
fn merge(model: &mut Model, outcome: &Outcome) -> Result<(), String> {
    if let Some(first) = outcome.violations.first() {
        return Err(format!(
            "{} wrong replies during the load, e.g. {first}",
            outcome.violations.len()
        ));
    }
    for (op, reply) in &outcome.acked {
        model.zxid_acked_max = model.zxid_acked_max.max(reply.zxid);
        match (op, &reply.result) {
            (Op::Plain { path, data }, Ok(Response::Create { path: got })) if got == path => {
                model.plain.insert(path.clone(), data.clone());
                model.stats.acked_plain += 1;
            }
            (Op::Seq { data }, Ok(Response::Create { path })) if path.starts_with(SEQ_PREFIX) => {
                if model.seq.insert(path.clone(), data.clone()).is_some() {
                    return Err(format!("sequential create acknowledged twice as {path}"));
                }
                model.stats.acked_seq += 1;
            }
            (Op::Set { .. }, Ok(Response::Stat(_))) => model.stats.acked_set += 1,
            (Op::Multi { nodes }, Ok(Response::Multi(results)))
                if results.len() == nodes.len()
                    && results.iter().zip(nodes).all(|(r, (path, _))| {
                        matches!(r, corral_proto::multi::MultiResult::Create { path: got } if got == path)
                    }) =>
            {
                for (path, data) in nodes {
                    model.multi.insert(path.clone(), data.clone());
                }
                model.stats.acked_multi += 1;
            }
            (op, result) => return Err(format!("{op:?} answered {result:?}")),
        }
    }
    for key in &outcome.keys {
        if let Some(k) = model.keys.iter_mut().find(|k| k.index == key.index) {
            *k = key.clone();
        }
    }
    Ok(())
}

/// Runs one crash test (see the module docs) and prints its figures.
pub fn run(profile: &Profile) {
    let seed = support::seed_for(profile.name);
    let started = Instant::now();
    let failure = Failure { profile, seed };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut node = Node::new(&profile.cfg, profile.separate_log_dir);
    let mut model = Model::default();
    let mut rng = StdRng::seed_from_u64(seed);
    let startup_kill = Duration::from_millis(rng.gen_range(0..STARTUP_KILL_MS_MAX));
    if let Err(e) = node.kill_during_startup(startup_kill) {
        failure.fail(0, &node, &format!("start-up kill: {e}"));
    }
    model.stats.startup_kills += 1;
    if let Err(e) = node.start() {
        failure.fail(0, &node, &format!("first start failed: {e}"));
    }
    if let Err(e) = runtime.block_on(setup(&node.addr(), profile, &mut model)) {
        failure.fail(0, &node, &format!("setup: {e}"));
    }
    for cycle in 1..=profile.cycles {
        let mut rng = StdRng::seed_from_u64(seed ^ cycle.wrapping_mul(0xa076_1d64_78bd_642f));
        let delay =
            Duration::from_millis(rng.gen_range(profile.kill_after_ms.0..=profile.kill_after_ms.1));
        let kill_at = match profile.kill_on_tmp_in {
            Some(dir) if rng.gen_bool(0.5) => {
                model.stats.targeted_kills += 1;
                KillAt::OnTmpFile {
                    dir,
                    deadline: Duration::from_millis(profile.kill_after_ms.1 * 2),
                }
            }
            _ => KillAt::After(delay),
        };
        let phase = Instant::now();
        let outcome = runtime.block_on(workload::load_and_kill(
            &mut node,
            profile,
            seed,
            cycle,
            kill_at,
            &model.keys,
        ));
        model.stats.cycles += 1;
        model.stats.load += phase.elapsed();
        let phase = Instant::now();
        let left = leftovers(&node);
        model.stats.kills_during_snapshot += u64::from(left.snapshot_tmp);
        model.stats.kills_during_rollover += u64::from(left.segment_tmp);
        model.stats.segments_max = model.stats.segments_max.max(left.segments);
        if let Err(e) = merge(&mut model, &outcome) {
            failure.fail(cycle, &node, &e);
        }
        let mut torn = None;
        if rng.gen_range(0..100) < profile.tear_percent {
            let acked = u64::try_from(model.zxid_acked_max).unwrap_or(0);
            match tear::tear_last_record(&node.data_dir(), &node.log_dir(), acked, &mut rng) {
                Ok(index) => torn = index,
                Err(e) => failure.fail(cycle, &node, &format!("tearing the log tail: {e}")),
            }
            model.stats.tails_torn += u64::from(torn.is_some());
        }
        // After a crash nothing on disk may be corrupt: only a torn tail and temporary files,
        // which the offline check accepts (and must report).
        let inspect = inspect(&node);
        let report = String::from_utf8_lossy(&inspect.stdout);
        if !inspect.status.success()
            || (torn.is_some() && !report.contains("torn tail at byte offset"))
        {
            failure.fail(
                cycle,
                &node,
                &format!(
                    "`corral data inspect` after the kill (torn entry: {torn:?}):\n{report}{}",
                    String::from_utf8_lossy(&inspect.stderr)
                ),
            );
        }
        model.stats.inspect += phase.elapsed();
        let phase = Instant::now();
        if rng.gen_range(0..100) < profile.startup_kill_percent {
            let delay = Duration::from_millis(rng.gen_range(0..STARTUP_KILL_MS_MAX));
            if let Err(e) = node.kill_during_startup(delay) {
                failure.fail(cycle, &node, &format!("start-up kill: {e}"));
            }
            model.stats.startup_kills += 1;
            if torn.is_some() && !has_torn_tail(&node) {
                // The killed start-up already truncated the torn tail.
                torn = None;
            }
        }
        if let Err(e) = node.start() {
            failure.fail(cycle, &node, &format!("restart failed: {e}"));
        }
        if node.log().contains("torn tail") {
            model.stats.torn_tails += 1;
        } else if let Some(index) = torn {
            failure.fail(
                cycle,
                &node,
                &format!("entry {index} was torn but the restart repaired no torn tail"),
            );
        }
        model.stats.restart += phase.elapsed();
        let phase = Instant::now();
        let full = cycle % profile.full_check_every == 0;
        if let Err(e) = runtime.block_on(verify::after_restart(
            &node.addr(),
            &mut model,
            &outcome.in_doubt,
            full,
        )) {
            failure.fail(cycle, &node, &e);
        }
        model.stats.verify += phase.elapsed();
        if cycle % 20 == 0 {
            println!(
                "{}: {cycle}/{} cycles after {:.1?}",
                profile.name,
                profile.cycles,
                started.elapsed()
            );
        }
    }
    let cycles = profile.cycles + 1;
    // The last cycle's server is running; check a clean stop and restart too.
    if let Err(e) = node.terminate() {
        failure.fail(cycles, &node, &format!("graceful stop: {e}"));
    }
    if let Err(e) = node.start() {
        failure.fail(
            cycles,
            &node,
            &format!("restart after a graceful stop: {e}"),
        );
    }
    let answer = node.ruok();
    if answer != "imok" {
        failure.fail(cycles, &node, &format!("ruok answered {answer:?}"));
    }
    if let Err(e) = runtime.block_on(verify::after_restart(&node.addr(), &mut model, &[], true)) {
        failure.fail(cycles, &node, &e);
    }
    if let Err(e) = node.terminate() {
        failure.fail(cycles, &node, &format!("final graceful stop: {e}"));
    }
    if let Err(e) = crate::offline::dump_matches_model(&node.data_args(), &model) {
        failure.fail(cycles, &node, &e);
    }
    let s = &model.stats;
    println!(
        "{}: {} kill/restart cycles in {:.1?}: acknowledged {} creates, {} sequential, {} sets, \
         {} multis; in flight at the kill: {} applied, {} not; kills during snapshot writing: \
         {}, during segment rollover: {} ({} kills aimed at a temporary file); servers killed during start-up: {}; simulated torn tails: {}, repaired: {}; segments at most: {}; \
         full data checks: {}; nodes at the end: {}; time in load {:.1?}, inspect {:.1?}, \
         restart {:.1?}, checks {:.1?}",
        profile.name,
        s.cycles,
        started.elapsed(),
        s.acked_plain,
        s.acked_seq,
        s.acked_set,
        s.acked_multi,
        s.in_doubt_applied,
        s.in_doubt_absent,
        s.kills_during_snapshot,
        s.kills_during_rollover,
        s.targeted_kills,
        s.startup_kills,
        s.tails_torn,
        s.torn_tails,
        s.segments_max,
        s.full_checks,
        model.all_created().count(),
        s.load,
        s.inspect,
        s.restart,
        s.verify,
    );
}
