package okta

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/firebreak-msp/firebreak/internal/connector"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

// Policies decide whether Okta demands a second factor
// (developer.okta.com/docs/api/resources/policy, "Policy evaluation": the
// policies of a type are considered in priority order, the first whose
// conditions the user meets applies, then its rules in priority order,
// the first whose conditions are met decides). Two types can demand MFA
// at sign-in:
//   - OKTA_SIGN_ON, the global session policy (Identity Engine) or the Okta
//     sign-on policy (Classic Engine): a rule's actions.signon.requireFactor;
//   - ACCESS_POLICY, authentication policies (Identity Engine only): each
//     app is mapped to one (the app's _links.accessPolicy.href); a rule's
//     actions.appSignOn.verificationMethod: factorMode "2FA" demands two
//     factors; "1FA" lets one factor in — a password alone unless every
//     constraint object demands a possession factor that verifies the user
//     (possession.userVerification REQUIRED: a biometric or PIN on the
//     authenticator itself); any other verification type is unknown.
//
// Identity Engine evaluates both the global session policy and the app's
// authentication policy ("the resulting user experience is the union of
// both"), so for a user:
//   - MFA is enforced when the global session policy demands it;
//   - otherwise, every active app the user can reach must demand it: an
//     app whose policy lets the user in on a password is an MFA gap for
//     that app's users. Reach is the app's assignments (GET
//     /api/v1/apps/{id}/users, paged; read only for apps whose policy lets
//     some user in on one factor), everyone for the Okta Dashboard and
//     browser plugin, and administrators for the Okta Admin Console;
//   - a Classic Engine org (/.well-known/okta-organization "pipeline":
//     "v1", or ACCESS_POLICY refused with E0000002 "Invalid policy type")
//     has per-app sign-on rules too, but Okta publishes no API for them:
//     unless the Okta sign-on policy demands MFA, the answer is unknown
//     with a named gap.
//
// Within a policy, a rule that lets a sign-in through without a second
// factor and could apply to the user (any network, or only some) makes
// the policy not demand MFA; a rule demanding MFA counts only once it
// covers every network (later rules are then never reached for the user).
// A user without an active second factor is not protected even then:
// whoever holds the password enrols the first factor at sign-in.
//
// MFA_ENROLL (authenticator enrollment) policies decide which
// authenticators a user may or must enrol; they demand nothing at sign-in.
//
// Membership of the groups the policies name is read with
// GET /api/v1/groups/{id}/users (paged); the built-in Everyone group holds
// every user. When a policy, its rules, the apps, an app's assignments or
// a group cannot be read, the answer is unknown (not evaluable), never
// "enforced".
type Policy struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	Name       string `json:"name"`
	Status     string `json:"status"`
	Priority   int    `json:"priority"`
	System     bool   `json:"system"`
	Conditions *struct {
		People *peopleCondition `json:"people"`
	} `json:"conditions"`
	Settings *struct {
		Type           string `json:"type"`
		Authenticators []struct {
			Key    string `json:"key"`
			Enroll struct {
				Self string `json:"self"` // REQUIRED, OPTIONAL, NOT_ALLOWED
			} `json:"enroll"`
		} `json:"authenticators"`
	} `json:"settings"`
}

type peopleCondition struct {
	Groups *struct {
		Include []string `json:"include"`
		Exclude []string `json:"exclude"`
	} `json:"groups"`
	Users *struct {
		Include []string `json:"include"`
		Exclude []string `json:"exclude"`
	} `json:"users"`
}

// PolicyRule is a rule of an OKTA_SIGN_ON or ACCESS_POLICY policy.
type PolicyRule struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Status     string `json:"status"`
	Priority   int    `json:"priority"`
	Conditions *struct {
		People  *peopleCondition `json:"people"`
		Network *struct {
			Connection string `json:"connection"` // ANYWHERE, ZONE
		} `json:"network"`
	} `json:"conditions"`
	Actions struct {
		Signon *struct {
			Access        string `json:"access"` // ALLOW, DENY
			RequireFactor bool   `json:"requireFactor"`
		} `json:"signon"`
		AppSignOn *struct {
			Access             string              `json:"access"`
			VerificationMethod *verificationMethod `json:"verificationMethod"`
		} `json:"appSignOn"`
	} `json:"actions"`
}

// verificationMethod is an authentication policy rule's assurance.
type verificationMethod struct {
	FactorMode  string `json:"factorMode"` // 1FA, 2FA
	Type        string `json:"type"`       // ASSURANCE
	Constraints []struct {
		Knowledge *struct {
			Types []string `json:"types"`
		} `json:"knowledge"`
		Possession *struct {
			Types             []string `json:"types"`
			Methods           []string `json:"methods"`
			PhishingResistant string   `json:"phishingResistant"`
			UserVerification  string   `json:"userVerification"`
		} `json:"possession"`
	} `json:"constraints"`
}

// verdict is a tri-state answer: does sign-in demand MFA of the user?
type verdict int

const (
	vNo verdict = iota
	vYes
	vUnknown
)

// assurance judges a verification method: vYes when every way through
// takes two factors (or one authenticator that verifies the user), vNo
// when one factor (a password, at worst) gets through, vUnknown for a
// method type this code does not know.
func (m *verificationMethod) assurance() verdict {
	if m == nil {
		return vNo // Okta's default: 1FA
	}
	if m.Type != "" && m.Type != "ASSURANCE" {
		return vUnknown
	}
	switch m.FactorMode {
	case "2FA":
		return vYes
	case "1FA", "":
		if len(m.Constraints) == 0 {
			return vNo // any single factor, a password included
		}
		for _, c := range m.Constraints {
			if c.Possession == nil || c.Possession.UserVerification != "REQUIRED" {
				return vNo
			}
		}
		return vYes
	}
	return vUnknown
}

// App is an application (listApplications) and the authentication policy
// it is mapped to.
type App struct {
	ID     string `json:"id"`
	Name   string `json:"name"` // okta_enduser, saasure, okta_browser_plugin for Okta's own
	Label  string `json:"label"`
	Status string `json:"status"`
	Links  struct {
		AccessPolicy *struct {
			Href string `json:"href"`
		} `json:"accessPolicy"`
	} `json:"_links"`
}

// policyID is the id at the end of the app's accessPolicy link.
func (a App) policyID() string {
	if a.Links.AccessPolicy == nil {
		return ""
	}
	h := strings.TrimRight(a.Links.AccessPolicy.Href, "/")
	return h[strings.LastIndex(h, "/")+1:]
}

// reach is who can use an app.
type reach int

const (
	reachAssigned reach = iota // the app's assignments
	reachEveryone              // Okta Dashboard, browser plugin
	reachAdmins                // Okta Admin Console
)

func appReach(a App) reach {
	switch a.Name {
	case "okta_enduser", "okta_browser_plugin":
		return reachEveryone
	case "saasure":
		return reachAdmins
	}
	return reachAssigned
}

// policySet is one org's sign-in policies with their rules, the apps and
// the membership of the groups they name.
type policySet struct {
	classic                bool // Classic Engine: no authentication policies
	signOn, access, enroll []Policy
	accessByID             map[string]Policy
	apps                   []App                      // active apps (Identity Engine)
	appUsers               map[string]map[string]bool // app id → assigned user ids
	rules                  map[string][]PolicyRule
	members                map[string]map[string]bool // group id → user ids
	everyone               map[string]bool            // built-in Everyone groups
}

// isClassic reads the org's pipeline from /.well-known/okta-organization
// ("v1": Classic Engine, "idx": Identity Engine); unreadable is "not
// known to be Classic" (the ACCESS_POLICY answer decides then).
func (k *Connector) isClassic(ctx context.Context, o *org) bool {
	var meta struct {
		Pipeline string `json:"pipeline"`
	}
	if _, err := k.http.JSON(ctx, connector.CallSpec{Tenant: o.Tenant, URL: o.base + "/.well-known/okta-organization"}, &meta); err != nil {
		return false
	}
	return meta.Pipeline == "v1"
}

// invalidPolicyType is Okta's answer to a policy type the org's engine
// does not have (400 E0000002 "Invalid policy type specified").
func invalidPolicyType(err error) bool {
	var ae *connector.APIError
	return errors.As(err, &ae) && ae.Status == http.StatusBadRequest && ae.Code == "E0000002"
}

// readPolicies reads the org's OKTA_SIGN_ON, ACCESS_POLICY and MFA_ENROLL
// policies, the rules of the sign-on policies and of the authentication
// policies active apps are mapped to, the members of every group they
// name, and the assignments of apps whose policy lets some user in on one
// factor (users are the org's user ids).
func (k *Connector) readPolicies(ctx context.Context, o *org, users []string) (*policySet, error) {
	ps := &policySet{rules: map[string][]PolicyRule{}, members: map[string]map[string]bool{}, everyone: map[string]bool{},
		accessByID: map[string]Policy{}, appUsers: map[string]map[string]bool{}}
	get := func(u string, v any) error {
		_, err := k.http.JSON(ctx, connector.CallSpec{Tenant: o.Tenant, URL: o.base + u, Auth: k.auth(o), Permission: ScopePolicies}, v)
		return err
	}
	ps.classic = k.isClassic(ctx, o)
	for _, t := range []struct {
		typ string
		dst *[]Policy
	}{{"OKTA_SIGN_ON", &ps.signOn}, {"ACCESS_POLICY", &ps.access}, {"MFA_ENROLL", &ps.enroll}} {
		if t.typ == "ACCESS_POLICY" && ps.classic {
			continue
		}
		if err := get("/api/v1/policies?type="+t.typ, t.dst); err != nil {
			if t.typ == "ACCESS_POLICY" && invalidPolicyType(err) {
				ps.classic = true
				continue
			}
			return nil, fmt.Errorf("%s policies: %w", t.typ, err)
		}
		sort.SliceStable(*t.dst, func(i, j int) bool { return (*t.dst)[i].Priority < (*t.dst)[j].Priority })
	}
	for _, p := range ps.access {
		ps.accessByID[p.ID] = p
	}
	// Apps and the authentication policies they are mapped to.
	used := map[string]bool{}
	if !ps.classic {
		err := connector.Pages(ctx, k.http, connector.CallSpec{Tenant: o.Tenant, URL: o.base + "/api/v1/apps?limit=200", Auth: k.auth(o), Permission: ScopeApps},
			func(h http.Header, _ *[]App) string { return connector.LinkNext(h) },
			func(p *[]App) error {
				for _, a := range *p {
					if a.Status == "ACTIVE" {
						ps.apps = append(ps.apps, a)
						used[a.policyID()] = true
					}
				}
				return nil
			})
		if err != nil {
			return nil, fmt.Errorf("apps: %w", err)
		}
	}
	groups := map[string]bool{}
	addGroups := func(p *peopleCondition) {
		if p != nil && p.Groups != nil {
			for _, g := range slices.Concat(p.Groups.Include, p.Groups.Exclude) {
				groups[g] = true
			}
		}
	}
	for _, p := range slices.Concat(ps.signOn, ps.access, ps.enroll) {
		if p.Conditions != nil {
			addGroups(p.Conditions.People)
		}
		if p.Type == "MFA_ENROLL" || p.Status != "ACTIVE" || (p.Type == "ACCESS_POLICY" && !used[p.ID]) {
			continue
		}
		var rs []PolicyRule
		if err := get("/api/v1/policies/"+url.PathEscape(p.ID)+"/rules", &rs); err != nil {
			return nil, fmt.Errorf("rules of policy %q: %w", p.Name, err)
		}
		sort.SliceStable(rs, func(i, j int) bool { return rs[i].Priority < rs[j].Priority })
		ps.rules[p.ID] = rs
		for _, r := range rs {
			if r.Conditions != nil {
				addGroups(r.Conditions.People)
			}
		}
	}
	ids := make([]string, 0, len(groups))
	for g := range groups {
		ids = append(ids, g)
	}
	slices.Sort(ids)
	for _, g := range ids {
		var grp struct {
			Type    string `json:"type"`
			Profile struct {
				Name string `json:"name"`
			} `json:"profile"`
		}
		_, err := k.http.JSON(ctx, connector.CallSpec{Tenant: o.Tenant, URL: o.base + "/api/v1/groups/" + url.PathEscape(g), Auth: k.auth(o), Permission: ScopeGroups}, &grp)
		if err != nil {
			return nil, fmt.Errorf("group %s: %w", g, err)
		}
		if grp.Type == "BUILT_IN" && grp.Profile.Name == "Everyone" {
			ps.everyone[g] = true
			continue
		}
		set := map[string]bool{}
		err = connector.Pages(ctx, k.http, connector.CallSpec{Tenant: o.Tenant, URL: o.base + "/api/v1/groups/" + url.PathEscape(g) + "/users?limit=200", Auth: k.auth(o), Permission: ScopeGroups},
			func(h http.Header, _ *[]User) string { return connector.LinkNext(h) },
			func(p *[]User) error {
				for _, u := range *p {
					set[u.ID] = true
				}
				return nil
			})
		if err != nil {
			return nil, fmt.Errorf("members of group %s: %w", g, err)
		}
		ps.members[g] = set
	}
	// Assignments, only of apps that let some user in on one factor
	// where the global session policy does not demand two.
	for _, a := range ps.apps {
		if appReach(a) != reachAssigned || !slices.ContainsFunc(users, func(u string) bool {
			return ps.sessionVerdict(u) != vYes && ps.appVerdict(a, u) != vYes
		}) {
			continue
		}
		set := map[string]bool{}
		err := connector.Pages(ctx, k.http, connector.CallSpec{Tenant: o.Tenant, URL: o.base + "/api/v1/apps/" + url.PathEscape(a.ID) + "/users?limit=500", Auth: k.auth(o), Permission: ScopeApps},
			func(h http.Header, _ *[]struct {
				ID string `json:"id"`
			}) string {
				return connector.LinkNext(h)
			},
			func(p *[]struct {
				ID string `json:"id"`
			}) error {
				for _, u := range *p {
					set[u.ID] = true
				}
				return nil
			})
		if err != nil {
			return nil, fmt.Errorf("users assigned to app %q: %w", a.Label, err)
		}
		ps.appUsers[a.ID] = set
	}
	return ps, nil
}

func (ps *policySet) inGroup(g, user string) bool {
	return ps.everyone[g] || ps.members[g][user]
}

// applies reports whether a people condition admits the user (no
// condition admits everyone).
func (ps *policySet) applies(p *peopleCondition, user string) bool {
	if p == nil {
		return true
	}
	if p.Users != nil {
		if slices.Contains(p.Users.Exclude, user) {
			return false
		}
		if len(p.Users.Include) > 0 && slices.Contains(p.Users.Include, user) {
			return true
		}
	}
	if p.Groups != nil {
		for _, g := range p.Groups.Exclude {
			if ps.inGroup(g, user) {
				return false
			}
		}
		if len(p.Groups.Include) > 0 {
			return slices.ContainsFunc(p.Groups.Include, func(g string) bool { return ps.inGroup(g, user) })
		}
	}
	return p.Users == nil || len(p.Users.Include) == 0
}

// demands judges one policy's rules for the user: whether every sign-in
// that gets through needs a second factor. rule judges one rule: allowed,
// and with which assurance.
func (ps *policySet) demands(p Policy, user string, rule func(PolicyRule) (allow bool, v verdict)) verdict {
	unknown := false
	for _, r := range ps.rules[p.ID] {
		if r.Status != "ACTIVE" || (r.Conditions != nil && !ps.applies(r.Conditions.People, user)) {
			continue
		}
		allow, v := rule(r)
		everywhere := r.Conditions == nil || r.Conditions.Network == nil || r.Conditions.Network.Connection == "" || r.Conditions.Network.Connection == "ANYWHERE"
		switch {
		case allow && v == vNo:
			return vNo // this rule lets some sign-ins through on one factor
		case allow && v == vUnknown && everywhere:
			return vUnknown
		case allow && v == vUnknown:
			unknown = true
		case everywhere && unknown:
			return vUnknown
		case everywhere:
			return vYes // MFA or deny for every remaining sign-in
		}
	}
	return vNo // no rule decides every sign-in: Okta's defaults apply
}

// sessionVerdict judges the global session (Classic: Okta sign-on)
// policy for the user: the first active one that applies.
func (ps *policySet) sessionVerdict(user string) verdict {
	for _, p := range ps.signOn {
		if p.Status != "ACTIVE" || (p.Conditions != nil && !ps.applies(p.Conditions.People, user)) {
			continue
		}
		return ps.demands(p, user, func(r PolicyRule) (bool, verdict) {
			s := r.Actions.Signon
			if s != nil && s.RequireFactor {
				return s.Access == "ALLOW", vYes
			}
			return s != nil && s.Access == "ALLOW", vNo
		})
	}
	return vNo
}

// appVerdict judges the authentication policy an app is mapped to for
// the user (unknown when the app names no policy, or one not listed).
func (ps *policySet) appVerdict(a App, user string) verdict {
	p, ok := ps.accessByID[a.policyID()]
	switch {
	case !ok:
		return vUnknown
	case p.Status != "ACTIVE":
		return vNo // an inactive policy demands nothing
	}
	return ps.demands(p, user, func(r PolicyRule) (bool, verdict) {
		x := r.Actions.AppSignOn
		if x == nil {
			return false, vNo
		}
		return x.Access == "ALLOW", x.VerificationMethod.assurance()
	})
}

// mfaEnforced judges whether sign-in demands a second factor of the user
// (admin: the user holds an administrator role); nil when unknown, with
// the reason.
func (ps *policySet) mfaEnforced(user string, admin bool) (*bool, string) {
	if ps.sessionVerdict(user) == vYes {
		return estate.Bool(true), ""
	}
	if ps.classic {
		return nil, "Classic Engine: the global sign-on policy asks no second factor of this user, and Okta publishes no API for the apps' own sign-on rules"
	}
	seen, why := false, ""
	for _, a := range ps.apps {
		switch appReach(a) {
		case reachAdmins:
			if !admin {
				continue
			}
		case reachAssigned:
			if !ps.appUsers[a.ID][user] && ps.appUsers[a.ID] != nil {
				continue
			}
			if ps.appUsers[a.ID] == nil && ps.appVerdict(a, user) == vYes {
				seen = true // assignments not read: the policy demands MFA of everyone it sees
				continue
			}
		}
		switch ps.appVerdict(a, user) {
		case vNo:
			return estate.Bool(false), ""
		case vUnknown:
			why = fmt.Sprintf("app %q: its authentication policy is not readable or uses a verification method this version does not judge", a.Label)
		}
		seen = true
	}
	if why != "" {
		return nil, why
	}
	return estate.Bool(seen), ""
}

// enrollRequired reports whether the user's enrollment policy (the first
// active MFA_ENROLL policy that applies) requires some authenticator.
func (ps *policySet) enrollRequired(user string) bool {
	for _, p := range ps.enroll {
		if p.Status != "ACTIVE" || (p.Conditions != nil && !ps.applies(p.Conditions.People, user)) {
			continue
		}
		if p.Settings != nil {
			for _, a := range p.Settings.Authenticators {
				if a.Enroll.Self == "REQUIRED" && a.Key != "okta_password" {
					return true
				}
			}
		}
		return false
	}
	return false
}
