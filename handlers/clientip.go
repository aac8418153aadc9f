package handlers

import (
	"net"
	"net/netip"
	"strings"

	"github.com/labstack/echo/v4"

	"tokenflow/store"
)

// ipExtractor decides who the client is. Without trusted proxies it is the
// TCP peer, whatever X-Forwarded-For claims; with them, Echo walks the
// X-Forwarded-For chain from the right and stops at the first address that
// is not a trusted proxy.
func ipExtractor(proxies []netip.Prefix) echo.IPExtractor {
	if len(proxies) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range proxies {
		opts = append(opts, echo.TrustIPRange(&net.IPNet{
			IP:   net.IP(p.Addr().AsSlice()),
			Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen()),
		}))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// peerTrusted reports whether the TCP peer is one of the trusted proxies.
func (h *handler) peerTrusted(c echo.Context) bool {
	host, _, err := net.SplitHostPort(c.Request().RemoteAddr)
	if err != nil {
		return false
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	for _, p := range h.settings.TrustedProxies {
		if p.Contains(addr.Unmap()) {
			return true
		}
	}
	return false
}

// isHTTPS is true for TLS connections, and for X-Forwarded-Proto: https only
// when a trusted proxy sent it: a spoofed header buys nothing.
func (h *handler) isHTTPS(c echo.Context) bool {
	if c.Request().TLS != nil {
		return true
	}
	return h.peerTrusted(c) && c.Request().Header.Get(echo.HeaderXForwardedProto) == "https"
}

// client describes the caller for session rows and events.
func client(c echo.Context) store.Client {
	ua := c.Request().UserAgent()
	if len(ua) > 256 {
		ua = strings.ToValidUTF8(ua[:256], "")
	}
	return store.Client{IP: c.RealIP(), UserAgent: ua}
}
