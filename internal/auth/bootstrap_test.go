package auth

import (
	"context"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/sqlite"
)

// The bootstrap owner's printed password is one-time whether TOTP is
// enrolled now (the demo) or at first sign-in (serve).
func TestBootstrapPasswordIsOneTime(t *testing.T) {
	for _, enrol := range []bool{true, false} {
		ctx := context.Background()
		st, err := sqlite.Open(ctx, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		c, err := BootstrapOwner(ctx, st, "admin", enrol)
		if err != nil || c == nil {
			t.Fatalf("bootstrap (totp %v): %v", enrol, err)
		}
		u, err := st.GetUser(ctx, "admin")
		if err != nil {
			t.Fatal(err)
		}
		if !u.MustChangePassword {
			t.Errorf("bootstrap (totp %v): the printed password is not one-time", enrol)
		}
		if enrol != (c.TOTPSecret != "") || enrol != u.TOTPEnrolled {
			t.Errorf("bootstrap (totp %v): secret %v, enrolled %v", enrol, c.TOTPSecret != "", u.TOTPEnrolled)
		}
		st.Close()
	}
}

// lateList is a store whose user list was read before another replica
// created the owner (processes of a split deployment start together).
type lateList struct{ store.Store }

func (lateList) ListUsers(context.Context, store.Scope) ([]store.User, error) { return nil, nil }

// Replicas starting at once on one database: the one that loses the race
// to create the owner starts without credentials instead of failing.
func TestBootstrapRaceIsNotAnError(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if c, err := BootstrapOwner(ctx, st, "admin", false); err != nil || c == nil {
		t.Fatalf("first replica: %v %v", c, err)
	}
	if c, err := BootstrapOwner(ctx, lateList{st}, "admin", false); err != nil || c != nil {
		t.Fatalf("second replica: credentials %v, error %v; want neither", c != nil, err)
	}
}
