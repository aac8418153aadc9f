package handlers

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"tokenflow/httpx"

	"github.com/labstack/echo/v4"

	"tokenflow/store"
	"tokenflow/views"
)

// storeRetryAfter is the Retry-After of a 503 for an unavailable store:
// long enough not to hammer a database being repaired, short enough that
// a blip is invisible to a client that retries.
const storeRetryAfter = 5 * time.Second

// statusClientClosed is nginx's 499: the client went away before the
// answer, so nobody reads it. It shows in the request log.
const statusClientClosed = 499

// handleError is the one place errors become responses. Handlers return
// echo.HTTPError for what the user should read; anything else is a 500 with
// a generic message and the request id, and its detail goes to the log only.
// Pages of client errors (404 and the like) show no request id: it means
// nothing to the reader, and it stays in the X-Request-Id header and the
// request log.
// A request the client abandoned (its context cancelled) is no error of
// ours: 499, no body, no error log.
func (h *handler) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	if errors.Is(err, context.Canceled) && c.Request().Context().Err() != nil {
		h.log.Debug("client closed the request", "request_id", c.Response().Header().Get(echo.HeaderXRequestID),
			"method", c.Request().Method, "path", c.Request().URL.Path)
		_ = c.NoContent(statusClientClosed)
		return
	}
	reqID := c.Response().Header().Get(echo.HeaderXRequestID)
	he := &echo.HTTPError{}
	unavailable := errors.Is(err, store.ErrUnavailable)
	switch {
	case unavailable:
		// The database is out of service (full, read-only, gone): no bug of
		// ours, and the same request works once it is back. The backend has
		// rolled the transaction back, so the client's tokens are unchanged.
		he = echo.NewHTTPError(http.StatusServiceUnavailable,
			"The service is briefly unavailable. Please try again in a moment.").SetInternal(err)
		c.Response().Header().Set(echo.HeaderRetryAfter, strconv.Itoa(retryAfterSeconds(storeRetryAfter)))
		h.log.Error("store unavailable", "request_id", reqID, "method", c.Request().Method,
			"path", c.Request().URL.Path, "error", err.Error())
	case !errors.As(err, &he):
		he = echo.NewHTTPError(http.StatusInternalServerError).SetInternal(err)
	}
	status := he.Code
	msg := publicMessage(he)
	if status >= 500 && !unavailable {
		// Log the cause, never the request's cookies or form values.
		h.log.Error("request failed", "request_id", reqID, "method", c.Request().Method,
			"path", c.Request().URL.Path, "status", status, "error", errorText(err, he))
		msg = "Something went wrong on our side. If it keeps happening, quote the request id."
	}
	httpx.NoStore(c) // also for errors under /static/, which are otherwise cacheable
	var werr error
	switch {
	case c.Request().Method == http.MethodHead:
		// HEAD is routed as GET (httpx.HeadAsGet) but is HEAD here: net/http
		// would drop a body anyway, so do not render one.
		werr = c.NoContent(status)
	case wantsJSON(c):
		werr = c.JSON(status, apiError{Error: slug(status), Message: msg, RequestID: reqID})
	default:
		view := views.ErrorView{Nav: h.nav(c), Status: status, Title: http.StatusText(status), Message: msg}
		if status >= 500 {
			view.RequestID = reqID
		}
		werr = render(c, status, views.ErrorPage(view))
	}
	if werr != nil {
		h.log.Error("writing error response failed", "request_id", reqID, "error", werr.Error())
	}
}

// publicMessage is the text shown for a client error.
func publicMessage(he *echo.HTTPError) string {
	switch he.Code {
	case http.StatusNotFound:
		return "There is no page at this address."
	case http.StatusMethodNotAllowed:
		return "This address does not accept that method."
	}
	if s, ok := he.Message.(string); ok && s != "" && s != http.StatusText(he.Code) {
		return s
	}
	return http.StatusText(he.Code) + "."
}

func errorText(err error, he *echo.HTTPError) string {
	if he.Internal != nil {
		return he.Internal.Error()
	}
	return err.Error()
}

// wantsJSON: API paths, and callers that ask for JSON rather than HTML.
func wantsJSON(c echo.Context) bool {
	if strings.HasPrefix(c.Request().URL.Path, "/api/") {
		return true
	}
	accept := c.Request().Header.Get(echo.HeaderAccept)
	return strings.Contains(accept, echo.MIMEApplicationJSON) && !strings.Contains(accept, echo.MIMETextHTML)
}

// slug turns a status into a short machine-readable error code.
func slug(status int) string {
	return strings.ReplaceAll(strings.ToLower(http.StatusText(status)), " ", "_")
}

// retryAfterSeconds renders a wait for the Retry-After header: whole
// seconds, rounded up, at least 1.
func retryAfterSeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}
