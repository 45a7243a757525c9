package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus collectors, on a registry of its own
// (no global state).
type metrics struct {
	reg            *prometheus.Registry
	requests       *prometheus.CounterVec
	latency        *prometheus.HistogramVec
	eventsStored   prometheus.Counter
	eventsDetected prometheus.Counter
	detectDropped  prometheus.Counter
	detectSeconds  prometheus.Histogram
	queueDepth     prometheus.Gauge
	ingestAccepted prometheus.Counter
	ingestRejected *prometheus.CounterVec
	syslogMessages *prometheus.CounterVec
	incidents      *prometheus.CounterVec
	incidentSyncs  prometheus.Counter
	authFailures   *prometheus.CounterVec
	assessRuns     *prometheus.CounterVec
	driftAlerts    prometheus.Counter
	notifications  *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "firebreak_http_requests_total", Help: "HTTP requests by route and status code."}, []string{"route", "code"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "firebreak_http_request_duration_seconds", Help: "HTTP request latency by route.", Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10}}, []string{"route"})
	m.eventsStored = prometheus.NewCounter(prometheus.CounterOpts{Name: "firebreak_events_stored_total", Help: "Events durably stored."})
	m.eventsDetected = prometheus.NewCounter(prometheus.CounterOpts{Name: "firebreak_events_detected_total", Help: "Events processed by detection."})
	m.detectDropped = prometheus.NewCounter(prometheus.CounterOpts{Name: "firebreak_detect_dropped_total", Help: "Stored events not run through detection (shutdown)."})
	m.detectSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "firebreak_detect_batch_seconds", Help: "Detection time per batch."})
	m.queueDepth = prometheus.NewGauge(prometheus.GaugeOpts{Name: "firebreak_detect_queue_batches", Help: "Batches waiting for detection."})
	m.ingestAccepted = prometheus.NewCounter(prometheus.CounterOpts{Name: "firebreak_ingest_accepted_total", Help: "Events accepted over HTTP."})
	m.ingestRejected = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "firebreak_ingest_rejected_total", Help: "Lines or requests rejected over HTTP, by reason."}, []string{"reason"})
	m.syslogMessages = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "firebreak_syslog_messages_total", Help: "Syslog messages by transport and result."}, []string{"transport", "result"})
	m.incidents = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "firebreak_incidents_opened_total", Help: "Incidents opened by severity."}, []string{"severity"})
	m.incidentSyncs = prometheus.NewCounter(prometheus.CounterOpts{Name: "firebreak_incident_updates_total", Help: "Incidents written to the store by the periodic sync of detection's in-place updates."})
	m.authFailures = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "firebreak_auth_failures_total", Help: "Failed authentications by reason."}, []string{"reason"})
	m.assessRuns = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "firebreak_assessment_runs_total", Help: "Assessment runs by trigger and result."}, []string{"trigger", "result"})
	m.driftAlerts = prometheus.NewCounter(prometheus.CounterOpts{Name: "firebreak_drift_alerts_total", Help: "Controls that went from pass to fail."})
	m.notifications = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "firebreak_notifications_total", Help: "Notification deliveries by result."}, []string{"result"})
	m.reg.MustRegister(m.requests, m.latency, m.eventsStored, m.eventsDetected, m.detectDropped, m.detectSeconds, m.queueDepth,
		m.ingestAccepted, m.ingestRejected, m.syslogMessages, m.incidents, m.incidentSyncs, m.authFailures, m.assessRuns, m.driftAlerts, m.notifications,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observe(route string, code int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
