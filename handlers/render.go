package handlers

import (
	"bytes"
	"fmt"

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
	return c.HTMLBlob(status, buf.Bytes())
}
