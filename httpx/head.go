package httpx

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// headKey marks, in the Echo context, a HEAD request routed as GET.
const headKey = "tokenflow.head"

// HeadAsGet routes HEAD like GET: Echo does not (it answers 405), and load
// balancers and uptime checks probe / and /healthz with HEAD. Register it
// with e.Pre. It only changes the method the router sees; RestoreHead, the
// first middleware after routing (e.Use), changes it back. The method must
// be HEAD while the response is written: net/http drops the body of a HEAD
// response by looking at that same request, so a HEAD answered as GET would
// send one. A POST-only route stays 405 for HEAD, as it is for GET.
func HeadAsGet(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if r := c.Request(); r.Method == http.MethodHead {
			// In place: Echo routes on the request it was given.
			r.Method = http.MethodGet
			c.Set(headKey, true)
		}
		return next(c)
	}
}

// RestoreHead gives a HEAD request routed by HeadAsGet its method back.
func RestoreHead(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if head, _ := c.Get(headKey).(bool); head {
			c.Request().Method = http.MethodHead
		}
		return next(c)
	}
}
