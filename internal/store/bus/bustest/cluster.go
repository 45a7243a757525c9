// Package bustest runs a NATS JetStream cluster inside a test process: three
// servers on loopback with their own storage, any of which can be stopped
// and restarted, so fault tests need no outside service.
package bustest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Cluster is a three-node JetStream cluster on loopback.
type Cluster struct {
	t     testing.TB
	opts  []*server.Options
	nodes []*server.Server
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port
}

// Start starts the cluster and waits until JetStream answers; it is shut
// down when the test ends.
func Start(t testing.TB) *Cluster {
	t.Helper()
	const n = 3
	cport := make([]int, n)
	for i := range cport {
		cport[i] = freePort(t)
	}
	var routes []*url.URL
	for _, p := range cport {
		routes = append(routes, &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", p)})
	}
	c := &Cluster{t: t}
	for i := range n {
		o := &server.Options{
			ServerName: fmt.Sprintf("fb-%d", i+1),
			Host:       "127.0.0.1",
			Port:       freePort(t),
			JetStream:  true,
			StoreDir:   t.TempDir(),
			Cluster:    server.ClusterOpts{Name: "firebreak-test", Host: "127.0.0.1", Port: cport[i]},
			Routes:     routes,
			NoLog:      true,
			NoSigs:     true,
		}
		c.opts = append(c.opts, o)
		c.nodes = append(c.nodes, nil)
		c.startNode(i)
	}
	t.Cleanup(c.Shutdown)
	c.waitReady()
	return c
}

func (c *Cluster) startNode(i int) {
	c.t.Helper()
	s, err := server.NewServer(c.opts[i])
	if err != nil {
		c.t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(20 * time.Second) {
		c.t.Fatalf("nats node %d did not start", i+1)
	}
	c.nodes[i] = s
}

// waitReady waits until the cluster has a JetStream meta leader.
func (c *Cluster) waitReady() {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		nc, err := nats.Connect(c.URL(), nats.Timeout(2*time.Second))
		if err == nil {
			js, _ := jetstream.New(nc)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, err = js.AccountInfo(ctx)
			cancel()
			nc.Close()
			if err == nil {
				return
			}
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("JetStream cluster not ready: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// URL lists every node (clients fail over between them).
func (c *Cluster) URL() string {
	var us []string
	for _, o := range c.opts {
		us = append(us, fmt.Sprintf("nats://127.0.0.1:%d", o.Port))
	}
	return strings.Join(us, ",")
}

// Restart stops node i (0-2) and starts it again on the same storage.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	c.nodes[i].Shutdown()
	c.nodes[i].WaitForShutdown()
	c.startNode(i)
	c.waitReady()
}

// Shutdown stops every node.
func (c *Cluster) Shutdown() {
	for _, s := range c.nodes {
		if s != nil {
			s.Shutdown()
			s.WaitForShutdown()
		}
	}
}

// Resume starts every node again on its storage after Shutdown (a whole
// cluster outage) and waits until JetStream answers.
func (c *Cluster) Resume() {
	c.t.Helper()
	for i := range c.nodes {
		c.startNode(i)
	}
	c.waitReady()
}
