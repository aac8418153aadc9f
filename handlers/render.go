package handlers

import (
	"bytes"
	"fmt"
	"strconv"
	"sync"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"
)

// pageBuffers are render's buffers, reused: growing a fresh buffer to a
// 10 KB page was most of the bytes a dashboard request allocated, and the
// garbage collector's share of its CPU with them (docs/PERFORMANCE.md,
// section 5).
var pageBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledPage: a buffer grown past this (an unusually large page) is left
// to the garbage collector rather than kept.
const maxPooledPage = 64 << 10

// render writes a templ page with status. It renders into a buffer first, so
// a failing component never sends half a page with a 200.
func render(c echo.Context, status int, page templ.Component) error {
	buf := pageBuffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= maxPooledPage {
			buf.Reset()
			pageBuffers.Put(buf)
		}
	}()
	if err := page.Render(c.Request().Context(), buf); err != nil {
		return fmt.Errorf("render page: %w", err)
	}
	// The length is known: net/http then sends the page as it is instead
	// of in chunks (a page past its 2 KB buffer would be chunked).
	c.Response().Header().Set(echo.HeaderContentLength, strconv.Itoa(buf.Len()))
	// Blob has written the bytes (to the connection or net/http's own
	// buffer) when it returns, so the buffer can go back to the pool.
	return c.HTMLBlob(status, buf.Bytes())
}
