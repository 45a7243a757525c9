// Package trust builds the MSP trust graph from an estate and answers blast
// radius questions over it: if this identity, tool, vendor or host is
// compromised, which customers fall, at which privilege, and by which path;
// which single nodes are the points of failure; what an outsider can take
// directly; how a change (cut an edge, harden a node, make a grant
// just-in-time) moves the ranking; and which few changes bound every single
// compromise to a target share of tenants.
//
// It is an engine: a pure function of the estate and Options. It may be
// imported by cmd/firebreak, internal/assess callers (through Facts) and the
// server; it imports only internal/estate.
//
// # Graph
//
// Nodes are the outsider (a pseudo-node for the internet), identities,
// groups, tools (RMM, remote access, PSA, vault, backup console, identity
// provider, VPN, jump host, one node per GDAP relationship), tenants, tenant
// and MSP assets, and vendors/subcontractors. Agents are not nodes: an agent
// of tool T on asset A is folded into the edge T → A.
//
// An edge S → T means "whoever controls S can control T", with a privilege
// (read < operate < admin < full_control) and conditions: the MFA strength
// protecting its use (none, weak, phishing-resistant), standing or
// just-in-time, internet exposure and a known-exploited vulnerability. Edges
// come from:
//
//   - group membership: member → group (full_control: a member gets what the
//     group gets);
//   - grants: subject → target at the grant's privilege (expired grants are
//     dropped when Options.Now is set; jit grants are just-in-time edges);
//   - agents: tool → asset at full_control for RMM, remote access, VPN and
//     jump host agents, admin for other agents (backup, SIEM);
//   - hosts: asset → its tenant at the privilege the host gives — a domain
//     controller, identity server or hypervisor gives full_control, another
//     critical asset admin, a server, NAS or firewall operate, anything else
//     read; an MSP asset whose hostname is a tool's host gives that tool;
//   - vaults: vault → identity for each stored credential (a grant whose
//     subject is a vault and whose target is an identity). This is a
//     credential edge: it is usable only while the identity has no
//     phishing-resistant MFA — so a vault gives what its stored credentials
//     give, unless the credential alone is not enough to sign in;
//   - vendors: vendor → each tool it supplies at full_control (the update
//     channel); vendor → each guest account from its domain
//     (first.last_<vendor-id>.example#EXT#@…) at full_control — a
//     subcontractor manages its own staff's accounts;
//   - identity providers: an IdP tool → every identity of its owner (the
//     MSP's Entra controls the MSP's accounts) at full_control; an identity
//     holding Global Administrator or Privileged Role Administrator at the
//     MSP → the MSP's IdP tools;
//   - directory roles: an identity → its home tenant at the privilege of its
//     roles;
//   - GDAP: a gdap tool → its customer tenant at the privilege of its roles
//     (Global Administrator and the other tenant-takeover roles =
//     full_control, *Administrator = admin, other operational roles =
//     operate, readers = read); each access group → the relationship;
//     expired or terminated relationships carry no edge;
//   - backups: a backup console → each tenant it backs up at operate;
//   - entry points: outsider → an internet-exposed tool that enforces no MFA
//     (admin) or has a known-exploited vulnerability (full_control); outsider
//     → an asset with internet-facing ports and a known-exploited
//     vulnerability (full_control) or remote-login ports (RDP, SMB, VNC,
//     WinRM, SSH: admin); outsider → an enabled identity other than an API
//     token without MFA (password spraying; a credential edge);
//   - the provider: an MSP asset → the provider node "msp" at the privilege
//     the host gives, and grants may target "msp" (an RMM agent on the MSP's
//     own machines). The provider node is a sink: what the MSP's network
//     gives beyond that must be stated as grants.
//
// # Semantics
//
// Compromising a node gives control of every node reachable from it, at the
// lowest privilege along the path (the bottleneck); of several paths the best
// bottleneck counts (widest path), and the proof shown is the shortest path
// achieving it. Disabled identities do not act (their out-edges are inert).
// Just-in-time edges are excluded unless a query asks for them: the standing
// blast radius is what an attacker gets without an activation that someone
// approves. Credential edges into a node with phishing-resistant MFA are
// inert, and outsider edges exist only while their condition holds, so
// hardening a node removes them.
//
// # Computation
//
// For each privilege threshold p (read, operate, admin, full_control) the
// subgraph of edges with privilege ≥ p is condensed into strongly connected
// components (iterative Tarjan, so cycles and deep chains are safe) and the
// set of tenants each component reaches is propagated as a bitset in reverse
// topological order, sharing the successor's set when a component adds
// nothing. The best privilege at which a node reaches a tenant is the highest
// threshold whose pass reaches it. A single --from query instead runs the
// four breadth-first searches (one per threshold) from the node, interleaved
// depth by depth so that a node reached at every threshold at once is
// expanded once.
//
// Suggestions (Suggest) are greedy; README "firebreak blast" explains the
// method, and the tests compare it with an exhaustive search.
package trust
