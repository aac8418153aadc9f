package httpx

import (
	"log/slog"
	"time"

	"github.com/labstack/echo/v4"
)

// RequestLog logs one line per request: method, path (no query), status,
// duration, client address and request id. Never headers, cookies or bodies,
// so no token or password can reach the log. It hands an error to Echo's
// error handler first, so the status logged is the one sent.
func RequestLog(log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			log.Info("request",
				"method", c.Request().Method,
				"path", c.Request().URL.Path,
				"status", c.Response().Status,
				"duration_ms", time.Since(start).Milliseconds(),
				"ip", c.RealIP(),
				"request_id", c.Response().Header().Get(echo.HeaderXRequestID),
			)
			return nil
		}
	}
}
