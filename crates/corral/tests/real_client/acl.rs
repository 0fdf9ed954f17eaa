//! ACLs and authentication: digest ACLs, the `auth` scheme after addauth, NOAUTH on every
//! operation, INVALIDACL, AUTHFAILED, getACL masking without ADMIN, setACL versions and the
//! superuser configured by `DigestAuthenticationProvider.superDigest`.

use zookeeper_client as zk;

use crate::support::*;

fn digest(perms: zk::Permission, id: &str) -> zk::Acl {
    zk::Acl::new(perms, zk::AuthId::new("digest", id))
}

fn anyone(perms: zk::Permission) -> zk::Acl {
    zk::Acl::new(perms, zk::AuthId::anyone())
}

#[tokio::test]
async fn digest_acls_guard_every_operation() {
    let server = Server::start();
    let bob = server
        .connect(Server::connector().with_auth("digest", BOB.as_bytes()))
        .await;
    let bob_only = [digest(zk::Permission::ALL, BOB_DIGEST)];
    let options = zk::CreateMode::Persistent.with_acls(zk::Acls::new(&bob_only));
    within("create", bob.create("/secret", b"s", &options))
        .await
        .unwrap();
    within("child", bob.create("/secret/child", b"", &PERSISTENT))
        .await
        .unwrap();
    let (acl, stat) = within("getACL", bob.get_acl("/secret")).await.unwrap();
    assert_eq!(acl, bob_only);
    assert_eq!(stat.aversion, 0);

    // A session without the identity, and one with another user's identity.
    let nobody = server.client().await;
    let alice = server.client().await;
    within("alice auth", alice.auth("digest", ALICE.as_bytes()))
        .await
        .unwrap();
    for (who, c) in [("nobody", &nobody), ("alice", &alice)] {
        assert_eq!(
            within("get", c.get_data("/secret")).await,
            Err(zk::Error::NoAuth),
            "{who}"
        );
        assert_eq!(
            within("exists", c.check_stat("/secret")).await,
            Err(zk::Error::NoAuth),
            "{who}: 3.9.2+ checks READ on exists"
        );
        assert_eq!(
            within("ls", c.list_children("/secret")).await,
            Err(zk::Error::NoAuth),
            "{who}"
        );
        assert_eq!(
            within("getACL", c.get_acl("/secret")).await,
            Err(zk::Error::NoAuth),
            "{who}"
        );
        assert_eq!(
            within("count", c.count_descendants_number("/secret")).await,
            Err(zk::Error::NoAuth),
            "{who}"
        );
        assert_eq!(
            within("set", c.set_data("/secret", b"x", None)).await,
            Err(zk::Error::NoAuth),
            "{who}"
        );
        assert_eq!(
            within(
                "setACL",
                c.set_acl("/secret", &zk::Acls::anyone_all(), None)
            )
            .await,
            Err(zk::Error::NoAuth),
            "{who}"
        );
        assert_eq!(
            within("create child", c.create("/secret/x", b"", &PERSISTENT)).await,
            Err(zk::Error::NoAuth),
            "{who}"
        );
        assert_eq!(
            within("delete child", c.delete("/secret/child", None)).await,
            Err(zk::Error::NoAuth),
            "{who}: DELETE is checked on the parent"
        );
        // ACLs are per node: the open child of a locked node is readable.
        let mut multi = c.new_multi_reader();
        multi.add_get_data("/secret").unwrap();
        multi.add_get_data("/secret/child").unwrap();
        let results = within("multiRead", multi.commit()).await.unwrap();
        assert!(
            matches!(
                &results[..],
                [
                    zk::MultiReadResult::Error {
                        err: zk::Error::NoAuth
                    },
                    zk::MultiReadResult::Data { .. }
                ]
            ),
            "{who}: {results:?}"
        );
    }

    // Another session authenticated as bob may do everything.
    let bob2 = server.client().await;
    within("bob2 auth", bob2.auth("digest", BOB.as_bytes()))
        .await
        .unwrap();
    let (data, _) = within("get", bob2.get_data("/secret")).await.unwrap();
    assert_eq!(data, b"s");
    within("delete child", bob2.delete("/secret/child", None))
        .await
        .unwrap();
    // Deleting a node needs DELETE on its parent only, and / is open.
    within("delete", nobody.delete("/secret", None))
        .await
        .unwrap();
}

#[tokio::test]
async fn auth_scheme_expands_to_the_callers_identities() {
    let server = Server::start();
    let client = server.client().await;

    // CREATOR_ALL_ACL with no authenticated identity: INVALIDACL.
    let creator = zk::CreateMode::Persistent.with_acls(zk::Acls::creator_all());
    assert_eq!(
        within(
            "creator_all unauthenticated",
            client.create("/mine", b"", &creator)
        )
        .await,
        Err(zk::Error::InvalidAcl)
    );
    within("auth", client.auth("digest", BOB.as_bytes()))
        .await
        .unwrap();
    within("creator_all", client.create("/mine", b"", &creator))
        .await
        .unwrap();
    let (acl, _) = within("getACL", client.get_acl("/mine")).await.unwrap();
    assert_eq!(acl, [digest(zk::Permission::ALL, BOB_DIGEST)]);

    // Invalid ACLs: unknown scheme, world with an id other than anyone, a digest id without
    // its hash part, an empty list (sent by setACL, which the crate does not check).
    for (what, acl) in [
        (
            "unknown scheme",
            zk::Acl::new(zk::Permission::ALL, zk::AuthId::new("kerberos", "x")),
        ),
        (
            "world:somebody",
            zk::Acl::new(zk::Permission::ALL, zk::AuthId::new("world", "somebody")),
        ),
        ("digest without hash", digest(zk::Permission::ALL, "bob")),
    ] {
        let list = [acl];
        let options = zk::CreateMode::Persistent.with_acls(zk::Acls::new(&list));
        assert_eq!(
            within("create", client.create("/bad", b"", &options)).await,
            Err(zk::Error::InvalidAcl),
            "{what}"
        );
        assert_eq!(
            within("setACL", client.set_acl("/mine", &list, None)).await,
            Err(zk::Error::InvalidAcl),
            "{what}"
        );
    }
    assert_eq!(
        within("setACL empty", client.set_acl("/mine", &[], None)).await,
        Err(zk::Error::InvalidAcl)
    );
    // The ACL is checked before the node: INVALIDACL, not NONODE.
    assert_eq!(
        within(
            "setACL missing",
            client.set_acl("/missing", &[digest(zk::Permission::ALL, "bob")], None)
        )
        .await,
        Err(zk::Error::InvalidAcl)
    );
    assert_eq!(
        within("exists", client.check_stat("/bad")).await,
        Ok(None),
        "nothing created"
    );
}

#[tokio::test]
async fn set_acl_versions_and_masking_without_admin() {
    let server = Server::start();
    let owner = server
        .connect(Server::connector().with_auth("digest", BOB.as_bytes()))
        .await;
    within("create", owner.create("/n", b"", &PERSISTENT))
        .await
        .unwrap();
    let readable = [
        anyone(zk::Permission::READ),
        digest(zk::Permission::ALL, BOB_DIGEST),
    ];
    let stat = within("setACL", owner.set_acl("/n", &readable, Some(0)))
        .await
        .unwrap();
    assert_eq!(stat.aversion, 1);
    assert_eq!(stat.version, 0, "setACL does not touch the data version");
    assert_eq!(stat.mzxid, stat.czxid, "nor mzxid");
    assert_eq!(
        within("stale", owner.set_acl("/n", &readable, Some(0))).await,
        Err(zk::Error::BadVersion)
    );
    let (acl, _) = within("owner getACL", owner.get_acl("/n")).await.unwrap();
    assert_eq!(acl, readable);

    // READ without ADMIN: the digest hash is masked.
    let reader = server.client().await;
    let (acl, stat) = within("reader getACL", reader.get_acl("/n")).await.unwrap();
    assert_eq!(
        acl,
        [
            anyone(zk::Permission::READ),
            digest(zk::Permission::ALL, "bob:x")
        ]
    );
    assert_eq!(stat.aversion, 1);
    assert_eq!(
        within("reader set", reader.set_data("/n", b"x", None)).await,
        Err(zk::Error::NoAuth)
    );
    within("reader get", reader.get_data("/n")).await.unwrap();
}

#[tokio::test]
async fn failed_authentication_ends_the_session() {
    let mut server = Server::start();
    let bystander = server.client().await;
    let client = server.client().await;
    let mut state = client.state_watcher();
    assert_eq!(
        within("auth", client.auth("no-such-scheme", b"whatever")).await,
        Err(zk::Error::AuthFailed)
    );
    eventually("AuthFailed state", STEP, || {
        let s = state.state();
        async move { (s == zk::SessionState::AuthFailed).then_some(()) }
    })
    .await;
    assert_eq!(
        within("after", client.check_stat("/")).await,
        Err(zk::Error::AuthFailed)
    );
    // The ip scheme is a registered provider: authenticating with it succeeds.
    within("ip auth", bystander.auth("ip", b"127.0.0.1"))
        .await
        .unwrap();
    within("bystander", bystander.check_stat("/"))
        .await
        .unwrap();
    server.assert_healthy().await;
}

#[tokio::test]
async fn super_digest_bypasses_every_acl() {
    let server = Server::with_cfg(&[("DigestAuthenticationProvider.superDigest", SUPER_DIGEST)]);
    let bob = server
        .connect(Server::connector().with_auth("digest", BOB.as_bytes()))
        .await;
    let locked = [digest(zk::Permission::ALL, BOB_DIGEST)];
    let options = zk::CreateMode::Persistent.with_acls(zk::Acls::new(&locked));
    within("create", bob.create("/locked", b"l", &options))
        .await
        .unwrap();
    within("child", bob.create("/locked/c", b"", &PERSISTENT))
        .await
        .unwrap();

    let root = server
        .connect(Server::connector().with_auth("digest", SUPER.as_bytes()))
        .await;
    let users = within("whoami", root.list_auth_users()).await.unwrap();
    for expected in [
        zk::AuthUser::new("ip", "127.0.0.1"),
        zk::AuthUser::new("super", ""),
        zk::AuthUser::new("digest", "super"),
    ] {
        assert!(users.contains(&expected), "{users:?} lacks {expected:?}");
    }
    let (data, _) = within("get", root.get_data("/locked")).await.unwrap();
    assert_eq!(data, b"l");
    let (acl, _) = within("getACL", root.get_acl("/locked")).await.unwrap();
    assert_eq!(acl, locked, "super has ADMIN: no masking");
    within("set", root.set_data("/locked", b"root was here", None))
        .await
        .unwrap();
    within("delete child", root.delete("/locked/c", None))
        .await
        .unwrap();
    within(
        "setACL",
        root.set_acl("/locked", &zk::Acls::anyone_all(), None),
    )
    .await
    .unwrap();

    // A wrong super password is just an ordinary digest identity.
    let impostor = server
        .connect(Server::connector().with_auth("digest", b"super:wrong"))
        .await;
    within("lock again", root.set_acl("/locked", &locked, None))
        .await
        .unwrap();
    assert_eq!(
        within("impostor", impostor.get_data("/locked")).await,
        Err(zk::Error::NoAuth)
    );
}
