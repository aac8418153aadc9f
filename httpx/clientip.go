package httpx

import (
	"net"
	"net/netip"

	"github.com/labstack/echo/v4"
)

// TrustedProxies are the peers whose X-Forwarded-For and X-Forwarded-Proto
// are believed. Empty: the TCP peer is the client, whatever headers say.
type TrustedProxies []netip.Prefix

// IPExtractor decides who the client is, for echo.Echo.IPExtractor. Without
// trusted proxies it is the TCP peer, whatever X-Forwarded-For claims; with
// them, Echo walks the X-Forwarded-For chain from the right and stops at the
// first address that is not a trusted proxy.
func (p TrustedProxies) IPExtractor() echo.IPExtractor {
	if len(p) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, prefix := range p {
		opts = append(opts, echo.TrustIPRange(&net.IPNet{
			IP:   net.IP(prefix.Addr().AsSlice()),
			Mask: net.CIDRMask(prefix.Bits(), prefix.Addr().BitLen()),
		}))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// PeerTrusted reports whether the TCP peer is one of the trusted proxies.
func (p TrustedProxies) PeerTrusted(c echo.Context) bool {
	host, _, err := net.SplitHostPort(c.Request().RemoteAddr)
	if err != nil {
		return false
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	for _, prefix := range p {
		if prefix.Contains(addr.Unmap()) {
			return true
		}
	}
	return false
}

// IsHTTPS is true for TLS connections, and for X-Forwarded-Proto: https only
// when a trusted proxy sent it: a spoofed header buys nothing.
func (p TrustedProxies) IsHTTPS(c echo.Context) bool {
	if c.Request().TLS != nil {
		return true
	}
	return p.PeerTrusted(c) && c.Request().Header.Get(echo.HeaderXForwardedProto) == "https"
}
