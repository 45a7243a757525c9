package roles

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/config"
	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/bus/bustest"
	"github.com/firebreak-msp/firebreak/internal/store/sqlite"
)

// TestOnlyStreamRolesDialBus: a worker without event connectors does not
// connect to NATS (the deployment docs set FIREBREAK_BUS_URL for every
// process; a worker used to dial it, and refused to start when it was
// unreachable), an api process starts with the stream down; ingest does not.
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
	// A worker without event connectors never connects; an api process
	// (its sign-in events feed detection) tries, and starts without the
	// stream when it is down.
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

// TestAPISignInEventsReachStream: an api process's own sign-in events (a
// failed sign-in feeds the brute-force rules) go to the detectors' stream;
// with the stream down at start they wait in the publish backlog, which an
// ingest process's publisher sends.
func TestAPISignInEventsReachStream(t *testing.T) {
	ctx := context.Background()
	dbURL, id := freshDB(t)
	st := openPG(t, dbURL)
	cluster := bustest.Start(t)
	signIn := event.Event{Timestamp: time.Now().UTC(), Category: "authentication", Action: "firebreak-login",
		Outcome: event.OutcomeFailure, Reason: "bad_password", UserName: "admin", HostName: "firebreak"}
	for _, up := range []bool{true, false} {
		c := config.Default()
		c.Roles, c.Database, c.DataDir = []string{config.RoleAPI}, dbURL, t.TempDir()
		c.Bus = config.BusConfig{URL: cluster.URL(), Stream: "FBAPI_" + strings.ToUpper(id), Subject: "fbapi." + id, Partitions: 2, Replicas: 3}
		if !up {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			c.Bus.URL = "nats://" + ln.Addr().String()
			ln.Close()
		}
		n, err := New(Options{Config: c, Store: st})
		if err != nil {
			t.Fatalf("stream up %v: %v", up, err)
		}
		if up != (n.Bus != nil) {
			t.Fatalf("stream up %v: connected %v", up, n.Bus != nil)
		}
		n.Pipe.Submit(ctx, signIn)
		_, waiting, err := st.(store.EventPublishLog).PublishBacklog(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]int64{true: 0, false: 1}[up]; waiting != want {
			t.Errorf("stream up %v: %d sign-in events wait in the publish backlog, want %d", up, waiting, want)
		}
	}
}
