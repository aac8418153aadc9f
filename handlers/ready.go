package handlers

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// ErrDraining is what a Readiness answers from the start of a shutdown: the
// instance still serves, but a load balancer should send its traffic
// elsewhere.
var ErrDraining = errors.New("handlers: draining, shutting down")

// Readiness says whether this instance should receive traffic (app's
// readiness: store reachable, migrations applied, keys loaded, not
// draining).
type Readiness interface {
	// Ready returns nil when ready, ErrDraining while shutting down, or
	// the reason it is not ready.
	Ready(ctx context.Context) error
}

// ready is GET /readyz: 200 when Readiness (or, without one, the store)
// says so, else 503. /healthz only says the process answers; this is what
// a load balancer routes by.
func (h *handler) ready(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	var err error
	if h.readiness != nil {
		err = h.readiness.Ready(ctx)
	} else {
		err = h.store.Ping(ctx)
	}
	switch {
	case err == nil:
		return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
	case errors.Is(err, ErrDraining):
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "draining"})
	default:
		h.log.Error("readiness check failed", "error", err.Error())
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
	}
}
