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
