// Package metrics holds firebreak's Prometheus collectors, shared by the parts of
// the service (HTTP, intake, pipeline, worker) on one registry of its own.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/firebreak-msp/firebreak/internal/version"
)

// Metrics are the service's Prometheus collectors, on a registry of its own
// (no global state).
type Metrics struct {
	Reg            *prometheus.Registry
	Requests       *prometheus.CounterVec
	Latency        *prometheus.HistogramVec
	EventsStored   prometheus.Counter
	EventsDetected prometheus.Counter
	DetectDropped  prometheus.Counter
	// EventsQuarantined, EventsBackfilled and EventsLateDropped say how
	// event time was treated (see pipeline.Treatment).
	EventsQuarantined prometheus.Counter
	EventsBackfilled  prometheus.Counter
	// PartitionsOwned, PartitionOwned and ConsumerLag show a detector's
	// share of the event stream (split roles): how many partitions, which
	// ones (1 per owned partition; a partition given up is removed, with
	// its lag); Leader is 1 while this process holds the singletons' lease.
	PartitionsOwned prometheus.Gauge
	PartitionOwned  *prometheus.GaugeVec
	ConsumerLag     *prometheus.GaugeVec
	Leader          prometheus.Gauge
	// PublishBacklog is the events committed but not yet on the event
	// stream (split roles: NATS down, or the publisher catching up).
	PublishBacklog    prometheus.Gauge
	EventsLateDropped prometheus.Counter
	DetectSeconds     prometheus.Histogram
	// AlertLatency is, per alert (a new, escalated or recurring incident),
	// the time from its event's commit at ingest to the incident stored.
	AlertLatency   prometheus.Histogram
	QueueDepth     prometheus.Gauge
	Replaying      prometheus.Gauge
	IngestAccepted prometheus.Counter
	IngestRejected *prometheus.CounterVec
	// TailSkipped counts what a tail of ingest.files skipped, by reason:
	// not_a_log (a whole file), not_read (a path of a folder WalkDir left
	// out: a link in a loop or to what was read, a dangling link, not a
	// regular file), unparsed (a record), warning (damage that lost no
	// record).
	TailSkipped    *prometheus.CounterVec
	SyslogMessages *prometheus.CounterVec
	Incidents      *prometheus.CounterVec
	IncidentSyncs  prometheus.Counter
	AuthFailures   *prometheus.CounterVec
	AssessRuns     *prometheus.CounterVec
	DriftAlerts    prometheus.Counter
	Notifications  *prometheus.CounterVec
}

// New registers every collector on a fresh registry.
func New() *Metrics {
	m := &Metrics{Reg: prometheus.NewRegistry()}
	m.Requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "firebreak_http_requests_total", Help: "HTTP requests by route and status code."}, []string{"route", "code"})
	m.Latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "firebreak_http_request_duration_seconds", Help: "HTTP request latency by route.", Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10}}, []string{"route"})
	m.EventsStored = prometheus.NewCounter(prometheus.CounterOpts{Name: "firebreak_events_stored_total", Help: "Events durably stored."})
	m.EventsDetected = prometheus.NewCounter(prometheus.CounterOpts{Name: "firebreak_events_detected_total", Help: "Events processed by detection."})
	m.DetectDropped = prometheus.NewCounter(prometheus.CounterOpts{Name: "firebreak_detect_dropped_total", Help: "Stored events not run through detection (shutdown)."})
	m.EventsQuarantined = prometheus.NewCounter(prometheus.CounterOpts{Name: "firebreak_events_quarantined_total", Help: "Events dated beyond the receive clock plus the allowed skew: stored and flagged, not detected."})
	m.EventsBackfilled = prometheus.NewCounter(prometheus.CounterOpts{Name: "firebreak_events_backfilled_total", Help: "Events older than live detection's horizon, detected in a back-fill pass."})
	m.EventsLateDropped = prometheus.NewCounter(prometheus.CounterOpts{Name: "firebreak_events_late_dropped_total", Help: "Late events not detected (no back-fill engine, or past a pass's bound)."})
	m.AlertLatency = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "firebreak_detect_alert_latency_seconds", Help: "Time from an alert's event committed at ingest to its incident stored.",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 1.5, 2, 3, 5, 10, 30, 60}})
	m.DetectSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "firebreak_detect_batch_seconds", Help: "Detection time per batch."})
	m.QueueDepth = prometheus.NewGauge(prometheus.GaugeOpts{Name: "firebreak_detect_queue_batches", Help: "Batches waiting for detection."})
	m.Replaying = prometheus.NewGauge(prometheus.GaugeOpts{Name: "firebreak_detect_replaying", Help: "1 while detection rebuilds its windows from stored events at start (live events wait, ingest slows by back-pressure)."})
	m.IngestAccepted = prometheus.NewCounter(prometheus.CounterOpts{Name: "firebreak_ingest_accepted_total", Help: "Events accepted over HTTP."})
	m.IngestRejected = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "firebreak_ingest_rejected_total", Help: "Lines or requests rejected over HTTP, by reason."}, []string{"reason"})
	m.TailSkipped = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "firebreak_tail_skipped_total", Help: "Files and records a tail of ingest.files skipped, by reason (not_a_log, not_read, unparsed, warning)."}, []string{"reason"})
	m.SyslogMessages = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "firebreak_syslog_messages_total", Help: "Syslog messages by transport and result."}, []string{"transport", "result"})
	m.Incidents = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "firebreak_incidents_opened_total", Help: "Incidents opened by severity."}, []string{"severity"})
	m.IncidentSyncs = prometheus.NewCounter(prometheus.CounterOpts{Name: "firebreak_incident_updates_total", Help: "Incidents written to the store by the periodic sync of detection's in-place updates."})
	m.AuthFailures = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "firebreak_auth_failures_total", Help: "Failed authentications by reason."}, []string{"reason"})
	m.AssessRuns = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "firebreak_assessment_runs_total", Help: "Assessment runs by trigger and result."}, []string{"trigger", "result"})
	m.DriftAlerts = prometheus.NewCounter(prometheus.CounterOpts{Name: "firebreak_drift_alerts_total", Help: "Controls that went from pass to fail."})
	m.Notifications = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "firebreak_notifications_total", Help: "Notification deliveries by result."}, []string{"result"})
	m.PartitionsOwned = prometheus.NewGauge(prometheus.GaugeOpts{Name: "firebreak_detect_partitions_owned", Help: "Event stream partitions this detector owns (split roles)."})
	m.PartitionOwned = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "firebreak_detect_partition_owned", Help: "1 for each event stream partition this detector owns now (split roles)."}, []string{"partition"})
	m.ConsumerLag = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "firebreak_detect_consumer_lag", Help: "Events of an owned partition not yet detected (split roles)."}, []string{"partition"})
	m.Leader = prometheus.NewGauge(prometheus.GaugeOpts{Name: "firebreak_leader", Help: "1 while this process holds the lease for the scheduler, drift, retention and connectors."})
	m.PublishBacklog = prometheus.NewGauge(prometheus.GaugeOpts{Name: "firebreak_publish_backlog_events", Help: "Events committed to the store but not yet published to the event stream (split roles; sent once NATS is back)."})
	// firebreak_build_info: always 1, the build in its labels (the same
	// version the dashboard footer, reports and User-Agent show).
	in := version.Get()
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "firebreak_build_info", Help: "The running build: version, commit and Go version in labels; always 1."}, []string{"version", "commit", "goversion"})
	build.WithLabelValues(in.Short(), in.Commit, in.GoVersion).Set(1)
	m.Reg.MustRegister(build)
	m.Reg.MustRegister(m.PartitionsOwned, m.PartitionOwned, m.ConsumerLag, m.Leader, m.PublishBacklog)
	m.Reg.MustRegister(m.Requests, m.Latency, m.EventsStored, m.EventsDetected, m.DetectDropped, m.EventsQuarantined, m.EventsBackfilled, m.EventsLateDropped, m.DetectSeconds, m.AlertLatency, m.QueueDepth, m.Replaying,
		m.IngestAccepted, m.IngestRejected, m.TailSkipped, m.SyslogMessages, m.Incidents, m.IncidentSyncs, m.AuthFailures, m.AssessRuns, m.DriftAlerts, m.Notifications,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Observe counts one HTTP request.
func (m *Metrics) Observe(route string, code int, d time.Duration) {
	m.Requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	m.Latency.WithLabelValues(route).Observe(d.Seconds())
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Reg, promhttp.HandlerOpts{})
}
