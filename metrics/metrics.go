// Package metrics exposes tokenflow's Prometheus metrics: login and refresh
// outcomes, revocations by reason, live sessions, the password-hashing
// queue, and request latency per route. It implements auth.Observer, so the
// session service reports outcomes without knowing Prometheus.
//
// The handler is served on METRICS_ADDR, a listener of its own, never on
// the public port: the numbers tell how many people are logged in and how
// many logins fail.
package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"tokenflow/auth"
	"tokenflow/signingkeys"
)

// Metrics is one registry with tokenflow's collectors. Safe for concurrent use.
type Metrics struct {
	registry
	logins      *prometheus.CounterVec
	refreshes   *prometheus.CounterVec
	revocations *prometheus.CounterVec
	deleted     prometheus.Counter
	requestDurations
	keyChanges  *prometheus.CounterVec
	keyringSeen *prometheus.CounterVec
}

var (
	_ auth.Observer        = (*Metrics)(nil)
	_ signingkeys.Observer = (*Metrics)(nil)
)

// New returns Metrics with the Go runtime and process collectors, and
// every outcome of logins and refreshes and every revocation reason at
// zero, so a rate() has a start.
func New() *Metrics {
	r := newRegistry()
	m := &Metrics{
		registry: r,
		logins: counterOf(r, "tokenflow_logins_total",
			"Logins by outcome: ok, failed (wrong password or unknown user), throttled, busy (no hashing slot), error.",
			"outcome", auth.LoginOutcomes),
		refreshes: counterOf(r, "tokenflow_refreshes_total",
			"Refresh-token rotations by outcome: ok, grace (a rotated token forgiven inside the grace window), reused, rate_limited, revoked, expired, invalid, error.",
			"outcome", auth.RefreshOutcomes),
		revocations: counterOf(r, "tokenflow_sessions_revoked_total",
			"Sessions revoked by reason: logout, revoked (from another session), reuse_detected (a stolen refresh token), evicted (past the cap of live sessions per account).",
			"reason", auth.RevokeReasons),
		deleted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tokenflow_sessions_deleted_total",
			Help: "Dead sessions (expired, or revoked longer ago than the retention) deleted by the cleanup job.",
		}),
		requestDurations: newRequestDurations(r),
	}
	r.MustRegister(m.deleted)
	return m
}

// WatchSigningKeys adds tokenflow_signing_key_rotations_total (the key
// changes this process made) and tokenflow_signing_key_changes_seen_total
// (the changes its keyring took in, whoever made them: the keys command's
// reach it through the store, at the next poll), every value at zero, and
// returns the observer to give the signing keys' manager.
func (m *Metrics) WatchSigningKeys() signingkeys.Observer {
	m.keyChanges = counterOf(m.registry, "tokenflow_signing_key_rotations_total",
		"Signing-key changes made by this process, by kind: scheduled (rotation on schedule), command (Rotate), revocation.",
		"kind", signingkeys.KeyChanges)
	m.keyringSeen = counterOf(m.registry, "tokenflow_signing_key_changes_seen_total",
		"Signing-key changes this process's keyring took in from the store, whoever made them (this process, another instance, the keys command): rotation (another key signs), revocation (a key left before its time).",
		"change", signingkeys.KeyringChanges)
	return m
}

// SigningKeyChanged counts a key change by kind (signingkeys.Observer).
func (m *Metrics) SigningKeyChanged(k signingkeys.KeyChange) {
	m.keyChanges.WithLabelValues(string(k)).Inc()
}

// KeyringChanged counts a change the keyring took in (signingkeys.Observer).
func (m *Metrics) KeyringChanged(c signingkeys.KeyringChange) {
	m.keyringSeen.WithLabelValues(string(c)).Inc()
}

// LoginFinished counts a login by outcome (auth.Observer).
func (m *Metrics) LoginFinished(o auth.LoginOutcome) { m.logins.WithLabelValues(string(o)).Inc() }

// RefreshFinished counts a refresh by outcome (auth.Observer).
func (m *Metrics) RefreshFinished(o auth.RefreshOutcome) {
	m.refreshes.WithLabelValues(string(o)).Inc()
}

// SessionsRevoked counts n revoked sessions by reason (auth.Observer).
func (m *Metrics) SessionsRevoked(reason string, n int) {
	m.revocations.WithLabelValues(reason).Add(float64(n))
}

// SessionsDeleted counts n dead sessions the cleanup job deleted.
func (m *Metrics) SessionsDeleted(n int) { m.deleted.Add(float64(n)) }

// SessionCounter counts live sessions (sqlite.Store).
type SessionCounter interface {
	CountActiveSessions(ctx context.Context) (int, error)
}

// scrapeQueryTimeout bounds the store query behind the sessions gauge, so
// a locked database slows a scrape by at most this.
const scrapeQueryTimeout = 2 * time.Second

// WatchSessions adds tokenflow_active_sessions, asked of the store at each
// scrape. A failed query reports no sample (rather than a false zero) and
// counts tokenflow_active_sessions_errors_total.
func (m *Metrics) WatchSessions(store SessionCounter) {
	m.MustRegister(&sessionsCollector{
		store: store,
		desc:  prometheus.NewDesc("tokenflow_active_sessions", "Sessions neither revoked nor expired, as the store counts them at scrape time.", nil, nil),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tokenflow_active_sessions_errors_total",
			Help: "Scrapes whose count of active sessions failed.",
		}),
	})
}

type sessionsCollector struct {
	store  SessionCounter
	desc   *prometheus.Desc
	errors prometheus.Counter
}

func (c *sessionsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.desc
	c.errors.Describe(ch)
}

func (c *sessionsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeQueryTimeout)
	defer cancel()
	if n, err := c.store.CountActiveSessions(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n))
	} else {
		c.errors.Inc()
	}
	c.errors.Collect(ch)
}

// HashQueue is the password hasher's occupancy (password.Hasher).
type HashQueue interface {
	InFlight() int
	Waiting() int
	Slots() int
}

// WatchHasher adds the hashing queue: slots in use, calls waiting, and the
// number of slots. Waiting that stays above zero means logins are close to
// answering busy (503).
func (m *Metrics) WatchHasher(h HashQueue) {
	m.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tokenflow_password_hash_in_use",
			Help: "Password hashing slots computing argon2id now.",
		}, func() float64 { return float64(h.InFlight()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tokenflow_password_hash_waiting",
			Help: "Logins and registrations queued for a password hashing slot.",
		}, func() float64 { return float64(h.Waiting()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tokenflow_password_hash_slots",
			Help: "Password hashing slots (argon2id computations at once).",
		}, func() float64 { return float64(h.Slots()) }),
	)
}
