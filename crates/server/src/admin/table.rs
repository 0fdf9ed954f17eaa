//! ZooKeeper 3.9's AdminServer commands: every name (primary first, then the aliases), whether
//! it needs a serving server, whether it is run by GET or POST, and what a caller must be
//! allowed to do first. `/commands` lists the primary names, sorted, as links.

use corral_proto::consts::perms;

use super::access::AuthRequest;

/// How a command is invoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Post,
}

/// One command of `Commands.java`.
#[derive(Debug)]
pub(crate) struct CommandSpec {
    /// Primary name first.
    pub(crate) names: &'static [&'static str],
    /// Answered with the not-serving error while this server is not serving.
    pub(crate) server_required: bool,
    pub(crate) method: Method,
    pub(crate) auth: Option<AuthRequest>,
}

impl CommandSpec {
    pub(crate) fn primary(&self) -> &'static str {
        self.names[0]
    }
}

const ALL_ON_ROOT: Option<AuthRequest> = Some(AuthRequest {
    perm: perms::ALL,
    path: "/",
});

const fn get(names: &'static [&'static str], server_required: bool) -> CommandSpec {
    CommandSpec {
        names,
        server_required,
        method: Method::Get,
        auth: None,
    }
}

/// Every command, in `Commands.java`'s registration order.
pub(crate) const COMMANDS: [CommandSpec; 28] = [
    get(&["connection_stat_reset", "crst"], true),
    get(&["configuration", "conf", "config"], true),
    get(&["connections", "cons"], true),
    get(&["hash"], true),
    get(&["dirs"], true),
    get(&["dump"], true),
    get(&["environment", "env", "envi"], false),
    get(&["get_trace_mask", "gtmk"], false),
    get(&["initial_configuration", "icfg"], true),
    get(&["is_read_only", "isro"], true),
    get(&["last_snapshot", "lsnp"], true),
    get(&["leader", "lead"], true),
    get(&["monitor", "mntr"], false),
    get(&["observer_connection_stat_reset", "orst"], true),
    CommandSpec {
        names: &["restore", "rest"],
        server_required: true,
        method: Method::Post,
        auth: ALL_ON_ROOT,
    },
    get(&["ruok"], true),
    get(&["set_trace_mask", "stmk"], false),
    CommandSpec {
        names: &["snapshot", "snap"],
        server_required: true,
        method: Method::Get,
        auth: ALL_ON_ROOT,
    },
    get(&["server_stats", "srvr"], true),
    get(&["stats", "stat"], true),
    get(&["stat_reset", "srst"], true),
    get(&["observers", "obsr"], true),
    get(&["system_properties", "sysp"], false),
    get(&["voting_view"], true),
    get(&["watches", "wchc"], true),
    get(&["watches_by_path", "wchp"], true),
    get(&["watch_summary", "wchs"], true),
    get(&["zabstate"], false),
];

/// The command `name` (any of its names) names.
pub(crate) fn find(name: &str) -> Option<&'static CommandSpec> {
    COMMANDS.iter().find(|c| c.names.contains(&name))
}

/// `/commands`' page: a link per primary name, sorted, each followed by `<br/>`.
pub(crate) fn links(command_url: &str) -> String {
    let mut names: Vec<&str> = COMMANDS.iter().map(CommandSpec::primary).collect();
    names.sort_unstable();
    names
        .iter()
        .map(|name| format!("<a href=\"{command_url}/{name}\">{name}</a>\n<br/>\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_found_by_alias() {
        let mut all: Vec<&str> = COMMANDS
            .iter()
            .flat_map(|c| c.names.iter().copied())
            .collect();
        let count = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), count);
        assert_eq!(find("mntr").unwrap().primary(), "monitor");
        assert_eq!(find("config").unwrap().primary(), "configuration");
        assert!(find("nope").is_none());
    }

    #[test]
    fn links_are_sorted() {
        let page = links("/commands");
        assert!(page.starts_with("<a href=\"/commands/configuration\">configuration</a>\n<br/>\n"));
        assert_eq!(page.matches("<br/>").count(), COMMANDS.len());
    }
}
