package auth

import (
	"context"
	"testing"

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
