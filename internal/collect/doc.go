// Package collect holds the evidence collectors that turn real systems into
// estate fragments: kev (CISA Known Exploited Vulnerabilities), graph
// (Microsoft Graph through GDAP), dns (SPF, DMARC, DKIM, MTA-STS, TLS-RPT) and
// probe (TCP/TLS exposure of hosts listed in the estate). This package holds
// only the plumbing they share (fragment writing, progress). It may be
// imported by cmd/firebreak and the server; collectors never import engines.
package collect
