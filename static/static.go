// Package static embeds the stylesheet and the small page scripts, so the
// binary serves them without a build step or files beside it.
package static

import "embed"

// FS holds every asset served under /static/.
//
//go:embed *.css *.js *.svg
var FS embed.FS
