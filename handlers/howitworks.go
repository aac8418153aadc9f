package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"tokenflow/views"
)

// howItWorks is GET /how-it-works: the login flow step by step, each step
// with the file and function that does it. Public; the header links adapt
// to a logged-in visitor like on the landing page.
func (h *handler) howItWorks(c echo.Context) error {
	return render(c, http.StatusOK, views.HowItWorksPage(h.nav(c)))
}
