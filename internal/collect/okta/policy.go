package okta

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"

	"github.com/firebreak-msp/firebreak/internal/connector"
)

// Policies decide whether Okta demands a second factor
// (developer.okta.com/docs/api/resources/policy, "Policy evaluation": the
// policies of a type are considered in priority order, the first whose
// conditions the user meets applies, then its rules in priority order,
// the first whose conditions are met decides). Two types can demand MFA
// at sign-in:
//   - OKTA_SIGN_ON, the global session policy: a rule's
//     actions.signon.requireFactor;
//   - ACCESS_POLICY, authentication policies (Identity Engine): a rule's
//     actions.appSignOn.verificationMethod.factorMode "2FA".
//
// MFA_ENROLL (authenticator enrollment) policies decide which
// authenticators a user may or must enrol; they demand nothing at sign-in.
// Enforcement is judged per user, never more generously than the rules:
//   - a rule that lets a sign-in through without a factor and could apply
//     to the user (any network, or only some) makes MFA not enforced by that
//     policy type; a rule demanding MFA counts only once it covers every
//     network (later rules are then never reached for the user);
//   - MFA is enforced when the global session policy demands it, or when
//     every authentication policy that could apply to the user does;
//   - a user without an active second factor is not protected even then:
//     whoever holds the password enrols the first factor at sign-in.
//
// Membership of the groups the policies name is read with
// GET /api/v1/groups/{id}/users (paged); the built-in Everyone group holds
// every user. When a policy, its rules or a group cannot be read, the
// answer is unknown (not evaluable), never "enforced".
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
			Access             string `json:"access"`
			VerificationMethod *struct {
				FactorMode string `json:"factorMode"` // 1FA, 2FA
				Type       string `json:"type"`
			} `json:"verificationMethod"`
		} `json:"appSignOn"`
	} `json:"actions"`
}

// policySet is one org's sign-in policies with their rules and the
// membership of the groups they name.
type policySet struct {
	signOn, access, enroll []Policy
	rules                  map[string][]PolicyRule
	members                map[string]map[string]bool // group id → user ids
	everyone               map[string]bool            // built-in Everyone groups
}

// readPolicies reads the org's OKTA_SIGN_ON, ACCESS_POLICY and MFA_ENROLL
// policies, the rules of the first two, and the members of every group
// they name.
func (k *Connector) readPolicies(ctx context.Context, o *org) (*policySet, error) {
	ps := &policySet{rules: map[string][]PolicyRule{}, members: map[string]map[string]bool{}, everyone: map[string]bool{}}
	get := func(u string, v any) error {
		_, err := k.http.JSON(ctx, connector.CallSpec{Tenant: o.Tenant, URL: o.base + u, Auth: k.auth(o), Permission: ScopePolicies}, v)
		return err
	}
	for _, t := range []struct {
		typ string
		dst *[]Policy
	}{{"OKTA_SIGN_ON", &ps.signOn}, {"ACCESS_POLICY", &ps.access}, {"MFA_ENROLL", &ps.enroll}} {
		if err := get("/api/v1/policies?type="+t.typ, t.dst); err != nil {
			return nil, fmt.Errorf("%s policies: %w", t.typ, err)
		}
		sort.SliceStable(*t.dst, func(i, j int) bool { return (*t.dst)[i].Priority < (*t.dst)[j].Priority })
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
		if p.Type == "MFA_ENROLL" || p.Status != "ACTIVE" {
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
// that gets through needs a second factor. ok is false when the rules let
// some sign-in through without one.
func (ps *policySet) demands(p Policy, user string, requires func(PolicyRule) (allow, mfa bool)) bool {
	for _, r := range ps.rules[p.ID] {
		if r.Status != "ACTIVE" || (r.Conditions != nil && !ps.applies(r.Conditions.People, user)) {
			continue
		}
		allow, mfa := requires(r)
		everywhere := r.Conditions == nil || r.Conditions.Network == nil || r.Conditions.Network.Connection == "" || r.Conditions.Network.Connection == "ANYWHERE"
		switch {
		case allow && !mfa:
			return false // this rule lets some sign-ins through on a password
		case everywhere:
			return true // MFA or deny for every remaining sign-in
		}
	}
	return false // no rule decides every sign-in: Okta's defaults apply
}

// mfaEnforced judges whether sign-in demands a second factor for the user.
func (ps *policySet) mfaEnforced(user string) bool {
	// The global session policy: the first active one that applies.
	for _, p := range ps.signOn {
		if p.Status != "ACTIVE" || (p.Conditions != nil && !ps.applies(p.Conditions.People, user)) {
			continue
		}
		if ps.demands(p, user, func(r PolicyRule) (bool, bool) {
			s := r.Actions.Signon
			return s != nil && s.Access == "ALLOW", s != nil && s.RequireFactor
		}) {
			return true
		}
		break
	}
	// Authentication policies: each app has its own; every active one
	// must demand a second factor of this user.
	seen := false
	for _, p := range ps.access {
		if p.Status != "ACTIVE" {
			continue
		}
		seen = true
		if !ps.demands(p, user, func(r PolicyRule) (bool, bool) {
			a := r.Actions.AppSignOn
			return a != nil && a.Access == "ALLOW", a != nil && a.VerificationMethod != nil && a.VerificationMethod.FactorMode == "2FA"
		}) {
			return false
		}
	}
	return seen
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
