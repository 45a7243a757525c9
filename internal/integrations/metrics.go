package integrations

import (
	"github.com/prometheus/client_golang/prometheus"
)

var (
	descSent     = prometheus.NewDesc("firebreak_export_sent_total", "Documents a SIEM accepted, by export.", []string{"export"}, nil)
	descRejected = prometheus.NewDesc("firebreak_export_rejected_total", "Documents a SIEM refused as invalid (4xx) and skipped, by export.", []string{"export"}, nil)
	descDropped  = prometheus.NewDesc("firebreak_export_spool_dropped_total", "Documents dropped because the export's spool was at its bound.", []string{"export"}, nil)
	descPending  = prometheus.NewDesc("firebreak_export_spool_pending_documents", "Documents spooled on disk, not yet accepted by the SIEM.", []string{"export"}, nil)
	descFailures = prometheus.NewDesc("firebreak_export_failures_total", "Failed delivery attempts (retried), by export.", []string{"export"}, nil)
	descTickets  = prometheus.NewDesc("firebreak_psa_outbox_failing", "Tickets whose last delivery failed (kept in the outbox, retried), by PSA.", []string{"psa"}, nil)
	descSource   = prometheus.NewDesc("firebreak_connector_tenant_errors", "Tenants whose last run of the source had errors.", []string{"source"}, nil)
)

// Collector exposes the connectors' counters on /metrics, read when
// scraped (the export counters from memory, the outbox from the last
// delivery round).
func (r *Runner) Collector() prometheus.Collector { return runnerCollector{r} }

type runnerCollector struct{ r *Runner }

func (c runnerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSent, descRejected, descDropped, descPending, descFailures, descTickets, descSource} {
		ch <- d
	}
}

func (c runnerCollector) Collect(ch chan<- prometheus.Metric) {
	for _, e := range c.r.exports {
		st := e.x.Stats()
		ch <- prometheus.MustNewConstMetric(descSent, prometheus.CounterValue, float64(st.Sent), e.name)
		ch <- prometheus.MustNewConstMetric(descRejected, prometheus.CounterValue, float64(st.Rejected), e.name)
		ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(st.Spool.Dropped), e.name)
		ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(st.Spool.PendingDocs), e.name)
		ch <- prometheus.MustNewConstMetric(descFailures, prometheus.CounterValue, float64(st.Failures), e.name)
	}
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	for _, t := range c.r.tickets {
		ch <- prometheus.MustNewConstMetric(descTickets, prometheus.GaugeValue, float64(c.r.psaRes[t.name].Failed), t.name)
	}
	for _, s := range c.r.sources {
		bad := 0
		for _, run := range c.r.runs[s.name] {
			if !run.OK() {
				bad++
			}
		}
		ch <- prometheus.MustNewConstMetric(descSource, prometheus.GaugeValue, float64(bad), s.name)
	}
}
