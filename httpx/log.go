package httpx

import (
	"log/slog"
	"time"

	"github.com/labstack/echo/v4"
)

// RequestLog logs one line per request: method, path (no query), status,
// duration, client address and request id. Never headers, cookies or bodies,
// so no token or password can reach the log. The status logged is the one
// sent (AfterResponse).
func RequestLog(log *slog.Logger) echo.MiddlewareFunc {
	return AfterResponse(func(c echo.Context, took time.Duration) {
		log.Info("request",
			"method", c.Request().Method,
			"path", c.Request().URL.Path,
			"status", c.Response().Status,
			"duration_ms", took.Milliseconds(),
			"ip", c.RealIP(),
			"request_id", c.Response().Header().Get(echo.HeaderXRequestID),
		)
	})
}

// AfterResponse is middleware that calls done once the request has been
// answered, with how long that took: it hands the handler's error to
// Echo's error handler itself, so c.Response().Status is the status sent,
// and returns nil (the error is answered).
func AfterResponse(done func(c echo.Context, took time.Duration)) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			if err := next(c); err != nil {
				c.Error(err)
			}
			done(c, time.Since(start))
			return nil
		}
	}
}
