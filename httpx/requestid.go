package httpx

import (
	"crypto/rand"

	"github.com/labstack/echo/v4"
)

// maxRequestIDLength bounds an X-Request-Id taken from the request.
const maxRequestIDLength = 64

// RequestID sets X-Request-Id on the response: the request's own when it is
// a plausible id (a proxy in front may have set it, and one id across both
// logs helps), a new random one otherwise. The id reaches logs and error
// pages, so an incoming one must match ^[A-Za-z0-9._-]{1,64}$: no markup,
// no control characters, no 32 KiB headers.
func RequestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(echo.HeaderXRequestID)
		if !ValidRequestID(id) {
			id = rand.Text() // 26 characters, 130 random bits
		}
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		return next(c)
	}
}

// ValidRequestID reports whether id matches ^[A-Za-z0-9._-]{1,64}$.
func ValidRequestID(id string) bool {
	if len(id) == 0 || len(id) > maxRequestIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch b := id[i]; {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9', b == '.', b == '_', b == '-':
		default:
			return false
		}
	}
	return true
}
