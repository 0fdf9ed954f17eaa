//! The benchmark end to end against in-process fake servers: two targets side by side, every
//! workload, a report with ratios, and nothing left behind.

#[path = "support/fake_zk.rs"]
mod fake_zk;

use corral_bench::{run, BenchArgs, Workload};
use fake_zk::FakeZk;

fn args(addr: Vec<String>) -> BenchArgs {
    BenchArgs {
        addr,
        sessions: 3,
        in_flight: 4,
        requests: Some(300),
        warmup_s: 0.05,
        key_space: 1500,
        value_bytes: 10,
        seed: Some(7),
        ..BenchArgs::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_targets_every_workload_and_a_clean_tree_afterwards() {
    let a = FakeZk::start().await;
    let b = FakeZk::start().await;
    let mut args = args(vec![format!("fast={}", a.addr), b.addr.clone()]);
    args.labels = vec![format!("slow={}", b.addr)];
    let report = run(args).await.unwrap();

    let order: Vec<(Workload, &str)> = report
        .results
        .iter()
        .map(|r| (r.workload, r.target.as_str()))
        .collect();
    assert_eq!(
        order,
        vec![
            (Workload::Create, "fast"),
            (Workload::Create, "slow"),
            (Workload::Set, "fast"),
            (Workload::Set, "slow"),
            (Workload::Get, "fast"),
            (Workload::Get, "slow"),
            (Workload::Exists, "fast"),
            (Workload::Exists, "slow"),
            (Workload::Mixed, "fast"),
            (Workload::Mixed, "slow"),
        ]
    );
    for result in &report.results {
        assert_eq!(result.ops, 300, "{result:?}");
        assert_eq!(result.errors, 0, "{result:?}");
        assert!(result.failure.is_none(), "{result:?}");
        assert!(result.ops_per_s > 0.0);
        assert!(result.latency.p50_us > 0);
        assert!(result.latency.p50_us <= result.latency.p99_us);
        assert!(result.latency.p99_us <= result.latency.p999_us);
    }
    assert_eq!(report.ratios.len(), 5);
    assert!(report
        .ratios
        .iter()
        .all(|r| r.numerator == "fast" && r.denominator == "slow"));

    // Everything made (keys in more than one multi batch, created nodes, parents, root) is gone.
    for cleanup in &report.cleanup {
        assert_eq!(cleanup.failed, 0, "{cleanup:?}");
        assert_eq!(cleanup.already_gone, 0, "{cleanup:?}");
        assert!(cleanup.deleted > 1500, "{cleanup:?}");
    }
    assert_eq!(a.paths(), Vec::<String>::new());
    assert_eq!(b.paths(), Vec::<String>::new());

    let table = report.render_table();
    assert!(table.contains("fast/slow"), "{table}");
    assert!(table.contains("mixed"), "{table}");
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(json["results"].as_array().unwrap().len(), 10);
    assert_eq!(json["results"][0]["workload"], "create");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duration_run_on_one_target() {
    let a = FakeZk::start().await;
    let args = BenchArgs {
        requests: None,
        duration_s: 0.2,
        warmup_s: 0.0,
        ops: vec![Workload::Mixed, Workload::Create],
        key_space: 20,
        ..args(vec![a.addr.clone()])
    };
    let report = run(args).await.unwrap();
    assert_eq!(report.results.len(), 2);
    assert!(report.ratios.is_empty());
    for result in &report.results {
        assert!(result.ops > 0, "{result:?}");
        assert!(result.elapsed_s >= 0.2, "{result:?}");
        assert_eq!(result.errors, 0, "{result:?}");
    }
    assert_eq!(a.paths(), Vec::<String>::new());
}

#[tokio::test]
async fn an_unreachable_target_is_an_error_not_a_hang() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    let err = run(args(vec![addr])).await.unwrap_err();
    assert!(err.to_string().contains("connect"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn populate_leaves_the_whole_tree_on_each_target() {
    use corral_bench::Mode;
    let a = FakeZk::start().await;
    let b = FakeZk::start().await;
    let populate = BenchArgs {
        mode: Mode::Populate,
        nodes: 2_345,
        fanout: 4,
        root: "/pop".into(),
        ..args(vec![format!("a={}", a.addr), format!("b={}", b.addr)])
    };
    let report = run(populate).await.unwrap();
    assert_eq!(report.populate.len(), 2);
    for (fake, result) in [(&a, &report.populate[0]), (&b, &report.populate[1])] {
        assert_eq!(result.nodes, 2_345);
        assert!(result.nodes_per_s > 0.0, "{result:?}");
        let paths = fake.paths();
        assert_eq!(paths.len(), 2_345, "{result:?}");
        assert!(paths.contains(&result.last_path), "{result:?}");
        assert!(paths.contains(&"/pop/n1/n5".to_owned()));
    }
    assert!(report.results.is_empty());
    let table = report.render_table();
    assert!(table.contains("ratio a/b"), "{table}");
    // Populating again fails: the root is there already.
    let again = BenchArgs {
        mode: Mode::Populate,
        nodes: 10,
        root: "/pop".into(),
        ..args(vec![a.addr.clone()])
    };
    let err = run(again).await.unwrap_err();
    assert!(err.to_string().contains("/pop"), "{err}");
}

#[tokio::test]
async fn fsync_probe_reports_a_rate() {
    use corral_bench::Mode;
    let dir = std::env::temp_dir();
    let probe = BenchArgs {
        mode: Mode::Fsync,
        dir: dir.clone(),
        duration_s: 0.2,
        ..BenchArgs::default()
    };
    let report = run(probe).await.unwrap();
    let fsync = report.fsync.as_ref().unwrap();
    assert!(
        fsync.append.syncs > 0 && fsync.preallocated.syncs > 0,
        "{fsync:?}"
    );
    assert!(report.render_table().contains("fdatasync"));
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(json["mode"], "fsync");
    assert!(
        json["fsync"]["preallocated"]["syncs_per_s"]
            .as_f64()
            .unwrap()
            > 0.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ensemble_target_spreads_sessions_and_reports_cpu() {
    let a = FakeZk::start().await;
    let b = a.replica().await;
    let c = a.replica().await;
    let single = FakeZk::start().await;
    let me = std::process::id();
    let args = BenchArgs {
        sessions: 6,
        ops: vec![Workload::Create, Workload::Get],
        addr: vec![
            format!("ens={}|{}|{}", a.addr, b.addr, c.addr),
            format!("one={}", single.addr),
        ],
        pids: vec![format!("ens={me}|{me}|{me}")],
        ..args(Vec::new())
    };
    let report = run(args).await.unwrap();
    // Six sessions over three servers: two each (plus cleanup needs no new connection).
    assert_eq!(
        (a.connections(), b.connections(), c.connections()),
        (2, 2, 2)
    );
    assert_eq!(single.connections(), 6);
    assert_eq!(report.targets[0].pids, vec![me, me, me]);
    for result in &report.results {
        assert_eq!(result.ops, 300, "{result:?}");
        assert_eq!(result.errors, 0, "{result:?}");
        let cpu = result.cpu.as_ref().unwrap();
        if result.target == "ens" {
            assert_eq!(cpu.server_pids, 3, "{result:?}");
            assert!(cpu.server_us_per_op.is_some(), "{result:?}");
        } else {
            assert_eq!(cpu.server_pids, 0, "{result:?}");
            assert_eq!(cpu.server_us_per_op, None, "{result:?}");
        }
    }
    // The shared tree is clean again.
    assert_eq!(a.paths(), Vec::<String>::new());
    assert_eq!(single.paths(), Vec::<String>::new());
    let table = report.render_table();
    assert!(table.contains("srv us/op"), "{table}");
    assert!(
        table.contains(&format!("target ens pids {me} {me} {me}")),
        "{table}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_reattaches_to_another_server_and_times_the_outage() {
    use corral_bench::{failover, Target};
    let a = FakeZk::start().await;
    let b = a.replica().await;
    let target = Target::new("ens", format!("{}|{}", a.addr, b.addr));
    let args = BenchArgs {
        kill_after_s: 0.3,
        duration_s: 5.0,
        ..BenchArgs::default()
    };
    let stop_a = a.stopper();
    let result = failover::failover(&target, &args, move || {
        stop_a();
        Ok(())
    })
    .await
    .unwrap();
    println!("{}", result.render());
    assert!(result.recovered, "{result:?}");
    assert!(result.writes_before_kill > 0, "{result:?}");
    let failover_ms = result.failover_ms.unwrap();
    assert!((0.0..5000.0).contains(&failover_ms), "{result:?}");
    assert!(result.max_gap_ms.unwrap() >= 0.0, "{result:?}");
    assert_eq!(result.connections_lost, 1, "{result:?}");
    assert_eq!(result.server_before, a.addr);
    assert_eq!(result.server_after.as_deref(), Some(b.addr.as_str()));
    // The fake gives every connection a new session id.
    assert_eq!(result.session, "new");
    assert!(
        result.events.iter().any(|e| e.what == "killed"),
        "{result:?}"
    );
    // The node it wrote is deleted at the end.
    assert_eq!(b.paths(), Vec::<String>::new());

    // A kill that fails fails the run.
    let c = FakeZk::start().await;
    let target = Target::new("one", c.addr.clone());
    let args = BenchArgs {
        kill_after_s: 0.0,
        ..args
    };
    let err = failover::failover(&target, &args, || Err("no such process".into()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no such process"), "{err}");
    assert_eq!(c.paths(), Vec::<String>::new());
}
