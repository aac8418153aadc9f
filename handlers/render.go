package handlers

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"
)

// render writes a templ page with status. It renders into a buffer first, so
// a failing component never sends half a page with a 200.
func render(c echo.Context, status int, page templ.Component) error {
	var buf bytes.Buffer
	if err := page.Render(c.Request().Context(), &buf); err != nil {
		return fmt.Errorf("render page: %w", err)
	}
	// The length is known: net/http then sends the page as it is instead
	// of in chunks (a page past its 2 KB buffer would be chunked).
	c.Response().Header().Set(echo.HeaderContentLength, strconv.Itoa(buf.Len()))
	return c.HTMLBlob(status, buf.Bytes())
}
