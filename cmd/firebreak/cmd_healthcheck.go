package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/firebreak-msp/firebreak/internal/useragent"
)

type healthcheckOptions struct {
	url     string
	timeout time.Duration
}

func (o *healthcheckOptions) AddFlags(fs *pflag.FlagSet) {
	def := "https://" + cmp.Or(os.Getenv("FIREBREAK_LISTEN"), "127.0.0.1:8443") + "/healthz"
	fs.StringVar(&o.url, "url", def, "health endpoint of a running serve (default from FIREBREAK_LISTEN)")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Second, "give up after this long")
}

func newHealthcheckCommand(g *globalOptions) *cobra.Command {
	var o healthcheckOptions
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Exit 0 when a serve on this machine answers its health endpoint (for container health checks)",
		Long: `healthcheck asks a running serve for /healthz and exits 0 when it answers 200,
1 otherwise. It is what the container image's HEALTHCHECK runs (the image has no
shell or curl). A wildcard listen address (0.0.0.0, [::]) is checked on
loopback, and the certificate is not verified on loopback (serve's default
certificate is self-signed).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runHealthcheck(cmd.Context(), o, g) },
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

func runHealthcheck(ctx context.Context, o healthcheckOptions, g *globalOptions) error {
	u, err := url.Parse(o.url)
	if err != nil || u.Host == "" {
		return usageError{fmt.Errorf("--url %q: expected http(s)://host:port/healthz", o.url)}
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		host, port = u.Hostname(), u.Port()
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	u.Host = net.JoinHostPort(host, cmp.Or(port, "443"))
	ip := net.ParseIP(host)
	loopback := host == "localhost" || (ip != nil && ip.IsLoopback())
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: loopback, MinVersion: tls.VersionTLS12}} //nolint:gosec // loopback only, serve's self-signed certificate
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	resp, err := useragent.Client(&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return fmt.Errorf("health check %s: %w", u, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health check %s: status %d", u, resp.StatusCode)
	}
	fmt.Fprintf(g.stdout, "ok %s\n", u)
	return nil
}
