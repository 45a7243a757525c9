// Package kev loads, validates, updates and matches the CISA Known Exploited
// Vulnerabilities (KEV) catalog.
//
// Parsing (Parse, Load) checks the catalog against the published schema
// (known_exploited_vulnerabilities_schema.json, draft-07): the top-level
// catalogVersion, dateReleased, count and vulnerabilities are required; every
// vulnerability needs cveID (CVE-YYYY-NNNN…), vendorProject, product,
// vulnerabilityName, dateAdded and dueDate (YYYY-MM-DD), shortDescription and
// requiredAction. Violations are errors (a *SchemaError listing each problem
// with its line). Oddities that real snapshots contain are tolerated and
// reported as Catalog.Warnings: count differing from the number of entries,
// catalogVersion not matching dateReleased, duplicate CVEs, unexpected
// knownRansomwareCampaignUse values, malformed CWE ids. Leading and trailing
// white space in text fields is trimmed (26 entries of the 2025.08.25
// snapshot have it); empty cwes arrays are fine; dueDate before dateAdded
// (legacy BOD 22-01 entries) is accepted as published.
//
// Matching (Catalog.Match) works on vendor and product names because KEV
// has no structured product or version data:
//
//  1. Names are trimmed, case-folded, "&" becomes "and", and everything
//     except letters and digits is dropped for comparison ("SMA 100" equals
//     "SMA100", "Serv-U" equals "ServU").
//  2. Each KEV product is indexed under several keys: the full name, the name
//     without a parenthesised abbreviation and the abbreviation itself
//     ("Endpoint Manager (EPM)" → "endpointmanager", "epm"), each part of a
//     list ("FortiOS and FortiProxy" → "fortios", "fortiproxy"), the name
//     without a leading vendor name and without a trailing "appliance(s)".
//  3. The input vendor is mapped through a vendor alias table
//     (ManageEngine → Zoho, Pulse Secure → Ivanti, Bomgar → BeyondTrust, …);
//     when no vendor is given it is inferred from a leading vendor name in the
//     product ("Kaseya VSA"). The input product is tried as given, without a
//     leading vendor name, without a trailing version-like token
//     ("Exchange Server 2019"), and through a product alias table
//     (ConnectWise Control → ScreenConnect, FortiGate → FortiOS, …).
//  4. A CPE (2.3 formatted string or 2.2 URI) supplies vendor, product and,
//     when the version argument is empty, the version; it is matched the same
//     way.
//  5. KEV entries whose product is "Multiple Products" match a product of
//     that vendor when their description or name contains it ("Fortinet
//     FortiOS, FortiProxy, and FortiSwitchManager …").
//  6. Without any vendor (none given, none inferable) only an exact,
//     distinctive full KEV product name matches ("ScreenConnect"; never a
//     generic one such as "Desktop" or "Firewall").
//
// MatchedOn records how an entry matched: "product", "alias", "cpe" or
// "description".
//
// Versions: KEV text sometimes names an affected range. Upper bounds are
// parsed from shortDescription and vulnerabilityName: "before X", "prior to
// X", "earlier than X" give "< X"; "through X", "up to X", "X and earlier",
// "X or earlier", "X and prior" give "<= X" (X must be dotted, e.g. 4.70).
// With several bounds (one per release branch) the bounds of the branch with
// the same major version decide; with none for that major, a version below
// every bound is affected, one above every bound is not, anything else is
// unknown. A match is returned with VersionUnknown set when no bound was
// found, no version was given, or the version could not be compared; a
// version shown not affected is not returned at all.
package kev
