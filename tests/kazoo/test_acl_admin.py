"""More ACL schemes (auth/creator, ip, validation) and the four-letter words kazoo can send."""

import re

import pytest
from kazoo.exceptions import AuthFailedError, InvalidACLError, NoAuthError
from kazoo.security import ACL, CREATOR_ALL_ACL, Id, Permissions, make_acl, make_digest_acl

from _util import wait_until


def test_creator_all_acl_uses_the_callers_identity(make_client):
    owner = make_client(auth_data=[("digest", "dora:pw")])
    owner.create("/creator", b"x", acl=CREATOR_ALL_ACL)
    acls, _ = owner.get_acls("/creator")
    assert acls == [make_digest_acl("dora", "pw", all=True)]
    stranger = make_client()
    with pytest.raises(NoAuthError):
        stranger.get("/creator")
    # Without any authenticated identity there is nobody to expand "auth" to.
    with pytest.raises(InvalidACLError):
        stranger.create("/creator2", acl=CREATOR_ALL_ACL)


def test_several_identities_on_one_session(make_client):
    admin = make_client(auth_data=[("digest", "u1:p1"), ("digest", "u2:p2")])
    admin.create("/one", b"1", acl=[make_digest_acl("u1", "p1", all=True)])
    admin.create("/two", b"2", acl=[make_digest_acl("u2", "p2", all=True)])
    only1 = make_client(auth_data=[("digest", "u1:p1")])
    assert only1.get("/one")[0] == b"1"
    with pytest.raises(NoAuthError):
        only1.get("/two")
    only1.add_auth("digest", "u2:p2")  # identities add up
    assert only1.get("/two")[0] == b"2"
    # CREATOR_ALL_ACL expands to every digest identity of the session.
    admin.create("/both", acl=CREATOR_ALL_ACL)
    ids = sorted(a.id.id.split(":")[0] for a in admin.get_acls("/both")[0])
    assert ids == ["u1", "u2"]


def test_ip_acl(make_client):
    zk = make_client()
    zk.create("/local", b"ok", acl=[make_acl("ip", "127.0.0.1", all=True)])
    assert zk.get("/local")[0] == b"ok"
    zk.create("/subnet", b"ok", acl=[make_acl("ip", "127.0.0.0/8", read=True)])
    assert zk.get("/subnet")[0] == b"ok"
    with pytest.raises(NoAuthError):
        zk.set("/subnet", b"no write permission")
    zk.create("/elsewhere", b"no", acl=[make_acl("ip", "10.1.2.3", all=True)])
    with pytest.raises(NoAuthError):
        zk.get("/elsewhere")


def test_invalid_acls_are_refused(zk):
    with pytest.raises(InvalidACLError):
        zk.create("/bad", acl=[ACL(Permissions.ALL, Id("world", "someone"))])
    with pytest.raises(InvalidACLError):
        zk.create("/bad", acl=[ACL(Permissions.ALL, Id("digest", "no-colon"))])
    with pytest.raises(InvalidACLError):
        zk.create("/bad", acl=[ACL(Permissions.ALL, Id("nosuchscheme", "x"))])
    assert zk.exists("/bad") is None


def test_unknown_auth_scheme_fails_the_session(make_client):
    zk = make_client()
    with pytest.raises(AuthFailedError):
        zk.add_auth("nosuchscheme", "whatever")


# --- four-letter words ------------------------------------------------------------------------


def test_cons_and_stat_list_the_connection(zk):
    port = zk._connection._socket.getsockname()[1]  # our side of the connection
    session = "0x%x" % zk.client_id[0]
    cons = zk.command(b"cons")
    assert f":{port}[" in cons, cons
    assert session in cons, cons
    stat = zk.command(b"stat")
    assert stat.startswith("Zookeeper version: ")
    assert "Clients:" in stat and f":{port}[" in stat
    assert "Mode: standalone" in stat


def test_watch_commands_show_our_watches(zk):
    zk.create("/watched")
    zk.get("/watched", watch=lambda e: None)
    full_path = zk.chroot + "/watched"
    session = "0x%x" % zk.client_id[0]
    wchp = zk.command(b"wchp")
    assert re.search(re.escape(full_path) + r"\n\t" + session, wchp), wchp
    wchc = zk.command(b"wchc")
    assert re.search(session + r"\n(\t.*\n)*\t" + re.escape(full_path), wchc), wchc
    wchs = zk.command(b"wchs")
    m = re.search(r"Total watches:(\d+)", wchs)
    assert m and int(m.group(1)) >= 1, wchs


def test_dump_lists_ephemerals_by_session(zk):
    zk.create("/eph-dump", ephemeral=True)
    session = "0x%x" % zk.client_id[0]
    full_path = zk.chroot + "/eph-dump"
    wait_until(lambda: full_path in zk.command(b"dump"))
    dump = zk.command(b"dump")
    assert re.search(session + r":\n(\t.*\n)*\t" + re.escape(full_path), dump), dump


def test_conf_envi_isro(zk, corral_server):
    conf = zk.command(b"conf")
    assert f"clientPort={corral_server.rsplit(':', 1)[1]}" in conf
    assert "minSessionTimeout=800" in conf and "maxSessionTimeout=30000" in conf
    envi = zk.command(b"envi")
    assert envi.startswith("Environment:")
    assert "zookeeper.version=" in envi
    assert zk.command(b"isro") == "rw"


def _total_watches(client):
    return int(re.search(r"Total watches:(\d+)", client.command(b"wchs")).group(1))


def test_watch_commands_report_data_watches_only_like_zookeeper(make_client):
    admin, watcher = make_client(), make_client()
    admin.create("/only-children")
    admin.create("/only-data")
    before = _total_watches(admin)
    mntr_before = int(_mntr(admin)["zk_watch_count"])
    watcher.get_children("/only-children", watch=lambda e: None)
    watcher.get("/only-data", watch=lambda e: None)
    # mntr counts both kinds...
    assert int(_mntr(admin)["zk_watch_count"]) == mntr_before + 2
    # ...the watch commands only the data watch.
    wchp = admin.command(b"wchp")
    assert admin.chroot + "/only-data\n" in wchp
    assert admin.chroot + "/only-children\n" not in wchp
    assert admin.chroot + "/only-children" not in admin.command(b"wchc")
    assert _total_watches(admin) == before + 1


def _mntr(client):
    return dict(line.split("\t", 1) for line in client.command(b"mntr").splitlines() if "\t" in line)
