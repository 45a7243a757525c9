package roles

import (
	"context"
	"net"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/config"
	"github.com/firebreak-msp/firebreak/internal/store/sqlite"
)

// TestOnlyStreamRolesDialBus: a worker without event connectors and an
// api process do not connect to NATS (the deployment docs set
// FIREBREAK_BUS_URL for every process; a worker used to dial it, and
// refused to start when it was unreachable); ingest does.
func TestOnlyStreamRolesDialBus(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// A port nothing listens on: dialling it fails.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "nats://" + ln.Addr().String()
	ln.Close()
	for _, roles := range [][]string{{config.RoleWorker}, {config.RoleAPI}, {config.RoleAPI, config.RoleWorker}} {
		c := config.Default()
		c.Roles, c.DataDir = roles, t.TempDir()
		c.Bus.URL = dead
		n, err := New(Options{Config: c, Store: st})
		if err != nil {
			t.Fatalf("roles %v: %v", roles, err)
		}
		if n.Bus != nil || n.Cross != nil {
			t.Errorf("roles %v connected to the bus", roles)
		}
	}
	c := config.Default()
	c.Roles, c.DataDir = []string{config.RoleIngest}, t.TempDir()
	c.Bus.URL = dead
	if _, err := New(Options{Config: c, Store: st}); err == nil {
		t.Error("an ingest process started without its stream")
	}
}
